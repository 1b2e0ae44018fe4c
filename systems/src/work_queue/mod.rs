//! distributed-workers: a manager with a durable job queue, and workers that reserve jobs with a
//! time-to-run (TTR).
//!
//! A client `put`s any JSON payload and gets an id once the job is journalled; `get` shows it
//! `queued`, `reserved` (with reserves, timeouts and time left) or `completed` with its result,
//! the md5 of the payload (as in the source). A worker `reserve`s the oldest queued job, works
//! on it, and reports `complete` with the reservation number it was given. A reservation that
//! is not completed within TTR (worker dead, cut off or slow) expires and the job is queued
//! again; a completion from an expired reservation is fenced off. Execution is at least once,
//! recording exactly once. The manager journals every job and syncs before it answers, so a
//! manager crash loses no accepted job and no result.

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
pub mod http;
#[cfg(feature = "harness")]
mod system;
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

mod notes;

/// The sometimes-points its nodes mark: a sweep reports how often each held, and which never did.
pub mod points {
    /// A reserved job's time-to-run expired and it was queued again.
    pub const TTR_REQUEUED: &str = "ttr-requeued";
    /// A completion of an outdated reservation was recognised as such.
    pub const STALE_COMPLETION: &str = "stale-completion";
    /// A restarted manager recovered jobs from its journal.
    pub const MANAGER_RECOVERED_JOBS: &str = "manager-recovered-jobs";
    /// Every point, declared with the system.
    pub const ALL: &[&str] = &[TTR_REQUEUED, STALE_COMPLETION, MANAGER_RECOVERED_JOBS];
}

pub use notes::WorkQueueNote;

use highstorm_nodes::{
    ConfigProblem, Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, MsgId, Node, RpcReply,
    SyncError, SystemConfig, MAX_PERIOD_MS,
};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The queue's parameters (the scenario's `[config]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkQueueConfig {
    /// The manager's node id; every other node is a worker.
    pub manager: String,
    /// Time to run: how long a reservation lasts, in milliseconds.
    pub ttr_ms: u64,
    /// How long an idle worker waits before asking again, in milliseconds.
    pub poll_ms: u64,
    /// How long a worker works on a job, in milliseconds.
    pub work_ms: u64,
    /// Workers that work this many times slower (`{ n3 = 10.0 }`).
    pub slow: BTreeMap<String, f64>,
}

impl Default for WorkQueueConfig {
    fn default() -> Self {
        WorkQueueConfig {
            manager: "n0".into(),
            ttr_ms: 500,
            poll_ms: 50,
            work_ms: 40,
            slow: BTreeMap::new(),
        }
    }
}

/// The largest payload a job may carry, as compact JSON: every message that carries it (a
/// reservation, a job's state) must fit one message, with room to spare for the rest of it.
pub const MAX_PAYLOAD_BYTES: usize = highstorm_nodes::wire::MAX_MESSAGE_BYTES - 1024;

/// The longest idempotency token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 256;

/// Why a job cannot be queued as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobRefused {
    /// The payload is over [`MAX_PAYLOAD_BYTES`].
    #[error("the payload is {0} bytes as compact JSON, over the {MAX_PAYLOAD_BYTES}-byte limit")]
    PayloadTooLarge(usize),
    /// The token is over [`MAX_TOKEN_BYTES`].
    #[error("the idempotency token is {0} bytes, over the {MAX_TOKEN_BYTES}-byte limit")]
    TokenTooLong(usize),
}

/// Whether a job with `payload` and `token` can be queued: what the manager checks before it
/// accepts one (and the HTTP API before it asks).
pub fn check_job(payload: &Value, token: Option<&str>) -> Result<(), JobRefused> {
    let bytes = serde_json::to_vec(payload).map_or(usize::MAX, |v| v.len());
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(JobRefused::PayloadTooLarge(bytes));
    }
    match token {
        Some(t) if t.len() > MAX_TOKEN_BYTES => Err(JobRefused::TokenTooLong(t.len())),
        _ => Ok(()),
    }
}

impl SystemConfig for WorkQueueConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        ConfigProblem::period_ms("ttr_ms", self.ttr_ms)?;
        ConfigProblem::period_ms("poll_ms", self.poll_ms)?;
        ConfigProblem::within("work_ms", self.work_ms, 0..=MAX_PERIOD_MS)?;
        for (node, factor) in &self.slow {
            ConfigProblem::within(&format!("slow.{node}"), *factor, 1.0..=MAX_SLOWDOWN)?;
        }
        Ok(())
    }

    fn nodes(&self) -> Vec<(String, String)> {
        let slow = self.slow.keys().map(|n| (format!("slow.{n}"), n.clone()));
        std::iter::once(("manager".to_owned(), self.manager.clone()))
            .chain(slow)
            .collect()
    }
}

/// The most a worker may be slowed down (`slow = { n3 = 1000.0 }`).
pub const MAX_SLOWDOWN: f64 = 1000.0;

/// The md5 of a payload's compact JSON text, in hex: a job's result.
pub fn result_of(payload: &Value) -> String {
    let text = serde_json::to_string(payload).unwrap_or_default();
    let digest = Md5::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it until its reservation expires.
    Reserved,
    /// Done; the result is recorded.
    Completed,
}

/// A job as `GET /jobs/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    /// Its id.
    pub id: u64,
    /// Its status.
    pub status: JobStatus,
    /// How many times it was reserved.
    pub reserves: u32,
    /// How many reservations expired.
    pub timeouts: u32,
    /// Milliseconds left on the current reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_left_ms: Option<u64>,
    /// The result, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The payload.
    pub payload: Value,
}

