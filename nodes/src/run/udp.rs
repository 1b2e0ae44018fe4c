//! UDP transport: one datagram per message, addressed by node name through an [`AddressBook`].

use super::Transport;
use crate::node::Transmit;
use crate::wire::{Header, MAX_MESSAGE_BYTES};
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
/// client nobody configured gets its replies).
#[derive(Clone, Debug, Default)]
pub struct AddressBook {
    by_name: BTreeMap<String, SocketAddr>,
    by_addr: BTreeMap<SocketAddr, String>,
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

    /// Adds or replaces an entry.
    pub fn insert(&mut self, name: String, addr: SocketAddr) {
        if let Some(old) = self.by_name.insert(name.clone(), addr) {
            self.by_addr.remove(&old);
        }
        self.by_addr.insert(addr, name);
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
                if self.book.get(&h.src).is_none() {
                    self.book.insert(h.src, from);
                }
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
    process: &mut dyn crate::Process,
    listen: SocketAddr,
    peers: AddressBook,
) -> io::Result<()> {
    let socket = tokio::net::UdpSocket::bind(listen).await?;
    tracing::info!(node = process.id(), %listen, "listening");
    let mut transport = UdpTransport::new(socket, peers);
    let mut env = super::RealEnvironment::default();
    super::drive(process, &mut transport, &mut env).await
}
