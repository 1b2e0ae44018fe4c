//! The Bridge Four leader: accepts jobs, assigns tasks to worker slots, fences stale attempts,
//! aggregates outputs, and journals everything it acknowledges.
//!
//! Durable layout: `job/{id}` holds a [`JobRecord`], `task/{id}/{task}` a [`TaskRecord`] for
//! every task that ever left `NotStarted`. The leader syncs before it sends anything, so
//! nothing it acknowledged or assigned can be forgotten by a crash.
//!
//! Cost per event: a heartbeat, a report or an assignment touches one task, one worker and
//! one job (`BTreeMap`s), so the cost grows with log(tasks), never with the number of tasks.

use super::{listing, paths};
use super::{
    AssignmentStatus, Attempt, BridgeFourConfig, BridgeFourMsg, BridgeFourTimer, JobStatus,
    JobView, TaskOutput, TaskStatus, TaskView, WorkerView,
};
use highstorm_nodes::{
    Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, WorkId, WorkResult,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

type Cx<'a> = Ctx<'a, super::BridgeFour>;

/// Per-task detail is listed for at most this many tasks of a job (messages stay small).
const TASKS_LISTED: usize = 200;

/// A job as journalled.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct JobRecord {
    id: u64,
    name: String,
    kind: String,
    inputs: Vec<String>,
    output: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    result: Option<JobResult>,
}

/// Where a finished job's result is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct JobResult {
    result: String,
    words: u64,
    distinct: u64,
}

/// A task as journalled.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TaskRecord {
    status: Option<TaskStatus>,
    attempt: u32,
    worker: Option<String>,
    worker_boot: u64,
    seq: (u64, u64),
    output: Option<TaskOutput>,
    /// Outputs counted besides `output` (only the planted `unfenced` bug adds any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra: Vec<TaskOutput>,
    reason: Option<String>,
}

struct Task {
    status: TaskStatus,
    rec: TaskRecord,
}

struct Job {
    rec: JobRecord,
    status: JobStatus,
    tasks: Vec<Task>,
    done: u32,
    failed: u32,
    /// Tasks that were ever assigned (or are final).
    assigned: u32,
    aggregating: bool,
}

struct WorkerInfo {
    slots: u32,
    /// Its incarnation, once heard from (after a leader restart: as journalled).
    boot: Option<u64>,
    last_heard: LocalTime,
    alive: bool,
    /// Tasks this leader has it running.
    running: BTreeSet<(u64, u32)>,
}

/// The leader's state.
pub struct Leader {
    cfg: BridgeFourConfig,
    unfenced: bool,
    boot: u64,
    jobs: BTreeMap<u64, Job>,
    tokens: BTreeMap<String, u64>,
    next_job: u64,
    workers: BTreeMap<String, WorkerInfo>,
    /// Tasks waiting for a slot, in job and task order.
    ready: BTreeSet<(u64, u32)>,
    next_seq: u64,
    aggregations: BTreeMap<WorkId, u64>,
}

fn job_key(id: u64) -> String {
    format!("job/{id:010}")
}

fn task_key(job: u64, task: u32) -> String {
    format!("task/{job:010}/{task:06}")
}

impl Leader {
    /// A leader for `cfg`; `unfenced` counts outputs of stale attempts too (a planted bug).
    pub fn new(cfg: BridgeFourConfig, unfenced: bool) -> Self {
        Leader {
            cfg,
            unfenced,
            boot: 0,
            jobs: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next_job: 1,
            workers: BTreeMap::new(),
            ready: BTreeSet::new(),
            next_seq: 0,
            aggregations: BTreeMap::new(),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.worker_timeout_ms)
    }

