//! Bridge Four's workload: each client submits its jobs one after the other, polls each until
//! it is final, then fetches the result (the leader says where it is; the client reads the
//! blob as outside work) and records it, so checkers can compare it with a reference count.
//!
//! History: `submit` (invoke `{token, inputs}`, ok `{job}`) and `result` (invoke `{job}`, ok
//! `{job, counts}` or fail with the leader's reason). Polls are not operations.

use super::{corpus_path, BridgeFourConfig, BridgeFourMsg, JobStatus};
use highstorm_nodes::{
    ClientOp, Ctx, Duration, ErrorCode, Message, MsgId, Node, OpPhase, RpcReply, WorkId, WorkResult,
};
use serde_json::{json, Value};

/// How often a client polls a running job.
const POLL: Duration = Duration::from_millis(100);

/// The inputs of job `j` of client `c`: a window of the corpus, and for the first
/// `jobs_with_missing_input` jobs one file that does not exist.
pub fn job_inputs(cfg: &BridgeFourConfig, client: u64, j: u32) -> Vec<String> {
    let files = cfg.corpus.files.max(1);
    let start = (client as u32 * cfg.jobs + j) * 5 % files;
    let mut inputs: Vec<String> = (0..cfg.files_per_job.max(1))
        .map(|i| corpus_path((start + i) % files))
        .collect();
    if j < cfg.jobs_with_missing_input {
        let last = inputs.len() - 1;
        inputs[last] = format!("corpus/missing-c{client}-j{j}.txt");
    }
    inputs
}

/// The client's timers.
#[derive(Debug)]
pub enum JobTimer {
    /// Submit (or resubmit) the current job.
    Submit,
    /// Poll the current job.
    Poll,
    /// Ask again where the result is.
    Fetch,
}

#[derive(Debug)]
enum Phase {
    Submitting,
    Running { id: u64 },
    Fetching { id: u64, op: u64 },
    Reading { id: u64, op: u64 },
    Finished,
}

/// A client that runs its jobs to completion.
pub struct JobClient {
    cfg: BridgeFourConfig,
    index: u64,
    timeout: Duration,
    job: u32,
    phase: Phase,
    next_op: u64,
    /// The in-flight request and the operation it belongs to (if it is one).
    pending: Option<(MsgId, Option<u64>)>,
    reading: Option<WorkId>,
}

impl JobClient {
    /// Client number `index` of a cluster configured by `cfg`.
    pub fn new(cfg: BridgeFourConfig, index: u64, timeout: Duration) -> Self {
        JobClient {
            cfg,
            index,
            timeout,
            job: 0,
            phase: Phase::Submitting,
            next_op: 0,
            pending: None,
            reading: None,
        }
    }

    fn record(&mut self, ctx: &mut Ctx<'_, Self>, op: u64, phase: OpPhase, f: &str, value: Value) {
        let node = self.cfg.leader.clone();
        let request = self.pending.map(|(id, _)| id);
        ctx.record_op(ClientOp {
            op,
            phase,
            node,
            f: f.to_owned(),
            value,
            request,
        });
    }

    fn invoke(&mut self, ctx: &mut Ctx<'_, Self>, f: &str, value: Value) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        let node = self.cfg.leader.clone();
        ctx.record_op(ClientOp {
            op,
            phase: OpPhase::Invoke,
            node,
            f: f.to_owned(),
            value,
            request: Some(ctx.next_msg_id()),
        });
        op
    }

    fn rpc(&mut self, ctx: &mut Ctx<'_, Self>, body: BridgeFourMsg, op: Option<u64>) {
        let leader = self.cfg.leader.clone();
        let id = ctx.rpc(&leader, body, self.timeout);
        self.pending = Some((id, op));
    }

    fn submit(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.job >= self.cfg.jobs {
            self.phase = Phase::Finished;
            return;
        }
        let inputs = job_inputs(&self.cfg, self.index, self.job);
        let token = format!("{}-job-{}", ctx.id(), self.job);
        let op = self.invoke(ctx, "submit", json!({"token": token, "inputs": inputs}));
        self.phase = Phase::Submitting;
        let body = BridgeFourMsg::SubmitJob {
            name: format!("wordcount {}", self.job),
            kind: "wordcount".into(),
            inputs,
            output: None,
            token: Some(token),
        };
        self.rpc(ctx, body, Some(op));
    }

    fn fetch(&mut self, ctx: &mut Ctx<'_, Self>, id: u64) {
        let op = self.invoke(ctx, "result", json!({"job": id}));
        self.phase = Phase::Fetching { id, op };
        self.rpc(ctx, BridgeFourMsg::JobData { id }, Some(op));
    }

    fn next_job(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.job += 1;
        self.submit(ctx);
    }
}

