//! Run metrics, measured from the trace.
//!
//! - `msgs_per_op`: node-to-node messages sent per client operation (Maelstrom's
//!   "server" count); `msgs_per_op_all` counts every message, client traffic included.
//! - `latency_ms`: client operation latency, from `invoke` to `ok`, over successful
//!   operations: p50 / p95 / p99 / max (nearest-rank percentiles).
//! - `stable_latency_ms`: for systems whose values spread to every node
//!   ([`System::spreads`](crate::system::System::spreads): nodes note `learn` events), the time
//!   from the invocation of the operation that wrote a value until every node holds it, over
//!   acknowledged values. Exact: it needs no reads.
//! - `maelstrom_stable_latency_ms`: Maelstrom's definition (Jepsen's `set-full` checker), for
//!   comparison with published results: from the value's *known* time (its acknowledgement or
//!   the first read that saw it, whichever is earlier) to the invocation of the last read, on
//!   any node, that missed it (0 if none did). It only sees what reads sample, so it reads low
//!   when reads are sparse.

use crate::check::{history_refs, HistoryOp, OpRef};
use crate::scenario::Scenario;
use crate::trace::Trace;
use highstorm_nodes::OpPhase;
use serde::Serialize;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (milliseconds); `None` if empty.
    pub fn of(values: &mut [f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * values.len() as f64).ceil() as usize;
            values[i.clamp(1, values.len()) - 1]
        };
        Some(Percentiles {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: values[values.len() - 1],
        })
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Client operations invoked.
    pub ops: usize,
    /// Operations that completed `ok`.
    pub ops_ok: usize,
    /// Node-to-node messages per operation.
    pub msgs_per_op: f64,
    /// All messages (client traffic included) per operation.
    pub msgs_per_op_all: f64,
    /// Latency of successful operations.
    pub latency_ms: Option<Percentiles>,
    /// Time from a value's write until every node holds it (see [`System::spreads`](crate::system::System::spreads)).
    pub stable_latency_ms: Option<Percentiles>,
    /// Maelstrom's read-sampled stable latency (see the module docs).
    pub maelstrom_stable_latency_ms: Option<Percentiles>,
}

pub use crate::trace::message_counts;

/// Measures `trace` of a run of `scenario`; `spreads` names the operation whose values spread
/// to every node ([`System::spread_op`](crate::system::System::spread_op)).
pub fn measure(scenario: &Scenario, trace: &Trace, spreads: Option<&str>) -> Metrics {
    measure_history(scenario, trace, &history_refs(trace), spreads)
}

/// Measures `trace` of a run of `scenario` whose client history `ops` was already read from it
/// (owned or borrowed: see [`HistoryOp`]).
pub fn measure_history<O: HistoryOp>(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[O],
    spreads: Option<&str>,
) -> Metrics {
    let ops: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
    measure_refs(scenario, trace, &ops, spreads)
}

