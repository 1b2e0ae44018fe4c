//! Real mode: a distributed-workers manager and three workers as processes on 127.0.0.1, 500
//! jobs put over HTTP, one worker killed with SIGKILL while it holds a reservation and later
//! restarted; every job must reach `completed` with the md5 of its payload, and the killed
//! worker's reservation must have expired and gone back to the queue. The manager killed and
//! restarted on its --store directory keeps every accepted job and every result. And the HTTP
//! API's answers to bad input. Bounded in time; every process is killed at the end, whatever happens.

use highstorm_systems::work_queue::result_of;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "common/sandbox.rs"]
mod sandbox;
use sandbox::*;

/// Jobs take 20 ms; w1 is 20 times slower (400 ms a job, within the 1 s TTR), so it nearly
/// always holds a reservation when it is killed.
const CONFIG: &str = r#"{"ttr_ms": 1000, "work_ms": 20, "poll_ms": 50, "slow": {"w1": 20.0}}"#;

fn manager_args(dir: &Path, udp: SocketAddr, web: SocketAddr) -> Vec<String> {
    strings(&[
        "node",
        "work-queue-manager",
        "--id",
        "n0",
        "--listen",
        &udp.to_string(),
        "--http",
        &web.to_string(),
        "--store",
        &dir.join("manager-store").display().to_string(),
        "--config",
        CONFIG,
    ])
}

fn worker_args(id: &str, udp: SocketAddr, manager: SocketAddr) -> Vec<String> {
    strings(&[
        "node",
        "work-queue-worker",
        "--id",
        id,
        "--listen",
        &udp.to_string(),
        "--leader",
        &format!("n0={manager}"),
        "--config",
        CONFIG,
    ])
}

#[test]
fn five_hundred_jobs_complete_with_a_worker_killed_mid_job() {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    let mut sb = Sandbox::new("work-queue");
    let udp = free_udp(4);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    for (i, w) in ["w1", "w2", "w3"].iter().enumerate() {
        sb.spawn(w, &worker_args(w, udp[i + 1], udp[0]));
    }

    let mut payloads: BTreeMap<u64, Value> = BTreeMap::new();
    let mut killed = false;
    for n in 0..500u64 {
        let payload = json!({"n": n, "text": format!("job number {n}"), "list": [n, n * n]});
        let (status, r) = http(deadline, web, "POST", "/jobs", &payload.to_string());
        assert_eq!(status, 202, "{r}");
        let id = r["id"].as_u64().unwrap();
        assert!(
            payloads.insert(id, payload).is_none(),
            "id {id} given twice"
        );
        // Kill w1 a third of the way in, while it works on a job.
        if n == 150 {
            std::thread::sleep(Duration::from_millis(100));
            sb.kill("w1");
            killed = true;
        }
        // And bring it back after its reservation has expired.
        if n == 400 {
            sb.spawn("w1", &worker_args("w1", udp[1], udp[0]));
        }
    }
    assert!(killed);

    let mut pending: Vec<u64> = payloads.keys().copied().collect();
    let mut timeouts = 0;
    while !pending.is_empty() {
        let mut still = vec![];
        for id in pending {
            let (status, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
            assert_eq!(status, 200, "{j}");
            if j["status"] == "completed" {
                assert_eq!(j["payload"], payloads[&id], "job {id}");
                assert_eq!(
                    j["result"].as_str(),
                    Some(result_of(&payloads[&id]).as_str()),
                    "job {id}: the md5 of its payload"
                );
                timeouts += j["timeouts"].as_u64().unwrap_or(0);
            } else {
                still.push(id);
            }
        }
        pending = still;
        assert!(
            Instant::now() < deadline,
            "{} jobs not completed by the deadline, e.g. {:?}",
            pending.len(),
            &pending[..pending.len().min(5)]
        );
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(
        timeouts >= 1,
        "the killed worker's reservation expired and its job ran again"
    );
    eprintln!(
        "500 jobs completed in {:.1}s ({timeouts} reservations expired)",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn bad_http_input_gets_a_4xx_with_a_message() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sb = Sandbox::new("work-queue-http");
    let udp = free_udp(1);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    let cases: &[(&str, &str, &str, u16)] = &[
        ("POST", "/jobs", "{not json", 400),
        ("POST", "/jobs", "", 400),
        ("GET", "/jobs/99", "", 404),
        ("GET", "/jobs/abc", "", 404),
        ("GET", "/nowhere", "", 404),
    ];
    assert_errors(deadline, web, cases);
    // Without workers a job stays queued.
    let (status, r) = http(deadline, web, "POST", "/jobs", r#"{"x": 1}"#);
    assert_eq!(status, 202, "{r}");
    let (status, j) = http(deadline, web, "GET", &format!("/jobs/{}", r["id"]), "");
    assert_eq!(status, 200);
    assert_eq!(j["status"], "queued", "{j}");
}

#[test]
fn accepted_jobs_and_results_survive_the_manager_killed_and_restarted() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sb = Sandbox::new("work-queue-manager");
    let udp = free_udp(3);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    // w1 is the slow one (400 ms a job): the queue drains slowly enough to kill the manager
    // while some jobs are completed and others are not.
    for (i, w) in ["w1", "w2"].iter().enumerate() {
        sb.spawn(w, &worker_args(w, udp[i + 1], udp[0]));
    }
    let mut payloads: BTreeMap<u64, Value> = BTreeMap::new();
    for n in 0..100u64 {
        let payload = json!({"n": n, "survives": true});
        let (status, r) = http(deadline, web, "POST", "/jobs", &payload.to_string());
        assert_eq!(status, 202, "{r}");
        payloads.insert(r["id"].as_u64().unwrap(), payload);
    }
    // Kill the manager once some jobs are completed, remembering their results.
    let completed: BTreeMap<u64, Value> = loop {
        let mut done = BTreeMap::new();
        for id in payloads.keys() {
            let (_, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
            if j["status"] == "completed" {
                done.insert(*id, j["result"].clone());
            }
        }
        if done.len() >= 10 {
            assert!(done.len() < payloads.len(), "all done before the kill");
            sb.kill("manager");
            break done;
        }
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(50));
    };
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    for (id, result) in &completed {
        let (status, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
        assert_eq!(status, 200, "the restarted manager knows job {id}: {j}");
        assert_eq!(j["status"], "completed", "job {id}'s result survived: {j}");
        assert_eq!(&j["result"], result);
    }
    // A new job gets the next id: none is reused after the restart.
    let (status, first) = http(deadline, web, "POST", "/jobs", "{}");
    assert_eq!(status, 202);
    assert_eq!(first["id"], 101, "ids continue after the restart: {first}");
    let mut pending: Vec<u64> = payloads.keys().copied().collect();
    while !pending.is_empty() {
        pending.retain(|id| {
            let (status, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
            assert_eq!(status, 200, "{j}");
            if j["status"] != "completed" {
                return true;
            }
            assert_eq!(
                j["result"].as_str(),
                Some(result_of(&payloads[id]).as_str())
            );
            false
        });
        assert!(
            Instant::now() < deadline,
            "{} jobs not completed by the deadline",
            pending.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
