//! Broadcast's properties: every acknowledged value reaches every node (within
//! `converge_within` of the later of its acknowledgement and the last fault), and no value
//! appears that nobody broadcast.

use highstorm::check::last_fault_us;
use highstorm::check::values::ValueIndex;
use highstorm::check::{OpRef, Recovery, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::Trace;
use highstorm_nodes::OpPhase;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

fn some(values: &[u64]) -> String {
    let shown: Vec<String> = values.iter().take(10).map(u64::to_string).collect();
    let more = values.len().saturating_sub(10);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Every acknowledged value is in every node's final read; every value read was broadcast;
/// and, with `converge_within`, every acknowledged value reached every node by then.
pub fn broadcast_converges(scenario: &Scenario, trace: &Trace, ops: &[OpRef<'_>]) -> Verdict {
    const NAME: &str = "broadcast-converges";
    let attempted = ValueIndex::new(
        ops.iter()
            .filter(|op| op.f == "broadcast")
            .filter_map(|op| op.value.as_u64()),
    );
    let acked: BTreeMap<u64, u64> = ops
        .iter()
        .filter(|op| op.f == "broadcast")
        .filter_map(|op| Some((op.value.as_u64()?, op.completion?)))
        .filter(|(_, c)| c.phase == OpPhase::Ok)
        .map(|(v, c)| (v, c.at_us))
        .collect();
    // Phantoms: anything any read returned that nobody broadcast.
    for op in ops.iter().filter(|op| op.f.ends_with("read")) {
        let read = || {
            op.ok_value()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
        };
        // (Listed only when there is one: the common case allocates nothing.)
        if read().all(|v| attempted.contains(v)) {
            continue;
        }
        let phantom: Vec<u64> = read().filter(|v| !attempted.contains(*v)).collect();
        if !phantom.is_empty() {
            return Verdict::violation(
                NAME,
                "phantom-value",
                format!(
                    "{} read {} from {}: never broadcast",
                    op.client,
                    some(&phantom),
                    op.node
                ),
            );
        }
    }
    // Lost: acknowledged values missing from a node's final read.
    // Per node, which broadcast values its final reads returned, by their number in
    // `attempted` (every value read was broadcast: phantoms failed above).
    let mut finals: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.f == "final-read") {
        if let Some(Value::Array(vs)) = op.ok_value() {
            let seen = finals
                .entry(op.node)
                .or_insert_with(|| vec![false; attempted.len()]);
            for slot in vs.iter().filter_map(|v| attempted.get(v.as_u64()?)) {
                seen[slot] = true;
            }
        }
    }
    let nodes = scenario.node_names();
    if scenario.workload.clients > 0 {
        if let Some(n) = nodes.iter().find(|n| !finals.contains_key(n.as_str())) {
            return Verdict::violation(
                NAME,
                "no-final-read",
                format!("no final read of {n} succeeded"),
            );
        }
    }
    for (node, read) in &finals {
        let lost: Vec<u64> = acked
            .keys()
            .copied()
            .filter(|&v| !attempted.get(v).is_some_and(|slot| read[slot]))
            .collect();
        if !lost.is_empty() {
            return Verdict::violation(
                NAME,
                "missing-value",
                format!(
                    "{} acknowledged values missing from {node}'s final read: {}",
                    lost.len(),
                    some(&lost)
                ),
            );
        }
    }
    // Late: acknowledged values that reached some node only after the deadline.
    let mut late = vec![];
    if let Some(within) = scenario.checks.converge_within {
        let within = within.as_micros() as u64;
        let settled = last_fault_us(trace);
        let everywhere = trace.holdings().everywhere(&nodes);
        for (&v, &acked_at) in &acked {
            let deadline = acked_at.max(settled) + within;
            // Not yet held by some node: never stable (no nodes: nothing to reach).
            let stable = match nodes.is_empty() {
                true => 0,
                false => everywhere.since(v).unwrap_or(u64::MAX),
            };
            if stable > deadline {
                late.push(v);
            }
        }
        if !late.is_empty() {
            return Verdict::violation(
                NAME,
                "late-value",
                format!(
                    "{} acknowledged values reached every node later than {}ms after the last \
                     fault or their acknowledgement: {}",
                    late.len(),
                    within / 1000,
                    some(&late)
                ),
            );
        }
    }
    Verdict::pass(
        NAME,
        format!(
            "{} of {} broadcast values acknowledged; all in every final read of {} nodes",
            acked.len(),
            attempted.len(),
            finals.len()
        ),
    )
}

/// Once healed (the liveness phase): every value acknowledged before the heal is held by every
/// node within the bound; and every value broadcast after the heal (and acknowledged) reaches
/// every node within one anti-entropy period (`anti_entropy_ms`) of its broadcast: on a
/// healed network the pushes carry values, and anti-entropy, a repair, is slower (a value
/// left to it alone needs a round per hop). Performance targets are set aside under faults;
/// this one is judged only where none is left.
pub fn converged_after_heal(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[OpRef<'_>],
    phase: Recovery,
) -> Result<String, String> {
    let held = trace.holdings();
    let settled = converged_before_heal(scenario, ops, held, phase)?;
    let pushed = pushed_after_heal(scenario, ops, held, phase)?;
    Ok(format!("{settled}; {pushed}"))
}

/// Values broadcast after the heal, acknowledged, with one anti-entropy period left in the
/// phase: each must reach every node within that period.
fn pushed_after_heal(
    scenario: &Scenario,
    ops: &[OpRef<'_>],
    held: &highstorm::check::spread::Holdings,
    phase: Recovery,
) -> Result<String, String> {
    let cfg: super::BroadcastConfig =
        highstorm_nodes::config("broadcast", &scenario.config).unwrap_or_default();
    let period_us = cfg.anti_entropy_ms * 1000;
    let after: Vec<(u64, u64)> = ops
        .iter()
        .filter(|op| op.f == "broadcast" && op.invoke_us >= phase.from_us())
        .filter(|op| op.invoke_us + period_us <= phase.by_us())
        .filter(|op| op.ok_value().is_some())
        .filter_map(|op| Some((op.value.as_u64()?, op.invoke_us)))
        .collect();
    let nodes = scenario.node_names();
    let mut slow = vec![];
    let mut slowest = 0;
    for &(v, at) in &after {
        let spread = nodes
            .iter()
            .map(|n| {
                held.first_held(n, v)
                    .map_or(u64::MAX, |t| t.saturating_sub(at))
            })
            .max()
            .unwrap_or(0);
        slowest = slowest.max(spread);
        if spread > period_us {
            slow.push(v);
        }
    }
    if slow.is_empty() {
        Ok(format!(
            "the {} values broadcast after it reached every node within {:.0} ms (the \
             anti-entropy period {} ms)",
            after.len(),
            slowest as f64 / 1e3,
            cfg.anti_entropy_ms
        ))
    } else {
        Err(format!(
            "{} of {} values broadcast after the heal took longer than the anti-entropy period \
             ({} ms) to reach every node, as if nothing pushed them (first {})",
            slow.len(),
            after.len(),
            cfg.anti_entropy_ms,
            some(&slow)
        ))
    }
}

/// Every value acknowledged before the heal is held by every node within the bound.
fn converged_before_heal(
    scenario: &Scenario,
    ops: &[OpRef<'_>],
    held: &highstorm::check::spread::Holdings,
    phase: Recovery,
) -> Result<String, String> {
    let acked: BTreeSet<u64> = ops
        .iter()
        .filter(|op| op.f == "broadcast")
        .filter_map(|op| Some((op.value.as_u64()?, op.completion?)))
        .filter(|(_, c)| c.phase == OpPhase::Ok && c.at_us <= phase.from_us())
        .map(|(v, _)| v)
        .collect();
    let nodes = scenario.node_names();
    let mut missing = vec![];
    for node in &nodes {
        let lacks: Vec<u64> = acked
            .iter()
            .copied()
            .filter(|v| {
                held.first_held(node, *v)
                    .is_none_or(|at| at > phase.by_us())
            })
            .collect();
        if !lacks.is_empty() {
            missing.push(format!(
                "{node} still lacks {} acknowledged values (first {:?})",
                lacks.len(),
                &lacks[..lacks.len().min(3)]
            ));
        }
    }
    if missing.is_empty() {
        Ok(format!(
            "all {} values acknowledged before the heal reached all {} nodes",
            acked.len(),
            nodes.len()
        ))
    } else {
        Err(missing.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::BroadcastNote;
    use highstorm::trace::{EventKind, Trace};
    use std::time::Duration;

    /// The harness's spread reader (convergence, stable latency) sees what a node's typed
    /// `learn` notes say it holds, and forgets it at a crash.
    #[test]
    fn the_harness_reads_learn_notes_as_held_values() {
        let mut t = Trace::new();
        let ms = Duration::from_millis;
        t.push_note(ms(5), "n1", &BroadcastNote::Learn(vec![3, 9]));
        t.push_note(ms(7), "n2", &BroadcastNote::Learn(vec![9]));
        t.push(ms(8), EventKind::Crash { node: "n2".into() });
        let held = highstorm::check::spread::holdings(&t);
        assert_eq!(held.first_held("n1", 9), Some(5000));
        assert_eq!(held.first_held("n1", 4), None);
        assert_eq!(held.first_held("n2", 9), None);
    }
}