impl Node for JobClient {
    type Msg = BridgeFourMsg;
    type Timer = JobTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Give the workers a moment to register first.
        ctx.set_timer(Duration::from_millis(200), JobTimer::Submit);
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<BridgeFourMsg>) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: JobTimer) {
        match (timer, &self.phase) {
            (JobTimer::Submit, Phase::Submitting) => self.submit(ctx),
            (JobTimer::Poll, Phase::Running { id }) => {
                let id = *id;
                self.rpc(ctx, BridgeFourMsg::JobStatus { id }, None);
            }
            (JobTimer::Fetch, Phase::Running { id }) => {
                let id = *id;
                self.fetch(ctx, id);
            }
            _ => {}
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<BridgeFourMsg>,
    ) {
        if self.pending.map(|(id, _)| id) != Some(request) {
            return;
        }
        let op = self.pending.and_then(|(_, op)| op);
        match (&self.phase, reply) {
            (Phase::Submitting, RpcReply::Reply(m)) => {
                if let BridgeFourMsg::SubmitJobOk { id } = m.body {
                    self.record(
                        ctx,
                        op.unwrap_or(0),
                        OpPhase::Ok,
                        "submit",
                        json!({"job": id}),
                    );
                    self.phase = Phase::Running { id };
                    ctx.set_timer(POLL, JobTimer::Poll);
                }
            }
            (Phase::Submitting, RpcReply::Error(e))
                if e.code.is_definite() && e.code != ErrorCode::TemporarilyUnavailable =>
            {
                // Refused for good: the job will not run.
                self.record(
                    ctx,
                    op.unwrap_or(0),
                    OpPhase::Fail,
                    "submit",
                    json!(e.to_string()),
                );
                self.next_job(ctx);
            }
            (Phase::Submitting, other) => {
                let why = match other {
                    RpcReply::Error(e) => e.to_string(),
                    _ => "timeout".into(),
                };
                self.record(ctx, op.unwrap_or(0), OpPhase::Info, "submit", json!(why));
                // Retried with the same token, so the leader runs it once.
                ctx.set_timer(POLL, JobTimer::Submit);
            }
            (Phase::Running { id }, RpcReply::Reply(m)) => {
                let id = *id;
                match m.body {
                    BridgeFourMsg::JobStatusOk { job }
                        if matches!(job.status, JobStatus::Done | JobStatus::Error) =>
                    {
                        self.fetch(ctx, id);
                    }
                    _ => {
                        ctx.set_timer(POLL, JobTimer::Poll);
                    }
                }
            }
            (Phase::Running { .. }, _) => {
                ctx.set_timer(POLL, JobTimer::Poll);
            }
            (Phase::Fetching { id, op }, RpcReply::Reply(m)) => {
                let (id, op) = (*id, *op);
                if let BridgeFourMsg::JobDataOk { result, .. } = m.body {
                    self.pending = None;
                    self.phase = Phase::Reading { id, op };
                    self.reading = Some(ctx.spawn_work("read", json!({"path": result})));
                }
            }
            // A leader stopped for now (a storage error, until it restarts): it did not serve
            // the data; ask again later.
            (Phase::Fetching { id, op }, RpcReply::Error(e))
                if e.code == ErrorCode::TemporarilyUnavailable =>
            {
                let (id, op) = (*id, *op);
                let why = json!({"job": id, "error": e.to_string()});
                self.record(ctx, op, OpPhase::Fail, "result", why);
                self.phase = Phase::Running { id };
                ctx.set_timer(POLL, JobTimer::Fetch);
            }
            (Phase::Fetching { id, op }, RpcReply::Error(e)) if e.code.is_definite() => {
                let (id, op) = (*id, *op);
                self.record(
                    ctx,
                    op,
                    OpPhase::Fail,
                    "result",
                    json!({"job": id, "error": e.to_string()}),
                );
                self.next_job(ctx);
            }
            (Phase::Fetching { id, op }, other) => {
                let (id, op) = (*id, *op);
                let why = match other {
                    RpcReply::Error(e) => e.to_string(),
                    _ => "timeout".into(),
                };
                self.record(ctx, op, OpPhase::Info, "result", json!(why));
                self.phase = Phase::Running { id };
                ctx.set_timer(POLL, JobTimer::Fetch);
            }
            _ => {}
        }
    }

    fn on_work_done(&mut self, ctx: &mut Ctx<'_, Self>, work: WorkId, result: WorkResult) {
        if self.reading != Some(work) {
            return;
        }
        self.reading = None;
        let Phase::Reading { id, op } = self.phase else {
            return;
        };
        match result {
            Ok(counts) => {
                self.record(
                    ctx,
                    op,
                    OpPhase::Ok,
                    "result",
                    json!({"job": id, "counts": counts}),
                );
                self.next_job(ctx);
            }
            Err(e) => {
                self.record(ctx, op, OpPhase::Info, "result", json!(e));
                self.phase = Phase::Running { id };
                ctx.set_timer(POLL, JobTimer::Fetch);
            }
        }
    }
}

