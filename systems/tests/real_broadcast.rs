//! Real mode: five `broadcast` processes on 127.0.0.1 over UDP; a client broadcasts values to
//! random nodes and every node must come to hold every acknowledged value. Bounded in time;
//! the processes are killed at the end, whatever happens.

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

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
    let cluster = common::start("broadcast", 5);
    let (addrs, names) = (&cluster.addrs, &cluster.names);
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