    pub(super) fn on_init(&mut self, ctx: &mut Cx<'_>) {
        self.boot = ctx.boot();
        self.recover(ctx);
        ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms),
            BridgeFourTimer::Check,
        );
    }

    /// Rebuilds jobs and tasks from the journal. Tasks that were running are `Missing` until
    /// their worker vouches for them (or is found dead).
    fn recover(&mut self, ctx: &mut Cx<'_>) {
        let mut jobs: Vec<JobRecord> = vec![];
        let mut tasks: BTreeMap<(u64, u32), TaskRecord> = BTreeMap::new();
        let mut broken = 0u64;
        for (key, bytes) in ctx.storage().iter() {
            let parts: Vec<&str> = key.split('/').collect();
            match parts.as_slice() {
                ["job", _] => match serde_json::from_slice(bytes) {
                    Ok(j) => jobs.push(j),
                    Err(_) => broken += 1,
                },
                ["task", j, t] => match (j.parse(), t.parse(), serde_json::from_slice(bytes)) {
                    (Ok(j), Ok(t), Ok(rec)) => {
                        tasks.insert((j, t), rec);
                    }
                    _ => broken += 1,
                },
                _ => broken += 1,
            }
        }
        if jobs.is_empty() && broken == 0 {
            return;
        }
        let now = ctx.now();
        let mut resumed = 0u64;
        for rec in jobs {
            let id = rec.id;
            self.next_job = self.next_job.max(id + 1);
            if let Some(t) = &rec.token {
                self.tokens.insert(t.clone(), id);
            }
            let n = rec.inputs.len() as u32;
            let mut job = Job {
                status: JobStatus::NotStarted,
                tasks: Vec::with_capacity(n as usize),
                done: 0,
                failed: 0,
                assigned: 0,
                aggregating: false,
                rec,
            };
            for t in 0..n {
                let rec = tasks.remove(&(id, t)).unwrap_or_default();
                let status = rec.status.unwrap_or(TaskStatus::NotStarted);
                match status {
                    TaskStatus::Done => job.done += 1,
                    TaskStatus::Error => job.failed += 1,
                    _ => {}
                }
                if status != TaskStatus::NotStarted {
                    job.assigned += 1;
                    job.status = JobStatus::InProgress;
                }
                job.tasks.push(Task { status, rec });
            }
            if job.rec.result.is_some() {
                job.status = JobStatus::Done;
            } else if job.done + job.failed == n && job.failed > 0 {
                job.status = JobStatus::Error;
            }
            self.jobs.insert(id, job);
            for t in 0..n {
                let task = &self.jobs[&id].tasks[t as usize];
                match task.status {
                    TaskStatus::NotStarted | TaskStatus::Halted => {
                        self.ready.insert((id, t));
                    }
                    TaskStatus::InProgress | TaskStatus::Missing => {
                        let worker = task.rec.worker.clone().unwrap_or_default();
                        let boot = task.rec.worker_boot;
                        let w = self.workers.entry(worker).or_insert(WorkerInfo {
                            slots: 0,
                            boot: Some(boot),
                            // A grace period: the worker has a full timeout to vouch.
                            last_heard: now,
                            alive: true,
                            running: BTreeSet::new(),
                        });
                        w.running.insert((id, t));
                        resumed += 1;
                        if task.status == TaskStatus::InProgress {
                            self.set_task(
                                ctx,
                                id,
                                t,
                                TaskStatus::Missing,
                                Some("leader restarted"),
                            );
                        }
                    }
                    TaskStatus::Done | TaskStatus::Error => {}
                }
            }
            self.maybe_finish(ctx, id);
        }
        ctx.note(
            "recovered",
            serde_json::json!({"jobs": self.jobs.len(), "running": resumed, "unreadable": broken}),
        );
    }

    pub(super) fn on_message(&mut self, ctx: &mut Cx<'_>, msg: Message<BridgeFourMsg>) {
        match &msg.body {
            BridgeFourMsg::SubmitJob {
                name,
                kind,
                inputs,
                output,
                token,
            } => {
                let (name, kind, inputs, output, token) = (
                    name.clone(),
                    kind.clone(),
                    inputs.clone(),
                    output.clone(),
                    token.clone(),
                );
                self.submit(ctx, &msg, name, kind, inputs, output, token)
            }
            BridgeFourMsg::ListJobs { after } => {
                use std::ops::Bound::{Excluded, Unbounded};
                let from = after.map_or(Unbounded, Excluded);
                let views = self
                    .jobs
                    .range((from, Unbounded))
                    .map(|(_, j)| view(j, false));
                let (jobs, next) = listing::page(views, listing::VIEW_BUDGET);
                ctx.reply(&msg, BridgeFourMsg::ListJobsOk { jobs, next });
            }
            BridgeFourMsg::JobStatus { id } => match self.jobs.get(id) {
                Some(job) => {
                    let job = listing::fit(view(job, true), listing::VIEW_BUDGET);
                    ctx.reply(&msg, BridgeFourMsg::JobStatusOk { job });
                }
                None => no_such_job(ctx, &msg, *id),
            },
            BridgeFourMsg::JobData { id } => self.data(ctx, &msg, *id),
            BridgeFourMsg::Cluster => {
                let now = ctx.now();
                let workers = self
                    .workers
                    .iter()
                    .map(|(id, w)| WorkerView {
                        id: id.clone(),
                        slots: w.slots,
                        running: w.running.len() as u32,
                        alive: w.alive,
                        last_heard_ms: now.saturating_since(w.last_heard).as_millis() as u64,
                    })
                    .collect();
                ctx.reply(&msg, BridgeFourMsg::ClusterOk { workers });
            }
            BridgeFourMsg::Heartbeat {
                boot,
                slots,
                seen,
                running,
                finished,
            } => {
                let (boot, slots, seen) = (*boot, *slots, *seen);
                let has: BTreeSet<Attempt> = running.iter().chain(finished).copied().collect();
                self.heartbeat(ctx, &msg.src, boot, slots, seen, &has);
                self.schedule(ctx);
            }
            BridgeFourMsg::TaskDone { attempt, result } => {
                let (attempt, result) = (*attempt, result.clone());
                self.task_done(ctx, &msg.src, attempt, result);
                self.schedule(ctx);
                ctx.sync();
                ctx.reply(&msg, BridgeFourMsg::TaskDoneOk { attempt });
            }
            // Replies and worker-bound messages are not for the leader.
            _ => {}
        }
        ctx.sync();
    }

    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        ctx: &mut Cx<'_>,
        msg: &Message<BridgeFourMsg>,
        name: String,
        kind: String,
        inputs: Vec<String>,
        output: Option<String>,
        token: Option<String>,
    ) {
        if kind != "wordcount" {
            let e = format!("unknown job kind `{kind}` (known: wordcount)");
            ctx.reply_error(msg, ErrorBody::new(ErrorCode::NotSupported, e));
            return;
        }
        if inputs.is_empty() {
            let e = "a job needs at least one input";
            ctx.reply_error(msg, ErrorBody::new(ErrorCode::MalformedRequest, e));
            return;
        }
        if let Some(id) = token.as_ref().and_then(|t| self.tokens.get(t)) {
            let id = *id;
            ctx.reply(msg, BridgeFourMsg::SubmitJobOk { id });
            return;
        }
        let taken = self
            .jobs
            .values()
            .map(|j| (j.rec.id, j.rec.output.as_str()));
        if let Err(e) = paths::check_job_paths(&inputs, output.as_deref(), taken) {
            let code = match e {
                paths::PathRefused::Taken { .. } => ErrorCode::KeyAlreadyExists,
                _ => ErrorCode::MalformedRequest,
            };
            ctx.reply_error(msg, ErrorBody::new(code, e.to_string()));
            return;
        }
        let id = self.next_job;
        self.next_job += 1;
        let rec = JobRecord {
            id,
            name,
            kind,
            output: output.unwrap_or_else(|| paths::default_output(id)),
            inputs,
            token,
            result: None,
        };
        ctx.put_json(&job_key(id), &rec);
        if let Some(t) = &rec.token {
            self.tokens.insert(t.clone(), id);
        }
        let n = rec.inputs.len() as u32;
        ctx.note(
            "job-accepted",
            serde_json::json!({"job": id, "name": rec.name, "tasks": n}),
        );
        self.jobs.insert(
            id,
            Job {
                tasks: (0..n)
                    .map(|_| Task {
                        status: TaskStatus::NotStarted,
                        rec: TaskRecord::default(),
                    })
                    .collect(),
                rec,
                status: JobStatus::NotStarted,
                done: 0,
                failed: 0,
                assigned: 0,
                aggregating: false,
            },
        );
        self.ready.extend((0..n).map(|t| (id, t)));
        // Journalled before it is acknowledged.
        ctx.sync();
        ctx.reply(msg, BridgeFourMsg::SubmitJobOk { id });
        self.schedule(ctx);
    }

    fn data(&mut self, ctx: &mut Cx<'_>, msg: &Message<BridgeFourMsg>, id: u64) {
        let Some(job) = self.jobs.get(&id) else {
            return no_such_job(ctx, msg, id);
        };
        match (&job.rec.result, job.status) {
            (Some(r), JobStatus::Done) => {
                ctx.note("serve-data", serde_json::json!({"job": id}));
                let body = BridgeFourMsg::JobDataOk {
                    id,
                    result: r.result.clone(),
                    words: r.words,
                    distinct: r.distinct,
                };
                ctx.reply(msg, body);
            }
            (_, status) => {
                let mut text = format!("job {id} is {status:?}, not Done");
                let errors = errors(job);
                if !errors.is_empty() {
                    text.push_str(&format!(": {}", errors.join("; ")));
                }
                ctx.reply_error(msg, ErrorBody::new(ErrorCode::PreconditionFailed, text));
            }
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Cx<'_>, timer: BridgeFourTimer) {
        if let BridgeFourTimer::Check = timer {
            let now = ctx.now();
            let timeout = self.timeout();
            let dead: Vec<String> = self
                .workers
                .iter()
                .filter(|(_, w)| w.alive && now.saturating_since(w.last_heard) > timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in dead {
                ctx.note("worker-lost", serde_json::json!({"worker": id}));
                self.halt_all(ctx, &id, "worker timed out");
                if let Some(w) = self.workers.get_mut(&id) {
                    w.alive = false;
                }
            }
            self.schedule(ctx);
            ctx.set_timer(
                Duration::from_millis(self.cfg.heartbeat_ms),
                BridgeFourTimer::Check,
            );
            ctx.sync();
        }
    }

    fn heartbeat(
        &mut self,
        ctx: &mut Cx<'_>,
        worker: &str,
        boot: u64,
        slots: u32,
        seen: (u64, u64),
        has: &BTreeSet<Attempt>,
    ) {
        let now = ctx.now();
        let known = self.workers.contains_key(worker);
        let w = self.workers.entry(worker.to_owned()).or_insert(WorkerInfo {
            slots,
            boot: Some(boot),
            last_heard: now,
            alive: true,
            running: BTreeSet::new(),
        });
        let restarted = w.boot.is_some_and(|b| b != boot);
        let returned = !w.alive;
        w.slots = slots;
        w.boot = Some(boot);
        w.last_heard = now;
        w.alive = true;
        if !known || returned {
            ctx.note(
                if known {
                    "worker-back"
                } else {
                    "worker-joined"
                },
                serde_json::json!({"worker": worker, "slots": slots, "boot": boot}),
            );
        }
        if restarted {
            self.halt_all(ctx, worker, "worker restarted");
            return;
        }
        // Reconcile: every task this leader has the worker running is either vouched for, or
        // lost once the worker has seen its assignment.
        let running: Vec<(u64, u32)> = self.workers[worker].running.iter().copied().collect();
        for (job, t) in running {
            let Some(task) = self.jobs.get(&job).map(|j| &j.tasks[t as usize]) else {
                continue;
            };
            let attempt = Attempt {
                job,
                task: t,
                attempt: task.rec.attempt,
            };
            let status = task.status;
            if has.contains(&attempt) {
                if status == TaskStatus::Missing {
                    self.set_task(ctx, job, t, TaskStatus::InProgress, Some("worker vouched"));
                }
            } else if seen >= task.rec.seq {
                self.unassign(ctx, job, t, "worker does not have it");
            } else if let Some(assign) = self.assign_msg(job, t) {
                // The assignment has not reached it (yet, or it was lost): send it again; the
                // worker ignores copies of an attempt it knows.
                ctx.send(worker, assign);
            }
        }
    }

    /// Halts every task `worker` runs for this leader.
    fn halt_all(&mut self, ctx: &mut Cx<'_>, worker: &str, reason: &str) {
        let running: Vec<(u64, u32)> = self
            .workers
            .get(worker)
            .map(|w| w.running.iter().copied().collect())
            .unwrap_or_default();
        for (job, t) in running {
            self.unassign(ctx, job, t, reason);
        }
    }

    /// Takes a running task away from its worker and queues it again.
    fn unassign(&mut self, ctx: &mut Cx<'_>, job: u64, t: u32, reason: &str) {
        let Some(task) = self.jobs.get(&job).map(|j| &j.tasks[t as usize]) else {
            return;
        };
        if let Some(w) = task.rec.worker.clone() {
            if let Some(info) = self.workers.get_mut(&w) {
                info.running.remove(&(job, t));
            }
        }
        if self.set_task(ctx, job, t, TaskStatus::Halted, Some(reason)) {
            self.ready.insert((job, t));
        }
    }

    fn task_done(
        &mut self,
        ctx: &mut Cx<'_>,
        worker: &str,
        attempt: Attempt,
        result: Result<TaskOutput, String>,
    ) {
        let Some(task) = self
            .jobs
            .get(&attempt.job)
            .and_then(|j| j.tasks.get(attempt.task as usize))
        else {
            ctx.note(
                "unknown-report",
                serde_json::json!({"attempt": attempt, "worker": worker}),
            );
            return;
        };
        let current = attempt.attempt == task.rec.attempt;
        let status = task.status;
        if self.unfenced && status == TaskStatus::Done {
            // The planted bug: any other attempt's output is counted on top.
            if let Ok(out) = result {
                let job = self.jobs.get_mut(&attempt.job).expect("job exists");
                let task = &mut job.tasks[attempt.task as usize];
                if task.rec.output.as_ref() != Some(&out) && !task.rec.extra.contains(&out) {
                    task.rec.extra.push(out);
                    let rec = task.rec.clone();
                    ctx.put_json(&task_key(attempt.job, attempt.task), &rec);
                    ctx.note("output-accepted", serde_json::json!({"attempt": attempt}));
                }
            }
            return;
        }
        if current && status.is_final() {
            // A resent report of what is already recorded.
            return;
        }
        if (!current && !self.unfenced) || status.is_final() {
            ctx.note(
                "stale-output",
                serde_json::json!({"attempt": attempt, "current": task.rec.attempt, "worker": worker, "status": status}),
            );
            return;
        }
        if let Some(w) = task.rec.worker.clone() {
            if let Some(info) = self.workers.get_mut(&w) {
                info.running.remove(&(attempt.job, attempt.task));
            }
        }
        self.ready.remove(&(attempt.job, attempt.task));
        match result {
            Ok(out) => {
                let job = self.jobs.get_mut(&attempt.job).expect("job exists");
                job.tasks[attempt.task as usize].rec.output = Some(out);
                if self.set_task(ctx, attempt.job, attempt.task, TaskStatus::Done, None) {
                    ctx.note("output-accepted", serde_json::json!({"attempt": attempt}));
                }
            }
            Err(reason) => {
                self.set_task(
                    ctx,
                    attempt.job,
                    attempt.task,
                    TaskStatus::Error,
                    Some(&reason),
                );
            }
        }
        self.maybe_finish(ctx, attempt.job);
    }

    /// The one place a task's status changes: refuses illegal moves, journals and notes legal
    /// ones, and keeps the job's counters and status in step.
    fn set_task(
        &mut self,
        ctx: &mut Cx<'_>,
        job_id: u64,
        t: u32,
        to: TaskStatus,
        reason: Option<&str>,
    ) -> bool {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return false;
        };
        let task = &mut job.tasks[t as usize];
        let from = task.status;
        if !from.can_become(to) {
            ctx.note(
                "illegal-transition",
                serde_json::json!({"job": job_id, "task": t, "from": from, "to": to}),
            );
            return false;
        }
        task.status = to;
        task.rec.status = Some(to);
        if to == TaskStatus::Error {
            task.rec.reason = reason.map(str::to_owned);
        }
        ctx.put_json(&task_key(job_id, t), &task.rec);
        ctx.note(
            "task",
            serde_json::json!({
                "job": job_id, "task": t, "from": from, "to": to,
                "attempt": task.rec.attempt, "worker": task.rec.worker, "reason": reason,
            }),
        );
        match to {
            TaskStatus::Done => job.done += 1,
            TaskStatus::Error => job.failed += 1,
            _ => {}
        }
        if from == TaskStatus::NotStarted {
            job.assigned += 1;
            if job.assigned == 1 || job.assigned == job.tasks.len() as u32 {
                let assignment = assignment(job);
                ctx.note(
                    "assignment",
                    serde_json::json!({"job": job_id, "status": assignment}),
                );
            }
        }
        if job.status == JobStatus::NotStarted && to == TaskStatus::InProgress {
            set_job(ctx, job, JobStatus::InProgress);
        }
        true
    }

    /// When every task is final: aggregate (all done) or fail the job (some failed).
    fn maybe_finish(&mut self, ctx: &mut Cx<'_>, id: u64) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let n = job.tasks.len() as u32;
        if job.done + job.failed < n || job.aggregating || job.rec.result.is_some() {
            return;
        }
        if matches!(job.status, JobStatus::Done | JobStatus::Error) {
            return;
        }
        if job.failed > 0 {
            ctx.note(
                "job-failed",
                serde_json::json!({"job": id, "errors": errors(job)}),
            );
            set_job(ctx, job, JobStatus::Error);
            return;
        }
        let outputs: Vec<&str> = job
            .tasks
            .iter()
            .flat_map(|t| t.rec.output.iter().chain(&t.rec.extra))
            .map(|o| o.output.as_str())
            .collect();
        let input = serde_json::json!({
            "outputs": outputs,
            "result": paths::result_path(&job.rec.output),
        });
        job.aggregating = true;
        let work = ctx.spawn_work("aggregate", input);
        self.aggregations.insert(work, id);
    }

    pub(super) fn on_work_done(&mut self, ctx: &mut Cx<'_>, work: WorkId, result: WorkResult) {
        let Some(id) = self.aggregations.remove(&work) else {
            return;
        };
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.aggregating = false;
        let parsed = result.and_then(|v| {
            serde_json::from_value::<JobResult>(v).map_err(|e| format!("bad aggregate: {e}"))
        });
        match parsed {
            Ok(r) => {
                job.rec.result = Some(r);
                ctx.put_json(&job_key(id), &job.rec);
                set_job(ctx, job, JobStatus::Done);
            }
            Err(e) => {
                ctx.note(
                    "aggregate-failed",
                    serde_json::json!({"job": id, "error": e}),
                );
                set_job(ctx, job, JobStatus::Error);
            }
        }
        ctx.sync();
    }

    /// The assignment of task `t`'s current attempt.
    fn assign_msg(&self, job: u64, t: u32) -> Option<BridgeFourMsg> {
        let j = self.jobs.get(&job)?;
        let task = j.tasks.get(t as usize)?;
        Some(BridgeFourMsg::Assign {
            attempt: Attempt {
                job,
                task: t,
                attempt: task.rec.attempt,
            },
            input: j.rec.inputs[t as usize].clone(),
            output: format!(
                "{}/task-{t:06}.attempt-{}.json",
                j.rec.output, task.rec.attempt
            ),
            seq: task.rec.seq,
        })
    }

    /// Assigns ready tasks greedily to the live worker with the most free slots.
    fn schedule(&mut self, ctx: &mut Cx<'_>) {
        while let Some(&(job, t)) = self.ready.first() {
            let best = self
                .workers
                .iter()
                .filter(|(_, w)| w.alive && (w.running.len() as u32) < w.slots)
                .max_by_key(|(id, w)| (w.slots - w.running.len() as u32, std::cmp::Reverse(*id)))
                .map(|(id, _)| id.clone());
            let Some(worker) = best else {
                return;
            };
            self.ready.pop_first();
            let Some(j) = self.jobs.get_mut(&job) else {
                continue;
            };
            let worker_boot = self.workers[&worker].boot.unwrap_or(0);
            let task = &mut j.tasks[t as usize];
            if !task.status.can_become(TaskStatus::InProgress) {
                continue;
            }
            self.next_seq += 1;
            task.rec.attempt += 1;
            task.rec.worker = Some(worker.clone());
            task.rec.worker_boot = worker_boot;
            task.rec.seq = (self.boot, self.next_seq);
            if self.set_task(ctx, job, t, TaskStatus::InProgress, None) {
                self.workers
                    .get_mut(&worker)
                    .expect("chosen worker exists")
                    .running
                    .insert((job, t));
                // The assignment is journalled before it leaves.
                ctx.sync();
                if let Some(assign) = self.assign_msg(job, t) {
                    ctx.send(&worker, assign);
                }
            }
        }
    }
}

