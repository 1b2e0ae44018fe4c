//! Every request is answered, unless a fault explains why not.

use super::cut_links::CutLinks;
use super::{storage_halt_windows, HistoryOp, OpRef, Verdict};
use crate::scenario::Scenario;
use crate::trace::{EventKind, Trace};
use highstorm_nodes::{MsgId, OpPhase};
use std::collections::{BTreeMap, BTreeSet};

/// Every operation completed `ok`, or the trace explains why not: its node did answer (late,
/// or the answer was lost), its request was dropped, or its node crashed after it was sent —
/// while it was in flight, or after the client gave up while the node was still working on it
/// (waiting for a replica, say), or its node was cut off for the rest of the run (a partition
/// around it that never healed: it may retry forever behind it), or some node was stopped on a
/// storage error while it was in flight (a node that found a damaged record refuses requests,
/// and so does a cluster that relies on it; see [`storage_halt_windows`]). A request that
/// reached a running node and was never answered is a bug, and so is a definite failure
/// otherwise. At least one operation must succeed when clients ran, so a dead cluster cannot
/// pass.
///
/// Over owned [`Operation`](super::Operation)s or borrowed [`OpRef`]s alike (see
/// [`HistoryOp`]).
pub fn requests_answered_unless_faulted<O: HistoryOp>(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[O],
) -> Verdict {
    let ops: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
    answered_unless_faulted(scenario, trace, &ops)
}

