//! The targets a scenario states in `[checks]` — latency percentiles, stable latency,
//! messages per operation — checked for any system: a missed target fails the run.
//!
//! Each target is its own verdict, present only when the scenario sets it, so a scenario
//! without targets is judged exactly as before.

use super::{HistoryOp, Verdict};
use crate::metrics::{measure_history, Metrics, Percentiles};
use crate::scenario::{LatencyTargets, Scenario};
use crate::trace::Trace;

/// The verdict name for client operation latency.
pub const LATENCY: &str = "latency-within-target";
/// The verdict name for stable latency.
pub const STABLE_LATENCY: &str = "stable-latency-within-target";

/// Verdicts on every target `scenario` sets, except those a checker of the system already
/// judged (`judged`, by verdict name: a system may check its message budget itself).
/// `spreads` is the system's [`spread_op`](crate::system::System::spread_op).
pub fn targets_met<O: HistoryOp>(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[O],
    spreads: Option<&str>,
    judged: &[Verdict],
) -> Vec<Verdict> {
    let c = &scenario.checks;
    let budget = c
        .msgs_per_op_max
        .filter(|_| !judged.iter().any(|v| v.name == super::MSGS_PER_OP));
    if c.latency.is_none() && c.stable_latency.is_none() && budget.is_none() {
        return vec![];
    }
    let metrics = measure_history(scenario, trace, ops, spreads);
    targets_met_measured(scenario, trace, ops, &metrics, judged)
}

/// [`targets_met`] for a run whose [`Metrics`] were already measured (by
/// [`measure_history`] over the same trace and history): a runner that reports the metrics
/// anyway measures them once.
pub fn targets_met_measured<O: HistoryOp>(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[O],
    metrics: &Metrics,
    judged: &[Verdict],
) -> Vec<Verdict> {
    let c = &scenario.checks;
    let budget = c
        .msgs_per_op_max
        .filter(|_| !judged.iter().any(|v| v.name == super::MSGS_PER_OP));
    let mut out = vec![];
    if budget.is_some() {
        out.push(super::msgs_per_op_within_budget(scenario, trace, ops));
    }
    if let Some(t) = &c.latency {
        out.push(within(
            LATENCY,
            "latency of ok operations",
            t,
            metrics.latency_ms,
        ));
    }
    if let Some(t) = &c.stable_latency {
        out.push(within(
            STABLE_LATENCY,
            "stable latency",
            t,
            metrics.stable_latency_ms,
        ));
    }
    out
}

/// Whether `measured` (ms) keeps within every bound of `targets`.
fn within(
    name: &str,
    what: &str,
    targets: &LatencyTargets,
    measured: Option<Percentiles>,
) -> Verdict {
    let Some(p) = measured else {
        return Verdict::violation(
            name,
            "nothing-measured",
            format!("no {what} was measured, so its targets cannot be met"),
        );
    };
    let mut missed = vec![];
    let mut met = vec![];
    for (bound, limit) in targets.bounds() {
        let value = match bound {
            "p50" => p.p50,
            "p95" => p.p95,
            "p99" => p.p99,
            _ => p.max,
        };
        let limit_ms = limit.as_secs_f64() * 1000.0;
        let line = format!("{bound} {value:.1} ms");
        if value > limit_ms {
            missed.push(format!("{line} > {limit_ms} ms"));
        } else {
            met.push(format!("{line} <= {limit_ms} ms"));
        }
    }
    if missed.is_empty() {
        Verdict::pass(name, format!("{what}: {}", met.join(", ")))
    } else {
        // A missed target is a budget, like a message budget: the shrinker keeps a correctness
        // violation of the same run as its target before it.
        Verdict::violation(
            name,
            crate::check::BUDGET_EXCEEDED,
            format!("{what} missed its target: {}", missed.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Completion, Operation};
    use highstorm_nodes::OpPhase;
    use std::time::Duration;

    fn ok_op(i: u64, took_ms: u64) -> Operation {
        Operation {
            client: "c0".into(),
            op: i,
            node: "n0".into(),
            f: "next".into(),
            invoke_us: i * 1_000_000,
            value: serde_json::Value::Null,
            request: None,
            completion: Some(Completion {
                at_us: i * 1_000_000 + took_ms * 1000,
                phase: OpPhase::Ok,
                value: serde_json::Value::Null,
            }),
        }
    }

    #[test]
    fn latency_targets_pass_when_met_fail_when_missed_and_are_silent_when_unset() {
        let ms = Duration::from_millis;
        // Latencies 10, 20, ..., 100 ms: p50 50, p95 100, max 100.
        let ops: Vec<Operation> = (1..=10).map(|i| ok_op(i, i * 10)).collect();
        let mut s = Scenario::new("t", "ids");
        assert!(targets_met(&s, &Trace::new(), &ops, None, &[]).is_empty());

        s.checks.latency = Some(LatencyTargets {
            p50: Some(ms(50)),
            max: Some(ms(100)),
            ..Default::default()
        });
        let v = targets_met(&s, &Trace::new(), &ops, None, &[]);
        assert_eq!(v.len(), 1);
        assert!(v[0].ok && v[0].name == LATENCY, "{:?}", v[0]);

        s.checks.latency = Some(LatencyTargets {
            p50: Some(ms(49)),
            max: Some(ms(100)),
            ..Default::default()
        });
        let v = targets_met(&s, &Trace::new(), &ops, None, &[]);
        assert!(!v[0].ok, "{:?}", v[0]);
        assert!(
            v[0].detail.contains("p50 50.0 ms > 49 ms"),
            "{}",
            v[0].detail
        );

        // A stable latency target with nothing to measure it on fails.
        s.checks.latency = None;
        s.checks.stable_latency = Some(LatencyTargets {
            max: Some(ms(400)),
            ..Default::default()
        });
        let v = targets_met(&s, &Trace::new(), &ops, None, &[]);
        assert!(!v[0].ok && v[0].name == STABLE_LATENCY, "{:?}", v[0]);
    }

    #[test]
    fn a_message_budget_is_checked_once() {
        let mut s = Scenario::new("t", "ids");
        s.checks.msgs_per_op_max = Some(5.0);
        let ops = vec![ok_op(1, 10)];
        let v = targets_met(&s, &Trace::new(), &ops, None, &[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, crate::check::MSGS_PER_OP);
        let judged = [Verdict::pass(crate::check::MSGS_PER_OP, "")];
        assert!(targets_met(&s, &Trace::new(), &ops, None, &judged).is_empty());
    }
}
