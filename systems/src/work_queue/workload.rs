//! distributed-workers' workload: each client puts jobs at a steady rate, each with a token so
//! a retry after a timeout cannot queue it twice, polls every accepted job until it is
//! completed, and reads every accepted job once more at the end (a completed job must still be
//! completed, with the same result).
//!
//! One completed job is read again at every poll, in turn, so a result the manager forgets
//! shows up in the history.
//!
//! History: `put` (invoke `{token, payload}`, ok `{id}`; info on a timeout, then retried with
//! the same token as a new operation) and `get` (invoke `{id}` or `{id, final: true}`, ok
//! `{id, status, reserves, timeouts, result?, payload}`; fail `{id, error}` when the manager
//! says there is no such job).

use super::{JobState, JobStatus, WorkQueueMsg};
use highstorm_nodes::rand::Rng;
use highstorm_nodes::{
    ClientOp, Ctx, Duration, LocalTime, Message, MsgId, Node, OpPhase, RpcReply,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How often a client retries its unacknowledged puts and polls its unfinished jobs.
const POLL: Duration = Duration::from_millis(100);

/// Job `n` of client `client`: deterministic, a little different in size each time.
pub fn job_payload(client: &str, n: u64) -> Value {
    let filler = "#".repeat((n % 13) as usize * 4);
    json!({"client": client, "n": n, "data": format!("job {n} of {client} {filler}")})
}

/// The idempotency token of job `n` of client `client`.
pub fn job_token(client: &str, n: u64) -> String {
    format!("{client}-{n}")
}

/// The client's timers.
#[derive(Debug)]
pub enum QueueTimer {
    /// Put the next job.
    Put,
    /// Retry unacknowledged puts and poll unfinished jobs.
    Poll,
    /// Read every accepted job once more.
    Final,
}

#[derive(Clone, Copy, Debug)]
enum Request {
    Put { op: u64, n: u64 },
    Get { op: u64, id: u64, last: bool },
}

/// A client of the queue's manager.
pub struct QueueClient {
    manager: String,
    interval: Duration,
    timeout: Duration,
    /// No new put, and no retried one, from here on.
    stop_at: LocalTime,
    /// The final reads go out here, and are retried for one timeout.
    final_at: LocalTime,
    next_n: u64,
    next_op: u64,
    /// Puts not acknowledged yet, by job number.
    unacked: BTreeSet<u64>,
    /// Accepted jobs: id -> seen completed.
    jobs: BTreeMap<u64, bool>,
    /// Jobs whose final read has not succeeded yet.
    finals: BTreeSet<u64>,
    inflight: BTreeMap<MsgId, Request>,
    putting: BTreeSet<u64>,
    getting: BTreeSet<u64>,
    /// The completed job read again last (one a poll, round robin).
    reread: u64,
}

impl QueueClient {
    /// A client of `manager` putting `rate` jobs a second until `stop_at`, waiting `timeout`
    /// for each reply, and reading every accepted job once more at `final_at`.
    pub fn new(
        manager: String,
        rate: f64,
        timeout: Duration,
        stop_at: LocalTime,
        final_at: LocalTime,
    ) -> Self {
        QueueClient {
            manager,
            interval: Duration::from_secs_f64(1.0 / rate.max(1e-3)),
            timeout,
            stop_at,
            final_at,
            next_n: 0,
            next_op: 0,
            unacked: BTreeSet::new(),
            jobs: BTreeMap::new(),
            finals: BTreeSet::new(),
            inflight: BTreeMap::new(),
            putting: BTreeSet::new(),
            getting: BTreeSet::new(),
            reread: 0,
        }
    }

    fn invoke(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        f: &str,
        value: Value,
        body: WorkQueueMsg,
    ) -> (u64, MsgId) {
        let op = self.next_op;
        self.next_op += 1;
        ctx.record_op(ClientOp {
            op,
            phase: OpPhase::Invoke,
            node: self.manager.clone(),
            f: f.to_owned(),
            value,
            request: Some(ctx.next_msg_id()),
        });
        let manager = self.manager.clone();
        (op, ctx.rpc(&manager, body, self.timeout))
    }

    fn put(&mut self, ctx: &mut Ctx<'_, Self>, n: u64) {
        let client = ctx.id().to_owned();
        let payload = job_payload(&client, n);
        let token = job_token(&client, n);
        let body = WorkQueueMsg::Put {
            payload: payload.clone(),
            token: Some(token.clone()),
        };
        self.putting.insert(n);
        let (op, request) = self.invoke(
            ctx,
            "put",
            json!({"token": token, "payload": payload}),
            body,
        );
        self.inflight.insert(request, Request::Put { op, n });
    }

    fn get(&mut self, ctx: &mut Ctx<'_, Self>, id: u64, last: bool) {
        let value = if last {
            json!({"id": id, "final": true})
        } else {
            json!({"id": id})
        };
        self.getting.insert(id);
        let (op, request) = self.invoke(ctx, "get", value, WorkQueueMsg::Get { id });
        self.inflight.insert(request, Request::Get { op, id, last });
    }

    fn record(
        &self,
        ctx: &mut Ctx<'_, Self>,
        op: u64,
        request: MsgId,
        f: &str,
        phase: OpPhase,
        value: Value,
    ) {
        ctx.record_op(ClientOp {
            op,
            phase,
            node: self.manager.clone(),
            f: f.to_owned(),
            value,
            request: Some(request),
        });
    }
}

/// A job's state as the history records it.
fn state_value(job: &JobState) -> Value {
    serde_json::to_value(job).unwrap_or(Value::Null)
}

impl Node for QueueClient {
    type Msg = WorkQueueMsg;
    type Timer = QueueTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Spread clients out: the first put comes at a random point of the first interval.
        let first = self.interval.mul_f64(ctx.rng().random_range(0.0..1.0));
        ctx.set_timer(first, QueueTimer::Put);
        ctx.set_timer(POLL, QueueTimer::Poll);
        let until_final = self.final_at.saturating_since(ctx.now());
        ctx.set_timer(until_final, QueueTimer::Final);
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<WorkQueueMsg>) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: QueueTimer) {
        let now = ctx.now();
        match timer {
            QueueTimer::Put => {
                if now >= self.stop_at {
                    return;
                }
                let n = self.next_n;
                self.next_n += 1;
                self.unacked.insert(n);
                self.put(ctx, n);
                ctx.set_timer(self.interval, QueueTimer::Put);
            }
            QueueTimer::Poll => {
                if now < self.stop_at {
                    let retry: Vec<u64> = self.unacked.difference(&self.putting).copied().collect();
                    for n in retry {
                        self.put(ctx, n);
                    }
                }
                let unfinished: Vec<u64> = self
                    .jobs
                    .iter()
                    .filter(|(id, done)| !**done && !self.getting.contains(id))
                    .map(|(id, _)| *id)
                    .collect();
                for id in unfinished {
                    self.get(ctx, id, false);
                }
                // A completed job must stay completed: read one of them again, in turn.
                let completed = |(id, done): (&u64, &bool)| (*done).then_some(*id);
                let again = self
                    .jobs
                    .range(self.reread + 1..)
                    .find_map(completed)
                    .or_else(|| self.jobs.iter().find_map(completed));
                if let Some(id) = again.filter(|id| !self.getting.contains(id)) {
                    self.reread = id;
                    self.get(ctx, id, false);
                }
                ctx.set_timer(POLL, QueueTimer::Poll);
            }
            QueueTimer::Final => {
                self.finals = self.jobs.keys().copied().collect();
                for id in self.finals.clone() {
                    self.get(ctx, id, true);
                }
            }
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<WorkQueueMsg>,
    ) {
        let Some(req) = self.inflight.remove(&request) else {
            return;
        };
        match req {
            Request::Put { op, n } => {
                self.putting.remove(&n);
                let (phase, value) = match reply {
                    RpcReply::Reply(m) => match m.body {
                        WorkQueueMsg::PutOk { id } => {
                            self.unacked.remove(&n);
                            self.jobs.entry(id).or_insert(false);
                            (OpPhase::Ok, json!({"id": id}))
                        }
                        other => {
                            self.unacked.remove(&n);
                            (OpPhase::Fail, json!(format!("unexpected reply {other:?}")))
                        }
                    },
                    RpcReply::Error(e) if e.code.is_definite() => {
                        self.unacked.remove(&n);
                        (OpPhase::Fail, json!(e.to_string()))
                    }
                    // Retried with the same token at the next poll.
                    RpcReply::Error(e) => (OpPhase::Info, json!(e.to_string())),
                    RpcReply::Timeout => (OpPhase::Info, json!("timeout")),
                };
                self.record(ctx, op, request, "put", phase, value);
            }
            Request::Get { op, id, last } => {
                self.getting.remove(&id);
                let (phase, value) = match reply {
                    RpcReply::Reply(m) => match m.body {
                        WorkQueueMsg::GetOk { job } => {
                            if job.status == JobStatus::Completed {
                                self.jobs.insert(id, true);
                            }
                            if last {
                                self.finals.remove(&id);
                            }
                            (OpPhase::Ok, state_value(&job))
                        }
                        other => (
                            OpPhase::Fail,
                            json!({"id": id, "error": format!("unexpected reply {other:?}")}),
                        ),
                    },
                    RpcReply::Error(e) if e.code.is_definite() => {
                        (OpPhase::Fail, json!({"id": id, "error": e.to_string()}))
                    }
                    RpcReply::Error(e) => {
                        (OpPhase::Info, json!({"id": id, "error": e.to_string()}))
                    }
                    RpcReply::Timeout => (OpPhase::Info, json!({"id": id, "error": "timeout"})),
                };
                self.record(ctx, op, request, "get", phase, value);
                // A final read is retried until it succeeds, while the run lasts.
                if last && self.finals.contains(&id) && ctx.now() <= self.final_at + self.timeout {
                    self.get(ctx, id, true);
                }
            }
        }
    }
}

