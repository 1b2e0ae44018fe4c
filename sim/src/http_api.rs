//! HTTP APIs in front of nodes: what a system's API is built from ([`HttpSetup`]), how it
//! answers ([`ApiError`], [`expect_reply`]) and how it is served ([`serve`]). The same API
//! serves real clients in real mode and simulated clients in the turmoil engine.
//!
//! An API is an axum [`Router`](axum::Router) that talks to its node through a
//! [`GatewayClient`]: it turns HTTP requests into the node's own
//! client messages and the node's replies (or Maelstrom errors) into HTTP responses. A router
//! is served by [`serve`] on any [`axum::serve::Listener`]: tokio's `TcpListener` for real,
//! [`TurmoilListener`](crate::sim_http::TurmoilListener) in the simulator. Whatever the system, [`serve`] applies the same limits: request
//! bodies over [`MAX_BODY_BYTES`] get 413, a connection that does not finish its request head
//! within [`HEADER_READ_TIMEOUT`] (or idles that long between requests) is closed, a request
//! not answered within [`REQUEST_TIMEOUT`] (a body that trickles in) gets 408, and every error
//! response is JSON, `{"error": message}` — the router's own 404s, 405s and 413s too.
//!
//! Not to be confused with [`crate::sim_http`], which is transport, not API: HTTP carried over
//! the simulator's TCP (a listener for these routers and a client for simulated clients),
//! knowing nothing of nodes or gateways.

pub use axum;

use crate::driver::{GatewayClient, GatewayError};
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use highstorm_nodes::storage::Blobs;
use highstorm_nodes::wire::MAX_MESSAGE_BYTES;
use highstorm_nodes::ErrorCode;
use highstorm_nodes::SpawnError;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body [`serve`] reads: a body cannot reach a node in more than one
/// message.
pub const MAX_BODY_BYTES: usize = MAX_MESSAGE_BYTES;

/// How long a connection may take to send a request head, or stay idle between requests,
/// before [`serve`] closes it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`serve`] gives one request, body included, before answering 408 (longer than the
/// gateway's wait for a node).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A blob store an API can share between its handlers.
pub type SharedBlobs = Arc<dyn Blobs + Send + Sync>;

/// What a system's HTTP API is built from, on one node.
pub struct HttpSetup<'a> {
    /// The node the API runs beside.
    pub node: &'a str,
    /// The system's variant.
    pub variant: &'a str,
    /// The system's `[config]`.
    pub config: &'a Value,
    /// Reaches the node.
    pub gateway: GatewayClient,
    /// The blob store the node's work reads and writes.
    pub blobs: SharedBlobs,
}

/// Builds a system's HTTP API for one node: `None` when that node serves none (a worker).
pub type HttpFn = fn(HttpSetup<'_>) -> Result<Option<axum::Router>, SpawnError>;

/// An HTTP error: a status and a JSON body `{"error": message}` (plus the Maelstrom `code`
/// when the node sent one).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub message: String,
    /// The node's Maelstrom error code, if the error came from the node.
    pub code: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            code: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.message});
        if let Some(code) = self.code {
            body["code"] = Value::from(code);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        let status = match e {
            GatewayError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Closed => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::NotAnObject => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The id in a path segment, in its one canonical form: decimal digits without a sign or a
/// leading zero (`/jobs/1`, not `/jobs/01` or `/jobs/+1`). Anything else names no job: 404.
pub fn canonical_id(segment: &str, what: &str) -> Result<u64, ApiError> {
    let canonical = !segment.is_empty()
        && segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    canonical
        .then(|| segment.parse().ok())
        .flatten()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no {what} {segment}")))
}

/// The HTTP status for a Maelstrom error code.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotSupported => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::KeyDoesNotExist | ErrorCode::NodeNotFound => StatusCode::NOT_FOUND,
        ErrorCode::PreconditionFailed | ErrorCode::KeyAlreadyExists | ErrorCode::TxnConflict => {
            StatusCode::CONFLICT
        }
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::Crash | ErrorCode::Abort | ErrorCode::Other(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Checks a node's reply: the reply itself if its `type` is `expected`, the node's error as an
/// [`ApiError`] otherwise.
pub fn expect_reply(reply: Value, expected: &str) -> Result<Value, ApiError> {
    match reply.get("type").and_then(Value::as_str) {
        Some(t) if t == expected => Ok(reply),
        Some("error") => {
            let code = reply.get("code").and_then(Value::as_u64).unwrap_or(13) as u32;
            let text = reply
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("the node refused")
                .to_owned();
            Err(ApiError {
                status: status_for(ErrorCode::from_code(code)),
                message: text,
                code: Some(code),
            })
        }
        other => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the node answered {other:?}, expected `{expected}`"),
        )),
    }
}

/// Serves `router` on `listener` forever, with the limits every API shares (see the module
/// documentation): HTTP/1.1, one task per connection.
pub async fn serve<L>(mut listener: L, router: axum::Router) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    let router = harden(router);
    loop {
        let (io, peer) = listener.accept().await;
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            if let Err(e) = http.serve_connection(TokioIo::new(io), service).await {
                tracing::debug!(?peer, error = %e, "connection ended");
            }
        });
    }
}

