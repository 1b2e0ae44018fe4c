//! The grow-only counter's properties: final reads equal the acknowledged sum (plus possibly
//! some adds whose outcome is unknown), and a node's reads never go backwards within one
//! incarnation.

use highstorm::check::{Operation, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::{EventKind, Trace};
use highstorm_nodes::OpPhase;
use std::collections::{BTreeMap, BTreeSet};

/// Every final read lies in `[acked, acked + unknown]` and all final reads agree; no read ever
/// exceeds everything that was added; each node's reads never decrease between its restarts.
pub fn counter_converges(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "counter-converges";
    let (mut acked, mut unknown, mut attempted) = (0u64, 0u64, 0u64);
    for op in ops.iter().filter(|op| op.f == "add") {
        let delta = op.value.as_u64().unwrap_or(0);
        attempted += delta;
        match op.completion.as_ref().map(|c| c.phase) {
            Some(OpPhase::Ok) => acked += delta,
            Some(OpPhase::Fail) => {}
            _ => unknown += delta,
        }
    }
    // Restarts per node, to judge monotonicity within one incarnation.
    let mut restarts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in trace.events() {
        if let EventKind::Crash { node } | EventKind::Restart { node, .. } = &e.kind {
            restarts.entry(node.as_str()).or_default().push(e.at_us);
        }
    }
    let reads: Vec<(&Operation, u64, u64)> = ops
        .iter()
        .filter(|op| op.f.ends_with("read"))
        .filter_map(|op| {
            let c = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok)?;
            Some((op, c.at_us, c.value.as_u64()?))
        })
        .collect();
    let mut by_node: BTreeMap<&str, Vec<(&Operation, u64, u64)>> = BTreeMap::new();
    for &(op, at, value) in &reads {
        if value > attempted {
            return Verdict::violation(
                NAME,
                "read-exceeds-adds",
                format!(
                    "{} read {value} from {} but only {attempted} was ever added",
                    op.client, op.node
                ),
            );
        }
        by_node
            .entry(op.node.as_str())
            .or_default()
            .push((op, at, value));
    }
    // Monotonic in real time: a read that began after another read of the same node ended
    // (with no crash or restart of the node in between) sees at least as much. "In between"
    // starts when the earlier read began: its answer may have left the node before a crash
    // that came while it was on its way, and then it is the earlier incarnation's.
    for (node, list) in &by_node {
        let restarted_between = |from: u64, to: u64| {
            restarts
                .get(node)
                .is_some_and(|t| t.iter().any(|&r| r > from && r <= to))
        };
        for &(b, b_done, b_value) in list {
            for &(a, a_done, a_value) in list {
                if a_done < b.invoke_us
                    && b_value < a_value
                    && !restarted_between(a.invoke_us, b_done)
                {
                    return Verdict::violation(
                        NAME,
                        "read-went-backwards",
                        format!(
                            "{node} answered {b_value} to a read begun at {}us, after answering \
                             {a_value} to a read that ended at {a_done}us",
                            b.invoke_us
                        ),
                    );
                }
            }
        }
    }
    let mut finals: BTreeMap<&str, u64> = BTreeMap::new();
    for &(op, _, value) in reads.iter().filter(|(op, _, _)| op.f == "final-read") {
        finals.insert(op.node.as_str(), value);
    }
    if scenario.workload.clients > 0 {
        if let Some(n) = scenario
            .node_names()
            .iter()
            .find(|n| !finals.contains_key(n.as_str()))
        {
            return Verdict::violation(
                NAME,
                "no-final-read",
                format!("no final read of {n} succeeded"),
            );
        }
    }
    for (node, &v) in &finals {
        if v < acked || v > acked + unknown {
            return Verdict::violation(
                NAME,
                "final-read-out-of-bounds",
                format!(
                    "{node}'s final read is {v}, outside [{acked}, {}]: acknowledged adds sum to \
                     {acked}, adds of unknown outcome to {unknown}",
                    acked + unknown
                ),
            );
        }
    }
    let distinct: std::collections::BTreeSet<u64> = finals.values().copied().collect();
    if distinct.len() > 1 {
        return Verdict::violation(
            NAME,
            "final-reads-disagree",
            format!("final reads disagree: {finals:?}"),
        );
    }
    Verdict::pass(
        NAME,
        format!(
            "final reads {:?} within [{acked}, {}] on {} nodes",
            distinct.iter().next(),
            acked + unknown,
            finals.len()
        ),
    )
}

