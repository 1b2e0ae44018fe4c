//! Helpers for tests that start real node processes on 127.0.0.1.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};

/// Real node processes, killed when dropped (even if the test panics).
pub(crate) struct Cluster {
    children: Vec<Child>,
    /// Each node's command line after `highstorm`, without the extra arguments.
    commands: Vec<Vec<String>>,
    /// Each node's UDP address.
    pub(crate) addrs: Vec<SocketAddr>,
    /// Each node's id.
    pub(crate) names: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Loopback addresses nobody is using right now.
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets.iter().map(|s| s.local_addr().unwrap()).collect()
}

impl Cluster {
    /// Kills node `i` with SIGKILL (no chance to clean up) and waits for it to exit.
    #[allow(dead_code)]
    pub(crate) fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }

    /// Starts node `i` again (after [`kill`](Cluster::kill)) on the same address and peers,
    /// with `extra` arguments.
    #[allow(dead_code)]
    pub(crate) fn restart(&mut self, i: usize, extra: &[&str]) {
        self.kill(i);
        self.children[i] = spawn(&self.commands[i], extra);
    }
}

fn spawn(command: &[String], extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_highstorm"))
        .args(command)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts `n` processes of `system` (`highstorm node <system>`), each knowing all the others.
#[allow(dead_code)]
pub(crate) fn start(system: &str, n: usize) -> Cluster {
    start_with(system, n, &[])
}

/// Like [`start`], with extra arguments for every process.
#[allow(dead_code)]
pub(crate) fn start_with(system: &str, n: usize, extra: &[&str]) -> Cluster {
    start_each(system, n, |_| extra.iter().map(|a| a.to_string()).collect())
}

/// Like [`start`], with extra arguments for each process (`extra(i)` for node `i`).
pub(crate) fn start_each(system: &str, n: usize, extra: impl Fn(usize) -> Vec<String>) -> Cluster {
    let addrs = free_addrs(n);
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let commands: Vec<Vec<String>> = (0..n)
        .map(|i| {
            let peers: Vec<String> = (0..n)
                .filter(|&j| j != i)
                .map(|j| format!("{}={}", names[j], addrs[j]))
                .collect();
            let args = ["node", system, "--id", &names[i], "--listen"];
            let mut command: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            command.push(addrs[i].to_string());
            command.push("--peers".into());
            command.push(peers.join(","));
            command
        })
        .collect();
    let children = commands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let extra = extra(i);
            spawn(c, &extra.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    Cluster {
        children,
        commands,
        addrs,
        names,
    }
}
