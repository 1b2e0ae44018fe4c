//! Every request is answered, unless a fault explains why not.

use super::{Operation, Verdict};
use crate::scenario::Scenario;
use crate::trace::{EventKind, Trace};
use highstorm_nodes::{MsgId, OpPhase};
use std::collections::{BTreeMap, BTreeSet};

/// Every operation completed `ok`, or the trace explains why not: its node did answer (late,
/// or the answer was lost), its request was dropped, or its node crashed after it was sent —
/// while it was in flight, or after the client gave up while the node was still working on it
/// (waiting for a replica, say). A request that reached a running node and was never answered is a bug, and so is
/// a definite failure. At least one operation must succeed when clients ran, so a dead cluster
/// cannot pass.
pub fn requests_answered_unless_faulted(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[Operation],
) -> Verdict {
    const NAME: &str = "requests-answered-unless-faulted";
    // (node, client, request) of every answer sent; (client, node, request) of every drop.
    let mut answered: BTreeSet<(&str, &str, MsgId)> = BTreeSet::new();
    let mut dropped: BTreeSet<(&str, &str, MsgId)> = BTreeSet::new();
    let mut crashes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in trace.events() {
        match &e.kind {
            EventKind::Send {
                src,
                dest,
                in_reply_to: Some(r),
                ..
            } => {
                answered.insert((src.as_str(), dest.as_str(), *r));
            }
            EventKind::Drop {
                src,
                dest,
                msg_id: Some(m),
                ..
            } => {
                dropped.insert((src.as_str(), dest.as_str(), *m));
            }
            EventKind::Crash { node } => crashes.entry(node.as_str()).or_default().push(e.at_us),
            _ => {}
        }
    }
    let (mut ok, mut late, mut lost, mut crashed) = (0, 0, 0, 0);
    for op in ops {
        let c = op.completion.as_ref();
        if c.is_some_and(|c| c.phase == OpPhase::Ok) {
            ok += 1;
            continue;
        }
        let end = u64::MAX;
        let (client, node) = (op.client.as_str(), op.node.as_str());
        let definite_failure = c.is_some_and(|c| c.phase == OpPhase::Fail);
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
                     dropped, {node} did not crash, and {node} never answered it",
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
    Verdict::pass(
        NAME,
        format!(
            "{ok} ok; not ok but explained: {late} answered late or answer lost, \
             {lost} request dropped, {crashed} node crashed"
        ),
    )
}
