//! Failure detection: worker heartbeats, reconciliation of what a worker runs with what the
//! leader assigned it, and workers declared dead (their tasks halt and are assigned again).

use super::{Cx, Leader, WorkerInfo};
use crate::bridge_four::{Attempt, BridgeFourNote, BridgeFourTimer, TaskStatus};
use highstorm_nodes::Duration;
use std::collections::BTreeSet;

impl Leader {
    pub(in crate::bridge_four) fn on_timer(&mut self, ctx: &mut Cx<'_>, timer: BridgeFourTimer) {
        if self.halted.is_some() {
            return;
        }
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
                ctx.reachable(crate::bridge_four::points::WORKER_LOST);
                ctx.note_typed(&BridgeFourNote::WorkerLost { worker: id.clone() });
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
            self.journal_sync(ctx);
        }
    }

    pub(super) fn heartbeat(
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
            let worker = worker.to_owned();
            ctx.note_typed(&if known {
                BridgeFourNote::WorkerBack {
                    worker,
                    slots,
                    boot,
                }
            } else {
                BridgeFourNote::WorkerJoined {
                    worker,
                    slots,
                    boot,
                }
            });
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
}