/// A reserved job, as a worker gets it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    /// The job.
    pub id: u64,
    /// Its payload.
    pub payload: Value,
    /// The reservation's number (the job's reserve count): completions must carry it.
    pub reservation: u32,
    /// How long it lasts.
    pub ttr_ms: u64,
}

/// The queue's messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkQueueMsg {
    /// Client -> manager: queue a job. A retry with the same `token` gets the same job.
    Put {
        /// Any JSON.
        payload: Value,
        /// Makes retries idempotent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// The job is journalled.
    PutOk {
        /// Its id.
        id: u64,
    },
    /// Client -> manager: a job's state (error 20 if unknown).
    Get {
        /// The job.
        id: u64,
    },
    /// A job's state.
    GetOk {
        /// The job.
        job: JobState,
    },
    /// Worker -> manager: give me the oldest queued job.
    Reserve,
    /// A job to work on, or none.
    ReserveOk {
        /// The reservation, if a job was queued.
        job: Option<Reservation>,
    },
    /// Worker -> manager: this reservation's result.
    Complete {
        /// The job.
        id: u64,
        /// The reservation it worked under.
        reservation: u32,
        /// The result.
        result: String,
    },
    /// Whether the result was recorded (false: the reservation had expired).
    CompleteOk {
        /// The job.
        id: u64,
        /// Recorded.
        accepted: bool,
    },
}

/// The queue's timers.
#[derive(Debug)]
pub enum WorkQueueTimer {
    /// Manager: expire reservations past their TTR.
    Expire,
    /// Worker: ask for a job.
    Poll,
    /// Worker: the current job's work is done.
    Worked,
}

/// A node of the queue: the manager or a worker, by id.
pub enum WorkQueue {
    /// The manager.
    Manager(Manager),
    /// A worker.
    Worker(QueueWorker),
}

/// A bug planted in the manager, for testing the harness's checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Accepts a completion whatever its reservation, even one whose TTR expired.
    Unfenced,
    /// Records completions in memory only: a crash forgets them.
    Forgetful,
    /// After a restart, refuses new jobs until every reservation it recovered has been
    /// settled — but counts one settled only when its TTR expires, never when it completes,
    /// so a restart while a live worker holds a job closes the queue for good.
    SealedAfterRestart,
}

impl WorkQueue {
    /// Node `id` of a queue configured by `cfg`.
    pub fn new(cfg: WorkQueueConfig, id: &str) -> Self {
        Self::planted(cfg, id, None)
    }

    /// Node `id` of a queue configured by `cfg`, its manager with `bug` planted.
    pub fn planted(cfg: WorkQueueConfig, id: &str, bug: Option<PlantedBug>) -> Self {
        if id == cfg.manager {
            WorkQueue::Manager(Manager::new(cfg, bug))
        } else {
            WorkQueue::Worker(QueueWorker::new(cfg))
        }
    }
}

