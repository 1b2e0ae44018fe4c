//! The liveness phase's verdict: once every fault is undone (`[checks] liveness`), what the
//! system promises ([`System::liveness`](crate::system::System::liveness)) must hold within
//! the bound.

use super::{HistoryOp, OpRef, Operation, Verdict};
use crate::scenario::Scenario;
use crate::trace::Trace;
use std::time::Duration;

/// The verdict name of the liveness phase.
pub const LIVE_AFTER_HEAL: &str = "live-after-heal";

/// The kind of a liveness violation: something was still missing at the bound.
pub const NOT_LIVE: &str = "not-live";

/// One run's liveness phase: every fault was undone at `from`, and the system had `bound` to
/// deliver what it promises (the rest of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// When every fault was undone (true time).
    pub from: Duration,
    /// How long the system had to recover.
    pub bound: Duration,
}

impl Recovery {
    /// The liveness phase of `scenario`, if it has one.
    pub fn of(scenario: &Scenario) -> Option<Recovery> {
        Some(Recovery {
            from: scenario.liveness_from()?,
            bound: scenario.checks.liveness?,
        })
    }

    /// When the phase began, in trace microseconds.
    pub fn from_us(&self) -> u64 {
        self.from.as_micros() as u64
    }

    /// The deadline: the start plus the bound, in trace microseconds.
    pub fn by_us(&self) -> u64 {
        (self.from + self.bound).as_micros() as u64
    }
}

/// What a system promises once healed: `Ok` with what held, or `Err` with what was still
/// missing at the deadline.
pub type Promise =
    dyn Fn(&Scenario, &Trace, &[Operation], Recovery) -> Result<String, String> + Send + Sync;

