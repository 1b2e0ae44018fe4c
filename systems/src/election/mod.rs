//! Scrap Worker: an elected coordinator that distributes work items to the other nodes.
//!
//! Two variants share one message set and one client API (`submit` an item, ask for `status`):
//!
//! - [`Election`] (the default) is correct under partitions, crashes, pauses and clock skew
//!   within a stated bound: terms owned by one candidate each, a majority of votes, leader
//!   leases that are valid only while a majority promised not to vote for anybody else, and a
//!   work table replicated to a majority before a result counts as recorded.
//! - [`NaiveElection`] is the source's protocol, faithfully: ranks, candidacies, a countdown,
//!   no terms and no quorum, so partitions and pauses give two leaders at once.
//!
//! Nodes note what the checkers need as [`ElectionNote`]s: `leader`, `lease`, `step-down`,
//! `assign`, `assign-refused`, `work-timeout`, `result-recorded`, `worker-joined`,
//! `worker-lost`.

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
mod system;
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

mod leased;
mod naive;
mod notes;

/// The sometimes-points its nodes mark: a sweep reports how often each held, and which never did.
pub mod points {
    /// A node became leader.
    pub const LEADER_ELECTED: &str = "leader-elected";
    /// A leader was elected in a term after the first (an election after a failure).
    pub const LEADER_AFTER_FIRST_TERM: &str = "leader-after-first-term";
    /// A leader stepped down.
    pub const STEPPED_DOWN: &str = "leader-stepped-down";
    /// An assigned item timed out and was reassigned.
    pub const WORK_TIMED_OUT: &str = "work-timed-out";
    /// A restarted node recovered its table from the leader.
    pub const RECOVERED_FROM_LEADER: &str = "recovered-from-leader";
    /// A restarted node read its whole table back from its disk.
    pub const RECOVERED_FROM_DISK: &str = "recovered-from-disk";
    /// A worker refused an assignment of an older term.
    pub const STALE_ASSIGN_REFUSED: &str = "stale-assign-refused";
    /// Every point, declared with the system.
    pub const ALL: &[&str] = &[
        LEADER_ELECTED,
        LEADER_AFTER_FIRST_TERM,
        STEPPED_DOWN,
        WORK_TIMED_OUT,
        RECOVERED_FROM_LEADER,
        RECOVERED_FROM_DISK,
        STALE_ASSIGN_REFUSED,
    ];
}

pub use leased::Election;
pub use naive::NaiveElection;
pub use notes::{ElectionNote, RecoveredFrom};

use highstorm_nodes::{ConfigProblem, Duration, SystemConfig, MAX_PERIOD_MS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The election's messages: the client API, the default variant's protocol, the naive
/// variant's protocol and the work distribution both share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ElectionMsg {
    /// Client: get this item done. Answered once the item is safely recorded as submitted.
    Submit {
        /// The item's id, unique per submission.
        item: String,
        /// Set when a node passes a client's request on to its leader (not passed on again).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        forwarded: bool,
    },
    /// The item is accepted and will be done.
    SubmitOk,
    /// Client (and the real-mode test): who leads, as this node sees it?
    Status,
    /// This node's view.
    StatusOk {
        /// `leader`, `candidate`, `follower` (default variant); `member`, `voter` (naive).
        role: String,
        /// This node's term (0 in the naive variant).
        term: u64,
        /// The leader it follows, if it knows one.
        leader: Option<String>,
    },
    /// Default: before standing, a node asks whether its peers would vote at all (they are
    /// not bound by a promise and hold a complete table); nothing changes at the receiver.
    PreVote,
    /// Default: the answer to a `pre_vote`, with the answering node's term.
    PreVoteReply {
        /// The answering node's term.
        term: u64,
        /// Whether it would vote now.
        granted: bool,
    },
    /// Default: a candidate asks for a vote in `term`.
    RequestVote {
        /// The candidate's term.
        term: u64,
    },
    /// Default: the answer to a `request_vote`; a granted vote carries the voter's table.
    Vote {
        /// The voter's term.
        term: u64,
        /// Whether the vote is granted.
        granted: bool,
        /// The voter's work table (granted votes only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<Table>,
    },
    /// Default: the leader's heartbeat: it renews its lease and carries the table entries
    /// changed since version `base` (0: the whole table) up to `version`.
    Heartbeat {
        /// The leader's term.
        term: u64,
        /// The heartbeat round.
        round: u64,
        /// The version the entries start after.
        base: u64,
        /// The table version this heartbeat brings the follower to.
        version: u64,
        /// The changed entries.
        entries: Table,
    },
    /// Default: a heartbeat's answer.
    HeartbeatOk {
        /// The follower's term.
        term: u64,
        /// The round answered.
        round: u64,
        /// The table version the follower holds from this leader.
        holds: u64,
        /// False when the heartbeat came from a stale term.
        ok: bool,
    },
    /// Default: a restarted node asks for the table and term it lost.
    SyncRequest,
    /// Default: a node's table and term, for a restarted node.
    SyncReply {
        /// The answering node's term.
        term: u64,
        /// Whether the answering node itself holds a complete table.
        recovered: bool,
        /// Its table.
        table: Table,
    },
    /// A leader asks a worker to do an item.
    Assign {
        /// The leader's term (0 in the naive variant).
        term: u64,
        /// The item.
        item: String,
        /// This attempt's id.
        attempt: Attempt,
    },
    /// Default: the worker refuses an assignment from a deposed leader.
    AssignRefused {
        /// The worker's term.
        term: u64,
        /// The item.
        item: String,
    },
    /// A worker finished an item.
    WorkDone {
        /// The term of the assignment.
        term: u64,
        /// The item.
        item: String,
        /// The attempt.
        attempt: Attempt,
    },
    /// Naive: a candidacy with the candidate's rank.
    Candidacy {
        /// The candidate's rank (higher wins).
        rank: i64,
    },
    /// Naive: a voter backs a candidate.
    Backing,
    /// Naive: the last candidate's acceptance countdown.
    Countdown {
        /// The candidate's rank.
        rank: i64,
        /// Steps left; 0 means the candidate is leader.
        count: u32,
    },
    /// Naive: the leader's heartbeat.
    LeaderAlive {
        /// The leader's rank.
        rank: i64,
    },
    /// Naive: a member answers the leader's heartbeat (how the leader finds its workers).
    MemberAlive,
}

