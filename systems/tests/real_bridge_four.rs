//! Real mode: a Bridge Four leader and three workers as processes on 127.0.0.1, a word-count job
//! over 20 generated files submitted over HTTP, one worker killed with SIGKILL mid-job and
//! restarted; the job must reach Done and `/data` must equal a single-process reference count.
//! And the HTTP API's answers to bad input. Bounded in time; every process is killed at the
//! end, whatever happens.

use highstorm_systems::bridge_four::{corpus, merge_counts, word_count, CorpusSpec};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/sandbox.rs"]
mod sandbox;
use sandbox::*;

fn leader_args(dir: &Path, udp: SocketAddr, web: SocketAddr) -> Vec<String> {
    strings(&[
        "node",
        "bridge-four-leader",
        "--id",
        "leader",
        "--listen",
        &udp.to_string(),
        "--http",
        &web.to_string(),
        "--store",
        &dir.join("leader-store").display().to_string(),
        "--blobs",
        &dir.join("blobs").display().to_string(),
    ])
}

fn worker_args(dir: &Path, id: &str, udp: SocketAddr, leader: SocketAddr) -> Vec<String> {
    strings(&[
        "node",
        "bridge-four-worker",
        "--id",
        id,
        "--listen",
        &udp.to_string(),
        "--set",
        "slots=2",
        "--leader",
        &format!("leader={leader}"),
        "--blobs",
        &dir.join("blobs").display().to_string(),
        // Each task takes a while, so there is a job in flight to kill a worker in.
        "--min-work-ms",
        "600",
    ])
}

