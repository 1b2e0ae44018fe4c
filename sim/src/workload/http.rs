//! Clients that reach the cluster over its HTTP API (`[workload] api = "http"`): async code that
//! the turmoil engine runs on a client host, talking over simulated TCP to the very axum router
//! real mode serves.
//!
//! An HTTP client records the same history as its message-based counterpart (the same
//! operation names and values), so the same checkers judge it. turmoil TCP has no
//! retransmission: a partition, a crashed server or a paused one breaks or stalls a connection,
//! and clients retry with the idempotency token the API takes, as real clients must.

use crate::scenario::Scenario;
use crate::sim_http::request_with;
use highstorm_nodes::{ClientOp, OpPhase};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// The TCP port nodes serve their HTTP API on in the simulator.
pub(crate) const HTTP_PORT: u16 = 8080;

/// A finished HTTP exchange: the status and the JSON body (`Value::String` when the body is not
/// JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Response {
    /// The API's error message (`{"error": ...}`), or the whole body as text.
    pub fn error(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(e) => format!("{}: {e}", self.status),
            None => format!("{}: {}", self.status, self.body),
        }
    }
}

/// What an HTTP client writes into the run's trace.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Record {
    /// A history event.
    Op(ClientOp),
    /// One HTTP exchange, for people reading the trace: `{method, path, to, status | error}`.
    Exchange(Value),
}

/// Writes into the run's trace.
pub(crate) type Recorder = Box<dyn Fn(Record)>;

/// A simulated HTTP client's handle on the world: requests over simulated TCP, and its history.
pub struct HttpClient {
    name: String,
    timeout: Duration,
    record: Recorder,
    resolve: fn(&str) -> SocketAddr,
    next_op: u64,
}

impl HttpClient {
    /// Client `name`, giving up on a request after `timeout`, writing its history with
    /// `record`, finding a node's address with `resolve`.
    pub(crate) fn new(
        name: &str,
        timeout: Duration,
        record: Recorder,
        resolve: fn(&str) -> SocketAddr,
    ) -> Self {
        HttpClient {
            name: name.to_owned(),
            timeout,
            record,
            resolve,
            next_op: 0,
        }
    }

    /// The client's name (`c0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records the invocation of operation `f` with `value` against `node`; returns its number.
    pub fn invoke(&mut self, node: &str, f: &str, value: Value) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        self.complete(op, OpPhase::Invoke, node, f, value);
        op
    }

    /// Records how operation `op` ended (or its invocation).
    pub fn complete(&mut self, op: u64, phase: OpPhase, node: &str, f: &str, value: Value) {
        (self.record)(Record::Op(ClientOp {
            op,
            phase,
            node: node.to_owned(),
            f: f.to_owned(),
            value,
            request: None,
        }));
    }

    /// One request to `node`'s API: `Err` with the reason when the connection failed or no
    /// answer came within the client's timeout.
    pub async fn call(
        &self,
        node: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, String> {
        self.call_with(node, method, path, &[], body).await
    }

    /// [`call`](HttpClient::call) with extra request headers.
    pub async fn call_with(
        &self,
        node: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, String> {
        let to = (self.resolve)(node);
        let body = body.map(Value::to_string).unwrap_or_default();
        let exchange = request_with(to, method, path, headers, &body);
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            Ok(Err(e)) => Err(format!("connection: {:?} ({e})", e.kind())),
            Ok(Ok((status, text))) => Ok(Response {
                status,
                body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            }),
        };
        let mut note = serde_json::json!({"method": method, "path": path, "to": node});
        match &result {
            Ok(r) => note["status"] = r.status.into(),
            Err(e) => note["error"] = e.as_str().into(),
        }
        (self.record)(Record::Exchange(note));
        result
    }

    /// Simulated time since the run began (clients' clocks are true).
    pub fn now(&self) -> Duration {
        turmoil::sim_elapsed().unwrap_or_default()
    }

    /// Waits `d` of simulated time.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A running HTTP client.
pub type ClientFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Starts client number `index` of a scenario's HTTP workload.
pub type HttpWorkloadFn = fn(&Scenario, u64, HttpClient) -> ClientFuture;