/// Identifies one attempt at an item: the assigning leader's term and a sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Attempt(pub u64, pub u64);

/// The recorded result of an item: which attempt did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The worker that did it.
    pub worker: String,
    /// The attempt.
    pub attempt: Attempt,
    /// The term of the latest leader that proposed this result to its followers: the leader
    /// that accepted it from the worker, and every later leader that took it over (a new
    /// leader restamps every result it holds with its own term when it wins). Like a Paxos
    /// ballot, it orders the results a majority of tables may hold for one item.
    pub term: u64,
    /// Whether a majority is known to have held it (so it is noted as recorded).
    pub committed: bool,
}

/// The work table: every submitted item and, once done, its result.
pub type Table = BTreeMap<String, Option<Record>>;

/// Merges `other` into `table`: items are never forgotten, a result beats none, a committed
/// result is never replaced by a different one, and otherwise of two results the one
/// proposed in the higher term wins. Returns whether `table` changed.
///
/// Why the higher term is right (Paxos' phase 1): a record's term is the term of the latest
/// leader that proposed it (see [`Record::term`]), and a result is committed only once a
/// majority holds it in the committing leader's term. Every later leader merges the tables
/// of a majority, which holds that result in that term or a later one, and a leader proposes
/// one result per item in its term, so the result of the highest term it sees is the
/// committed one. Without the restamp, a leader could commit an older term's result while a
/// later term's different result (never committed) sat on other nodes, and the next leader
/// would prefer that one (`docs/findings/election-item-recorded-twice.toml`).
pub fn merge(table: &mut Table, other: &Table) -> bool {
    let mut changed = false;
    for (item, theirs) in other {
        let mine = table.entry(item.clone()).or_insert_with(|| {
            changed = true;
            None
        });
        match (mine.as_mut(), theirs) {
            (_, None) => {}
            (None, Some(r)) => {
                *mine = Some(r.clone());
                changed = true;
            }
            // The same result: keep the later term, and that it is committed if either says so.
            (Some(m), Some(r)) if r.attempt == m.attempt && r.worker == m.worker => {
                if r.term > m.term {
                    m.term = r.term;
                    changed = true;
                }
                if r.committed && !m.committed {
                    m.committed = true;
                    changed = true;
                }
            }
            // Different results: a committed one is final, whatever its term; otherwise the
            // one proposed in the later term wins.
            (Some(m), Some(r)) => {
                if !m.committed && (r.committed || r.term > m.term) {
                    *m = r.clone();
                    changed = true;
                }
            }
        }
    }
    changed
}

