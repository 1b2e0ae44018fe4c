//! The Bridge Four leader: accepts jobs, assigns tasks to worker slots, fences stale attempts,
//! aggregates outputs, and journals everything it acknowledges.
//!
//! Durable layout: `job/{id}` holds a [`JobRecord`], `task/{id}/{task}` a [`TaskRecord`] for
//! every task that ever left `NotStarted`. The leader syncs before it sends anything, so
//! nothing it acknowledged or assigned can be forgotten by a crash.
//!
//! Cost per event: a heartbeat, a report or an assignment touches one task, one worker and
//! one job (`BTreeMap`s), so the cost grows with log(tasks), never with the number of tasks.
//!
//! Here: the leader's state, accepting jobs, and the dispatch of messages. Beside it:
//! `journal.rs` (durable records, recovery after a restart), `liveness.rs` (heartbeats,
//! reconciliation, dead workers), `scheduling.rs` (tasks to free slots), `progress.rs` (reports
//! and attempt fencing, the status transition point, aggregation) and `views.rs` (what clients
//! see).

use super::notes::BridgeFourNote;
use super::{listing, paths};
use super::{
    Attempt, BridgeFourConfig, BridgeFourMsg, BridgeFourTimer, JobStatus, TaskStatus, WorkerView,
};
use highstorm_nodes::{Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, WorkId};
use std::collections::{BTreeMap, BTreeSet};

mod journal;
mod liveness;
mod progress;
mod scheduling;
mod views;

use journal::{job_key, JobRecord, TaskRecord};
use views::{no_such_job, view};

type Cx<'a> = Ctx<'a, super::BridgeFour>;

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
    /// Why the leader stopped, once a storage error stopped it (see `journal.rs`).
    halted: Option<String>,
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
            halted: None,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.worker_timeout_ms)
    }

    pub(super) fn on_init(&mut self, ctx: &mut Cx<'_>) {
        self.boot = ctx.boot();
        self.recover(ctx);
        if self.halted.is_some() {
            return;
        }
        ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms),
            BridgeFourTimer::Check,
        );
    }

    pub(super) fn on_message(&mut self, ctx: &mut Cx<'_>, msg: Message<BridgeFourMsg>) {
        if let Some(why) = &self.halted {
            if msg.msg_id.is_some() && msg.in_reply_to.is_none() {
                let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, why.clone());
                ctx.reply_error(&msg, e);
            }
            return;
        }
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
                if self.journal_sync(ctx) {
                    ctx.reply(&msg, BridgeFourMsg::TaskDoneOk { attempt });
                }
            }
            // Replies and worker-bound messages are not for the leader.
            _ => {}
        }
        self.journal_sync(ctx);
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
        ctx.note_typed(&BridgeFourNote::JobAccepted {
            job: id,
            name: rec.name.clone(),
            tasks: n,
        });
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
        if !self.journal_sync(ctx) {
            let why = self.halted.clone().unwrap_or_default();
            ctx.reply_error(msg, ErrorBody::new(ErrorCode::Crash, why));
            return;
        }
        ctx.reply(msg, BridgeFourMsg::SubmitJobOk { id });
        self.schedule(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        BridgeFour, BridgeFourConfig, BridgeFourMsg, JobView, TaskOutput, TaskStatus,
    };
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

    fn notes(h: &Harness<BridgeFour>, which: fn(&BridgeFourNote) -> bool) -> usize {
        h.notes::<BridgeFourNote>()
            .iter()
            .filter(|n| which(n))
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
        assert_eq!(
            notes(&h, |n| matches!(n, BridgeFourNote::StaleOutput { .. })),
            1
        );
        assert_eq!(status(&mut h).tasks[0].status, TaskStatus::InProgress);
        done(&mut h, &w2, 51, a2);
        let job = status(&mut h);
        assert_eq!((job.tasks[0].status, job.done), (TaskStatus::Done, 1));
        assert_eq!(
            notes(&h, |n| matches!(n, BridgeFourNote::OutputAccepted { .. })),
            1
        );
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
