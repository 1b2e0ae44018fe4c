//! Real mode: a distributed-workers manager and three workers as processes on 127.0.0.1, 500
//! jobs put over HTTP, one worker killed with SIGKILL while it holds a reservation and later
//! restarted; every job must reach `completed` with the md5 of its payload, and the killed
//! worker's reservation must have expired and gone back to the queue. The manager killed and
//! restarted on its --store directory keeps every accepted job and every result. And the HTTP
//! API's answers to bad input. Bounded in time; every process is killed at the end, whatever happens.

use highstorm_systems::work_queue::{result_of, MAX_PAYLOAD_BYTES};
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

#[test]
fn oversized_bodies_get_a_413_in_json_and_a_payload_at_the_limit_is_served_whole() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sb = Sandbox::new("work-queue-sizes");
    let udp = free_udp(1);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    // Over the body limit, and within it but over the payload limit: 413 at once (not a
    // gateway timeout), with a JSON message.
    let over_body = json!({ "blob": "x".repeat(70_000) }).to_string();
    let over_payload = Value::from("x".repeat(MAX_PAYLOAD_BYTES)).to_string();
    assert!(over_payload.len() < 64 * 1024);
    for body in [&over_body, &over_payload] {
        let asked = Instant::now();
        let (status, v) = http(deadline, web, "POST", "/jobs", body);
        assert_eq!(status, 413, "{v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
    }
    // At the limit: accepted, and served whole (it fits every message that carries it).
    let at_limit = Value::from("y".repeat(MAX_PAYLOAD_BYTES - 2));
    let (status, r) = http(deadline, web, "POST", "/jobs", &at_limit.to_string());
    assert_eq!(status, 202, "{r}");
    assert_eq!(r["id"], 1, "nothing over the limit was accepted: {r}");
    let (status, j) = http(deadline, web, "GET", "/jobs/1", "");
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["payload"], at_limit);
    // Other errors are JSON too; ids have one form.
    let cases: &[(&str, &str, &str, u16)] = &[
        ("DELETE", "/jobs", "", 405),
        ("PUT", "/jobs/1", "{}", 405),
        ("GET", "/jobs/01", "", 404),
        ("GET", "/jobs/+1", "", 404),
    ];
    assert_errors(deadline, web, cases);
}

#[test]
fn a_damaged_store_record_or_a_second_manager_stops_start_up_naming_the_cause() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sb = Sandbox::new("work-queue-store");
    let udp = free_udp(2);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    for n in 1..=3 {
        let payload = json!({ "n": n, "text": "original" }).to_string();
        let (status, r) = http_with(deadline, web, "/jobs", &payload, &format!("key-{n}"));
        assert_eq!((status, &r["id"]), (202, &json!(n)), "{r}");
    }
    // A second manager on the same store: refused with a clear error; the first serves on.
    let (status, err) = sb.run_bounded(
        "second",
        &manager_args(&dir, udp[1], free_tcp()),
        Duration::from_secs(10),
    );
    assert!(
        status.is_some_and(|s| !s.success()),
        "refused: {status:?} {err}"
    );
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("manager-store"), "names the store: {err}");
    let (status, _) = http(deadline, web, "GET", "/jobs/3", "");
    assert_eq!(status, 200);

    sb.kill("manager");
    // The newest record damaged four ways: each time, start-up is refused naming the file
    // (not skipped, which would forget job 3, let its key deduplicate nothing, and give its
    // id to the next job).
    let record = dir.join("manager-store").join("k_job%2F0000000003");
    let original = std::fs::read(&record).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    assert!(text.contains("original"), "{text}");
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", original[..original.len() - 7].to_vec()),
        ("empty", vec![]),
        ("garbage", b"\x00\xffnot a record\x01".to_vec()),
        ("edited", text.replace("original", "modified").into_bytes()),
    ];
    for (what, bytes) in damages {
        std::fs::write(&record, bytes).unwrap();
        let (status, err) = sb.run_bounded(
            what,
            &manager_args(&dir, udp[0], web),
            Duration::from_secs(10),
        );
        assert!(
            status.is_some_and(|s| !s.success()),
            "{what}: start-up refused, got {status:?}: {err}"
        );
        assert!(
            err.contains("k_job%2F0000000003"),
            "{what}: names the file: {err}"
        );
        assert!(
            err.contains("damaged") && err.contains("Restore"),
            "{what}: {err}"
        );
    }
    // Restored, the manager starts with every job, and the ids and keys hold.
    std::fs::write(&record, &original).unwrap();
    sb.spawn("manager", &manager_args(&dir, udp[0], web));
    let (status, j) = http(deadline, web, "GET", "/jobs/3", "");
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["payload"]["text"], "original");
    let (_, again) = http_with(deadline, web, "/jobs", "{}", "key-3");
    assert_eq!(again["id"], 3, "the key still deduplicates: {again}");
    let (_, next) = http(deadline, web, "POST", "/jobs", "{}");
    assert_eq!(next["id"], 4, "no id is reused: {next}");
}

/// `POST path` with an `Idempotency-Key`, retried while the server is not up yet.
fn http_with(
    deadline: Instant,
    web: SocketAddr,
    path: &str,
    body: &str,
    key: &str,
) -> (u16, Value) {
    use std::io::{Read, Write};
    loop {
        let attempt = (|| -> std::io::Result<(u16, Value)> {
            let mut s = std::net::TcpStream::connect_timeout(&web, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(15)))?;
            write!(
                s,
                "POST {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\
                 Idempotency-Key: {key}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            let mut raw = String::new();
            s.read_to_string(&mut raw)?;
            let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
            let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            let status = status.ok_or_else(|| std::io::Error::other(head.to_owned()))?;
            Ok((status, serde_json::from_str(rest).unwrap_or(Value::Null)))
        })();
        match attempt {
            Ok(r) => return r,
            Err(e) => {
                assert!(Instant::now() < deadline, "POST {path}: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