fn answered_unless_faulted(scenario: &Scenario, trace: &Trace, ops: &[OpRef<'_>]) -> Verdict {
    const NAME: &str = "requests-answered-unless-faulted";
    let is_ok = |op: &OpRef<'_>| op.completion.is_some_and(|c| c.phase == OpPhase::Ok);
    // Only requests that did not succeed need explaining: the trace is read for those alone
    // (a big cluster sends millions of answers among its nodes; no set of them all is built).
    // (node, client, request) of each such request.
    let wanted: BTreeSet<(&str, &str, MsgId)> = ops
        .iter()
        .filter(|op| !is_ok(op))
        .filter_map(|op| Some((op.node, op.client, op.request?)))
        .collect();
    // Their request ids, sorted: a cheap first test for the answers and drops of a big run.
    let mut ids: Vec<MsgId> = wanted.iter().map(|&(_, _, r)| r).collect();
    ids.sort_unstable();
    ids.dedup();
    let maybe = |r: &MsgId| ids.binary_search(r).is_ok();
    let explaining = ops.iter().any(|op| !is_ok(op));
    // Of those: (node, client, request) of every answer sent; (client, node, request) of
    // every drop.
    let mut answered: BTreeSet<(&str, &str, MsgId)> = BTreeSet::new();
    let mut dropped: BTreeSet<(&str, &str, MsgId)> = BTreeSet::new();
    let mut crashes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in trace.events().iter().filter(|_| explaining) {
        match &e.kind {
            EventKind::Send {
                src,
                dest,
                in_reply_to: Some(r),
                ..
            } if maybe(r) => {
                let key = (src.as_str(), dest.as_str(), *r);
                if wanted.contains(&key) {
                    answered.insert(key);
                }
            }
            EventKind::Drop {
                src,
                dest,
                msg_id: Some(m),
                ..
            } if maybe(m) && wanted.contains(&(dest.as_str(), src.as_str(), *m)) => {
                dropped.insert((src.as_str(), dest.as_str(), *m));
            }
            EventKind::Crash { node } => crashes.entry(node.as_str()).or_default().push(e.at_us),
            _ => {}
        }
    }
    let (isolated, halts) = match explaining {
        true => (cut_off_at_the_end(trace), storage_halt_windows(trace)),
        false => (BTreeSet::new(), vec![]),
    };
    // Whether some node was stopped on a storage error between `from` and `to`.
    let stopped_during = |from: u64, to: u64| {
        halts
            .iter()
            .any(|(h, until)| h.at_us <= to && until.is_none_or(|u| from < u))
    };
    let (mut ok, mut late, mut lost, mut crashed, mut cut) = (0, 0, 0, 0, 0);
    let mut refused = 0;
    for op in ops {
        let c = op.completion;
        if c.is_some_and(|c| c.phase == OpPhase::Ok) {
            ok += 1;
            continue;
        }
        let end = u64::MAX;
        let (client, node) = (op.client, op.node);
        let definite_failure = c.is_some_and(|c| c.phase == OpPhase::Fail);
        if stopped_during(op.invoke_us, c.map_or(end, |c| c.at_us)) {
            refused += 1;
            continue;
        }
        let explained = !definite_failure
            && match op.request {
                Some(r) if answered.contains(&(node, client, r)) => {
                    late += 1;
                    true
                }
                Some(r) if dropped.contains(&(client, node, r)) => {
                    lost += 1;
                    true
                }
                _ if crashes
                    .get(node)
                    .is_some_and(|t| t.iter().any(|&x| x >= op.invoke_us && x <= end)) =>
                {
                    crashed += 1;
                    true
                }
                _ if isolated.contains(node) => {
                    cut += 1;
                    true
                }
                _ => false,
            };
        if !explained {
            let how = c.map_or("never completed".to_owned(), |c| {
                format!("{:?}: {}", c.phase, c.value)
            });
            return Verdict::violation(
                NAME,
                "unanswered-request",
                format!(
                    "{client} op{} (request #{}) to {node} at {}us: {how}; the request was not \
                     dropped, {node} did not crash, was not cut off for good, and never \
                     answered it",
                    op.op,
                    op.request.map_or("?".into(), |r| r.to_string()),
                    op.invoke_us
                ),
            );
        }
    }
    if scenario.workload.clients > 0 && ok == 0 {
        return Verdict::violation(
            NAME,
            "nothing-succeeded",
            format!("no operation succeeded out of {}", ops.len()),
        );
    }
    // (The count of requests excused by a lasting cut is only named when there are some, so
    // verdicts of runs without one read as they always have.)
    let mut cut = if cut > 0 {
        format!(", {cut} node cut off for good")
    } else {
        String::new()
    };
    if refused > 0 {
        cut.push_str(&format!(
            ", {refused} while a node was stopped on a storage error"
        ));
    }
    Verdict::pass(
        NAME,
        format!(
            "{ok} ok; not ok but explained: {late} answered late or answer lost, \
             {lost} request dropped, {crashed} node crashed{cut}"
        ),
    )
}

/// The processes a partition still cuts off (some link to or from them is cut) when the run
/// ends: cut at some point and never healed since.
fn cut_off_at_the_end(trace: &Trace) -> BTreeSet<&str> {
    let mut cut = CutLinks::default();
    for e in trace.events() {
        match &e.kind {
            EventKind::Cut { from, to, .. } => {
                cut.cut(
                    from.iter().map(String::as_str),
                    to.iter().map(String::as_str),
                );
            }
            EventKind::Heal { scope } => match scope.split_once("<->") {
                Some((a, b)) => cut.heal_between(a, b),
                None => cut.heal_all(),
            },
            _ => {}
        }
    }
    cut.endpoints()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Completion, Operation};
    use std::time::Duration;

    fn op(node: &str, invoke_us: u64, phase: Option<OpPhase>) -> Operation {
        Operation {
            client: "c0".into(),
            op: invoke_us,
            node: node.into(),
            f: "add".into(),
            invoke_us,
            value: serde_json::json!(1),
            request: Some(invoke_us),
            completion: phase.map(|phase| Completion {
                at_us: invoke_us + 500,
                phase,
                value: serde_json::Value::Null,
            }),
        }
    }

    fn cut(trace: &mut Trace, at_ms: u64, from: &[&str], to: &[&str]) {
        trace.push(
            Duration::from_millis(at_ms),
            EventKind::Cut {
                from: from.iter().map(|n| (*n).to_owned()).collect(),
                to: to.iter().map(|n| (*n).to_owned()).collect(),
                cause: "partition".into(),
            },
        );
    }

    fn heal(trace: &mut Trace, at_ms: u64, scope: &str) {
        trace.push(
            Duration::from_millis(at_ms),
            EventKind::Heal {
                scope: scope.into(),
            },
        );
    }

    #[test]
    fn a_node_cut_off_for_the_rest_of_the_run_is_excused_and_a_healed_one_is_not() {
        let s = Scenario::new("t", "ids");
        // n1 takes a request at 2 s and never answers; n0 answers one.
        let ops = [
            op("n0", 1_000_000, Some(OpPhase::Ok)),
            op("n1", 2_000_000, Some(OpPhase::Info)),
        ];
        let verdict = |trace: &Trace| requests_answered_unless_faulted(&s, trace, &ops);

        // No fault at all: a bug.
        let v = verdict(&Trace::new());
        assert!(
            !v.ok && v.detail.contains("to n1 at 2000000us"),
            "{}",
            v.detail
        );

        // Cut off from its peers at 1.5 s and never healed: excused.
        let mut never_healed = Trace::new();
        cut(&mut never_healed, 1500, &["n1"], &["n0", "n2"]);
        cut(&mut never_healed, 1500, &["n0", "n2"], &["n1"]);
        let v = verdict(&never_healed);
        assert!(
            v.ok && v.detail.ends_with("1 node cut off for good"),
            "{}",
            v.detail
        );

        // The same cut, healed before the end: the node had time to answer, so not excused;
        // nor by a heal of the one link that does not involve it.
        let mut healed = never_healed.clone();
        heal(&mut healed, 4000, "all");
        assert!(!verdict(&healed).ok);
        let mut healed_link = never_healed.clone();
        heal(&mut healed_link, 4000, "n1<->n0");
        heal(&mut healed_link, 4000, "n2<->n1");
        assert!(!verdict(&healed_link).ok);

        // Another node's lasting cut does not excuse n1.
        let mut elsewhere = Trace::new();
        cut(&mut elsewhere, 1500, &["n0"], &["n2"]);
        assert!(!verdict(&elsewhere).ok);
    }

    #[test]
    fn a_refusal_while_a_node_is_stopped_on_a_storage_error_is_excused_and_only_then() {
        let s = Scenario::new("t", "ids");
        // n1 refuses a request at 2 s: a definite failure.
        let ops = [
            op("n0", 1_000_000, Some(OpPhase::Ok)),
            op("n1", 2_000_000, Some(OpPhase::Fail)),
        ];
        let verdict = |trace: &Trace| requests_answered_unless_faulted(&s, trace, &ops);
        assert!(!verdict(&Trace::new()).ok, "a definite failure is a bug");
        let halted = |at_ms, node: &str| {
            let mut t = Trace::new();
            t.push(
                Duration::from_millis(at_ms),
                EventKind::Note {
                    node: node.into(),
                    kind: crate::check::STORAGE_HALTED.into(),
                    data: serde_json::json!({ "record": "kv/x", "error": "damaged" }),
                },
            );
            t
        };
        // n0 (which n1 relies on, say) stopped on a damaged record at 1.5 s: excused.
        let v = verdict(&halted(1500, "n0"));
        assert!(
            v.ok && v
                .detail
                .ends_with("1 while a node was stopped on a storage error"),
            "{}",
            v.detail
        );
        // Stopped after the request was refused: not excused.
        assert!(!verdict(&halted(2600, "n0")).ok);
        // Stopped, then restarted before the request: not excused.
        let mut restarted = halted(1500, "n0");
        restarted.push(
            Duration::from_millis(1800),
            EventKind::Restart {
                node: "n0".into(),
                boot: 1,
            },
        );
        assert!(!verdict(&restarted).ok);
    }
}
