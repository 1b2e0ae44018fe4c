//! Every request is answered, unless a fault explains why not.

use super::{Operation, Verdict};
use crate::scenario::Scenario;
use crate::trace::{EventKind, Trace};
use highstorm_nodes::OpPhase;
use std::collections::BTreeMap;

/// Every operation completed `ok`, except those whose request or reply the network dropped, or
/// whose node crashed while they were in flight. At least one operation must succeed when
/// clients ran, so a dead cluster cannot pass.
pub fn requests_answered_unless_faulted(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[Operation],
) -> Verdict {
    const NAME: &str = "requests-answered-unless-faulted";
    // Times of drops per unordered (client, node) pair, and of crashes per node.
    let mut drops: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
    let mut crashes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in trace.events() {
        match &e.kind {
            EventKind::Drop { src, dest, .. } => {
                let key = if src <= dest {
                    (src.as_str(), dest.as_str())
                } else {
                    (dest.as_str(), src.as_str())
                };
                drops.entry(key).or_default().push(e.at_us);
            }
            EventKind::Crash { node } => crashes.entry(node.as_str()).or_default().push(e.at_us),
            _ => {}
        }
    }
    let within = |times: Option<&Vec<u64>>, from: u64, to: u64| {
        times.is_some_and(|t| t.iter().any(|&x| x >= from && x <= to))
    };
    let (mut answered, mut excused) = (0, 0);
    for op in ops {
        let c = op.completion.as_ref();
        if c.is_some_and(|c| c.phase == OpPhase::Ok) {
            answered += 1;
            continue;
        }
        let end = c.map_or(u64::MAX, |c| c.at_us);
        let pair = if op.client <= op.node {
            (op.client.as_str(), op.node.as_str())
        } else {
            (op.node.as_str(), op.client.as_str())
        };
        let explained = c.is_none_or(|c| c.phase != OpPhase::Fail)
            && (within(drops.get(&pair), op.invoke_us, end)
                || within(crashes.get(op.node.as_str()), op.invoke_us, end));
        if explained {
            excused += 1;
        } else {
            let how = c.map_or("never completed".to_owned(), |c| {
                format!("{:?}: {}", c.phase, c.value)
            });
            return Verdict::fail(
                NAME,
                format!(
                    "{} op{} on {} at {}us {how}, with no drop or crash to explain it",
                    op.client, op.op, op.node, op.invoke_us
                ),
            );
        }
    }
    if scenario.workload.clients > 0 && answered == 0 {
        return Verdict::fail(NAME, format!("no operation succeeded out of {}", ops.len()));
    }
    Verdict::pass(
        NAME,
        format!("{answered} answered, {excused} unanswered during faults"),
    )
}
