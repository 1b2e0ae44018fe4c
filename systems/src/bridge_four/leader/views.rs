//! What clients see: job lists and statuses, the cluster, and a job's result once it is
//! `Done`.

use super::{Cx, Job, Leader};
use crate::bridge_four::{AssignmentStatus, BridgeFourMsg, BridgeFourNote, JobStatus, JobView};
use crate::bridge_four::{TaskStatus, TaskView};
use highstorm_nodes::{ErrorBody, ErrorCode, Message};

/// Per-task detail is listed for at most this many tasks of a job (messages stay small).
const TASKS_LISTED: usize = 200;

impl Leader {
    pub(super) fn data(&mut self, ctx: &mut Cx<'_>, msg: &Message<BridgeFourMsg>, id: u64) {
        let Some(job) = self.jobs.get(&id) else {
            return no_such_job(ctx, msg, id);
        };
        match (&job.rec.result, job.status) {
            (Some(r), JobStatus::Done) => {
                ctx.note_typed(&BridgeFourNote::ServeData { job: id });
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
}

pub(super) fn assignment(job: &Job) -> AssignmentStatus {
    if job.assigned == 0 {
        AssignmentStatus::NotAssigned
    } else if job.assigned < job.tasks.len() as u32 {
        AssignmentStatus::PartiallyAssigned
    } else {
        AssignmentStatus::FullyAssigned
    }
}

pub(super) fn errors(job: &Job) -> Vec<String> {
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

pub(super) fn view(job: &Job, detail: bool) -> JobView {
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

pub(super) fn no_such_job(ctx: &mut Cx<'_>, msg: &Message<BridgeFourMsg>, id: u64) {
    let e = ErrorBody::new(ErrorCode::KeyDoesNotExist, format!("no job {id}"));
    ctx.reply_error(msg, e);
}
