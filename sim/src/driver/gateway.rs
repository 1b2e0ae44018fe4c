//! A gateway into a driven node for code that lives beside it in the same process — an HTTP
//! API, for instance.
//!
//! A [`Gateway`] wraps a node's [`Transport`]. Requests sent through a [`GatewayClient`] reach
//! the node as ordinary messages from a local pseudo-client (`http`, say) — the node cannot
//! tell them from a client's datagrams — and the node's replies to that pseudo-client, matched
//! by `in_reply_to`, go back to the waiting caller instead of onto the network. Nothing here
//! knows any system's messages: bodies are JSON objects with a `type`, as on the wire.
//!
//! The node is driven by [`drive`](super::drive) as always: it sees the gateway's requests
//! through the transport's `recv`, with datagrams first when both are ready — but a waiting
//! request is passed over for at most [`FAIR_TURN`] datagrams in a row, so a busy network (a
//! thousand task reports) cannot keep an HTTP read waiting until it times out.

use super::Transport;
use highstorm_nodes::wire::{MsgId, MAX_MESSAGE_BYTES};
use highstorm_nodes::Transmit;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How many datagrams in a row may go before a waiting gateway request.
pub const FAIR_TURN: u32 = 8;

/// One request on its way in: the body, and where its reply goes.
struct Request {
    body: Value,
    reply: oneshot::Sender<Result<Value, GatewayError>>,
}

/// Why a gateway request got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The node is not running any more.
    #[error("the node is not running")]
    Closed,
    /// No reply within the client's timeout.
    #[error("no reply from the node within {0:?}")]
    Timeout(Duration),
    /// The body was not a JSON object.
    #[error("a request body must be a JSON object")]
    NotAnObject,
    /// The request, as a message, would be over the message size limit: it was not sent.
    #[error("the request is too large: {bytes} bytes as a message, over the {limit}-byte limit")]
    TooLarge {
        /// The message's size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

/// Sends requests to a node through its [`Gateway`]. Cheap to clone; usable from any task.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    tx: mpsc::Sender<Request>,
    timeout: Duration,
}

impl GatewayClient {
    /// The same client with another reply timeout (the default is 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `body` (a JSON object with a `type`; its `msg_id` is set by the gateway) to the
    /// node and waits for the node's reply body.
    pub async fn request(&self, body: Value) -> Result<Value, GatewayError> {
        if !body.is_object() {
            return Err(GatewayError::NotAnObject);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { body, reply })
            .await
            .map_err(|_| GatewayError::Closed)?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => Err(GatewayError::Closed),
            Err(_) => Err(GatewayError::Timeout(self.timeout)),
        }
    }
}

/// A [`Transport`] that also carries requests from [`GatewayClient`]s in, and their replies
/// out.
pub struct Gateway<T> {
    inner: T,
    node: String,
    name: String,
    requests: mpsc::Receiver<Request>,
    open: bool,
    pending: BTreeMap<MsgId, oneshot::Sender<Result<Value, GatewayError>>>,
    next_id: MsgId,
    /// Datagrams taken while a request was waiting, since a request was last taken.
    passed_over: u32,
}

impl<T: Transport> Gateway<T> {
    /// Wraps `inner`, the transport of node `node`; requests arrive from the pseudo-client
    /// `name` (which must not be the name of a real peer or client).
    pub fn new(inner: T, node: &str, name: &str) -> (Gateway<T>, GatewayClient) {
        let (tx, requests) = mpsc::channel(64);
        let gateway = Gateway {
            inner,
            node: node.to_owned(),
            name: name.to_owned(),
            requests,
            open: true,
            pending: BTreeMap::new(),
            next_id: 1,
            passed_over: 0,
        };
        let client = GatewayClient {
            tx,
            timeout: Duration::from_secs(10),
        };
        (gateway, client)
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Requests waiting for the node's reply.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The envelope for one request; remembers where its reply goes. A request over the
    /// message size limit is answered at once with [`GatewayError::TooLarge`] (the node would
    /// drop it unanswered): `None`.
    fn admit(&mut self, req: Request) -> Option<Vec<u8>> {
        // Callers that gave up (timed out, disconnected) need no reply.
        self.pending.retain(|_, tx| !tx.is_closed());
        let id = self.next_id;
        self.next_id += 1;
        let mut body = req.body;
        if let Some(obj) = body.as_object_mut() {
            obj.insert("msg_id".into(), Value::from(id));
            obj.remove("in_reply_to");
        }
        let envelope = serde_json::json!({"src": self.name, "dest": self.node, "body": body});
        let bytes = serde_json::to_vec(&envelope).expect("a JSON value encodes");
        if bytes.len() > MAX_MESSAGE_BYTES {
            let _ = req.reply.send(Err(GatewayError::TooLarge {
                bytes: bytes.len(),
                limit: MAX_MESSAGE_BYTES,
            }));
            return None;
        }
        self.pending.insert(id, req.reply);
        Some(bytes)
    }
}

impl<T: Transport> Transport for Gateway<T> {
    async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let turn = if self.passed_over >= FAIR_TURN {
                self.requests.try_recv().ok()
            } else {
                None
            };
            let req = match turn {
                Some(req) => Some(req),
                None => tokio::select! {
                    biased;
                    received = self.inner.recv() => {
                        if self.open && !self.requests.is_empty() {
                            self.passed_over += 1;
                        }
                        return received;
                    }
                    req = self.requests.recv(), if self.open => req,
                },
            };
            self.passed_over = 0;
            match req {
                Some(req) => {
                    if let Some(bytes) = self.admit(req) {
                        return Ok(Some(bytes));
                    }
                }
                // Every client is gone: only the network is left.
                None => self.open = false,
            }
        }
    }

    async fn send(&mut self, t: &Transmit) -> io::Result<()> {
        if t.dest != self.name {
            return self.inner.send(t).await;
        }
        let Some(tx) = t.in_reply_to.and_then(|id| self.pending.remove(&id)) else {
            // Unsolicited, or its caller gave up: nobody to hand it to.
            return Ok(());
        };
        let body = serde_json::from_slice::<Value>(&t.bytes)
            .ok()
            .and_then(|mut v| v.get_mut("body").map(Value::take))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "reply is not JSON"))?;
        let _ = tx.send(Ok(body));
        Ok(())
    }
}

