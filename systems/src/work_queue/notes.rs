//! What the work-queue manager notes in the trace: the contract between it and the checkers
//! (`check.rs` reads these back with the same type).

use highstorm_nodes::TypedNote;
use serde::{Deserialize, Serialize};

/// One note of the manager; its kind in the trace is the variant's kebab-case name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum WorkQueueNote {
    /// A journalled job record did not decode (after a restart).
    UnreadableRecord {
        /// Its storage key.
        key: String,
    },
    /// A sync of the journal failed: the records it covered are rewritten and synced again
    /// before anything about them is acknowledged.
    SyncFailed {
        /// The error.
        error: String,
    },
    /// The manager stopped: a journal record is damaged (torn or corrupted). Starting
    /// without it would forget an accepted job and hand its id out again.
    StorageHalted {
        /// The damaged record.
        record: String,
        /// What is wrong with it.
        error: String,
    },
    /// A restarted manager rebuilt its queue from the journal.
    Recovered {
        /// Jobs recovered.
        jobs: u64,
    },
    /// A job was journalled and is about to be acknowledged.
    Queued {
        /// The job.
        id: u64,
    },
    /// A worker reserved a job.
    Reserved {
        /// The job.
        id: u64,
        /// The reservation's number (the job's reserve count).
        reservation: u32,
        /// The worker.
        worker: String,
    },
    /// A completion was recorded.
    Completed {
        /// The job.
        id: u64,
        /// The reservation it came under.
        reservation: u32,
        /// The result recorded.
        result: String,
    },
    /// A completion under a reservation that is not the job's current one was fenced off.
    StaleCompletion {
        /// The job.
        id: u64,
        /// The reservation it came under.
        reservation: u32,
        /// The worker.
        worker: String,
    },
    /// A reservation's time to run ran out: the job is queued again.
    TtrExpired {
        /// The job.
        id: u64,
        /// The reservation that expired.
        reservation: u32,
    },
}

impl TypedNote for WorkQueueNote {}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::Note;
    use serde_json::json;

    /// Each note reads as it did when the manager wrote it with `json!`, and back.
    #[test]
    fn notes_keep_their_trace_text_and_read_back() {
        let cases = [
            (
                WorkQueueNote::Completed {
                    id: 4,
                    reservation: 2,
                    result: "ab".into(),
                },
                "completed",
                json!({"id": 4, "reservation": 2, "result": "ab"}),
            ),
            (
                WorkQueueNote::TtrExpired {
                    id: 4,
                    reservation: 1,
                },
                "ttr-expired",
                json!({"id": 4, "reservation": 1}),
            ),
            (
                WorkQueueNote::UnreadableRecord {
                    key: "job/x".into(),
                },
                "unreadable-record",
                json!({"key": "job/x"}),
            ),
        ];
        for (note, kind, data) in cases {
            let written = Note::typed(&note);
            assert_eq!((written.kind.as_str(), &written.data), (kind, &data));
            assert_eq!(written.decode::<WorkQueueNote>(), Some(Ok(note)));
        }
    }
}