fn set_job(ctx: &mut Cx<'_>, job: &mut Job, to: JobStatus) {
    if job.status == to {
        return;
    }
    if !job.status.can_become(to) {
        ctx.note(
            "illegal-transition",
            serde_json::json!({"job": job.rec.id, "from": job.status, "to": to}),
        );
        return;
    }
    ctx.note(
        "job",
        serde_json::json!({"job": job.rec.id, "from": job.status, "to": to}),
    );
    job.status = to;
}

fn assignment(job: &Job) -> AssignmentStatus {
    if job.assigned == 0 {
        AssignmentStatus::NotAssigned
    } else if job.assigned < job.tasks.len() as u32 {
        AssignmentStatus::PartiallyAssigned
    } else {
        AssignmentStatus::FullyAssigned
    }
}

fn errors(job: &Job) -> Vec<String> {
    job.tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status == TaskStatus::Error)
        .map(|(i, t)| {
            format!(
                "task {i} ({}): {}",
                job.rec.inputs[i],
                t.rec.reason.as_deref().unwrap_or("failed")
            )
        })
        .collect()
}

fn view(job: &Job, detail: bool) -> JobView {
    let tasks = if detail {
        job.tasks
            .iter()
            .take(TASKS_LISTED)
            .enumerate()
            .map(|(i, t)| TaskView {
                task: i as u32,
                input: job.rec.inputs[i].clone(),
                status: t.status,
                attempt: t.rec.attempt,
                worker: t.rec.worker.clone(),
                reason: t.rec.reason.clone(),
            })
            .collect()
    } else {
        vec![]
    };
    JobView {
        id: job.rec.id,
        name: job.rec.name.clone(),
        kind: job.rec.kind.clone(),
        status: job.status,
        assignment: assignment(job),
        done: job.done,
        failed: job.failed,
        total: job.tasks.len() as u32,
        tasks,
        errors: if job.status == JobStatus::Error {
            errors(job)
        } else {
            vec![]
        },
    }
}

