//! Bridge Four's client API, served by the leader:
//!
//! | request | answer |
//! |---|---|
//! | `POST /jobs` `{name, kind, inputs: [paths], output?, token?}` | 202 `{id}`; 400 bad JSON, no inputs or a malformed path; 422 unknown kind, a reserved output, or a path leading out of the blob store; 409 an output that overlaps another job's; 413 too large |
//! | `GET /jobs` | 200 `{jobs: [...]}`, every job (gathered from the leader a page at a time) |
//! | `GET /jobs/{id}` | 200 the job with per-task progress; 404 unknown job |
//! | `GET /jobs/{id}/data` | 200 `{word: count}` once Done; 409 with the leader's reason before; 404 unknown job |
//! | `GET /cluster` | 200 `{workers: [...]}` |
//!
//! Job ids have one form, decimal without a sign or leading zeros (`/jobs/01` is no job).
//! Every path is checked before a job is accepted (see [`paths`](super::paths)): its form and,
//! against the blob store, where it leads (a symbolic link out of a blob directory is refused).
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
use highstorm::http_api::{canonical_id, expect_reply, ApiError, HttpSetup, SharedBlobs};
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
    canonical_id(id, "job")
}

/// Refuses a job whose paths are malformed (400) or reserved (422), or lead out of the blob
/// store (422), before the leader is asked: nothing is accepted that cannot run.
fn check_paths(blobs: &SharedBlobs, job: &NewJob) -> Result<(), ApiError> {
    use super::paths::{check_job_paths, result_path, PathRefused};
    check_job_paths(&job.inputs, job.output.as_deref(), []).map_err(|e| {
        let status = match e {
            PathRefused::Reserved { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    })?;
    let refuse = |what: String, reason: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what}: {reason}"),
        )
    };
    for (i, input) in job.inputs.iter().enumerate() {
        blobs
            .check(input)
            .map_err(|r| refuse(format!("input {i} ({input:?})"), r))?;
    }
    if let Some(output) = &job.output {
        blobs
            .check(&result_path(output))
            .map_err(|r| refuse(format!("output {output:?}"), r))?;
    }
    Ok(())
}

async fn submit(State(api): State<Api>, body: Bytes) -> Result<Response, ApiError> {
    let job: NewJob = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad job JSON: {e}")))?;
    if job.inputs.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a job needs at least one input",
        ));
    }
    check_paths(&api.blobs, &job)?;
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

/// Every job: the leader answers a page at a time (a page fits one message), so the list is
/// gathered here, however long it grows.
async fn list_jobs(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let mut jobs = vec![];
    let mut after = None;
    loop {
        let mut reply = ask(&api, BridgeFourMsg::ListJobs { after }, "list_jobs_ok").await?;
        if let Some(Value::Array(page)) = reply.get_mut("jobs").map(Value::take) {
            jobs.extend(page);
        }
        match reply.get("next").and_then(Value::as_u64) {
            Some(next) if Some(next) != after => after = Some(next),
            _ => break,
        }
    }
    Ok(Json(serde_json::json!({ "jobs": jobs })))
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