type Cx<'a> = Ctx<'a, WorkQueue>;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct JobRecord {
    payload: Value,
    #[serde(default)]
    token: Option<String>,
    status: JobStatus,
    reserves: u32,
    timeouts: u32,
    #[serde(default)]
    result: Option<String>,
}

/// The manager's state.
pub struct Manager {
    cfg: WorkQueueConfig,
    jobs: BTreeMap<u64, (JobRecord, Option<LocalTime>)>,
    queued: BTreeSet<u64>,
    deadlines: BTreeSet<(LocalTime, u64)>,
    tokens: BTreeMap<String, u64>,
    next_id: u64,
    bug: Option<PlantedBug>,
    /// Recovered reservations not yet settled (variant `sealed-after-restart` only).
    unsettled: BTreeSet<u64>,
    /// Jobs whose records were written since the last successful sync.
    dirty: BTreeSet<u64>,
    /// A sync failed since: the dirty records' fate is unknown, so they are written again
    /// before the next sync.
    in_doubt: bool,
    /// Why the manager stopped, once a damaged record stopped it.
    halted: Option<String>,
}

/// How many times the manager writes and syncs records again after a failed sync, within one
/// request, before it refuses the request.
const SYNC_ATTEMPTS: usize = 3;

fn key(id: u64) -> String {
    format!("job/{id:010}")
}

impl Manager {
    fn new(cfg: WorkQueueConfig, bug: Option<PlantedBug>) -> Self {
        Manager {
            cfg,
            jobs: BTreeMap::new(),
            queued: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            tokens: BTreeMap::new(),
            next_id: 1,
            bug,
            unsettled: BTreeSet::new(),
            dirty: BTreeSet::new(),
            in_doubt: false,
            halted: None,
        }
    }

    /// Journals job `id`'s record (durable at the next [`persist`](Manager::persist)).
    fn put(&mut self, ctx: &mut Cx<'_>, id: u64, rec: &JobRecord) {
        ctx.put_json(&key(id), rec);
        self.dirty.insert(id);
    }

