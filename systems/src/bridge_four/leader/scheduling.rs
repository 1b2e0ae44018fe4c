//! Scheduling: ready tasks go greedily to the live worker with the most free slots.

use super::{Cx, Leader};
use crate::bridge_four::{Attempt, BridgeFourMsg, TaskStatus};

impl Leader {
    /// Assigns ready tasks greedily to the live worker with the most free slots.
    pub(super) fn schedule(&mut self, ctx: &mut Cx<'_>) {
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
                if !self.journal_sync(ctx) {
                    return;
                }
                if let Some(assign) = self.assign_msg(job, t) {
                    ctx.send(&worker, assign);
                }
            }
        }
    }

    /// The assignment of task `t`'s current attempt.
    pub(super) fn assign_msg(&self, job: u64, t: u32) -> Option<BridgeFourMsg> {
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
}