/// Client number `index` of a work-queue scenario driven over HTTP: the same jobs and the same
/// history as [`QueueClient`], through the manager's API. Each round it puts the next job when
/// one is due (`POST /jobs` with an `Idempotency-Key`, retried with the same key until it is
/// answered), polls every accepted job not yet seen completed and re-reads one completed job
/// (`GET /jobs/{id}`); at the final time it reads every accepted job once more.
pub fn http_client(
    scenario: &highstorm::scenario::Scenario,
    index: u64,
    client: highstorm::workload::http::HttpClient,
) -> highstorm::workload::http::ClientFuture {
    let cfg: super::WorkQueueConfig =
        highstorm_nodes::config("work-queue", &scenario.config).unwrap_or_default();
    let s = highstorm::system::Schedule::of(scenario);
    let timeout = scenario.workload.timeout;
    // As the message client: puts stop a timeout before regular operations do.
    let puts_stop = s.stop_at.as_duration().saturating_sub(timeout);
    let final_at = s.final_at.as_duration();
    let interval = Duration::from_secs_f64(1.0 / s.rate.max(1e-3));
    let _ = index;
    Box::pin(run_http(
        client,
        cfg.manager,
        interval,
        puts_stop,
        final_at,
        timeout,
    ))
}

async fn run_http(
    mut c: highstorm::workload::http::HttpClient,
    manager: String,
    interval: Duration,
    puts_stop: Duration,
    final_at: Duration,
    timeout: Duration,
) {
    let name = c.name().to_owned();
    // Accepted jobs: id -> seen completed.
    let mut jobs: BTreeMap<u64, bool> = BTreeMap::new();
    let mut unacked: BTreeSet<u64> = BTreeSet::new();
    let mut next_n = 0;
    let mut next_put = POLL;
    let mut reread = 0;
    while c.now() < final_at {
        let now = c.now();
        if now < puts_stop {
            if now >= next_put {
                unacked.insert(next_n);
                next_n += 1;
                next_put += interval;
            }
            for n in unacked.clone() {
                let (token, payload) = (job_token(&name, n), job_payload(&name, n));
                let op = c.invoke(&manager, "put", json!({"token": token, "payload": payload}));
                let headers = [("Idempotency-Key", token.as_str())];
                let r = c
                    .call_with(&manager, "POST", "/jobs", &headers, Some(&payload))
                    .await;
                let (phase, value) = match r {
                    Ok(r) if r.status == 202 => match r.body.get("id").and_then(Value::as_u64) {
                        Some(id) => {
                            unacked.remove(&n);
                            jobs.entry(id).or_insert(false);
                            (OpPhase::Ok, json!({"id": id}))
                        }
                        None => (
                            OpPhase::Info,
                            json!(format!("202 without an id: {}", r.body)),
                        ),
                    },
                    Ok(r) if (400..500).contains(&r.status) => {
                        unacked.remove(&n);
                        (OpPhase::Fail, json!(r.error()))
                    }
                    Ok(r) => (OpPhase::Info, json!(r.error())),
                    Err(why) => (OpPhase::Info, json!(why)),
                };
                c.complete(op, phase, &manager, "put", value);
            }
        }
        // Poll the unfinished jobs, and re-read one finished job in turn.
        let done: Vec<u64> = jobs
            .iter()
            .filter(|(_, d)| **d)
            .map(|(id, _)| *id)
            .collect();
        let mut ids: Vec<u64> = jobs
            .iter()
            .filter(|(_, d)| !**d)
            .map(|(id, _)| *id)
            .collect();
        if !done.is_empty() {
            ids.push(done[reread % done.len()]);
            reread += 1;
        }
        for id in ids {
            if let Some(completed) = http_get(&mut c, &manager, id, false).await {
                jobs.insert(id, completed || jobs[&id]);
            }
        }
        c.sleep(POLL).await;
    }
    // The final read of every accepted job, retried while the run lasts.
    for id in jobs.keys().copied().collect::<Vec<u64>>() {
        while http_get(&mut c, &manager, id, true).await.is_none() && c.now() <= final_at + timeout
        {
            c.sleep(POLL).await;
        }
    }
}

/// One `GET /jobs/{id}`, recorded as a `get`: whether the job is completed, if it was read.
async fn http_get(
    c: &mut highstorm::workload::http::HttpClient,
    manager: &str,
    id: u64,
    last: bool,
) -> Option<bool> {
    let value = if last {
        json!({"id": id, "final": true})
    } else {
        json!({"id": id})
    };
    let op = c.invoke(manager, "get", value);
    let (phase, value, completed) = match c.call(manager, "GET", &format!("/jobs/{id}"), None).await
    {
        Ok(r) if r.status == 200 => {
            let completed = r.body.get("status").and_then(Value::as_str) == Some("completed");
            (OpPhase::Ok, r.body, Some(completed))
        }
        Ok(r) if (400..500).contains(&r.status) => {
            (OpPhase::Fail, json!({"id": id, "error": r.error()}), None)
        }
        Ok(r) => (OpPhase::Info, json!({"id": id, "error": r.error()}), None),
        Err(why) => (OpPhase::Info, json!({"id": id, "error": why}), None),
    };
    c.complete(op, phase, manager, "get", value);
    completed
}
