//! Property checkers: plain functions over a run's trace and client history that return a
//! verdict with a reason.

mod availability;
pub mod bridge_four;
pub mod broadcast;
mod echo;
pub mod election;
mod g_counter;
pub mod generic;
mod history;
pub mod targets;
mod unique_ids;
pub mod values;
pub mod work_queue;

pub use availability::requests_answered_unless_faulted;
pub use broadcast::broadcast_converges;
pub use echo::echo_replies_match;
pub use g_counter::counter_converges;
pub use history::{history, Completion, Operation};
pub use unique_ids::ids_unique;

use crate::scenario::Scenario;
use crate::trace::Trace;
use serde::Serialize;

/// A checker's finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The property checked, named as a claim (`ids-unique`).
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// Why it failed, or what was checked when it held.
    pub detail: String,
}

impl Verdict {
    /// A property that held.
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Verdict {
            name: name.to_owned(),
            ok: true,
            detail: detail.into(),
        }
    }

    /// A property that failed.
    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Verdict {
            name: name.to_owned(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// A checker: a property of one run.
pub type Checker = fn(&Scenario, &Trace, &[Operation]) -> Verdict;

/// The verdict name of [`msgs_per_op_within_budget`].
pub const MSGS_PER_OP: &str = "msgs-per-op-within-budget";

/// With `[checks] msgs_per_op_max`, node-to-node messages per operation stay within it.
pub fn msgs_per_op_within_budget(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = MSGS_PER_OP;
    // As the `msgs_per_op` metric: node-to-node sends over operations invoked.
    let (server, _) = crate::metrics::message_counts(trace);
    let msgs_per_op = if ops.is_empty() {
        0.0
    } else {
        server as f64 / ops.len() as f64
    };
    match scenario.checks.msgs_per_op_max {
        Some(max) if msgs_per_op > max => Verdict::fail(
            NAME,
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

/// Runs every checker of the scenario's system.
pub fn check(scenario: &Scenario, trace: &Trace) -> Vec<Verdict> {
    check_history(scenario, trace, &history(trace))
}

/// Runs every checker of the scenario's system over `trace` and its client history `ops`
/// (read from it with [`history`]).
pub fn check_history(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Vec<Verdict> {
    match crate::system::lookup(&scenario.system) {
        Ok(system) => system.check_run(scenario, trace, ops),
        Err(e) => vec![Verdict::fail("system-known", e.to_string())],
    }
}