/// Once healed (the liveness phase): every node answers reads, and the last read each node
/// answered within the bound counts every add acknowledged before the heal, all of them alike.
pub fn counters_agree_after_heal(
    scenario: &Scenario,
    _: &Trace,
    ops: &[Operation],
    phase: highstorm::check::Recovery,
) -> Result<String, String> {
    let acked: u64 = ops
        .iter()
        .filter(|op| op.f == "add")
        .filter(|op| {
            op.completion
                .as_ref()
                .is_some_and(|c| c.phase == OpPhase::Ok && c.at_us <= phase.from_us())
        })
        .filter_map(|op| op.value.as_u64())
        .sum();
    let mut last: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.f.ends_with("read")) {
        let Some(c) = op.completion.as_ref() else {
            continue;
        };
        if c.phase != OpPhase::Ok || op.invoke_us < phase.from_us() || c.at_us > phase.by_us() {
            continue;
        }
        if let Some(v) = c.value.as_u64() {
            let e = last.entry(op.node.clone()).or_insert((c.at_us, v));
            if c.at_us >= e.0 {
                *e = (c.at_us, v);
            }
        }
    }
    let mut missing = vec![];
    for node in scenario.node_names() {
        match last.get(&node) {
            None => missing.push(format!("{node} answered no read")),
            Some((_, v)) if *v < acked => missing.push(format!(
                "{node} last read {v}, short of the {acked} acknowledged"
            )),
            Some(_) => {}
        }
    }
    let values: BTreeSet<u64> = last.values().map(|(_, v)| *v).collect();
    if missing.is_empty() && values.len() > 1 {
        missing.push(format!("the nodes' last reads disagree: {values:?}"));
    }
    if missing.is_empty() {
        Ok(format!(
            "every node's last read counts the {acked} acknowledged before the heal"
        ))
    } else {
        Err(missing.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm::check::Completion;
    use serde_json::Value;

    fn op(f: &str, node: &str, invoke: u64, done: u64, value: Value, result: Value) -> Operation {
        Operation {
            client: "c0".into(),
            op: invoke,
            node: node.into(),
            f: f.into(),
            invoke_us: invoke,
            value,
            request: None,
            completion: Some(Completion {
                at_us: done,
                phase: OpPhase::Ok,
                value: result,
            }),
        }
    }

    fn scenario() -> Scenario {
        Scenario::new("t", "g-counter").nodes(1)
    }

    /// An add of `d` on n0 invoked at `at`, acknowledged 5 µs later.
    fn add(at: u64, d: u64) -> Operation {
        op("add", "n0", at, at + 5, Value::from(d), Value::Null)
    }

    /// A read (`f`) of n0 from `at` to `done` that saw `v`.
    fn read(f: &str, at: u64, done: u64, v: u64) -> Operation {
        op(f, "n0", at, done, Value::Null, Value::from(v))
    }

    #[test]
    fn accepts_a_correct_history_and_catches_backward_and_wrong_reads() {
        let good = vec![
            add(0, 3),
            read("read", 10, 20, 3),
            add(30, 4),
            read("final-read", 40, 50, 7),
        ];
        let v = counter_converges(&scenario(), &Trace::new(), &good);
        assert!(v.ok, "{}", v.detail);

        // Overlapping reads may complete out of order: not a violation.
        let overlapping = vec![
            add(0, 3),
            add(1, 4),
            read("read", 10, 30, 7),
            read("read", 12, 20, 3),
            read("final-read", 40, 50, 7),
        ];
        assert!(counter_converges(&scenario(), &Trace::new(), &overlapping).ok);

        let backwards = vec![
            add(0, 3),
            add(1, 4),
            read("read", 10, 20, 7),
            read("read", 25, 30, 3),
            read("final-read", 40, 50, 7),
        ];
        let v = counter_converges(&scenario(), &Trace::new(), &backwards);
        assert!(!v.ok && v.detail.contains("answered 3"), "{}", v.detail);

        let lost = vec![add(0, 3), add(1, 4), read("final-read", 40, 50, 3)];
        let v = counter_converges(&scenario(), &Trace::new(), &lost);
        assert!(!v.ok && v.detail.contains("outside [7, 7]"), "{}", v.detail);

        let phantom = vec![add(0, 3), read("final-read", 40, 50, 9)];
        assert!(!counter_converges(&scenario(), &Trace::new(), &phantom).ok);
    }

    /// The explore finding `docs/findings/g-counter-read-across-restart.toml`: n1 answered 442,
    /// crashed and restarted while that answer was on its way, and its new incarnation (which
    /// had not kept the peer counts it learned) answered 360. The two answers are two
    /// incarnations'; a restart before the first read began makes them one's again.
    #[test]
    fn a_restart_while_the_earlier_answer_was_on_its_way_separates_the_two_reads() {
        use std::time::Duration;
        let ops = vec![
            add(0, 7),
            read("read", 10, 30, 7),
            read("read", 40, 50, 3),
            read("final-read", 60, 70, 7),
        ];
        let bounce = |at_us: u64| {
            let mut t = Trace::new();
            let at = Duration::from_micros(at_us);
            t.push(at, EventKind::Crash { node: "n0".into() });
            let restart = EventKind::Restart {
                node: "n0".into(),
                boot: 1,
            };
            t.push(at, restart);
            t
        };
        let in_flight = counter_converges(&scenario(), &bounce(20), &ops);
        assert!(in_flight.ok, "{}", in_flight.detail);
        let before = counter_converges(&scenario(), &bounce(5), &ops);
        assert!(
            !before.ok && before.detail.contains("answered 3"),
            "{}",
            before.detail
        );
    }
}