fn measure_refs(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[OpRef<'_>],
    spreads: Option<&str>,
) -> Metrics {
    let (server, all) = message_counts(trace);
    let mut latencies: Vec<f64> = ops
        .iter()
        .filter_map(|op| {
            let c = op.completion.filter(|c| c.phase == OpPhase::Ok)?;
            Some((c.at_us - op.invoke_us) as f64 / 1000.0)
        })
        .collect();
    let held = spreads.map(|_| trace.holdings()).filter(|h| !h.is_empty());
    let mut stable: Vec<f64> = if let Some(held) = held {
        let everywhere = held.everywhere(&scenario.node_names());
        ops.iter()
            .filter(|op| Some(op.f) == spreads)
            .filter(|op| op.completion.is_some_and(|c| c.phase == OpPhase::Ok))
            .filter_map(|op| {
                let last = everywhere.since(op.value.as_u64()?)?;
                Some(last.saturating_sub(op.invoke_us) as f64 / 1000.0)
            })
            .collect()
    } else {
        vec![]
    };
    let per = |n: usize| {
        if ops.is_empty() {
            0.0
        } else {
            n as f64 / ops.len() as f64
        }
    };
    Metrics {
        ops: ops.len(),
        ops_ok: latencies.len(),
        msgs_per_op: per(server),
        msgs_per_op_all: per(all),
        latency_ms: Percentiles::of(&mut latencies),
        stable_latency_ms: Percentiles::of(&mut stable),
        maelstrom_stable_latency_ms: match spreads {
            Some(f) => Percentiles::of(&mut maelstrom_stable(ops, f)),
            None => None,
        },
    }
}

/// Jepsen `set-full` stable latencies, in ms, of every value written by an operation `f` and
/// known by some time.
///
/// One pass over the reads, backwards: for each value, its first sighting and the last read that
/// missed it (the read before the run of reads, up to the last, that all saw it), so the cost
/// is the total size of the reads, not values x reads.
fn maelstrom_stable(ops: &[OpRef<'_>], f: &str) -> Vec<f64> {
    use crate::check::values::ValueIndex;
    // Successful reads: (invocation, completion, values seen), by invocation time.
    let mut reads: Vec<(u64, u64, &[serde_json::Value])> = ops
        .iter()
        .filter(|op| op.f.ends_with("read"))
        .filter_map(|op| {
            let c = op.completion.filter(|c| c.phase == OpPhase::Ok)?;
            Some((op.invoke_us, c.at_us, c.value.as_array()?.as_slice()))
        })
        .collect();
    if reads.is_empty() {
        return vec![];
    }
    reads.sort_by_key(|(invoked, _, _)| *invoked);
    // (Only written values are asked about: a value nobody wrote is the checker's business,
    // not a latency.)
    let values = ValueIndex::new(
        ops.iter()
            .filter(|op| op.f == f)
            .filter_map(|op| op.value.as_u64()),
    );
    // Per value: the earliest completion of a read that saw it, and where the run of reads
    // that all saw it up to the last read starts (`reads.len()` when the last read missed
    // it), found walking the reads backwards: a value seen by read `i` extends its run when
    // the run started at `i + 1`.
    let mut first: Vec<Option<u64>> = vec![None; values.len()];
    let mut run_start: Vec<usize> = vec![reads.len(); values.len()];
    for (i, (_, done, seen)) in reads.iter().enumerate().rev() {
        for v in seen.iter().filter_map(serde_json::Value::as_u64) {
            let Some(slot) = values.get(v) else {
                continue;
            };
            first[slot] = Some(first[slot].map_or(*done, |f| f.min(*done)));
            if run_start[slot] == i + 1 {
                run_start[slot] = i;
            }
        }
    }
    ops.iter()
        .filter(|op| op.f == f)
        .filter_map(|op| {
            let v = op.value.as_u64()?;
            let acked = op
                .completion
                .filter(|c| c.phase == OpPhase::Ok)
                .map(|c| c.at_us);
            let slot = values.get(v);
            let seen_first = slot.and_then(|slot| first[slot]);
            let known = match (acked, seen_first) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            // The latest read that missed it: the one before its run.
            let missing = slot.map_or(reads.len(), |slot| run_start[slot]);
            let last_absent = missing.checked_sub(1).map_or(0, |i| reads[i].0 + 1);
            Some(last_absent.saturating_sub(known) as f64 / 1000.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Operation;

    /// The definition, computed the obvious way (values x reads): the oracle for the fast one.
    fn maelstrom_stable_naive(ops: &[Operation], f: &str) -> Vec<f64> {
        use std::collections::BTreeSet;
        let mut reads: Vec<(u64, u64, BTreeSet<u64>)> = ops
            .iter()
            .filter(|op| op.f.ends_with("read"))
            .filter_map(|op| {
                let c = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok)?;
                let seen = c
                    .value
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .collect();
                Some((op.invoke_us, c.at_us, seen))
            })
            .collect();
        if reads.is_empty() {
            return vec![];
        }
        reads.sort_by_key(|(invoked, _, _)| *invoked);
        ops.iter()
            .filter(|op| op.f == f)
            .filter_map(|op| {
                let v = op.value.as_u64()?;
                let acked = op
                    .completion
                    .as_ref()
                    .filter(|c| c.phase == OpPhase::Ok)
                    .map(|c| c.at_us);
                let first_seen = reads
                    .iter()
                    .filter(|(_, _, seen)| seen.contains(&v))
                    .map(|(_, done, _)| *done)
                    .min();
                let known = match (acked, first_seen) {
                    (Some(a), Some(b)) => a.min(b),
                    (a, b) => a.or(b)?,
                };
                let last_absent = reads
                    .iter()
                    .rev()
                    .find(|(_, _, seen)| !seen.contains(&v))
                    .map_or(0, |(invoked, _, _)| *invoked + 1);
                Some(last_absent.saturating_sub(known) as f64 / 1000.0)
            })
            .collect()
    }

    #[test]
    fn maelstrom_stable_latency_matches_its_definition() {
        use crate::check::Completion;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50 {
            let mut ops = vec![];
            let mut held: Vec<u64> = vec![];
            for i in 0..rng.random_range(1..60u64) {
                let at = i * 1000 + rng.random_range(0..3000);
                let done = at + rng.random_range(0..5000);
                let phase = if rng.random_bool(0.8) {
                    OpPhase::Ok
                } else {
                    OpPhase::Info
                };
                let (f, value, result) = if rng.random_bool(0.5) {
                    let v = rng.random_range(0..30u64);
                    held.push(v);
                    ("add", serde_json::json!(v), serde_json::Value::Null)
                } else {
                    // A read sees a random subset of what was written so far, plus repeats.
                    let mut seen: Vec<u64> = held
                        .iter()
                        .copied()
                        .filter(|_| rng.random_bool(0.7))
                        .collect();
                    if let Some(&v) = seen.first() {
                        seen.push(v);
                    }
                    let f = if rng.random_bool(0.2) {
                        "final-read"
                    } else {
                        "read"
                    };
                    (f, serde_json::Value::Null, serde_json::json!(seen))
                };
                ops.push(Operation {
                    client: "c0".into(),
                    op: i,
                    node: "n0".into(),
                    f: f.into(),
                    invoke_us: at,
                    value,
                    request: None,
                    completion: Some(Completion {
                        at_us: done,
                        phase,
                        value: result,
                    }),
                });
            }
            let refs: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
            assert_eq!(
                maelstrom_stable(&refs, "add"),
                maelstrom_stable_naive(&ops, "add")
            );
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&mut []), None);
        let p = Percentiles::of(&mut [7.0]).unwrap();
        assert_eq!(p.p50, 7.0);
    }
}
