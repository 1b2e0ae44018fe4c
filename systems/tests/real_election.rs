//! Real mode: five `election` processes on 127.0.0.1 over UDP elect one leader; the leader is
//! killed with SIGKILL and the other four elect a new one in a later term. With `--store`, three
//! of the five (the leader among them) killed and restarted together read their work tables
//! back and a leader is elected again; without it they cannot recover and none is. Leadership
//! is observed with the `status` request every node answers. Bounded in time; the processes
//! are killed at the end, whatever happens.

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

/// A UDP socket on 127.0.0.1 to ask nodes for their status from.
fn status_client() -> UdpSocket {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    client
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
    let client = status_client();
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

/// A directory for this test's node stores, removed when dropped.
struct Stores(std::path::PathBuf);

impl Drop for Stores {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts five nodes (with a store each under `store`, or none), waits for a leader, kills it
/// and the next two nodes together and restarts the three (fresh boot counts, the same stores);
/// returns the cluster, a status client and the next request id.
fn kill_a_majority_and_restart(
    store: Option<&Stores>,
    deadline: Instant,
) -> (common::Cluster, UdpSocket, u64) {
    let store_args = |i: usize| -> Vec<String> {
        store.map_or(vec![], |s| {
            let dir = s.0.join(format!("n{i}"));
            vec!["--store".into(), dir.to_string_lossy().into_owned()]
        })
    };
    let mut cluster = common::start_each("election", 5, |i| {
        let mut args = vec!["--boot".to_owned(), "0".to_owned()];
        args.extend(store_args(i));
        args
    });
    let client = status_client();
    let mut id = 0;
    let all: Vec<usize> = (0..5).collect();
    let (leader, _) = wait_for_leader(&cluster, &client, &all, &mut id, deadline);
    let victims: Vec<usize> = [leader, (leader + 1) % 5, (leader + 2) % 5].into();
    for &i in &victims {
        cluster.kill(i);
    }
    for &i in &victims {
        let args = store_args(i);
        cluster.restart(i, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    (cluster, client, id)
}

#[test]
fn three_of_five_real_processes_restarted_together_read_their_tables_back_and_elect_a_leader() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let dir = std::env::temp_dir().join(format!("highstorm-real-election-{}", std::process::id()));
    let stores = Stores(dir);
    let (cluster, client, mut id) = kill_a_majority_and_restart(Some(&stores), deadline);
    let all: Vec<usize> = (0..5).collect();
    wait_for_leader(&cluster, &client, &all, &mut id, deadline);
}

/// The control: the same without `--store`. The three restarted nodes hold nothing they can
/// vouch for, the two others are too few to recover them or to elect a leader alone, and no
/// node leads for as long as we watch (a restarted node stays bound for a promise, 2.8 s, and
/// elections take well under a second once it may vote, so 6 s is ample).
#[test]
fn three_of_five_real_processes_restarted_together_without_a_store_elect_no_leader() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (cluster, client, mut id) = kill_a_majority_and_restart(None, deadline);
    let watch_until = Instant::now() + Duration::from_secs(6);
    let mut answered = 0;
    while Instant::now() < watch_until {
        for i in 0..5 {
            id += 1;
            if let Some((role, term, _)) = status(&client, cluster.addrs[i], &cluster.names[i], id)
            {
                answered += 1;
                assert_ne!(
                    role, "leader",
                    "n{i} leads in term {term} without a quorum of tables"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(answered > 20, "the nodes answered status {answered} times");
}