/// Client number `index` of a Bridge Four scenario driven over HTTP: the same jobs and the same
/// history as [`JobClient`], through the leader's API. It submits each job with a token
/// (retrying with the same token until it gets an answer), asks once for the job's data while
/// the job runs (the API must refuse it), polls `GET /jobs/{id}` until the job is final, and
/// then fetches `GET /jobs/{id}/data`.
pub fn http_client(
    scenario: &highstorm::scenario::Scenario,
    index: u64,
    client: highstorm::workload::http::HttpClient,
) -> highstorm::workload::http::ClientFuture {
    let cfg: BridgeFourConfig =
        highstorm_nodes::config("bridge-four", &scenario.config).unwrap_or_default();
    Box::pin(run_http_jobs(cfg, index, client))
}

async fn run_http_jobs(
    cfg: BridgeFourConfig,
    index: u64,
    mut c: highstorm::workload::http::HttpClient,
) {
    let leader = cfg.leader.clone();
    let poll = POLL;
    // Give the workers a moment to register first.
    c.sleep(Duration::from_millis(200)).await;
    for j in 0..cfg.jobs {
        let inputs = job_inputs(&cfg, index, j);
        let token = format!("{}-job-{j}", c.name());
        let body = json!({
            "name": format!("wordcount {j}"),
            "kind": "wordcount",
            "inputs": inputs,
            "token": token,
        });
        let id = loop {
            let op = c.invoke(&leader, "submit", json!({"token": token, "inputs": inputs}));
            match c.call(&leader, "POST", "/jobs", Some(&body)).await {
                Ok(r) if r.status == 202 => match r.body.get("id").and_then(Value::as_u64) {
                    Some(id) => {
                        c.complete(op, OpPhase::Ok, &leader, "submit", json!({"job": id}));
                        break Some(id);
                    }
                    None => {
                        let why = format!("202 without an id: {}", r.body);
                        c.complete(op, OpPhase::Info, &leader, "submit", json!(why));
                    }
                },
                // Refused for good: the job will not run.
                Ok(r) if (400..500).contains(&r.status) => {
                    c.complete(op, OpPhase::Fail, &leader, "submit", json!(r.error()));
                    break None;
                }
                Ok(r) => c.complete(op, OpPhase::Info, &leader, "submit", json!(r.error())),
                Err(why) => c.complete(op, OpPhase::Info, &leader, "submit", json!(why)),
            }
            c.sleep(poll).await;
        };
        let Some(id) = id else { continue };
        let mut probed = false;
        // Poll until the job is final.
        loop {
            c.sleep(poll).await;
            let status = match c.call(&leader, "GET", &format!("/jobs/{id}"), None).await {
                Ok(r) if r.status == 200 => r.body.get("status").cloned(),
                _ => None,
            };
            let status: Option<JobStatus> = status.and_then(|s| serde_json::from_value(s).ok());
            if matches!(status, Some(JobStatus::Done | JobStatus::Error)) {
                break;
            }
            if !probed && status.is_some() {
                // Data before Done must be refused; if it ever is not, the history shows a
                // result for an unfinished job and the checkers judge it.
                probed = true;
                let path = format!("/jobs/{id}/data");
                if let Ok(r) = c.call(&leader, "GET", &path, None).await {
                    if r.status == 200 {
                        let op = c.invoke(&leader, "result", json!({"job": id}));
                        let value = json!({"job": id, "counts": r.body});
                        c.complete(op, OpPhase::Ok, &leader, "result", value);
                    }
                }
            }
        }
        // Fetch the result.
        loop {
            let op = c.invoke(&leader, "result", json!({"job": id}));
            let path = format!("/jobs/{id}/data");
            match c.call(&leader, "GET", &path, None).await {
                Ok(r) if r.status == 200 => {
                    let value = json!({"job": id, "counts": r.body});
                    c.complete(op, OpPhase::Ok, &leader, "result", value);
                    break;
                }
                Ok(r) if (400..500).contains(&r.status) => {
                    let value = json!({"job": id, "error": r.error()});
                    c.complete(op, OpPhase::Fail, &leader, "result", value);
                    break;
                }
                Ok(r) => c.complete(op, OpPhase::Info, &leader, "result", json!(r.error())),
                Err(why) => c.complete(op, OpPhase::Info, &leader, "result", json!(why)),
            }
            c.sleep(poll).await;
        }
    }
}
