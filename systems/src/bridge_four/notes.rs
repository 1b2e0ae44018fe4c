//! What the Bridge Four leader notes in the trace: the contract between it and the checkers
//! (`check.rs` reads these back with the same type).

use super::{AssignmentStatus, Attempt, JobStatus, TaskStatus};
use highstorm_nodes::TypedNote;
use serde::{Deserialize, Serialize};

/// One note of the Bridge Four leader; its kind in the trace is the variant's kebab-case name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum BridgeFourNote {
    /// A restarted leader rebuilt its state from the journal.
    Recovered {
        /// Jobs recovered.
        jobs: u64,
        /// Tasks that were running, now waiting for their workers to vouch.
        running: u64,
        /// Journal entries that did not decode.
        unreadable: u64,
    },
    /// A job was journalled and is about to be acknowledged.
    JobAccepted {
        /// The job.
        job: u64,
        /// Its name.
        name: String,
        /// Its number of tasks (one per input).
        tasks: u32,
    },
    /// A job's result was served to a client.
    ServeData {
        /// The job.
        job: u64,
    },
    /// The leader stopped on a storage error: a sync failed (what it covered may or may not be
    /// on disk, so the leader neither acknowledges nor assigns it) or a journal record is
    /// damaged. It answers nothing until restarted; a restart recovers from the journal (and
    /// stops again while a record stays damaged).
    StorageHalted {
        /// The damaged record, when a record is the cause.
        record: Option<String>,
        /// What failed.
        error: String,
    },
    /// A worker was not heard from within the timeout: its tasks halt.
    WorkerLost {
        /// The worker.
        worker: String,
    },
    /// A worker heartbeat for the first time.
    WorkerJoined {
        /// The worker.
        worker: String,
        /// Its slots.
        slots: u32,
        /// Its incarnation.
        boot: u64,
    },
    /// A worker declared lost heartbeat again.
    WorkerBack {
        /// The worker.
        worker: String,
        /// Its slots.
        slots: u32,
        /// Its incarnation.
        boot: u64,
    },
    /// A worker reported on a task of a job the leader does not know.
    UnknownReport {
        /// The attempt reported.
        attempt: Attempt,
        /// The worker.
        worker: String,
    },
    /// A task's output was counted.
    OutputAccepted {
        /// The attempt whose output it is.
        attempt: Attempt,
    },
    /// A report from an attempt that is not the task's current one, or of a final task, was
    /// fenced off.
    StaleOutput {
        /// The attempt reported.
        attempt: Attempt,
        /// The task's current attempt.
        current: u32,
        /// The worker.
        worker: String,
        /// The task's status.
        status: TaskStatus,
    },
    /// The leader refused a status change its transition table forbids.
    IllegalTransition(IllegalMove),
    /// A task's status changed.
    Task {
        /// The job.
        job: u64,
        /// The task.
        task: u32,
        /// Its status before.
        from: TaskStatus,
        /// Its status now.
        to: TaskStatus,
        /// Its current attempt.
        attempt: u32,
        /// The worker of that attempt.
        worker: Option<String>,
        /// Why, for halts, errors and restarts.
        reason: Option<String>,
    },
    /// A job's first or last task left `NotStarted`.
    Assignment {
        /// The job.
        job: u64,
        /// How much of it is assigned now.
        status: AssignmentStatus,
    },
    /// Every task of a job is final and some failed.
    JobFailed {
        /// The job.
        job: u64,
        /// What failed, task by task.
        errors: Vec<String>,
    },
    /// Aggregating a job's outputs failed.
    AggregateFailed {
        /// The job.
        job: u64,
        /// Why.
        error: String,
    },
    /// A job's status changed.
    Job {
        /// The job.
        job: u64,
        /// Its status before.
        from: JobStatus,
        /// Its status now.
        to: JobStatus,
    },
}

impl TypedNote for BridgeFourNote {}

/// A status change the transition tables refuse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IllegalMove {
    /// Of a task.
    Task {
        /// The job.
        job: u64,
        /// The task.
        task: u32,
        /// Its status.
        from: TaskStatus,
        /// The status refused.
        to: TaskStatus,
    },
    /// Of a job.
    Job {
        /// The job.
        job: u64,
        /// Its status.
        from: JobStatus,
        /// The status refused.
        to: JobStatus,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::Note;
    use serde_json::json;

    /// Each note reads as it did when the leader wrote it with `json!`, and back.
    #[test]
    fn notes_keep_their_trace_text_and_read_back() {
        let attempt = Attempt {
            job: 1,
            task: 2,
            attempt: 3,
        };
        let cases = [
            (
                BridgeFourNote::Task {
                    job: 1,
                    task: 2,
                    from: TaskStatus::InProgress,
                    to: TaskStatus::Halted,
                    attempt: 3,
                    worker: Some("n2".into()),
                    reason: None,
                },
                "task",
                json!({"job": 1, "task": 2, "from": "InProgress", "to": "Halted",
                       "attempt": 3, "worker": "n2", "reason": null}),
            ),
            (
                BridgeFourNote::IllegalTransition(IllegalMove::Task {
                    job: 1,
                    task: 0,
                    from: TaskStatus::Done,
                    to: TaskStatus::InProgress,
                }),
                "illegal-transition",
                json!({"job": 1, "task": 0, "from": "Done", "to": "InProgress"}),
            ),
            (
                BridgeFourNote::IllegalTransition(IllegalMove::Job {
                    job: 1,
                    from: JobStatus::Done,
                    to: JobStatus::Error,
                }),
                "illegal-transition",
                json!({"job": 1, "from": "Done", "to": "Error"}),
            ),
            (
                BridgeFourNote::StaleOutput {
                    attempt,
                    current: 4,
                    worker: "n1".into(),
                    status: TaskStatus::Done,
                },
                "stale-output",
                json!({"attempt": {"job": 1, "task": 2, "attempt": 3}, "current": 4,
                       "worker": "n1", "status": "Done"}),
            ),
            (
                BridgeFourNote::Assignment {
                    job: 7,
                    status: AssignmentStatus::FullyAssigned,
                },
                "assignment",
                json!({"job": 7, "status": "FullyAssigned"}),
            ),
        ];
        for (note, kind, data) in cases {
            let written = Note::typed(&note);
            assert_eq!((written.kind.as_str(), &written.data), (kind, &data));
            assert_eq!(written.decode::<BridgeFourNote>(), Some(Ok(note)));
        }
    }
}