/// The election's parameters (the scenario's `[config]`), in milliseconds.
///
/// Safety of the default variant's leases rests on one assumption about clocks, stated here:
/// every node's clock runs at a rate within `1 ± max_drift` of true time, and within any
/// promise window its steps add up to at most `max_clock_step_ms` either way. Scenarios must
/// keep their skew and drift within these bounds (the nemesis' `skew` kind steps by up to 1 s
/// and drifts by up to 5%, which the defaults cover).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElectionConfig {
    /// How often the leader sends heartbeats.
    pub heartbeat_ms: u64,
    /// How long a leader's lease lasts on its own clock, from the heartbeat round a majority
    /// answered.
    pub lease_ms: u64,
    /// The assumed bound on clock rate error (0.05: 5% fast or slow).
    pub max_drift: f64,
    /// The assumed bound on clock steps within one promise window.
    pub max_clock_step_ms: u64,
    /// Extra random wait before standing as candidate, lower bound.
    pub election_min_ms: u64,
    /// Extra random wait before standing as candidate, upper bound.
    pub election_max_ms: u64,
    /// How long an item takes a worker, lower bound.
    pub work_min_ms: u64,
    /// How long an item takes a worker, upper bound.
    pub work_max_ms: u64,
    /// How long a leader waits for an assigned item before reassigning it.
    pub work_timeout_ms: u64,
    /// How long without an answer to heartbeats before a worker counts as lost.
    pub worker_timeout_ms: u64,
    /// How long a node waits for its leader when it passes a client's submit on.
    pub forward_timeout_ms: u64,
    /// Naive: how long a member waits for a leader before standing.
    pub member_timeout_ms: u64,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            heartbeat_ms: 100,
            lease_ms: 600,
            max_drift: 0.05,
            max_clock_step_ms: 1000,
            election_min_ms: 150,
            election_max_ms: 400,
            work_min_ms: 100,
            work_max_ms: 300,
            work_timeout_ms: 1500,
            worker_timeout_ms: 500,
            forward_timeout_ms: 400,
            member_timeout_ms: 800,
        }
    }
}

impl SystemConfig for ElectionConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        for (key, ms) in [
            ("heartbeat_ms", self.heartbeat_ms),
            ("lease_ms", self.lease_ms),
            ("election_max_ms", self.election_max_ms),
            ("work_max_ms", self.work_max_ms),
            ("work_timeout_ms", self.work_timeout_ms),
            ("worker_timeout_ms", self.worker_timeout_ms),
            ("forward_timeout_ms", self.forward_timeout_ms),
            ("member_timeout_ms", self.member_timeout_ms),
        ] {
            ConfigProblem::period_ms(key, ms)?;
        }
        for (key, ms) in [
            ("lease_ms", self.lease_ms),
            ("worker_timeout_ms", self.worker_timeout_ms),
        ] {
            if ms <= self.heartbeat_ms {
                return Err(ConfigProblem::new(
                    key,
                    format!(
                        "{ms} ms is not longer than `heartbeat_ms` ({} ms): it would run out \
                         between two heartbeats",
                        self.heartbeat_ms
                    ),
                ));
            }
        }
        ConfigProblem::within(
            "max_clock_step_ms",
            self.max_clock_step_ms,
            0..=MAX_PERIOD_MS,
        )?;
        ConfigProblem::within("max_drift", self.max_drift, 0.0..=0.49)?;
        ConfigProblem::within(
            "election_min_ms",
            self.election_min_ms,
            0..=self.election_max_ms,
        )?;
        ConfigProblem::within("work_min_ms", self.work_min_ms, 0..=self.work_max_ms)
    }
}

impl ElectionConfig {
    /// How long a node that granted a vote or answered a heartbeat refuses to vote for anybody
    /// else, on its own clock: long enough that, under the clock assumption, the lease the
    /// leader derives from that answer has ended in true time before the promise does.
    ///
    /// A leader counts its lease from the moment `t0` it sent the round, and it lasts at most
    /// `(lease + step) / (1 - drift)` in true time; a promise made at `t1 >= t0` lasts at least
    /// `(promise - step) / (1 + drift)`. So `promise >= step + (lease + step)(1 + drift) /
    /// (1 - drift)`, plus a millisecond of rounding margin per second.
    pub fn promise(&self) -> Duration {
        let rho = self.max_drift.clamp(0.0, 0.49);
        let step = self.max_clock_step_ms as f64;
        let ms = step + (self.lease_ms as f64 + step) * (1.0 + rho) / (1.0 - rho);
        Duration::from_millis(ms.ceil() as u64 + 1 + ms as u64 / 1000)
    }

    /// The leader's lease on its own clock.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
}

/// A random duration in `[min_ms, max_ms]` from the node's rng.
fn jitter(rng: &mut impl rand::Rng, min_ms: u64, max_ms: u64) -> Duration {
    Duration::from_millis(rng.random_range(min_ms..=max_ms.max(min_ms)))
}

