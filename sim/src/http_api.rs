//! HTTP APIs in front of nodes: what a system's API is built from ([`HttpSetup`]), how it
//! answers ([`ApiError`], [`expect_reply`]) and how it is served ([`serve`]). The same API
//! serves real clients in real mode and simulated clients in the turmoil engine.
//!
//! An API is an axum [`Router`](axum::Router) that talks to its node through a
//! [`GatewayClient`]: it turns HTTP requests into the node's own
//! client messages and the node's replies (or Maelstrom errors) into HTTP responses. A router
//! is served on any [`axum::serve::Listener`]: tokio's `TcpListener` for real, and
//! [`TurmoilListener`](crate::sim_http::TurmoilListener) in the simulator.
//!
//! Not to be confused with [`crate::sim_http`], which is transport, not API: HTTP carried over
//! the simulator's TCP (a listener for these routers and a client for simulated clients),
//! knowing nothing of nodes or gateways.

pub use axum;

use crate::driver::{GatewayClient, GatewayError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use highstorm_nodes::storage::Blobs;
use highstorm_nodes::ErrorCode;
use highstorm_nodes::SpawnError;
use serde_json::Value;
use std::sync::Arc;

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
        };
        ApiError::new(status, e.to_string())
    }
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

/// Serves `router` on `listener` until the listener fails for good.
pub async fn serve<L>(listener: L, router: axum::Router) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router).await
}
