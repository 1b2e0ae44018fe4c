//! Real mode: three `unique-ids` processes on 127.0.0.1 talking UDP, and a client issuing a few
//! thousand requests. Every id must be unique. Bounded in time; the processes are killed at the
//! end, whatever happens.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn three_real_processes_hand_out_unique_ids() {
    const REQUESTS: u64 = 3000;
    let deadline = Instant::now() + Duration::from_secs(60);
    let cluster = common::start("unique-ids", 3);
    let addrs = &cluster.addrs;
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();

    let mut ids: BTreeMap<u64, String> = BTreeMap::new(); // msg_id -> id
    let mut next_msg = 1u64;
    let mut buf = vec![0u8; 65536];
    // Requests in flight: msg_id -> when sent. Lost or early requests (a node still starting)
    // are simply retried with a fresh msg_id; a duplicate id would still be caught below.
    let mut pending: BTreeMap<u64, Instant> = BTreeMap::new();
    while (ids.len() as u64) < REQUESTS {
        assert!(
            Instant::now() < deadline,
            "only {} ids before the deadline",
            ids.len()
        );
        while pending.len() < 64 && (ids.len() + pending.len()) < REQUESTS as usize {
            let i = (next_msg % 3) as usize;
            let req = format!(
                r#"{{"src":"c1","dest":"{}","body":{{"type":"generate","msg_id":{next_msg}}}}}"#,
                cluster.names[i]
            );
            let to = addrs[i];
            client.send_to(req.as_bytes(), to).unwrap();
            pending.insert(next_msg, Instant::now());
            next_msg += 1;
        }
        match client.recv_from(&mut buf) {
            Ok((n, _)) => {
                let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
                assert_eq!(v["body"]["type"], "generate_ok", "{v}");
                let re = v["body"]["in_reply_to"].as_u64().unwrap();
                if pending.remove(&re).is_some() {
                    ids.insert(re, v["body"]["id"].as_str().unwrap().to_owned());
                }
            }
            Err(_) => pending.retain(|_, sent| sent.elapsed() < Duration::from_millis(500)),
        }
    }
    let unique: BTreeSet<&String> = ids.values().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate ids handed out");
    let per_node: BTreeSet<&str> = ids.values().map(|id| &id[..2]).collect();
    assert_eq!(
        per_node.len(),
        3,
        "every node served requests: {per_node:?}"
    );
}
