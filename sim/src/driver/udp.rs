//! UDP transport: one datagram per message, addressed by node name through an [`AddressBook`].

use super::Transport;
use highstorm_nodes::wire::{Header, MAX_MESSAGE_BYTES};
use highstorm_nodes::Transmit;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// A datagram socket: tokio's for real, turmoil's inside the simulator.
pub trait DatagramSocket {
    /// Sends one datagram.
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> impl Future<Output = io::Result<usize>>;
    /// Receives one datagram. Must be cancel-safe.
    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>>;
}

impl DatagramSocket for tokio::net::UdpSocket {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        tokio::net::UdpSocket::send_to(self, buf, to).await
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        tokio::net::UdpSocket::recv_from(self, buf).await
    }
}

/// Node names to socket addresses: the configured peers, plus every sender heard from (so a
/// client or worker nobody configured gets its replies). A learned address is replaced when the
/// same name is heard from a new one (a process restarted on another port); a configured one
/// never is.
#[derive(Clone, Debug, Default)]
pub struct AddressBook {
    by_name: BTreeMap<String, SocketAddr>,
    by_addr: BTreeMap<SocketAddr, String>,
    configured: std::collections::BTreeSet<String>,
}

impl AddressBook {
    /// A book with the given entries.
    pub fn new(entries: impl IntoIterator<Item = (String, SocketAddr)>) -> Self {
        let mut book = AddressBook::default();
        for (name, addr) in entries {
            book.insert(name, addr);
        }
        book
    }

    /// Adds or replaces a configured entry.
    pub fn insert(&mut self, name: String, addr: SocketAddr) {
        self.configured.insert(name.clone());
        self.put(name, addr);
    }

    /// Learns that `name` sent from `addr`, unless `name` is configured.
    pub fn learn(&mut self, name: String, addr: SocketAddr) {
        if !self.configured.contains(&name) && self.get(&name) != Some(addr) {
            self.put(name, addr);
        }
    }

    fn put(&mut self, name: String, addr: SocketAddr) {
        if let Some(old) = self.by_name.insert(name.clone(), addr) {
            self.by_addr.remove(&old);
        }
        if let Some(other) = self.by_addr.insert(addr, name.clone()) {
            if other != name {
                self.by_name.remove(&other);
            }
        }
    }

    /// Where `name` is.
    pub fn get(&self, name: &str) -> Option<SocketAddr> {
        self.by_name.get(name).copied()
    }

    /// Whose address `addr` is.
    pub fn name_of(&self, addr: SocketAddr) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }
}

/// A [`Transport`] over any [`DatagramSocket`].
pub struct UdpTransport<S> {
    socket: S,
    book: AddressBook,
    buf: Vec<u8>,
}

impl<S: DatagramSocket> UdpTransport<S> {
    /// Sends to and receives from `socket`, resolving names with `book`.
    pub fn new(socket: S, book: AddressBook) -> Self {
        UdpTransport {
            socket,
            book,
            buf: vec![0; MAX_MESSAGE_BYTES + 1],
        }
    }

    /// The address book as learned so far.
    pub fn book(&self) -> &AddressBook {
        &self.book
    }

    /// The socket.
    pub fn socket(&self) -> &S {
        &self.socket
    }
}

impl<S: DatagramSocket> Transport for UdpTransport<S> {
    async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        let (n, from) = self.socket.recv_from(&mut self.buf).await?;
        let bytes = self.buf[..n].to_vec();
        if self.book.name_of(from).is_none() {
            // Learn who is behind a new address from the envelope's `src`.
            if let Ok(h) = serde_json::from_slice::<Header>(&bytes) {
                self.book.learn(h.src, from);
            }
        }
        Ok(Some(bytes))
    }

    async fn send(&mut self, t: &Transmit) -> io::Result<()> {
        let Some(to) = self.book.get(&t.dest) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no address for `{}`", t.dest),
            ));
        };
        self.socket.send_to(&t.bytes, to).await.map(|_| ())
    }
}

/// Runs `process` for real on a UDP socket bound to `listen`, with `peers` as its address book.
pub async fn serve(
    process: &mut dyn highstorm_nodes::Process,
    listen: SocketAddr,
    peers: AddressBook,
) -> io::Result<()> {
    let socket = tokio::net::UdpSocket::bind(listen).await?;
    tracing::info!(node = process.id(), %listen, "listening");
    let mut transport = UdpTransport::new(socket, peers);
    let mut env = super::RealEnvironment::default();
    super::drive(process, &mut transport, &mut env).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_addresses_follow_a_restart_configured_ones_stay() {
        let a: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:7002".parse().unwrap();
        let c: SocketAddr = "127.0.0.1:7003".parse().unwrap();
        let mut book = AddressBook::new([("leader".to_owned(), a)]);
        book.learn("leader".into(), b);
        assert_eq!(book.get("leader"), Some(a), "configured: kept");
        book.learn("w1".into(), b);
        assert_eq!(book.get("w1"), Some(b));
        book.learn("w1".into(), c);
        assert_eq!(book.get("w1"), Some(c), "restarted on another port");
        assert_eq!(book.name_of(b), None);
        assert_eq!(book.name_of(c), Some("w1"));
    }
}