/// The election's timers.
#[derive(Debug)]
pub enum ElectionTimer {
    /// Default: time to stand for election if no leader renewed its claim meanwhile; naive:
    /// a member checks whether it heard from a leader lately.
    Election,
    /// The leader's heartbeat and work round (every `heartbeat_ms`).
    Heartbeat,
    /// Default: the leader's lease runs out now unless renewed.
    LeaseExpiry,
    /// Default: a restarted node asks its peers again for what it lost.
    Sync,
    /// Naive: the next step of the acceptance countdown.
    Countdown,
    /// A worker finishes an item.
    Work {
        /// The item.
        item: String,
        /// The attempt.
        attempt: Attempt,
        /// The assignment's term.
        term: u64,
        /// The leader that assigned it.
        leader: String,
    },
}

/// Answers a client whose `submit` a non-leader forwarded to the leader, once the leader's
/// reply (or its absence) is known. A timeout is indefinite: the item may have been recorded.
fn answer_forwarded<T>(
    ctx: &mut highstorm_nodes::Context<'_, ElectionMsg, T>,
    client: &highstorm_nodes::Message<ElectionMsg>,
    reply: highstorm_nodes::RpcReply<ElectionMsg>,
) {
    use highstorm_nodes::wire::{ErrorBody, ErrorCode};
    match reply {
        highstorm_nodes::RpcReply::Reply(m) if m.body == ElectionMsg::SubmitOk => {
            ctx.reply(client, ElectionMsg::SubmitOk);
        }
        highstorm_nodes::RpcReply::Error(e) if e.code.is_definite() => {
            ctx.reply_error(client, e);
        }
        _ => {
            let e = ErrorBody::new(
                ErrorCode::Timeout,
                "the leader did not confirm; outcome unknown",
            );
            ctx.reply_error(client, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(worker: &str, term: u64, committed: bool) -> Option<Record> {
        Some(Record {
            worker: worker.into(),
            attempt: Attempt(term, 1),
            term,
            committed,
        })
    }

    #[test]
    fn merge_keeps_items_and_prefers_results_of_later_terms() {
        let mut a: Table = [
            ("x".to_owned(), None),
            ("y".to_owned(), rec("n1", 3, false)),
        ]
        .into();
        let b: Table = [
            ("x".to_owned(), rec("n2", 2, true)),
            ("y".to_owned(), rec("n4", 5, false)),
            ("z".to_owned(), None),
        ]
        .into();
        assert!(merge(&mut a, &b));
        assert_eq!(a["x"], rec("n2", 2, true));
        assert_eq!(a["y"], rec("n4", 5, false));
        assert_eq!(a["z"], None);
        assert!(!merge(&mut a, &b), "merging again changes nothing");
        let older: Table = [("y".to_owned(), rec("n1", 3, false))].into();
        assert!(!merge(&mut a, &older), "an older term's result loses");
        let committed: Table = [("y".to_owned(), rec("n4", 5, true))].into();
        assert!(merge(&mut a, &committed));
        assert_eq!(a["y"], rec("n4", 5, true));
    }

    #[test]
    fn merge_never_replaces_a_committed_result() {
        // x: committed in term 3 (restamped by its committing leader); a later term's other
        // result, never committed, must not replace it (the shrunk finding's last step).
        let mut a: Table = [("x".to_owned(), rec("n2", 3, true))].into();
        let later: Table = [("x".to_owned(), rec("n1", 4, false))].into();
        assert!(!merge(&mut a, &later));
        assert_eq!(a["x"], rec("n2", 3, true));
        // The other way round: a committed result replaces an uncommitted other one.
        let mut b = later.clone();
        assert!(merge(&mut b, &a));
        assert_eq!(b["x"], rec("n2", 3, true));
        // The same result restamped by a later leader takes the later term and stays
        // committed, and learns it is committed from an older copy.
        let mut restamped = rec("n2", 3, false);
        if let Some(r) = restamped.as_mut() {
            r.term = 7;
        }
        let newer: Table = [("x".to_owned(), restamped.clone())].into();
        assert!(merge(&mut a, &newer));
        assert_eq!(
            a["x"].as_ref().map(|r| (r.term, r.committed)),
            Some((7, true))
        );
        let mut c = newer.clone();
        assert!(merge(
            &mut c,
            &[("x".to_owned(), rec("n2", 3, true))].into()
        ));
        assert_eq!(
            c["x"].as_ref().map(|r| (r.term, r.committed)),
            Some((7, true))
        );
    }

    #[test]
    fn the_promise_outlasts_the_lease_under_the_clock_bound() {
        let c = ElectionConfig::default();
        let p = c.promise().as_secs_f64();
        let (l, s, r) = (0.6, 1.0, 0.05);
        // The lease's longest true duration ends before the promise's shortest one.
        assert!((l + s) / (1.0 - r) < (p - s) / (1.0 + r), "{p}");
        let tight = ElectionConfig {
            max_clock_step_ms: 0,
            max_drift: 0.0,
            ..c
        };
        assert!(tight.promise() > tight.lease());
    }
}
