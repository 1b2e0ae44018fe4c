//! Property checkers: plain functions over a run's trace and client history that return a
//! verdict with a reason.

mod availability;
pub mod broadcast;
mod echo;
pub mod election;
mod g_counter;
mod history;
mod unique_ids;

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

/// The checkers that apply to `system`.
pub fn for_system(system: &str) -> Vec<Checker> {
    match system {
        "echo" => vec![echo_replies_match, requests_answered_unless_faulted],
        "unique-ids" => vec![ids_unique, requests_answered_unless_faulted],
        "g-counter" => vec![counter_converges, requests_answered_unless_faulted],
        "broadcast" => vec![
            broadcast_converges,
            requests_answered_unless_faulted,
            msgs_per_op_within_budget,
        ],
        "election" => vec![
            election::one_leader_per_term,
            election::leaders_never_overlap,
            election::leader_acts_within_lease,
            election::leader_after_heal,
            election::items_complete_once,
        ],
        _ => vec![requests_answered_unless_faulted],
    }
}

/// With `[checks] msgs_per_op_max`, node-to-node messages per operation stay within it.
pub fn msgs_per_op_within_budget(scenario: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "msgs-per-op-within-budget";
    let m = crate::metrics::measure(scenario, trace);
    match scenario.checks.msgs_per_op_max {
        Some(max) if m.msgs_per_op > max => Verdict::fail(
            NAME,
            format!(
                "{:.2} node-to-node messages per operation, over the budget of {max}",
                m.msgs_per_op
            ),
        ),
        Some(max) => Verdict::pass(
            NAME,
            format!("{:.2} messages per operation (budget {max})", m.msgs_per_op),
        ),
        None => Verdict::pass(
            NAME,
            format!(
                "{:.2} messages per operation (no budget set)",
                m.msgs_per_op
            ),
        ),
    }
}

/// Runs every checker of the scenario's system.
pub fn check(scenario: &Scenario, trace: &Trace) -> Vec<Verdict> {
    let ops = history(trace);
    for_system(&scenario.system)
        .into_iter()
        .map(|c| c(scenario, trace, &ops))
        .collect()
}
