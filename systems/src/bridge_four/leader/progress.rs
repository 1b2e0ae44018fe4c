//! How tasks and jobs progress: workers' reports (attempt fencing), the one function a
//! task's status changes through, and aggregation once every task is final.

use super::journal::{job_key, task_key, JobResult};
use super::views::{assignment, errors};
use super::{Cx, Job, Leader};
use crate::bridge_four::{Attempt, BridgeFourNote, IllegalMove, JobStatus, TaskOutput, TaskStatus};
use highstorm_nodes::{WorkId, WorkResult};

impl Leader {
    pub(super) fn task_done(
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
            let worker = worker.to_owned();
            ctx.note_typed(&BridgeFourNote::UnknownReport { attempt, worker });
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
                    ctx.note_typed(&BridgeFourNote::OutputAccepted { attempt });
                }
            }
            return;
        }
        if current && status.is_final() {
            // A resent report of what is already recorded.
            return;
        }
        if (!current && !self.unfenced) || status.is_final() {
            ctx.reachable(crate::bridge_four::points::STALE_OUTPUT_FENCED);
            ctx.note_typed(&BridgeFourNote::StaleOutput {
                attempt,
                current: task.rec.attempt,
                worker: worker.to_owned(),
                status,
            });
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
                    ctx.note_typed(&BridgeFourNote::OutputAccepted { attempt });
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
    pub(super) fn set_task(
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
            let refused = IllegalMove::Task {
                job: job_id,
                task: t,
                from,
                to,
            };
            ctx.note_typed(&BridgeFourNote::IllegalTransition(refused));
            return false;
        }
        task.status = to;
        task.rec.status = Some(to);
        if to == TaskStatus::Error {
            task.rec.reason = reason.map(str::to_owned);
        }
        ctx.put_json(&task_key(job_id, t), &task.rec);
        ctx.note_typed(&BridgeFourNote::Task {
            job: job_id,
            task: t,
            from,
            to,
            attempt: task.rec.attempt,
            worker: task.rec.worker.clone(),
            reason: reason.map(str::to_owned),
        });
        match to {
            TaskStatus::Done => job.done += 1,
            TaskStatus::Error => job.failed += 1,
            _ => {}
        }
        if from == TaskStatus::NotStarted {
            job.assigned += 1;
            if job.assigned == 1 || job.assigned == job.tasks.len() as u32 {
                let assignment = assignment(job);
                ctx.note_typed(&BridgeFourNote::Assignment {
                    job: job_id,
                    status: assignment,
                });
            }
        }
        if job.status == JobStatus::NotStarted && to == TaskStatus::InProgress {
            set_job(ctx, job, JobStatus::InProgress);
        }
        true
    }

    /// When every task is final: aggregate (all done) or fail the job (some failed).
    pub(super) fn maybe_finish(&mut self, ctx: &mut Cx<'_>, id: u64) {
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
            ctx.note_typed(&BridgeFourNote::JobFailed {
                job: id,
                errors: errors(job),
            });
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
            "result": super::super::paths::result_path(&job.rec.output),
        });
        job.aggregating = true;
        let work = ctx.spawn_work("aggregate", input);
        self.aggregations.insert(work, id);
    }

    pub(in crate::bridge_four) fn on_work_done(
        &mut self,
        ctx: &mut Cx<'_>,
        work: WorkId,
        result: WorkResult,
    ) {
        let Some(id) = self.aggregations.remove(&work) else {
            return;
        };
        if self.halted.is_some() {
            return;
        }
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
                ctx.note_typed(&BridgeFourNote::AggregateFailed { job: id, error: e });
                set_job(ctx, job, JobStatus::Error);
            }
        }
        self.journal_sync(ctx);
    }
}

fn set_job(ctx: &mut Cx<'_>, job: &mut Job, to: JobStatus) {
    if job.status == to {
        return;
    }
    if !job.status.can_become(to) {
        let refused = IllegalMove::Job {
            job: job.rec.id,
            from: job.status,
            to,
        };
        ctx.note_typed(&BridgeFourNote::IllegalTransition(refused));
        return;
    }
    ctx.note_typed(&BridgeFourNote::Job {
        job: job.rec.id,
        from: job.status,
        to,
    });
    job.status = to;
}