fn no_such_job(ctx: &mut Cx<'_>, msg: &Message<BridgeFourMsg>, id: u64) {
    let e = ErrorBody::new(ErrorCode::KeyDoesNotExist, format!("no job {id}"));
    ctx.reply_error(msg, e);
}

#[cfg(test)]
mod tests {
    use super::super::{BridgeFour, BridgeFourConfig, BridgeFourMsg, TaskOutput, TaskStatus};
    use super::*;
    use highstorm_nodes::testing::Harness;
    use highstorm_nodes::Output;

    fn leader() -> BridgeFour {
        BridgeFour::new(BridgeFourConfig::default(), "n0", false)
    }

    fn beat(
        h: &mut Harness<BridgeFour>,
        w: &str,
        id: u64,
        running: Vec<Attempt>,
    ) -> Vec<Message<BridgeFourMsg>> {
        let hb = BridgeFourMsg::Heartbeat {
            boot: 0,
            slots: 1,
            seen: (0, 0),
            running,
            finished: vec![],
        };
        h.request(w, id, &hb)
    }

    fn submit(h: &mut Harness<BridgeFour>, inputs: &[&str]) -> Vec<Message<BridgeFourMsg>> {
        let body = BridgeFourMsg::SubmitJob {
            name: "t".into(),
            kind: "wordcount".into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: None,
            token: None,
        };
        h.request("c0", 1, &body)
    }