/// [`Promise`] over the client history borrowed from the trace (see
/// [`System::liveness_refs`](crate::system::System::liveness_refs)).
pub type PromiseRefs =
    dyn Fn(&Scenario, &Trace, &[OpRef<'_>], Recovery) -> Result<String, String> + Send + Sync;

/// Judges `promise` over a run with a liveness phase (none without one).
///
/// A run that ends with a node stopped on a storage error (a `storage-halted` note and no
/// restart after it: fail-stop, by design, until an operator restarts it) is not judged: the
/// fault that stopped it (a damaged record, a failed sync) is not one the heal undoes, and a
/// stopped system promises nothing. The verdict passes and names the stopped nodes. (Explore
/// appends a liveness phase to scenarios with storage faults, and found exactly this: a
/// system's single copy of its state stopped on a corrupted record or a failed sync.)
pub fn judge(
    promise: &Promise,
    scenario: &Scenario,
    trace: &Trace,
    ops: &[Operation],
) -> Option<Verdict> {
    judge_with(scenario, trace, |phase| {
        promise(scenario, trace, ops, phase)
    })
}

/// [`judge`] with the promise as a closure of the phase (whatever form of the history it
/// reads): called only when the run has a liveness phase and no node stopped on storage.
pub(crate) fn judge_with(
    scenario: &Scenario,
    trace: &Trace,
    promise: impl FnOnce(Recovery) -> Result<String, String>,
) -> Option<Verdict> {
    let phase = Recovery::of(scenario)?;
    let when = format!(
        "within the {:?} bound after every fault was undone at {:.3}s",
        phase.bound,
        phase.from.as_secs_f64()
    );
    let stopped = super::stopped_on_storage(trace);
    if !stopped.is_empty() {
        let names: Vec<String> = stopped
            .iter()
            .map(|h| format!("{} at {:.3}s", h.node, h.at_us as f64 / 1e6))
            .collect();
        return Some(Verdict::pass(
            LIVE_AFTER_HEAL,
            format!(
                "not judged: stopped on a storage error to the end of the run (fail-stop until \
                 restarted): {}",
                names.join(", ")
            ),
        ));
    }
    Some(match promise(phase) {
        Ok(held) => Verdict::pass(LIVE_AFTER_HEAL, format!("{when}: {held}")),
        Err(missing) => Verdict::violation(LIVE_AFTER_HEAL, NOT_LIVE, format!("{when}: {missing}")),
    })
}

/// The common shape of a promise over identified items (jobs, values): every item `due` (owed
/// since before the heal) must be `done` by the deadline. `what` names the items ("jobs
/// acknowledged before the heal"), `verb` what should have happened to them ("finished").
/// `Ok` says all of them did; `Err` how many did not, with the first few ids.
pub fn all_done<T: std::fmt::Debug>(
    due: &[T],
    done: impl Fn(&T) -> bool,
    what: &str,
    verb: &str,
) -> Result<String, String> {
    let open: Vec<&T> = due.iter().filter(|id| !done(id)).collect();
    if open.is_empty() {
        Ok(format!("all {} {what} {verb}", due.len()))
    } else {
        Err(format!(
            "{} of {} {what} never {verb} (first {:?})",
            open.len(),
            due.len(),
            &open[..open.len().min(3)]
        ))
    }
}

/// A promise any request/response system can make: every client operation invoked in the
/// liveness phase, early enough for its reply to arrive within the bound (a client timeout
/// before the deadline), completes successfully.
///
/// The phase's operations are those invoked after the instant the last fault was undone, not
/// in it: an operation invoked in that very instant races with the undo, and the engines order
/// one instant differently (on `turmoil` a restarted node binds its socket after the instant's
/// other hosts ran, so a request sent then finds it down; on `events` the restart comes
/// first). Counting it made the engines disagree (`docs/findings/liveness-request-at-restart.toml`).
pub fn requests_answered<O: HistoryOp>(
    scenario: &Scenario,
    _: &Trace,
    ops: &[O],
    phase: Recovery,
) -> Result<String, String> {
    let last_invoke = phase
        .by_us()
        .saturating_sub(scenario.workload.timeout.as_micros() as u64);
    let due: Vec<OpRef<'_>> = ops
        .iter()
        .map(HistoryOp::view)
        .filter(|o| o.invoke_us > phase.from_us() && o.invoke_us <= last_invoke)
        .collect();
    let unanswered: Vec<String> = due
        .iter()
        .filter(|o| {
            o.completion
                .is_none_or(|c| c.phase != highstorm_nodes::OpPhase::Ok)
        })
        .map(|o| format!("{} {} at {:.3}s", o.client, o.f, o.invoke_us as f64 / 1e6))
        .collect();
    if unanswered.is_empty() {
        Ok(format!("{} requests answered", due.len()))
    } else {
        Err(format!(
            "{} of {} requests unanswered (first: {})",
            unanswered.len(),
            due.len(),
            unanswered[..unanswered.len().min(3)].join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{all_done, judge, Promise};
    use crate::scenario::Scenario;
    use crate::trace::{EventKind, Trace};
    use std::time::Duration;

    #[test]
    fn a_run_that_ends_with_a_node_stopped_on_storage_is_not_judged() {
        let s = Scenario::new("t", "ids")
            .duration(Duration::from_secs(10))
            .liveness(Duration::from_secs(4));
        let unkept: &Promise = &|_, _, _, _| Err("nothing answered".to_owned());
        let mut t = Trace::new();
        let v = judge(unkept, &s, &t, &[]).expect("a liveness phase");
        assert!(!v.ok, "{}", v.detail);
        let halted = EventKind::Note {
            node: "n0".into(),
            kind: super::super::STORAGE_HALTED.into(),
            data: serde_json::json!({"record": "job/1", "error": "damaged"}),
        };
        t.push(Duration::from_secs(2), halted);
        let v = judge(unkept, &s, &t, &[]).expect("a liveness phase");
        assert!(v.ok && v.detail.contains("n0 at 2.000s"), "{}", v.detail);
        // Restarted afterwards, it is up again: judged.
        let restart = EventKind::Restart {
            node: "n0".into(),
            boot: 1,
        };
        t.push(Duration::from_secs(3), restart);
        assert!(!judge(unkept, &s, &t, &[]).expect("judged").ok);
    }

    #[test]
    fn all_done_names_how_many_items_are_still_open_and_the_first_few() {
        let due = [1u64, 2, 3, 4, 5];
        assert_eq!(
            all_done(&due, |_| true, "jobs", "finished"),
            Ok("all 5 jobs finished".to_string())
        );
        assert_eq!(
            all_done(&due, |id| *id == 3, "jobs", "finished"),
            Err("4 of 5 jobs never finished (first [1, 2, 4])".to_string())
        );
        assert_eq!(
            all_done::<u64>(&[], |_| false, "values", "arrived"),
            Ok("all 0 values arrived".to_string())
        );
    }
}
