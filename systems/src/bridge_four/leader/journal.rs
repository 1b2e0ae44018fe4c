//! The leader's journal: what it keeps in durable storage, and how a restarted leader
//! rebuilds its jobs and tasks from it.

use super::{Cx, Job, Leader, Task, WorkerInfo};
use crate::bridge_four::{BridgeFourNote, JobStatus, TaskOutput, TaskStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A job as journalled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct JobRecord {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) inputs: Vec<String>,
    pub(super) output: String,
    #[serde(default)]
    pub(super) token: Option<String>,
    #[serde(default)]
    pub(super) result: Option<JobResult>,
}

/// Where a finished job's result is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct JobResult {
    pub(super) result: String,
    pub(super) words: u64,
    pub(super) distinct: u64,
}

/// A task as journalled.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct TaskRecord {
    pub(super) status: Option<TaskStatus>,
    pub(super) attempt: u32,
    pub(super) worker: Option<String>,
    pub(super) worker_boot: u64,
    pub(super) seq: (u64, u64),
    pub(super) output: Option<TaskOutput>,
    /// Outputs counted besides `output` (only the planted `unfenced` bug adds any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) extra: Vec<TaskOutput>,
    pub(super) reason: Option<String>,
}

pub(super) fn job_key(id: u64) -> String {
    format!("job/{id:010}")
}

pub(super) fn task_key(job: u64, task: u32) -> String {
    format!("task/{job:010}/{task:06}")
}

impl Leader {
    /// Syncs the journal; whether it succeeded. A failed sync stops the leader (fail-stop, as
    /// databases stop on a failed fsync): what the sync covered may or may not be on disk, so
    /// the leader must neither acknowledge nor assign it, and a later sync would not retry it.
    /// A restart recovers from what the journal holds.
    pub(super) fn journal_sync(&mut self, ctx: &mut Cx<'_>) -> bool {
        if self.halted.is_some() {
            return false;
        }
        match ctx.sync() {
            Ok(()) => true,
            Err(e) => {
                self.halt(ctx, None, e.to_string());
                false
            }
        }
    }

    /// Stops the leader on a storage error, noting why.
    pub(super) fn halt(&mut self, ctx: &mut Cx<'_>, record: Option<String>, error: String) {
        let why = match &record {
            Some(r) => format!("leader {} stopped: {error} (record `{r}`)", ctx.id()),
            None => format!("leader {} stopped: {error}", ctx.id()),
        };
        ctx.note_typed(&BridgeFourNote::StorageHalted { record, error });
        self.halted = Some(why);
    }

    /// Rebuilds jobs and tasks from the journal. Tasks that were running are `Missing` until
    /// their worker vouches for them (or is found dead).
    pub(super) fn recover(&mut self, ctx: &mut Cx<'_>) {
        let mut jobs: Vec<JobRecord> = vec![];
        let mut tasks: BTreeMap<(u64, u32), TaskRecord> = BTreeMap::new();
        let mut broken = 0u64;
        let mut damaged = None;
        for (key, bytes) in ctx.storage().iter() {
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    damaged.get_or_insert(e);
                    continue;
                }
            };
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
        if let Some(e) = damaged {
            // Recovering without it would forget what it held (an accepted job, a task's
            // progress) and hand its ids out again: stop, naming it.
            let record = e.key().to_owned();
            return self.halt(ctx, Some(record), e.to_string());
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
        ctx.sometimes(
            crate::bridge_four::points::LEADER_RECOVERED_JOBS,
            !self.jobs.is_empty(),
        );
        ctx.note_typed(&BridgeFourNote::Recovered {
            jobs: self.jobs.len() as u64,
            running: resumed,
            unreadable: broken,
        });
    }
}