    /// Makes every journalled record durable before anything about it is acknowledged. A
    /// failed sync leaves its records in doubt (a later sync would not cover them): they are
    /// written again and synced again, up to [`SYNC_ATTEMPTS`] times; a full disk is not
    /// retried. On an error nothing may be acknowledged; the records stay dirty and are
    /// written again with the next persist.
    fn persist(&mut self, ctx: &mut Cx<'_>) -> Result<(), SyncError> {
        let mut attempt = 0;
        loop {
            if self.in_doubt {
                for id in self.dirty.clone() {
                    if let Some((rec, _)) = self.jobs.get(&id) {
                        ctx.put_json(&key(id), rec);
                    }
                }
            }
            match ctx.sync() {
                Ok(()) => {
                    self.dirty.clear();
                    self.in_doubt = false;
                    return Ok(());
                }
                Err(e) => {
                    self.in_doubt = true;
                    ctx.note_typed(&WorkQueueNote::SyncFailed {
                        error: e.to_string(),
                    });
                    attempt += 1;
                    if e == SyncError::DiskFull || attempt == SYNC_ATTEMPTS {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn ttr(&self) -> Duration {
        Duration::from_millis(self.cfg.ttr_ms)
    }

    fn init(&mut self, ctx: &mut Cx<'_>) {
        let now = ctx.now();
        let ttr = self.ttr();
        let mut recovered = 0;
        let damaged = ctx.storage().damaged().next();
        if let Some(e) = damaged {
            let record = e.key().to_owned();
            self.halted = Some(format!("manager {} stopped: {e}", ctx.id()));
            ctx.note_typed(&WorkQueueNote::StorageHalted {
                record,
                error: e.to_string(),
            });
            return;
        }
        let records: Vec<(String, Vec<u8>)> = ctx
            .storage()
            .prefixed("job/")
            .filter_map(|(k, v)| Some((k.to_owned(), v.ok()?.to_vec())))
            .collect();
        for (k, bytes) in records {
            let (Ok(id), Ok(rec)) = (
                k["job/".len()..].parse::<u64>(),
                serde_json::from_slice::<JobRecord>(&bytes),
            ) else {
                ctx.note_typed(&WorkQueueNote::UnreadableRecord { key: k });
                continue;
            };
            self.next_id = self.next_id.max(id + 1);
            if let Some(t) = &rec.token {
                self.tokens.insert(t.clone(), id);
            }
            // A reservation outlives the manager: it gets a full TTR from the restart.
            let deadline = match rec.status {
                JobStatus::Queued => {
                    self.queued.insert(id);
                    None
                }
                JobStatus::Reserved => {
                    self.deadlines.insert((now + ttr, id));
                    Some(now + ttr)
                }
                JobStatus::Completed => None,
            };
            self.jobs.insert(id, (rec, deadline));
            recovered += 1;
        }
        if ctx.sometimes(points::MANAGER_RECOVERED_JOBS, recovered > 0) {
            ctx.note_typed(&WorkQueueNote::Recovered { jobs: recovered });
        }
        if self.bug == Some(PlantedBug::SealedAfterRestart) {
            self.unsettled = self
                .jobs
                .iter()
                .filter(|(_, (rec, _))| rec.status == JobStatus::Reserved)
                .map(|(id, _)| *id)
                .collect();
        }
        ctx.set_timer(
            Duration::from_millis(self.cfg.poll_ms),
            WorkQueueTimer::Expire,
        );
    }

    fn state(&self, id: u64, now: LocalTime) -> Option<JobState> {
        let (rec, deadline) = self.jobs.get(&id)?;
        Some(JobState {
            id,
            status: rec.status,
            reserves: rec.reserves,
            timeouts: rec.timeouts,
            time_left_ms: deadline.map(|d| d.saturating_since(now).as_millis() as u64),
            result: rec.result.clone(),
            payload: rec.payload.clone(),
        })
    }

    fn on_message(&mut self, ctx: &mut Cx<'_>, msg: Message<WorkQueueMsg>) {
        let now = ctx.now();
        if let Some(why) = &self.halted {
            if msg.msg_id.is_some() && msg.in_reply_to.is_none() {
                let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, why.clone());
                ctx.reply_error(&msg, e);
            }
            return;
        }
        match &msg.body {
            WorkQueueMsg::Put { .. } if !self.unsettled.is_empty() => {
                let e = ErrorBody::new(
                    ErrorCode::TemporarilyUnavailable,
                    "recovering reservations: try again",
                );
                ctx.reply_error(&msg, e);
            }
            WorkQueueMsg::Put { payload, token } => {
                if let Err(e) = check_job(payload, token.as_deref()) {
                    let e = ErrorBody::new(ErrorCode::MalformedRequest, e.to_string());
                    ctx.reply_error(&msg, e);
                    return;
                }
                if let Some(id) = token.as_ref().and_then(|t| self.tokens.get(t)) {
                    let id = *id;
                    // Its record may still be in doubt from a failed sync.
                    match self.persist(ctx) {
                        Ok(()) => ctx.reply(&msg, WorkQueueMsg::PutOk { id }),
                        Err(e) => ctx.reply_error(&msg, not_durable(e)),
                    };
                    return;
                }
                let id = self.next_id;
                self.next_id += 1;
                let rec = JobRecord {
                    payload: payload.clone(),
                    token: token.clone(),
                    status: JobStatus::Queued,
                    reserves: 0,
                    timeouts: 0,
                    result: None,
                };
                if let Some(t) = token {
                    self.tokens.insert(t.clone(), id);
                }
                self.put(ctx, id, &rec);
                ctx.note_typed(&WorkQueueNote::Queued { id });
                self.jobs.insert(id, (rec, None));
                self.queued.insert(id);
                match self.persist(ctx) {
                    Ok(()) => ctx.reply(&msg, WorkQueueMsg::PutOk { id }),
                    // Queued in memory, maybe on disk: a retry with the token gets this id.
                    Err(e) => ctx.reply_error(&msg, not_durable(e)),
                };
            }
            // Only durable state is served: records a failed sync left in doubt are made
            // durable first (a crash could otherwise take back what a client saw).
            WorkQueueMsg::Get { .. } if !self.dirty.is_empty() && self.persist(ctx).is_err() => {
                let e = ErrorBody::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the job's state is not durable yet (the disk refuses writes)",
                );
                ctx.reply_error(&msg, e);
            }
            WorkQueueMsg::Get { id } => match self.state(*id, now) {
                Some(job) => {
                    ctx.reply(&msg, WorkQueueMsg::GetOk { job });
                }
                None => {
                    let e = ErrorBody::new(ErrorCode::KeyDoesNotExist, format!("no job {id}"));
                    ctx.reply_error(&msg, e);
                }
            },
            WorkQueueMsg::Reserve => {
                let job = self.queued.pop_first().and_then(|id| {
                    let ttr = self.ttr();
                    let (rec, deadline) = self.jobs.get_mut(&id)?;
                    rec.status = JobStatus::Reserved;
                    rec.reserves += 1;
                    *deadline = Some(now + ttr);
                    self.deadlines.insert((now + ttr, id));
                    let rec = rec.clone();
                    self.put(ctx, id, &rec);
                    ctx.note_typed(&WorkQueueNote::Reserved {
                        id,
                        reservation: rec.reserves,
                        worker: msg.src.clone(),
                    });
                    Some(Reservation {
                        id,
                        payload: rec.payload,
                        reservation: rec.reserves,
                        ttr_ms: self.cfg.ttr_ms,
                    })
                });
                // A reservation that is not durable is not handed out (its TTR re-queues it).
                let job = self.persist(ctx).ok().and(job);
                ctx.reply(&msg, WorkQueueMsg::ReserveOk { job });
            }
            WorkQueueMsg::Complete {
                id,
                reservation,
                result,
            } => {
                let id = *id;
                let unfenced = self.bug == Some(PlantedBug::Unfenced);
                let accepted = match self.jobs.get_mut(&id) {
                    Some((rec, deadline))
                        if (rec.status == JobStatus::Reserved && rec.reserves == *reservation)
                            || (unfenced && rec.status != JobStatus::Completed) =>
                    {
                        rec.status = JobStatus::Completed;
                        rec.result = Some(result.clone());
                        if let Some(d) = deadline.take() {
                            self.deadlines.remove(&(d, id));
                        }
                        self.queued.remove(&id);
                        let rec = rec.clone();
                        if self.bug != Some(PlantedBug::Forgetful) {
                            ctx.put_json(&key(id), &rec);
                            self.dirty.insert(id);
                        }
                        ctx.note_typed(&WorkQueueNote::Completed {
                            id,
                            reservation: *reservation,
                            result: result.clone(),
                        });
                        true
                    }
                    // A resent report of the recorded completion.
                    Some((rec, _))
                        if rec.status == JobStatus::Completed
                            && rec.reserves == *reservation
                            && rec.result.as_ref() == Some(result) =>
                    {
                        true
                    }
                    _ => {
                        ctx.reachable(points::STALE_COMPLETION);
                        ctx.note_typed(&WorkQueueNote::StaleCompletion {
                            id,
                            reservation: *reservation,
                            worker: msg.src.clone(),
                        });
                        false
                    }
                };
                match self.persist(ctx) {
                    Ok(()) => ctx.reply(&msg, WorkQueueMsg::CompleteOk { id, accepted }),
                    // The worker reports again until acknowledged.
                    Err(e) => ctx.reply_error(&msg, not_durable(e)),
                };
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Cx<'_>) {
        if self.halted.is_some() {
            return;
        }
        let now = ctx.now();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            let Some((rec, deadline)) = self.jobs.get_mut(&id) else {
                continue;
            };
            if rec.status != JobStatus::Reserved || *deadline != Some(at) {
                continue;
            }
            rec.status = JobStatus::Queued;
            rec.timeouts += 1;
            *deadline = None;
            let rec = rec.clone();
            self.put(ctx, id, &rec);
            ctx.reachable(points::TTR_REQUEUED);
            ctx.note_typed(&WorkQueueNote::TtrExpired {
                id,
                reservation: rec.reserves,
            });
            self.unsettled.remove(&id);
            self.queued.insert(id);
        }
        // Nothing here is acknowledged: on an error the records stay dirty and are written
        // again with the next persist.
        let _ = self.persist(ctx);
        ctx.set_timer(
            Duration::from_millis(self.cfg.poll_ms),
            WorkQueueTimer::Expire,
        );
    }
}

/// The error answering a request whose records could not be made durable: indefinite (the
/// disk may hold them after all).
fn not_durable(e: SyncError) -> ErrorBody {
    ErrorBody::new(ErrorCode::Crash, format!("not durable: {e}"))
}

/// A worker's state: one job at a time.
pub struct QueueWorker {
    cfg: WorkQueueConfig,
    /// The job being worked on.
    current: Option<Reservation>,
    /// A finished job's report, resent until acknowledged.
    report: Option<(u64, u32, String)>,
    asking: Option<MsgId>,
}

impl QueueWorker {
    fn new(cfg: WorkQueueConfig) -> Self {
        QueueWorker {
            cfg,
            current: None,
            report: None,
            asking: None,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.poll_ms * 4)
    }

    fn next(&mut self, ctx: &mut Cx<'_>) {
        let manager = self.cfg.manager.clone();
        let body = match &self.report {
            Some((id, reservation, result)) => WorkQueueMsg::Complete {
                id: *id,
                reservation: *reservation,
                result: result.clone(),
            },
            None => WorkQueueMsg::Reserve,
        };
        self.asking = Some(ctx.rpc(&manager, body, self.timeout()));
    }

    fn on_rpc_reply(&mut self, ctx: &mut Cx<'_>, request: MsgId, reply: RpcReply<WorkQueueMsg>) {
        if self.asking != Some(request) {
            return;
        }
        self.asking = None;
        match reply {
            RpcReply::Reply(m) => match m.body {
                WorkQueueMsg::ReserveOk { job: Some(job) } => {
                    let slow = self.cfg.slow.get(ctx.id()).copied().unwrap_or(1.0).max(1.0);
                    let mut work = Duration::from_millis(self.cfg.work_ms).mul_f64(slow);
                    // A rare path: this job runs long (a slow disk, a GC pause), past its TTR.
                    if ctx.buggify("work-queue-slow-job") {
                        work *= 5;
                    }
                    self.current = Some(job);
                    ctx.set_timer(work, WorkQueueTimer::Worked);
                }
                WorkQueueMsg::CompleteOk { id, .. } => {
                    if self.report.as_ref().is_some_and(|r| r.0 == id) {
                        self.report = None;
                    }
                    self.next(ctx);
                }
                _ => {
                    ctx.set_timer(
                        Duration::from_millis(self.cfg.poll_ms),
                        WorkQueueTimer::Poll,
                    );
                }
            },
            // The manager is down or cut off: ask again later.
            _ => {
                ctx.set_timer(
                    Duration::from_millis(self.cfg.poll_ms),
                    WorkQueueTimer::Poll,
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Cx<'_>, timer: WorkQueueTimer) {
        match timer {
            WorkQueueTimer::Poll if self.asking.is_none() && self.current.is_none() => {
                self.next(ctx)
            }
            WorkQueueTimer::Worked => {
                if let Some(job) = self.current.take() {
                    self.report = Some((job.id, job.reservation, result_of(&job.payload)));
                    self.next(ctx);
                }
            }
            _ => {}
        }
    }
}

impl Node for WorkQueue {
    type Msg = WorkQueueMsg;
    type Timer = WorkQueueTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            WorkQueue::Manager(m) => m.init(ctx),
            WorkQueue::Worker(w) => w.next(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<WorkQueueMsg>) {
        if let WorkQueue::Manager(m) = self {
            m.on_message(ctx, msg);
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<WorkQueueMsg>,
    ) {
        if let WorkQueue::Worker(w) = self {
            w.on_rpc_reply(ctx, request, reply);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: WorkQueueTimer) {
        match self {
            WorkQueue::Manager(m) => m.on_timer(ctx),
            WorkQueue::Worker(w) => w.on_timer(ctx, timer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;

    #[test]
    fn results_are_md5_of_the_payload_text() {
        assert_eq!(
            result_of(&serde_json::json!({})),
            "99914b932bd37a50b983c5e7c90ae93b"
        );
    }

    #[test]
    fn a_payload_at_the_limit_is_served_in_every_message_and_one_over_is_refused() {
        // Long node names, as a worst case for the envelope around the payload.
        let manager = "m".repeat(64);
        let worker = "w".repeat(64);
        let cfg = WorkQueueConfig {
            manager: manager.clone(),
            ..WorkQueueConfig::default()
        };
        let mut h = Harness::new(WorkQueue::new(cfg, &manager), &manager, &[&worker]);
        // A string payload of exactly the limit: its JSON is the text plus two quotes.
        let at_limit = Value::from("\u{1}".repeat((MAX_PAYLOAD_BYTES - 2) / 6));
        let len = serde_json::to_vec(&at_limit).unwrap().len();
        assert!(
            len <= MAX_PAYLOAD_BYTES && len + 6 > MAX_PAYLOAD_BYTES,
            "{len}"
        );
        let put = WorkQueueMsg::Put {
            payload: at_limit.clone(),
            token: Some("t".repeat(MAX_TOKEN_BYTES)),
        };
        let client = "c".repeat(64);
        assert_eq!(
            h.request(&client, 1, &put)[0].body,
            WorkQueueMsg::PutOk { id: 1 }
        );
        let r = h.request(&worker, 2, &WorkQueueMsg::Reserve);
        assert!(
            matches!(&r[0].body, WorkQueueMsg::ReserveOk { job: Some(j) } if j.payload == at_limit),
            "the reservation carries the payload"
        );
        let g = h.request(&client, 3, &WorkQueueMsg::Get { id: 1 });
        assert!(
            matches!(&g[0].body, WorkQueueMsg::GetOk { job } if job.payload == at_limit),
            "the job's state carries the payload"
        );
        assert_eq!(highstorm_nodes::Process::stats(h.process()).oversized, 0);
        // One byte over, and an over-long token: refused, nothing queued.
        let over = Value::from("x".repeat(MAX_PAYLOAD_BYTES - 1));
        for (payload, token) in [
            (over, None),
            (Value::Null, Some("t".repeat(MAX_TOKEN_BYTES + 1))),
        ] {
            let put = WorkQueueMsg::Put { payload, token };
            assert!(h.request(&client, 4, &put).is_empty(), "no put_ok");
        }
        let refused = h
            .outputs
            .iter()
            .filter(|o| {
                matches!(o, highstorm_nodes::Output::Transmit(t)
                if String::from_utf8_lossy(&t.bytes).contains(r#""code":12"#))
            })
            .count();
        assert_eq!(refused, 2);
        assert!(
            h.request(&client, 5, &WorkQueueMsg::Get { id: 2 })
                .is_empty(),
            "no job 2"
        );
    }

    #[test]
    fn an_expired_reservation_is_requeued_and_its_completion_fenced() {
        let mut h = Harness::new(
            WorkQueue::new(WorkQueueConfig::default(), "n0"),
            "n0",
            &["n1"],
        );
        let put = WorkQueueMsg::Put {
            payload: serde_json::json!({"x": 1}),
            token: None,
        };
        assert_eq!(
            h.request("c0", 1, &put)[0].body,
            WorkQueueMsg::PutOk { id: 1 }
        );
        assert!(
            h.synced().get("job/0000000001").is_some(),
            "journalled before the ack"
        );
        let r = h.request("n1", 2, &WorkQueueMsg::Reserve);
        let WorkQueueMsg::ReserveOk { job: Some(job) } = &r[0].body else {
            panic!("{r:?}")
        };
        assert_eq!(job.reservation, 1);
        h.advance(Duration::from_millis(600));
        let g = h.request("c0", 3, &WorkQueueMsg::Get { id: 1 });
        let WorkQueueMsg::GetOk { job: state } = &g[0].body else {
            panic!()
        };
        assert_eq!((state.status, state.timeouts), (JobStatus::Queued, 1));
        let late = WorkQueueMsg::Complete {
            id: 1,
            reservation: 1,
            result: "r".into(),
        };
        let ack = h.request("n1", 4, &late);
        assert_eq!(
            ack[0].body,
            WorkQueueMsg::CompleteOk {
                id: 1,
                accepted: false
            }
        );
        // Reserved again, completed under the new reservation, and kept across a crash.
        h.request("n1", 5, &WorkQueueMsg::Reserve);
        let done = WorkQueueMsg::Complete {
            id: 1,
            reservation: 2,
            result: "r".into(),
        };
        let ack = h.request("n1", 6, &done);
        assert_eq!(
            ack[0].body,
            WorkQueueMsg::CompleteOk {
                id: 1,
                accepted: true
            }
        );
        let mut h = h.crash_and_restart(WorkQueue::new(WorkQueueConfig::default(), "n0"));
        let g = h.request("c0", 7, &WorkQueueMsg::Get { id: 1 });
        let WorkQueueMsg::GetOk { job: state } = &g[0].body else {
            panic!()
        };
        assert_eq!(state.status, JobStatus::Completed);
        assert_eq!(state.result.as_deref(), Some("r"));
    }
    fn manager(bug: Option<PlantedBug>) -> WorkQueue {
        WorkQueue::planted(WorkQueueConfig::default(), "n0", bug)
    }

    fn get(h: &mut Harness<WorkQueue>, msg_id: MsgId, id: u64) -> JobState {
        let g = h.request("c0", msg_id, &WorkQueueMsg::Get { id });
        match &g[0].body {
            WorkQueueMsg::GetOk { job } => job.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_retried_put_with_the_same_token_gets_the_same_job_even_after_a_crash() {
        let mut h = Harness::new(manager(None), "n0", &["n1"]);
        let put = |n: u64| WorkQueueMsg::Put {
            payload: serde_json::json!({"n": n}),
            token: Some(format!("c0-{n}")),
        };
        assert_eq!(
            h.request("c0", 1, &put(1))[0].body,
            WorkQueueMsg::PutOk { id: 1 }
        );
        assert_eq!(
            h.request("c0", 2, &put(1))[0].body,
            WorkQueueMsg::PutOk { id: 1 }
        );
        let mut h = h.crash_and_restart(manager(None));
        assert_eq!(
            h.request("c0", 3, &put(1))[0].body,
            WorkQueueMsg::PutOk { id: 1 }
        );
        assert_eq!(
            h.request("c0", 4, &put(2))[0].body,
            WorkQueueMsg::PutOk { id: 2 }
        );
        assert_eq!(get(&mut h, 5, 1).payload, serde_json::json!({"n": 1}));
        // An unknown job is an error reply, not a `get_ok`.
        assert!(h.request("c0", 6, &WorkQueueMsg::Get { id: 9 }).is_empty());
    }

    fn put_reserve_expire(h: &mut Harness<WorkQueue>) {
        let put = WorkQueueMsg::Put {
            payload: serde_json::json!({"x": 1}),
            token: None,
        };
        h.request("c0", 1, &put);
        h.request("n1", 2, &WorkQueueMsg::Reserve);
        h.advance(Duration::from_millis(600));
    }

    #[test]
    fn the_planted_bugs_do_what_they_say() {
        // unfenced: the expired reservation's completion is accepted.
        let mut h = Harness::new(manager(Some(PlantedBug::Unfenced)), "n0", &["n1"]);
        put_reserve_expire(&mut h);
        let late = WorkQueueMsg::Complete {
            id: 1,
            reservation: 1,
            result: "r".into(),
        };
        let ack = h.request("n1", 3, &late);
        assert_eq!(
            ack[0].body,
            WorkQueueMsg::CompleteOk {
                id: 1,
                accepted: true
            }
        );
        // forgetful: a completion is forgotten across a crash.
        let mut h = Harness::new(manager(Some(PlantedBug::Forgetful)), "n0", &["n1"]);
        let put = WorkQueueMsg::Put {
            payload: serde_json::json!({"x": 1}),
            token: None,
        };
        h.request("c0", 1, &put);
        h.request("n1", 2, &WorkQueueMsg::Reserve);
        let done = WorkQueueMsg::Complete {
            id: 1,
            reservation: 1,
            result: "r".into(),
        };
        h.request("n1", 3, &done);
        assert_eq!(get(&mut h, 4, 1).status, JobStatus::Completed);
        let mut h = h.crash_and_restart(manager(Some(PlantedBug::Forgetful)));
        assert_eq!(get(&mut h, 5, 1).status, JobStatus::Reserved);
    }
}
