//! HTTP carried over the simulator's TCP (turmoil's): a listener to serve any axum router on a
//! simulated host, and a minimal client for simulated clients. Transport only: the APIs
//! themselves, and how they reach their nodes, are [`crate::http_api`]'s.
//!
//! [`TurmoilListener`] is an [`axum::serve::Listener`] over `turmoil::net::TcpListener`, so
//! `axum::serve(TurmoilListener::bind(addr).await?, router)` runs on a simulated host exactly as
//! `axum::serve(tokio::net::TcpListener::bind(addr).await?, router)` runs for real.
//! [`request`] is a minimal HTTP/1.1 client over turmoil TCP for simulated clients. turmoil TCP
//! has no retransmission: a partition breaks a connection, so clients must retry, as real
//! clients must.

use crate::http_api::axum;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// turmoil's TCP listener as an [`axum::serve::Listener`].
pub struct TurmoilListener(turmoil::net::TcpListener);

impl TurmoilListener {
    /// Listens on `addr` on the current simulated host.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        turmoil::net::TcpListener::bind(addr).await.map(Self)
    }
}

impl axum::serve::Listener for TurmoilListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok(conn) => return conn,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// One HTTP/1.1 exchange over a fresh simulated connection: the status and the body.
pub async fn request(
    to: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> io::Result<(u16, String)> {
    request_with(to, method, path, &[], body).await
}

/// [`request`] with extra headers (`("Idempotency-Key", "c0-7")`).
pub async fn request_with(
    to: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<(u16, String)> {
    let mut s = turmoil::net::TcpStream::connect(to).await?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n{extra}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = vec![];
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of headers"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line: {head:?}")))?;
    Ok((status, rest.to_owned()))
}
