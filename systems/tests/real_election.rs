//! Real mode: five `election` processes on 127.0.0.1 over UDP elect one leader; the leader is
//! killed with SIGKILL and the other four elect a new one in a later term. Leadership is
//! observed with the `status` request every node answers. Bounded in time; the processes are
//! killed at the end, whatever happens.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// One node's view: (role, term, leader).
type View = (String, u64, Option<String>);

/// Asks one node for its view.
fn status(client: &UdpSocket, to: SocketAddr, node: &str, id: u64) -> Option<View> {
    let req = format!(r#"{{"src":"c1","dest":"{node}","body":{{"msg_id":{id},"type":"status"}}}}"#);
    client.send_to(req.as_bytes(), to).ok()?;
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            let v: serde_json::Value = serde_json::from_slice(&buf[..n]).ok()?;
            let b = &v["body"];
            if b["in_reply_to"] == id && b["type"] == "status_ok" {
                let leader = b["leader"].as_str().map(str::to_owned);
                return Some((b["role"].as_str()?.to_owned(), b["term"].as_u64()?, leader));
            }
        }
    }
    None
}

/// Polls the live nodes until exactly one says it leads and a majority of the cluster
/// (itself included) follows it; returns its index and term.
fn wait_for_leader(
    cluster: &common::Cluster,
    client: &UdpSocket,
    live: &[usize],
    id: &mut u64,
    deadline: Instant,
) -> (usize, u64) {
    loop {
        assert!(Instant::now() < deadline, "no leader elected in time");
        let views: Vec<(usize, Option<View>)> = live
            .iter()
            .map(|&i| {
                *id += 1;
                (i, status(client, cluster.addrs[i], &cluster.names[i], *id))
            })
            .collect();
        let leaders: Vec<(usize, u64)> = views
            .iter()
            .filter_map(|(i, v)| match v {
                Some((role, term, _)) if role == "leader" => Some((*i, *term)),
                _ => None,
            })
            .collect();
        if let [(leader, term)] = leaders[..] {
            let name = &cluster.names[leader];
            let followers = views
                .iter()
                .filter(|(_, v)| {
                    v.as_ref()
                        .is_some_and(|(_, t, l)| *t == term && l.as_ref() == Some(name))
                })
                .count();
            if followers >= 3 {
                return (leader, term);
            }
        }
        assert!(leaders.len() <= 1, "two nodes say they lead: {views:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn five_real_processes_elect_a_leader_and_a_new_one_after_it_is_killed() {
    let deadline = Instant::now() + Duration::from_secs(60);
    // Boot 0: the initial cluster, starting empty (a restarted node would recover first).
    let mut cluster = common::start_with("election", 5, &["--boot", "0"]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut id = 0;
    let all: Vec<usize> = (0..5).collect();
    let (first, first_term) = wait_for_leader(&cluster, &client, &all, &mut id, deadline);

    cluster.kill(first);
    let rest: Vec<usize> = all.into_iter().filter(|&i| i != first).collect();
    let (second, second_term) = wait_for_leader(&cluster, &client, &rest, &mut id, deadline);
    assert_ne!(second, first);
    assert!(
        second_term > first_term,
        "new leader {} in term {second_term} after {} in term {first_term}",
        cluster.names[second],
        cluster.names[first]
    );
}
