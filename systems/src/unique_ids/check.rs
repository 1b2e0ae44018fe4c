//! Unique ids' property: no id is ever handed out twice, across nodes, crashes and partitions.

use highstorm::check::{Operation, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::Trace;
use highstorm_nodes::OpPhase;
use std::collections::BTreeMap;

/// No two successful `generate` operations returned the same id.
pub fn ids_unique(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "ids-unique";
    let mut seen: BTreeMap<String, &Operation> = BTreeMap::new();
    for op in ops {
        let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) else {
            continue;
        };
        let id = c.value.to_string();
        if let Some(first) = seen.insert(id.clone(), op) {
            return Verdict::violation(
                NAME,
                "duplicate-id",
                format!(
                    "id {id} issued twice: to {} op{} by {} and to {} op{} by {}",
                    first.client, first.op, first.node, op.client, op.op, op.node
                ),
            );
        }
    }
    Verdict::pass(NAME, format!("{} ids, all distinct", seen.len()))
}
