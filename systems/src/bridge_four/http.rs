//! Bridge Four's client API, served by the leader:
//!
//! | request | answer |
//! |---|---|
//! | `POST /jobs` `{name, kind, inputs: [paths], output?, token?}` | 202 `{id}`; 400 bad JSON or no inputs; 422 unknown kind |
//! | `GET /jobs` | 200 `{jobs: [...]}` |
//! | `GET /jobs/{id}` | 200 the job with per-task progress; 404 unknown job |
//! | `GET /jobs/{id}/data` | 200 `{word: count}` once Done; 409 with the leader's reason before; 404 unknown job |
//! | `GET /cluster` | 200 `{workers: [...]}` |
//!
//! Errors are JSON, `{"error": message, "code"?: maelstrom code}`. The router holds no job state:
//! every answer comes from the sans-IO leader through the [`GatewayClient`], and results are
//! read from the blob store the leader's aggregation wrote them to.

use super::{BridgeFourConfig, BridgeFourMsg};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use highstorm::driver::GatewayClient;
use highstorm::http_api::{expect_reply, ApiError, HttpSetup, SharedBlobs};
use highstorm_nodes::{config, SpawnError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone)]
struct Api {
    leader: GatewayClient,
    blobs: SharedBlobs,
}

/// A job as `POST /jobs` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    inputs: Vec<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

fn default_name() -> String {
    "job".into()
}

fn default_kind() -> String {
    "wordcount".into()
}

/// The API on the node `setup` names: the router on the leader, nothing on a worker.
pub fn api(setup: HttpSetup<'_>) -> Result<Option<Router>, SpawnError> {
    let cfg: BridgeFourConfig = config("bridge-four", setup.config)?;
    Ok((cfg.leader == setup.node).then(|| router(setup.gateway, setup.blobs)))
}

/// The API's router: talks to the leader through `leader`, reads results from `blobs`.
pub fn router(leader: GatewayClient, blobs: SharedBlobs) -> Router {
    Router::new()
        .route("/jobs", get(list_jobs).post(submit))
        .route("/jobs/{id}", get(job_status))
        .route("/jobs/{id}/data", get(job_data))
        .route("/cluster", get(cluster))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .with_state(Api { leader, blobs })
}

async fn ask(api: &Api, msg: BridgeFourMsg, expected: &str) -> Result<Value, ApiError> {
    let body = serde_json::to_value(&msg)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding: {e}")))?;
    let reply = api.leader.request(body).await?;
    expect_reply(reply, expected)
}

/// Strips the envelope fields off a reply, leaving its payload.
fn payload(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["type", "msg_id", "in_reply_to"] {
            o.remove(k);
        }
    }
    v
}

fn job_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn submit(State(api): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    let job: NewJob = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad job JSON: {e}")))?;
    let msg = BridgeFourMsg::SubmitJob {
        name: job.name,
        kind: job.kind,
        inputs: job.inputs,
        output: job.output,
        token: job.token,
    };
    let reply = ask(&api, msg, "submit_job_ok").await?;
    let id = reply.get("id").cloned().unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response())
}

async fn list_jobs(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let reply = ask(&api, BridgeFourMsg::ListJobs, "list_jobs_ok").await?;
    Ok(Json(payload(reply)))
}

async fn job_status(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let mut reply = ask(&api, BridgeFourMsg::JobStatus { id }, "job_status_ok").await?;
    Ok(Json(
        reply.get_mut("job").map(Value::take).unwrap_or_default(),
    ))
}

async fn job_data(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let reply = ask(&api, BridgeFourMsg::JobData { id }, "job_data_ok").await?;
    let path = reply
        .get("result")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_GATEWAY, "the leader named no result"))?;
    let text = api.blobs.read(path).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("job {id}'s result: {e}"),
        )
    })?;
    let counts: Value = serde_json::from_str(&text).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("job {id}'s result {path} is not JSON: {e}"),
        )
    })?;
    Ok(Json(counts))
}

async fn cluster(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let reply = ask(&api, BridgeFourMsg::Cluster, "cluster_ok").await?;
    Ok(Json(payload(reply)))
}