/// A network that never delivers anything: for a node only a gateway talks to (tests of an
/// HTTP API, say).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Transport for Silent {
    async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        std::future::pending().await
    }
    async fn send(&mut self, _: &Transmit) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::{Ctx, Message, NoTimer, Node, NodeProcess, ProcessSetup};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Msg {
        Add { n: u64 },
        AddOk { total: u64 },
    }

    #[derive(Default)]
    struct Adder(u64);

    impl Node for Adder {
        type Msg = Msg;
        type Timer = NoTimer;
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
            if let Msg::Add { n } = msg.body {
                self.0 += n;
                ctx.reply(&msg, Msg::AddOk { total: self.0 });
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gateway_requests_reach_the_node_and_replies_come_back() {
        let (mut gateway, client) = Gateway::new(Silent, "n1", "http");
        let setup = ProcessSetup {
            id: "n1".into(),
            peers: vec![].into(),
            seed: 0,
            boot: 0,
            durable: Default::default(),
            buggify: highstorm_nodes::Buggify::Off,
        };
        let mut process = NodeProcess::new(Adder::default(), setup);
        let mut env = super::super::RealEnvironment::default();
        let driver = super::super::drive(&mut process, &mut gateway, &mut env);
        let calls = async {
            let a = client
                .request(serde_json::json!({"type": "add", "n": 2}))
                .await
                .unwrap();
            let b = client
                .request(serde_json::json!({"type": "add", "n": 5}))
                .await
                .unwrap();
            let bad = client.request(serde_json::json!([1])).await;
            let big = "x".repeat(MAX_MESSAGE_BYTES);
            let too_large = client
                .request(serde_json::json!({"type": "add", "n": 1, "pad": big}))
                .await;
            let after = client
                .request(serde_json::json!({"type": "add", "n": 1}))
                .await
                .unwrap();
            (a, b, bad, too_large, after)
        };
        let (a, b, bad, too_large, after) = tokio::select! {
            biased;
            r = driver => panic!("the driver stopped: {r:?}"),
            out = calls => out,
        };
        assert_eq!(a["type"], "add_ok");
        assert_eq!(a["total"], 2);
        assert_eq!(b["total"], 7);
        assert_eq!(b["in_reply_to"], 2);
        assert_eq!(bad, Err(GatewayError::NotAnObject));
        assert!(
            matches!(too_large, Err(GatewayError::TooLarge { bytes, .. }) if bytes > MAX_MESSAGE_BYTES),
            "{too_large:?}"
        );
        assert_eq!(
            after["total"], 8,
            "the gateway serves on after refusing one"
        );
    }

    /// A network that always has a datagram ready (an `add` from n2), until `limit`; counts
    /// what it delivered.
    struct Flood {
        delivered: std::rc::Rc<std::cell::Cell<u64>>,
        limit: u64,
    }

    impl Transport for Flood {
        async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
            let n = self.delivered.get();
            if n == self.limit {
                return Ok(None);
            }
            self.delivered.set(n + 1);
            Ok(Some(
                br#"{"src":"n2","dest":"n1","body":{"type":"add","n":0,"msg_id":1}}"#.to_vec(),
            ))
        }
        async fn send(&mut self, _: &Transmit) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_request_is_answered_during_a_flood_of_datagrams_not_after_it() {
        let delivered = std::rc::Rc::new(std::cell::Cell::new(0));
        let flood = Flood {
            delivered: delivered.clone(),
            limit: 20_000,
        };
        let (mut gateway, client) = Gateway::new(flood, "n1", "http");
        let setup = ProcessSetup {
            id: "n1".into(),
            peers: vec!["n2".into()].into(),
            seed: 0,
            boot: 0,
            durable: Default::default(),
            buggify: highstorm_nodes::Buggify::Off,
        };
        let mut process = NodeProcess::new(Adder::default(), setup);
        let mut env = super::super::RealEnvironment::default();
        // The caller is a task of its own, as an HTTP connection is.
        let caller = tokio::spawn(async move {
            client
                .request(serde_json::json!({"type": "add", "n": 1}))
                .await
        });
        let local = tokio::task::LocalSet::new();
        let answered_at = std::rc::Rc::new(std::cell::Cell::new(None));
        let seen = answered_at.clone();
        let counter = delivered.clone();
        local.spawn_local(async move {
            let reply = caller.await.expect("the caller finished");
            assert_eq!(reply.map(|r| r["type"].clone()), Ok(Value::from("add_ok")));
            seen.set(Some(counter.get()));
        });
        local
            .run_until(super::super::drive(&mut process, &mut gateway, &mut env))
            .await
            .unwrap();
        let at = answered_at.get().expect("answered before the flood ended");
        assert!(at < 100, "answered after {at} flooding datagrams");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_without_a_reply_times_out() {
        let (_gateway, client) = Gateway::new(Silent, "n1", "http");
        let client = client.with_timeout(Duration::from_millis(100));
        // Nobody drives the node: the request is queued but never answered.
        let r = client
            .request(serde_json::json!({"type": "add", "n": 1}))
            .await;
        assert_eq!(r, Err(GatewayError::Timeout(Duration::from_millis(100))));
    }
}