/// Polls job `id` until it is `Done` (failing on `Error` or the deadline); returns it. Every
/// poll must find the job, also across a leader restart.
fn wait_done(deadline: Instant, web: SocketAddr, id: u64) -> serde_json::Value {
    loop {
        let (status, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
        assert_eq!(status, 200, "the leader knows job {id}: {j}");
        if j["status"] == "Done" {
            return j;
        }
        assert_ne!(j["status"], "Error", "{j}");
        assert!(
            Instant::now() < deadline,
            "job not done by the deadline: {j}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that job `id`'s data equals the single-process count.
fn assert_data(deadline: Instant, web: SocketAddr, id: u64, reference: &BTreeMap<String, u64>) {
    let (status, data) = http(deadline, web, "GET", &format!("/jobs/{id}/data"), "");
    assert_eq!(status, 200, "{data}");
    let got: BTreeMap<String, u64> = serde_json::from_value(data).unwrap();
    assert_eq!(
        &got, reference,
        "the result equals the single-process count"
    );
}

#[test]
fn a_job_survives_a_worker_killed_mid_job_and_matches_the_reference() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sb = Sandbox::new("bridge-four");
    let blobs = sb.dir.join("blobs");
    let out = Command::new(BIN)
        .args(["corpus", "--dir", &blobs.display().to_string()])
        .args(["--files", "20", "--words", "5000", "--seed", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let inputs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(inputs.len(), 20);
    let mut reference = BTreeMap::new();
    for (path, text) in corpus(&CorpusSpec {
        files: 20,
        words: 5000,
        seed: 1,
    }) {
        assert_eq!(
            std::fs::read_to_string(blobs.join(&path)).unwrap(),
            text,
            "{path} on disk is the generated corpus"
        );
        merge_counts(&mut reference, &word_count(&text));
    }

    let udp = free_udp(4);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("leader", &leader_args(&dir, udp[0], web));
    // The workers are not in the leader's --peers: it learns them from their heartbeats.
    for (i, w) in ["w1", "w2", "w3"].iter().enumerate() {
        sb.spawn(w, &worker_args(&dir, w, udp[i + 1], udp[0]));
    }

    // Wait until the leader knows all three workers.
    loop {
        let (status, c) = http(deadline, web, "GET", "/cluster", "");
        assert_eq!(status, 200, "{c}");
        let alive = c["workers"]
            .as_array()
            .map_or(0, |w| w.iter().filter(|w| w["alive"] == true).count());
        if alive == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "workers never joined: {c}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let job = json!({"name": "twenty", "kind": "wordcount", "inputs": inputs}).to_string();
    let (status, r) = http(deadline, web, "POST", "/jobs", &job);
    assert_eq!(status, 202, "{r}");
    let id = r["id"].as_u64().unwrap();

    // Kill w1 with SIGKILL while it runs tasks of the job.
    let killed_tasks: Vec<u64> = loop {
        let (status, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
        assert_eq!(status, 200, "{j}");
        let running: Vec<u64> = j["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["worker"] == "w1" && t["status"] == "InProgress")
            .map(|t| t["task"].as_u64().unwrap())
            .collect();
        if !running.is_empty() {
            sb.kill("w1");
            break running;
        }
        assert_ne!(j["status"], "Done", "the job finished before w1 ran a task");
        assert!(Instant::now() < deadline, "w1 never ran a task: {j}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (status, early) = http(deadline, web, "GET", &format!("/jobs/{id}/data"), "");
    assert_eq!(status, 409, "no data before Done: {early}");
    std::thread::sleep(Duration::from_millis(300));
    sb.spawn("w1", &worker_args(&dir, "w1", udp[1], udp[0]));

    let job = wait_done(deadline, web, id);
    assert_eq!(job["done"], 20, "{job}");
    let tasks = job["tasks"].as_array().unwrap();
    assert!(
        killed_tasks
            .iter()
            .any(|&t| tasks[t as usize]["attempt"].as_u64().unwrap() >= 2),
        "a task w1 was running when killed ran again: {job}"
    );

    assert_data(deadline, web, id, &reference);

    let (status, c) = http(deadline, web, "GET", "/cluster", "");
    assert_eq!(status, 200);
    assert_eq!(c["workers"].as_array().unwrap().len(), 3, "{c}");
}

#[test]
fn bad_http_input_gets_a_4xx_with_a_message() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sb = Sandbox::new("bridge-four-http");
    let udp = free_udp(1);
    let web = free_tcp();
    let dir = sb.dir.clone();
    // A leader without workers: jobs are accepted and stay NotStarted.
    sb.spawn("leader", &leader_args(&dir, udp[0], web));

    let cases: &[(&str, &str, &str, u16)] = &[
        ("POST", "/jobs", "{not json", 400),
        ("POST", "/jobs", r#"{"name":"x"}"#, 400),
        ("POST", "/jobs", r#"{"inputs":[]}"#, 400),
        (
            "POST",
            "/jobs",
            r#"{"kind":"grep","inputs":["a.txt"]}"#,
            422,
        ),
        ("GET", "/jobs/99", "", 404),
        ("GET", "/jobs/abc", "", 404),
        ("GET", "/jobs/99/data", "", 404),
        ("GET", "/nowhere", "", 404),
    ];
    assert_errors(deadline, web, cases);

    let (status, r) = http(
        deadline,
        web,
        "POST",
        "/jobs",
        r#"{"name":"waits","inputs":["corpus/file-00000.txt"]}"#,
    );
    assert_eq!(status, 202, "{r}");
    let id = r["id"].as_u64().unwrap();
    let (status, v) = http(deadline, web, "GET", &format!("/jobs/{id}/data"), "");
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not Done"), "{v}");
    let (status, v) = http(deadline, web, "GET", "/jobs", "");
    assert_eq!(status, 200);
    assert_eq!(v["jobs"][0]["status"], "NotStarted", "{v}");
}

#[test]
fn an_accepted_job_survives_the_leader_killed_mid_job() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sb = Sandbox::new("bridge-four-leader");
    let blobs = sb.dir.join("blobs");
    let spec = CorpusSpec {
        files: 12,
        words: 2000,
        seed: 4,
    };
    let out = Command::new(BIN)
        .args(["corpus", "--dir", &blobs.display().to_string()])
        .args(["--files", "12", "--words", "2000", "--seed", "4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut reference = BTreeMap::new();
    let mut inputs = vec![];
    for (path, text) in corpus(&spec) {
        merge_counts(&mut reference, &word_count(&text));
        inputs.push(path);
    }

    let udp = free_udp(3);
    let web = free_tcp();
    let dir = sb.dir.clone();
    sb.spawn("leader", &leader_args(&dir, udp[0], web));
    for (i, w) in ["w1", "w2"].iter().enumerate() {
        sb.spawn(w, &worker_args(&dir, w, udp[i + 1], udp[0]));
    }
    loop {
        let (_, c) = http(deadline, web, "GET", "/cluster", "");
        if c["workers"].as_array().is_some_and(|w| w.len() == 2) {
            break;
        }
        assert!(Instant::now() < deadline, "workers never joined: {c}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let job = json!({"name": "survivor", "inputs": inputs}).to_string();
    let (status, r) = http(deadline, web, "POST", "/jobs", &job);
    assert_eq!(status, 202, "{r}");
    let id = r["id"].as_u64().unwrap();

    // Kill the leader once some tasks are done and others still run.
    loop {
        let (_, j) = http(deadline, web, "GET", &format!("/jobs/{id}"), "");
        assert_ne!(
            j["status"], "Done",
            "the job finished before the leader was killed"
        );
        if j["done"].as_u64().unwrap_or(0) >= 2 {
            sb.kill("leader");
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {j}");
        std::thread::sleep(Duration::from_millis(20));
    }
    sb.spawn("leader", &leader_args(&dir, udp[0], web));

    let job = wait_done(deadline, web, id);
    assert_eq!(job["done"], 12, "{job}");
    assert_data(deadline, web, id, &reference);
    let (_, all) = http(deadline, web, "GET", "/jobs", "");
    assert_eq!(all["jobs"].as_array().unwrap().len(), 1, "{all}");
}

#[cfg(unix)]
#[test]
fn job_paths_are_checked_before_a_202_and_a_list_over_64_kib_is_served() {
    use std::os::unix::fs::symlink;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sb = Sandbox::new("bridge-four-paths");
    let dir = sb.dir.clone();
    let blobs = dir.join("blobs");
    let outside = dir.join("outside");
    std::fs::create_dir_all(blobs.join("corpus")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(blobs.join("corpus/a.txt"), "one two two").unwrap();
    std::fs::write(outside.join("secret.txt"), "secret words").unwrap();
    symlink(outside.join("secret.txt"), blobs.join("corpus/link.txt")).unwrap();
    symlink("/etc/passwd", blobs.join("corpus/passwd")).unwrap();
    symlink(&outside, blobs.join("outlink")).unwrap();
    let udp = free_udp(1);
    let web = free_tcp();
    sb.spawn("leader", &leader_args(&dir, udp[0], web));

    let job = |inputs: &[&str], output: Option<&str>| {
        let mut j = json!({ "name": "probe", "inputs": inputs });
        if let Some(o) = output {
            j["output"] = json!(o);
        }
        j.to_string()
    };
    let a = "corpus/a.txt";
    let refused = [
        (job(&["/etc/passwd"], None), 400),
        (job(&["corpus/../../outside/secret.txt"], None), 400),
        (job(&[a, "../outside/secret.txt"], None), 400),
        (job(&["corpus/link.txt"], None), 422),
        (job(&["corpus/passwd"], None), 422),
        (job(&[a], Some("outlink/pwned.json")), 422),
        (job(&[a], Some("/tmp/pwned")), 400),
        (job(&[a], Some("../pwned")), 400),
        (job(&[a], Some("output/job-1")), 422),
        (json!({ "inputs": ["x".repeat(70_000)] }).to_string(), 413),
    ];
    for (body, expected) in &refused {
        let (status, v) = http(deadline, web, "POST", "/jobs", body);
        assert_eq!(status, *expected, "{body:.200}: {v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    assert!(
        !outside.join("pwned.json").exists(),
        "nothing written outside"
    );
    let (status, r) = http(
        deadline,
        web,
        "POST",
        "/jobs",
        &job(&[a], Some("results/one")),
    );
    assert_eq!((status, &r["id"]), (202, &json!(1)), "{r}");
    // No job's output may be, contain or lie inside another's: job 1's result stays its own.
    for output in ["results/one", "results", "results/one/inner"] {
        let (status, v) = http(deadline, web, "POST", "/jobs", &job(&[a], Some(output)));
        assert_eq!(status, 409, "{output}: {v}");
        assert!(v["error"].as_str().unwrap().contains("job 1"), "{v}");
    }
    let cases: &[(&str, &str, &str, u16)] = &[
        ("GET", "/jobs/01", "", 404),
        ("GET", "/jobs/+1", "", 404),
        ("DELETE", "/jobs", "", 405),
    ];
    assert_errors(deadline, web, cases);
    let (status, _) = http(deadline, web, "GET", "/jobs/1", "");
    assert_eq!(status, 200);
    // A second leader on the same store is refused at start-up, clearly.
    let second = leader_args(&dir, free_udp(1)[0], free_tcp());
    let (status, err) = sb.run_bounded("second", &second, Duration::from_secs(10));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}: {err}");
    assert!(err.contains("in use by another process"), "{err}");

    // Jobs with long names, until the list is well over 64 KiB: it is served whole.
    let name = "n".repeat(1000);
    for _ in 0..80 {
        let body = json!({ "name": name, "inputs": [a] }).to_string();
        let (status, r) = http(deadline, web, "POST", "/jobs", &body);
        assert_eq!(status, 202, "{r}");
    }
    let (status, list) = http(deadline, web, "GET", "/jobs", "");
    assert_eq!(status, 200, "{list:.300}");
    let ids: Vec<u64> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=81).collect::<Vec<_>>(),
        "every accepted job, once, in order"
    );
    assert!(list.to_string().len() > 80 * 1024);
}
