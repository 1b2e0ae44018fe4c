//! Property checkers: plain functions over a run's trace and client history that return a
//! verdict with a reason.

mod availability;
mod cut_links;
pub mod generic;
mod history;
pub mod liveness;
pub mod spread;
pub mod targets;
pub mod values;

pub use availability::requests_answered_unless_faulted;
pub use history::{history, history_refs, Completion, CompletionRef, HistoryOp, OpRef, Operation};
pub use liveness::Recovery;

use crate::scenario::Scenario;
use crate::trace::{EventKind, Trace};
use serde::Serialize;

/// A checker's finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The property checked, named as a claim (`ids-unique`).
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// When it failed, what kind of violation it was, in words that stay the same as a run
    /// changes (`missing-value`, `budget-exceeded`), unlike `detail`'s numbers; empty when it
    /// held.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Why it failed, or what was checked when it held.
    pub detail: String,
}

/// What a failed verdict found, without its numbers: the check and the kind of violation.
/// The shrinker keeps a smaller run only if it fails with the same one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Violation {
    /// The check that failed (`values-converge`).
    pub check: String,
    /// The kind of violation (`missing-value`).
    pub kind: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.check, self.kind)
    }
}

/// The kind of a failed verdict made with [`Verdict::fail`], which names none.
pub const UNSPECIFIED: &str = "violated";

/// The kind of a metric that went over its budget: a cost, not a correctness failure.
pub const BUDGET_EXCEEDED: &str = "budget-exceeded";

impl Verdict {
    /// A property that held.
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Verdict {
            name: name.to_owned(),
            ok: true,
            kind: String::new(),
            detail: detail.into(),
        }
    }

    /// A property that failed, without saying what kind of violation it was (its kind is
    /// [`UNSPECIFIED`]); prefer [`Verdict::violation`].
    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Verdict::violation(name, UNSPECIFIED, detail)
    }

    /// A property that failed with a violation of `kind`: a short stable name
    /// (`two-leaders-overlap`) that does not change with the run's numbers, which go in
    /// `detail`.
    pub fn violation(name: &str, kind: &str, detail: impl Into<String>) -> Self {
        Verdict {
            name: name.to_owned(),
            ok: false,
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }

    /// The violation it found (`None` when it held).
    pub fn found(&self) -> Option<Violation> {
        (!self.ok).then(|| Violation {
            check: self.name.clone(),
            kind: self.kind.clone(),
        })
    }
}

/// A checker: a property of one run.
pub type Checker = fn(&Scenario, &Trace, &[Operation]) -> Verdict;

/// The verdict name of [`msgs_per_op_within_budget`].
pub const MSGS_PER_OP: &str = "msgs-per-op-within-budget";

/// With `[checks] msgs_per_op_max`, node-to-node messages per operation stay within it (over
/// owned or borrowed operations alike: see [`HistoryOp`]).
pub fn msgs_per_op_within_budget<O: HistoryOp>(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[O],
) -> Verdict {
    const NAME: &str = MSGS_PER_OP;
    // As the `msgs_per_op` metric: node-to-node sends over operations invoked.
    let (server, _) = crate::trace::message_counts(trace);
    let msgs_per_op = if ops.is_empty() {
        0.0
    } else {
        server as f64 / ops.len() as f64
    };
    match scenario.checks.msgs_per_op_max {
        Some(max) if msgs_per_op > max => Verdict::violation(
            NAME,
            BUDGET_EXCEEDED,
            format!(
                "{msgs_per_op:.2} node-to-node messages per operation, over the budget of {max}"
            ),
        ),
        Some(max) => Verdict::pass(
            NAME,
            format!("{msgs_per_op:.2} messages per operation (budget {max})"),
        ),
        None => Verdict::pass(
            NAME,
            format!("{msgs_per_op:.2} messages per operation (no budget set)"),
        ),
    }
}

/// When the last fault of the run ended (0 if there were none).
pub fn last_fault_us(trace: &Trace) -> u64 {
    trace
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Cut { .. }
                    | EventKind::Heal { .. }
                    | EventKind::Crash { .. }
                    | EventKind::Restart { .. }
                    | EventKind::Pause { .. }
                    | EventKind::Resume { .. }
                    | EventKind::Network { .. }
                    | EventKind::Skew { .. }
                    | EventKind::Storage { .. }
            )
        })
        .map(|e| e.at_us)
        .max()
        .unwrap_or(0)
}

/// The note kind with which a node says it stopped on a storage error (a damaged record, or
/// a failed sync it will not paper over). Its data names the record when one is the cause:
/// `{"record": "job/0000000003", "error": "..."}`.
pub const STORAGE_HALTED: &str = "storage-halted";

/// One node stopped on a storage error: when, and the record it named (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageHalt {
    /// The node.
    pub node: String,
    /// When it stopped (simulated microseconds).
    pub at_us: u64,
    /// The record it named.
    pub record: Option<String>,
}

/// Every time a node was stopped on a storage error: from its [`STORAGE_HALTED`] note to its
/// next crash or restart (`until_us`: `None` when it stayed stopped to the end). A request
/// refused in such a window was refused by a stopped node, not forgotten.
pub fn storage_halt_windows(trace: &Trace) -> Vec<(StorageHalt, Option<u64>)> {
    let mut open: std::collections::BTreeMap<&str, StorageHalt> = Default::default();
    let mut out = vec![];
    for e in trace.events() {
        match &e.kind {
            EventKind::Restart { node, .. } | EventKind::Crash { node } => {
                if let Some(h) = open.remove(node.as_str()) {
                    out.push((h, Some(e.at_us)));
                }
            }
            EventKind::Note { node, kind, data } if kind == STORAGE_HALTED => {
                let record = data
                    .get("record")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned);
                open.entry(node).or_insert(StorageHalt {
                    node: node.clone(),
                    at_us: e.at_us,
                    record,
                });
            }
            _ => {}
        }
    }
    out.extend(open.into_values().map(|h| (h, None)));
    out
}

/// Whether some node was stopped on a storage error at `at_us` (see
/// [`storage_halt_windows`]).
pub fn stopped_at(windows: &[(StorageHalt, Option<u64>)], at_us: u64) -> bool {
    windows
        .iter()
        .any(|(h, until)| h.at_us <= at_us && until.is_none_or(|u| at_us < u))
}

/// The nodes that were stopped on a storage error when the run ended: each one's latest
/// [`STORAGE_HALTED`] note after its latest restart. Liveness checks (completion,
/// convergence) excuse what such a node could not do; safety checks never do.
pub fn stopped_on_storage(trace: &Trace) -> Vec<StorageHalt> {
    let mut last: std::collections::BTreeMap<&str, Option<StorageHalt>> = Default::default();
    for e in trace.events() {
        match &e.kind {
            EventKind::Restart { node, .. } => {
                last.insert(node, None);
            }
            EventKind::Note { node, kind, data } if kind == STORAGE_HALTED => {
                let record = data
                    .get("record")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned);
                last.insert(
                    node,
                    Some(StorageHalt {
                        node: node.clone(),
                        at_us: e.at_us,
                        record,
                    }),
                );
            }
            _ => {}
        }
    }
    last.into_values().flatten().collect()
}