    fn assigned(sent: &[Message<BridgeFourMsg>]) -> Vec<(String, Attempt)> {
        sent.iter()
            .filter_map(|m| match &m.body {
                BridgeFourMsg::Assign { attempt, .. } => Some((m.dest.clone(), *attempt)),
                _ => None,
            })
            .collect()
    }

    fn done(h: &mut Harness<BridgeFour>, w: &str, id: u64, attempt: Attempt) {
        let out = TaskOutput {
            output: format!("out/{}", attempt.attempt),
            words: 1,
        };
        let body = BridgeFourMsg::TaskDone {
            attempt,
            result: Ok(out),
        };
        h.request(w, id, &body);
    }

    fn notes(h: &Harness<BridgeFour>, kind: &str) -> usize {
        h.outputs
            .iter()
            .filter(|o| matches!(o, Output::Note(n) if n.kind == kind))
            .count()
    }

    fn status(h: &mut Harness<BridgeFour>) -> JobView {
        let sent = h.request("c0", 99, &BridgeFourMsg::JobStatus { id: 1 });
        match &sent[0].body {
            BridgeFourMsg::JobStatusOk { job } => job.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stale_attempt_is_fenced_and_the_current_one_counts() {
        let mut h = Harness::new(leader(), "n0", &["n1", "n2"]);
        beat(&mut h, "n1", 1, vec![]);
        let sent = submit(&mut h, &["a.txt"]);
        let first = assigned(&sent);
        assert_eq!(first.len(), 1);
        let (w1, a1) = first[0].clone();
        let other = if w1 == "n1" { "n2" } else { "n1" };
        // Only the other worker keeps heartbeating: the first is declared dead.
        let mut reassigned = vec![];
        for i in 0..8 {
            reassigned.extend(assigned(&beat(&mut h, other, 10 + i, vec![])));
            reassigned.extend(assigned(&h.advance(Duration::from_millis(100))));
        }
        // (Resent while the worker's heartbeats show it has not seen the assignment.)
        reassigned.dedup();
        assert_eq!(reassigned.len(), 1, "{reassigned:?}");
        let (w2, a2) = reassigned[0].clone();
        assert_eq!((w2.as_str(), a2.attempt), (other, 2));
        assert_eq!(status(&mut h).tasks[0].status, TaskStatus::InProgress);
        // The first worker was only slow: its late report is fenced off.
        done(&mut h, &w1, 50, a1);
        assert_eq!(notes(&h, "stale-output"), 1);
        assert_eq!(status(&mut h).tasks[0].status, TaskStatus::InProgress);
        done(&mut h, &w2, 51, a2);
        let job = status(&mut h);
        assert_eq!((job.tasks[0].status, job.done), (TaskStatus::Done, 1));
        assert_eq!(notes(&h, "output-accepted"), 1);
        assert!(h
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Work(w) if w.kind == "aggregate")));
    }

