//! Real mode: five `broadcast` processes on 127.0.0.1 over UDP; a client broadcasts values to
//! random nodes and every node must come to hold every acknowledged value. Bounded in time;
//! the processes are killed at the end, whatever happens.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets.iter().map(|s| s.local_addr().unwrap()).collect()
}

fn rpc(
    client: &UdpSocket,
    to: SocketAddr,
    node: &str,
    id: u64,
    body: &str,
) -> Option<serde_json::Value> {
    let req = format!(r#"{{"src":"c1","dest":"{node}","body":{{"msg_id":{id},{body}}}}}"#);
    client.send_to(req.as_bytes(), to).unwrap();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
            if v["body"]["in_reply_to"] == id {
                return Some(v);
            }
        }
    }
    None
}

#[test]
fn five_real_processes_converge_on_every_acknowledged_value() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addrs = free_addrs(5);
    let names: Vec<String> = (0..5).map(|i| format!("n{i}")).collect();
    let _cluster = Cluster(
        (0..5)
            .map(|i| {
                let peers: Vec<String> = (0..5)
                    .filter(|&j| j != i)
                    .map(|j| format!("{}={}", names[j], addrs[j]))
                    .collect();
                Command::new(env!("CARGO_BIN_EXE_highstorm"))
                    .args(["node", "broadcast", "--id", &names[i]])
                    .args(["--listen", &addrs[i].to_string()])
                    .args(["--peers", &peers.join(",")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();

    let mut acked = BTreeSet::new();
    let mut id = 1;
    for value in 0..200u64 {
        let i = (value % 5) as usize;
        id += 1;
        let body = format!(r#""type":"broadcast","message":{value}"#);
        if let Some(reply) = rpc(&client, addrs[i], &names[i], id, &body) {
            if reply["body"]["type"] == "broadcast_ok" {
                acked.insert(value);
            }
        }
        assert!(Instant::now() < deadline);
    }
    assert!(
        acked.len() > 150,
        "only {} of 200 broadcasts acknowledged",
        acked.len()
    );
    // Every node converges (within the deadline).
    for (i, node) in names.iter().enumerate() {
        loop {
            assert!(Instant::now() < deadline, "{node} did not converge");
            id += 1;
            if let Some(reply) = rpc(&client, addrs[i], node, id, r#""type":"read""#) {
                let held: BTreeSet<u64> = reply["body"]["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert!(held.iter().all(|v| *v < 200), "phantom values on {node}");
                if acked.is_subset(&held) {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
