//! distributed-workers' client API, served by the manager:
//!
//! | request | answer |
//! |---|---|
//! | `POST /jobs` with any JSON payload | 202 `{id}`; 400 if the body is not JSON; 413 over [`MAX_PAYLOAD_BYTES`](super::MAX_PAYLOAD_BYTES) |
//! | `GET /jobs/{id}` | 200 `{id, status, reserves, timeouts, time_left_ms?, result?, payload}`; 404 unknown job (or an id not in its canonical form, `01`, `+1`) |
//!
//! `status` is `queued`, `reserved` (with `time_left_ms` on the reservation) or `completed`
//! (with `result`, the md5 of the payload's compact JSON). A `POST` with an
//! `Idempotency-Key: <token>` header is idempotent: a retry with the same key gets the same id
//! and queues nothing new, across manager restarts too. Errors are JSON,
//! `{"error": message, "code"?: maelstrom code}`; unknown routes are 404. The router holds no
//! job state: every answer comes from the sans-IO manager through the [`GatewayClient`].

use super::WorkQueueMsg;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use highstorm::driver::GatewayClient;
use highstorm::http_api::{canonical_id, expect_reply, ApiError};
use serde_json::Value;

/// The header that makes a `POST /jobs` idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The API on the node `setup` names: the router on the manager, nothing on a worker.
pub fn api(
    setup: highstorm::http_api::HttpSetup<'_>,
) -> Result<Option<Router>, highstorm_nodes::SpawnError> {
    let cfg: super::WorkQueueConfig = highstorm_nodes::config("work-queue", setup.config)?;
    Ok((cfg.manager == setup.node).then(|| router(setup.gateway)))
}

/// The API's router: talks to the queue's manager through `manager`.
pub fn router(manager: GatewayClient) -> Router {
    Router::new()
        .route("/jobs", post(put_job))
        .route("/jobs/{id}", get(get_job))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .with_state(manager)
}

async fn ask(
    manager: &GatewayClient,
    msg: WorkQueueMsg,
    expected: &str,
) -> Result<Value, ApiError> {
    let body = serde_json::to_value(&msg)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding: {e}")))?;
    let reply = manager.request(body).await?;
    expect_reply(reply, expected)
}

async fn put_job(
    State(manager): State<GatewayClient>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad job JSON: {e}")))?;
    let token = match headers.get(IDEMPOTENCY_KEY) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Idempotency-Key must be non-empty visible ASCII",
                    )
                })?
                .to_owned(),
        ),
        None => None,
    };
    super::check_job(&payload, token.as_deref()).map_err(|e| {
        let status = match e {
            super::JobRefused::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            super::JobRefused::TokenTooLong(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    })?;
    let reply = ask(&manager, WorkQueueMsg::Put { payload, token }, "put_ok").await?;
    let id = reply.get("id").cloned().unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response())
}