/// `router` with the limits and the JSON error bodies every API shares.
pub fn harden(router: axum::Router) -> axum::Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(request_timeout))
}

async fn request_timeout(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request was not complete within {REQUEST_TIMEOUT:?}"),
        )
        .into_response(),
    }
}

/// Turns an error response that is not JSON (axum's own 405, 413, 400 and the like) into one
/// that is, keeping its status and headers (axum adds `Allow` to a 405 afterwards).
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body too large: at most {MAX_BODY_BYTES} bytes")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "method not allowed here (the `Allow` header lists those that are)".to_owned()
        }
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    /// Connections over in-memory pipes, so tokio's paused clock runs the timeouts.
    struct Pipes(mpsc::Receiver<DuplexStream>);

    impl axum::serve::Listener for Pipes {
        type Io = DuplexStream;
        type Addr = ();
        async fn accept(&mut self) -> (DuplexStream, ()) {
            match self.0.recv().await {
                Some(s) => (s, ()),
                None => std::future::pending().await,
            }
        }
        fn local_addr(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Sends `raw` on a new connection and reads until the server closes it: what came back
    /// (status and body), and how long it took.
    async fn exchange(server: &mpsc::Sender<DuplexStream>, raw: &[u8]) -> (u16, Value, Duration) {
        let (mut client, end) = tokio::io::duplex(1 << 20);
        server.send(end).await.unwrap();
        let start = Instant::now();
        client.write_all(raw).await.unwrap();
        let mut out = vec![];
        tokio::time::timeout(Duration::from_secs(300), client.read_to_end(&mut out))
            .await
            .expect("the server closes the connection")
            .unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, body, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn served_apis_time_out_slow_clients_limit_bodies_and_answer_errors_in_json() {
        let router = axum::Router::new()
            .route("/say", post(|b: axum::body::Bytes| async move { b }))
            .route(
                "/hello",
                get(|| async { Json(serde_json::json!({"hi": 1})) }),
            );
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(serve(Pipes(rx), router));

        let (status, body, _) = exchange(
            &tx,
            b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!((status, body), (200, serde_json::json!({"hi": 1})));

        // A 405 and a 413 are JSON like every other error.
        let (status, body, _) = exchange(
            &tx,
            b"DELETE /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status, 405, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("not allowed"),
            "{body}"
        );
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let req = format!(
            "POST /say HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        );
        let (status, body, _) = exchange(&tx, req.as_bytes()).await;
        assert_eq!(status, 413, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("too large"),
            "{body}"
        );

        // Half a request head: closed once the header timeout passes, not held forever.
        let (status, _, took) = exchange(&tx, b"GET /hello HTTP/1.1\r\nHost: x\r\n").await;
        assert_eq!(status, 0, "no answer, just closed");
        assert!(
            took >= HEADER_READ_TIMEOUT && took < HEADER_READ_TIMEOUT + Duration::from_secs(1),
            "{took:?}"
        );
        // A connection that sends nothing at all: the same.
        let (_, _, took) = exchange(&tx, b"").await;
        assert!(took >= HEADER_READ_TIMEOUT && took < HEADER_READ_TIMEOUT + Duration::from_secs(1));
        // An idle keep-alive connection after a request: the same.
        let (status, _, took) = exchange(&tx, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(status, 200);
        assert!(took >= HEADER_READ_TIMEOUT, "{took:?}");
        // A body that trickles: 408 once the request timeout passes.
        let (status, body, took) = exchange(
            &tx,
            b"POST /say HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n0123",
        )
        .await;
        assert_eq!(status, 408, "{body}");
        assert!(body["error"].is_string(), "{body}");
        assert!(
            took >= REQUEST_TIMEOUT && took < REQUEST_TIMEOUT + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[test]
    fn ids_have_one_canonical_form() {
        assert_eq!(canonical_id("1", "job"), Ok(1));
        assert_eq!(canonical_id("1234567890", "job"), Ok(1234567890));
        assert_eq!(canonical_id("0", "job"), Ok(0));
        for other in [
            "+1",
            "01",
            "00",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "",
            "abc",
            "99999999999999999999",
        ] {
            let e = canonical_id(other, "job").unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_FOUND, "{other:?}");
        }
    }
}
