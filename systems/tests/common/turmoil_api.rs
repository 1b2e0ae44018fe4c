//! Shared by the tests that serve a system's HTTP API inside turmoil (Bridge Four, the work
//! queue): nodes over turmoil UDP, the API host's router over turmoil TCP through the same
//! `Gateway` real mode uses, and an HTTP client that retries while faults break connections.
//! Included with `#[path = "common/turmoil_api.rs"] mod turmoil_api;`.

use highstorm::driver::{
    drive, AddressBook, DatagramSocket, Gateway, GatewayClient, RealEnvironment, UdpTransport,
};
use highstorm::http_api::axum::Router;
use highstorm::sim_http::{request, TurmoilListener};
use highstorm_nodes::{Node, NodeProcess, ProcessSetup};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Every node's UDP port.
pub(crate) const UDP: u16 = 7000;
/// The API host's HTTP port.
pub(crate) const HTTP: u16 = 8080;

struct Udp(turmoil::net::UdpSocket);

impl DatagramSocket for Udp {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.send_to(buf, to).await
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).await
    }
}

fn any(port: u16) -> SocketAddr {
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into()
}

/// The setup of node `id` on a turmoil host: seed 7, booted now (in simulated time).
pub(crate) fn setup(id: &str) -> ProcessSetup {
    ProcessSetup {
        id: id.to_owned(),
        peers: vec![].into(),
        seed: 7,
        boot: turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64,
        durable: Default::default(),
        buggify: highstorm_nodes::Buggify::Off,
    }
}

/// An address book that knows where `host` listens for UDP.
pub(crate) fn book_with(host: &str) -> AddressBook {
    AddressBook::new([(host.to_owned(), (turmoil::lookup(host), UDP).into())])
}

/// Runs `process` on this host over turmoil UDP.
pub(crate) async fn serve<N: Node>(
    mut process: NodeProcess<N>,
    mut env: RealEnvironment,
    book: AddressBook,
) -> turmoil::Result {
    let socket = Udp(turmoil::net::UdpSocket::bind(any(UDP)).await?);
    let mut transport = UdpTransport::new(socket, book);
    drive(&mut process, &mut transport, &mut env).await?;
    Ok(())
}

/// Runs `process` (node `id`) on this host over turmoil UDP, and serves the router `api`
/// builds over turmoil TCP, its requests reaching the node through a [`Gateway`].
pub(crate) async fn serve_api<N: Node>(
    id: &str,
    mut process: NodeProcess<N>,
    mut env: RealEnvironment,
    book: AddressBook,
    api: impl FnOnce(GatewayClient) -> Router,
) -> turmoil::Result {
    let socket = Udp(turmoil::net::UdpSocket::bind(any(UDP)).await?);
    let transport = UdpTransport::new(socket, book);
    let (mut gateway, client) = Gateway::new(transport, id, "http");
    let listener = TurmoilListener::bind(any(HTTP)).await?;
    tokio::select! {
        biased;
        r = drive(&mut process, &mut gateway, &mut env) => r?,
        r = highstorm::http_api::serve(listener, api(client)) => r?,
    }
    Ok(())
}

/// An HTTP exchange with `host`, retried on connection errors (turmoil TCP breaks on faults).
/// Returns the status and the body as JSON (a JSON string if it is not JSON).
pub(crate) async fn http(
    host: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let to: SocketAddr = (turmoil::lookup(host), HTTP).into();
    for _ in 0..100 {
        match request(to, method, path, body).await {
            Ok((status, text)) => {
                let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                return (status, v);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("{method} {path}: no answer");
}