async fn get_job(
    State(manager): State<GatewayClient>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = canonical_id(&id, "job")?;
    let mut reply = ask(&manager, WorkQueueMsg::Get { id }, "get_ok").await?;
    Ok(Json(
        reply.get_mut("job").map(Value::take).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{result_of, WorkQueue, WorkQueueConfig, WorkQueueMsg};
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use highstorm::driver::gateway::Silent;
    use highstorm::driver::{drive, Gateway, RealEnvironment};
    use highstorm_nodes::{NodeProcess, ProcessSetup};
    use tower::ServiceExt;

    /// A manager `n0` with the default configuration.
    fn manager() -> NodeProcess<WorkQueue> {
        let setup = ProcessSetup {
            id: "n0".into(),
            peers: vec![].into(),
            seed: 0,
            boot: 0,
            durable: Default::default(),
            buggify: highstorm_nodes::Buggify::Off,
        };
        NodeProcess::new(WorkQueue::new(WorkQueueConfig::default(), "n0"), setup)
    }

    async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    }

    fn post(body: &str, key: Option<&str>) -> Request<Body> {
        let mut b = Request::post("/jobs").header("content-type", "application/json");
        if let Some(k) = key {
            b = b.header("Idempotency-Key", k);
        }
        b.body(Body::from(body.to_owned())).unwrap()
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_are_put_read_and_refused_over_http() {
        let (mut gateway, client) = Gateway::new(Silent, "n0", "http");
        let mut process = manager();
        let mut env = RealEnvironment::default();
        let driver = drive(&mut process, &mut gateway, &mut env);
        let router = router(client);
        let calls = async {
            let payload = r#"{"words": ["a", "b"], "n": 1}"#;
            let (status, put) = call(&router, post(payload, None)).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{put}");
            assert_eq!(put, serde_json::json!({"id": 1}));
            let (status, job) = call(&router, get("/jobs/1")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            assert_eq!(job["status"], "queued");
            assert_eq!(job["reserves"], 0);
            assert_eq!(job["payload"]["words"][1], "b");
            // Idempotent puts.
            let (_, a) = call(&router, post("[1, 2]", Some("key-1"))).await;
            let (_, b) = call(&router, post("[1, 2]", Some("key-1"))).await;
            assert_eq!((&a["id"], &b["id"]), (&Value::from(2), &Value::from(2)));
            let (_, c) = call(&router, post("[1, 2]", None)).await;
            assert_eq!(c["id"], 3);
            // Any JSON is a payload, a bare number too.
            let (status, _) = call(&router, post("7", None)).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            let mut refused = vec![];
            for (req, want) in [
                (post("{not json", None), StatusCode::BAD_REQUEST),
                (post("", None), StatusCode::BAD_REQUEST),
                (post("{}", Some("")), StatusCode::BAD_REQUEST),
                (get("/jobs/99"), StatusCode::NOT_FOUND),
                (get("/jobs/abc"), StatusCode::NOT_FOUND),
                (get("/jobs/-1"), StatusCode::NOT_FOUND),
                // Job 1 exists, under that one name only.
                (get("/jobs/01"), StatusCode::NOT_FOUND),
                (get("/jobs/+1"), StatusCode::NOT_FOUND),
                (get("/nowhere"), StatusCode::NOT_FOUND),
            ] {
                let (status, v) = call(&router, req).await;
                refused.push((status, want, v));
            }
            refused
        };
        let refused = tokio::select! {
            biased;
            r = driver => panic!("the driver stopped: {r:?}"),
            out = calls => out,
        };
        for (status, want, v) in refused {
            assert_eq!(status, want, "{v}");
            assert!(
                v["error"].as_str().is_some_and(|m| !m.is_empty()),
                "an error message: {v}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserved_job_shows_time_left_and_a_completed_one_its_md5() {
        let (mut gateway, client) = Gateway::new(Silent, "n0", "http");
        let mut process = manager();
        let mut env = RealEnvironment::default();
        // A worker's side of the protocol goes through the gateway too (as `http`).
        let worker = client.clone();
        let driver = drive(&mut process, &mut gateway, &mut env);
        let router = router(client);
        let calls = async {
            let (_, put) = call(&router, post(r#"{"x": 1}"#, None)).await;
            assert_eq!(put["id"], 1);
            let reserved = worker
                .request(serde_json::to_value(WorkQueueMsg::Reserve).unwrap())
                .await
                .unwrap();
            assert_eq!(reserved["job"]["reservation"], 1, "{reserved}");
            let (_, job) = call(&router, get("/jobs/1")).await;
            assert_eq!(job["status"], "reserved", "{job}");
            assert_eq!(job["reserves"], 1);
            assert!(
                job["time_left_ms"].as_u64().is_some_and(|t| t <= 500),
                "{job}"
            );
            let result = result_of(&serde_json::json!({"x": 1}));
            let done = WorkQueueMsg::Complete {
                id: 1,
                reservation: 1,
                result: result.clone(),
            };
            let ack = worker
                .request(serde_json::to_value(done).unwrap())
                .await
                .unwrap();
            assert_eq!(ack["accepted"], true, "{ack}");
            let (status, job) = call(&router, get("/jobs/1")).await;
            (status, job, result)
        };
        let (status, job, result) = tokio::select! {
            biased;
            r = driver => panic!("the driver stopped: {r:?}"),
            out = calls => out,
        };
        assert_eq!(status, StatusCode::OK);
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["result"], Value::from(result));
        assert_eq!(job["payload"], serde_json::json!({"x": 1}));
    }
}
