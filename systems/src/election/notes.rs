//! What election nodes note in the trace: the contract between both variants' nodes and the
//! checkers (`check.rs` reads these back with the same type).
//!
//! Both variants write the same kinds. Fields only one variant has are optional and left out
//! of the trace when absent: the default variant has terms and leases, the naive one ranks.

use super::Attempt;
use highstorm_nodes::TypedNote;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One note of an election node; its kind in the trace is the variant's kebab-case name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum ElectionNote {
    /// The node stands for election.
    Candidate {
        /// The term it stands in (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
        /// Its rank (naive variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rank: Option<i64>,
    },
    /// The node claims leadership.
    Leader {
        /// Its term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
        /// Where its lease ends, on its own clock, in µs (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease_until_us: Option<u64>,
        /// Its rank (naive variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rank: Option<i64>,
    },
    /// The leader's lease was extended (default variant).
    Lease {
        /// Its term.
        term: u64,
        /// Where the lease ends now, on its own clock, in µs.
        until_us: u64,
    },
    /// The node gave up leadership.
    StepDown {
        /// The term it led (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
        /// Why (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The higher-ranked node it yields to (naive variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// The leader counts a node as a worker now.
    WorkerJoined {
        /// The worker.
        worker: String,
        /// The leader's term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
    },
    /// The leader stopped hearing from a worker.
    WorkerLost {
        /// The worker.
        worker: String,
        /// The leader's term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
    },
    /// An assigned item was not done in time: it is assigned again.
    WorkTimeout {
        /// The item.
        item: String,
        /// The worker it was assigned to.
        worker: String,
        /// That assignment's attempt.
        attempt: Attempt,
        /// The leader's term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
    },
    /// The leader assigned an item to a worker.
    Assign {
        /// The item.
        item: String,
        /// The worker.
        worker: String,
        /// The leader's term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
        /// The attempt.
        attempt: Attempt,
    },
    /// An item's result counts as recorded (default variant: a majority holds it).
    ResultRecorded {
        /// The item.
        item: String,
        /// The worker that did it.
        worker: String,
        /// Its attempt.
        attempt: Attempt,
        /// The recording leader's term (default variant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
    },
    /// A restarted node holds every recorded item again and may vote and stand (default
    /// variant).
    Recovered {
        /// Where the table came from.
        from: RecoveredFrom,
        /// The node's term now.
        term: u64,
    },
    /// A restarted node found its vote record damaged: it stays out of elections until it
    /// learned the current term (default variant).
    VoteRecordDamaged {
        /// The record.
        record: String,
        /// What is wrong with it.
        error: String,
    },
    /// A restarted node found an item record of its table damaged: it recovers as if its disk
    /// were empty (default variant).
    TableRecordDamaged {
        /// The record.
        record: String,
        /// What is wrong with it.
        error: String,
    },
    /// The sync of the table's changes failed: the node acknowledges none of them until a later
    /// sync writes them again (default variant).
    TableNotSynced {
        /// How many items were staged.
        items: u64,
        /// The sync's error.
        error: String,
    },
    /// A node denied a vote because the sync of its vote record failed (default variant).
    VoteNotRecorded {
        /// The vote's term.
        term: u64,
        /// The sync's error.
        error: String,
    },
    /// A node that abstained rewrote its vote record and takes part in elections again
    /// (default variant).
    VoteRecordRewritten {
        /// The term it learned.
        term: u64,
    },
    /// A worker refused an assignment from an older term (default variant).
    AssignRefused {
        /// The item.
        item: String,
        /// The assignment's term.
        term: u64,
        /// The worker's term.
        current: u64,
        /// The leader that sent it.
        from: String,
    },
}

impl TypedNote for ElectionNote {}

/// Where a restarted node recovered its table from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecoveredFrom {
    /// A leader's heartbeat.
    Leader(String),
    /// Enough peers that any majority holding a recorded item includes one of them.
    Peers(BTreeSet<String>),
    /// Its own disk: every item record was sound.
    Disk {
        /// How many items it read back.
        disk_items: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::Note;
    use serde_json::json;

    /// Each note reads as it did when the nodes wrote it with `json!`, and back.
    #[test]
    fn notes_keep_their_trace_text_and_read_back() {
        let cases = [
            (
                ElectionNote::Leader {
                    term: Some(4),
                    lease_until_us: Some(900),
                    rank: None,
                },
                "leader",
                json!({"term": 4, "lease_until_us": 900}),
            ),
            (
                ElectionNote::Leader {
                    term: None,
                    lease_until_us: None,
                    rank: Some(-3),
                },
                "leader",
                json!({"rank": -3}),
            ),
            (
                ElectionNote::StepDown {
                    term: None,
                    reason: None,
                    to: Some("n2".into()),
                },
                "step-down",
                json!({"to": "n2"}),
            ),
            (
                ElectionNote::ResultRecorded {
                    item: "x".into(),
                    worker: "n1".into(),
                    attempt: Attempt(2, 5),
                    term: Some(2),
                },
                "result-recorded",
                json!({"item": "x", "worker": "n1", "attempt": [2, 5], "term": 2}),
            ),
            (
                ElectionNote::Recovered {
                    from: RecoveredFrom::Leader("n0".into()),
                    term: 3,
                },
                "recovered",
                json!({"from": "n0", "term": 3}),
            ),
            (
                ElectionNote::Recovered {
                    from: RecoveredFrom::Peers(["n0".to_owned(), "n2".to_owned()].into()),
                    term: 3,
                },
                "recovered",
                json!({"from": ["n0", "n2"], "term": 3}),
            ),
            (
                ElectionNote::Recovered {
                    from: RecoveredFrom::Disk { disk_items: 12 },
                    term: 3,
                },
                "recovered",
                json!({"from": {"disk_items": 12}, "term": 3}),
            ),
            (
                ElectionNote::TableRecordDamaged {
                    record: "election/item/c0-1".into(),
                    error: "torn".into(),
                },
                "table-record-damaged",
                json!({"record": "election/item/c0-1", "error": "torn"}),
            ),
        ];
        for (note, kind, data) in cases {
            let written = Note::typed(&note);
            assert_eq!((written.kind.as_str(), &written.data), (kind, &data));
            assert_eq!(written.decode::<ElectionNote>(), Some(Ok(note)));
        }
    }
}
