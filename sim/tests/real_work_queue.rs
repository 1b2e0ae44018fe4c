//! Real mode: a distributed-workers manager and three workers as processes on 127.0.0.1, 500
//! jobs put over HTTP, one worker killed with SIGKILL while it holds a reservation and later
//! restarted; every job must reach `completed` with the md5 of its payload, and the killed
//! worker's reservation must have expired and gone back to the queue. The manager killed and
//! restarted on its --store directory keeps every accepted job and every result. And the HTTP
//! API's answers to bad input. Bounded in time; every process is killed at the end, whatever happens.

use highstorm_nodes::systems::work_queue::result_of;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_highstorm");

/// A temporary directory and the processes running in it; dropping it kills them all and
/// removes the directory (kept, and named, if the test failed).
struct Sandbox {
    dir: PathBuf,
    procs: Vec<(String, Child)>,
}

impl Sandbox {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "highstorm-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Sandbox { dir, procs: vec![] }
    }

    /// Starts `highstorm <args>` as `name`, its stderr appended to `<dir>/<name>.log`.
    fn spawn(&mut self, name: &str, args: &[String]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))
            .unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("HIGHSTORM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((name.to_owned(), child));
    }

    /// SIGKILLs `name` and reaps it.
    fn kill(&mut self, name: &str) {
        let i = self.procs.iter().position(|(n, _)| n == name).unwrap();
        let (_, mut child) = self.procs.remove(i);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("logs and state kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Loopback UDP addresses nobody is using right now.
fn free_udp(n: usize) -> Vec<SocketAddr> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets.iter().map(|s| s.local_addr().unwrap()).collect()
}

/// A loopback TCP address nobody is using right now.
fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// One HTTP/1.1 exchange over a fresh connection: status and JSON body.
fn http_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = vec![];
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok((status, v))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// [`http_once`], retried while the server is not up yet, until `deadline`.
fn http(deadline: Instant, addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    loop {
        match http_once(addr, method, path, body) {
            Ok(r) => return r,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "{method} {path}: no answer before the deadline: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

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
    for &(method, path, body, expected) in cases {
        let (status, v) = http(deadline, web, method, path, body);
        assert_eq!(status, expected, "{method} {path} {body}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: a message: {v}"
        );
    }
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