    #[test]
    fn a_restarted_leader_keeps_accepted_jobs_and_reconciles_with_workers() {
        let mut h = Harness::new(leader(), "n0", &["n1"]);
        beat(&mut h, "n1", 1, vec![]);
        let sent = submit(&mut h, &["a.txt", "b.txt"]);
        assert!(sent
            .iter()
            .any(|m| matches!(m.body, BridgeFourMsg::SubmitJobOk { id: 1 })));
        let (_, a) = assigned(&sent)[0];
        assert!(
            h.synced().get("job/0000000001").is_some(),
            "journalled before the ack"
        );
        let mut h = h.crash_and_restart(leader());
        let job = status(&mut h);
        assert_eq!(job.total, 2);
        assert_eq!(job.tasks[a.task as usize].status, TaskStatus::Missing);
        assert_eq!(
            job.tasks[1 - a.task as usize].status,
            TaskStatus::NotStarted
        );
        // The worker vouches for its attempt; its report then counts.
        beat(&mut h, "n1", 5, vec![a]);
        assert_eq!(
            status(&mut h).tasks[a.task as usize].status,
            TaskStatus::InProgress
        );
        done(&mut h, "n1", 6, a);
        assert_eq!(status(&mut h).done, 1);
    }

    #[test]
    fn bad_jobs_are_refused_with_clear_errors() {
        let mut h = Harness::new(leader(), "n0", &["n1"]);
        let body = BridgeFourMsg::SubmitJob {
            name: "t".into(),
            kind: "grep".into(),
            inputs: vec!["a".into()],
            output: None,
            token: None,
        };
        assert!(h.request("c0", 1, &body).is_empty());
        let text = |o: &Output| match o {
            Output::Transmit(t) => String::from_utf8_lossy(&t.bytes).into_owned(),
            _ => String::new(),
        };
        let errs: Vec<String> = h
            .outputs
            .iter()
            .map(text)
            .filter(|t| t.contains("error"))
            .collect();
        assert!(
            errs[0].contains("\"code\":10") && errs[0].contains("unknown job kind `grep`"),
            "{errs:?}"
        );
        assert!(submit(&mut h, &[]).is_empty());
        let errs: Vec<String> = h
            .outputs
            .iter()
            .map(text)
            .filter(|t| t.contains("error"))
            .collect();
        assert!(errs[1].contains("\"code\":12"), "{errs:?}");
        let sent = h.request("c0", 3, &BridgeFourMsg::JobData { id: 7 });
        assert!(sent.is_empty());
        assert!(h
            .outputs
            .iter()
            .map(text)
            .any(|t| t.contains("\"code\":20") && t.contains("no job 7")));
    }
}
