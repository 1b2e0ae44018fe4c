//! Shared by the tests that run real processes with an HTTP API (Bridge Four, the work
//! queue): a sandbox directory whose processes die with it, free loopback ports, and a minimal
//! HTTP/1.1 client. Included with `#[path = "common/sandbox.rs"] mod sandbox;`.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_highstorm");

/// A temporary directory and the processes running in it; dropping it kills them all and
/// removes the directory (kept, and named, if the test failed).
pub(crate) struct Sandbox {
    /// The directory.
    pub(crate) dir: PathBuf,
    procs: Vec<(String, Child)>,
}

impl Sandbox {
    pub(crate) fn new(name: &str) -> Self {
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
    pub(crate) fn spawn(&mut self, name: &str, args: &[String]) {
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

    /// Runs `highstorm <args>` as `name` to its end, killing it if it runs past `timeout`:
    /// its exit status (`None` when it had to be killed) and its stderr.
    pub(crate) fn run_bounded(
        &self,
        name: &str,
        args: &[String],
        timeout: Duration,
    ) -> (Option<std::process::ExitStatus>, String) {
        let log = self.dir.join(format!("{name}.log"));
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    /// SIGKILLs `name` and reaps it.
    pub(crate) fn kill(&mut self, name: &str) {
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
pub(crate) fn free_udp(n: usize) -> Vec<SocketAddr> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets.iter().map(|s| s.local_addr().unwrap()).collect()
}

/// A loopback TCP address nobody is using right now.
pub(crate) fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub(crate) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// One HTTP/1.1 exchange over a fresh connection: status and JSON body.
pub(crate) fn http_once(
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

pub(crate) fn dechunk(mut rest: &str) -> String {
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
pub(crate) fn http(
    deadline: Instant,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
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

/// Asserts that each `(method, path, body, status)` gets that status and a JSON body with a
/// non-empty `error` message.
pub(crate) fn assert_errors(deadline: Instant, web: SocketAddr, cases: &[(&str, &str, &str, u16)]) {
    for &(method, path, body, expected) in cases {
        let (status, v) = http(deadline, web, method, path, body);
        assert_eq!(status, expected, "{method} {path} {body}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: a message: {v}"
        );
    }
}
