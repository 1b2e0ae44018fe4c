//! Values that spread to every node (a replicated set, say): nodes note `learn` with
//! the values they came to hold (`ctx.note("learn", [1, 2])`), and [`holdings`] reads back when
//! each node first held each value. [`Metrics::stable_latency_ms`](crate::metrics::Metrics)
//! and convergence checkers are built on it.

use crate::trace::{EventKind, Trace};
use serde_json::Value;
use std::collections::BTreeMap;

/// When each node came to hold each value: per node, the first `learn` note of the value since
/// the node's last restart. A node that crashed and never restarted holds nothing.
pub fn holdings(trace: &Trace) -> Holdings {
    let mut held: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for e in trace.events() {
        match &e.kind {
            EventKind::Note { node, kind, data } if kind == "learn" => {
                let values = held.entry(node.as_str()).or_default();
                let learnt = data.as_array().into_iter().flatten();
                values.extend(learnt.filter_map(Value::as_u64).map(|v| (v, e.at_us)));
            }
            EventKind::Crash { node } => held.entry(node.as_str()).or_default().clear(),
            _ => {}
        }
    }
    Holdings {
        held: held
            .into_iter()
            .map(|(node, mut values)| {
                // Pushed in time order; a stable sort by value keeps each value's first time
                // first.
                values.sort_by_key(|&(v, _)| v);
                values.dedup_by_key(|&mut (v, _)| v);
                (node.to_owned(), values)
            })
            .collect(),
    }
}

/// What [`holdings`] found: per node, each value it holds and when it first held it.
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    /// Per node: (value, first held at µs), sorted by value.
    held: BTreeMap<String, Vec<(u64, u64)>>,
}

impl Holdings {
    /// When `node` first held `value` (since its last restart), if it holds it.
    pub fn first_held(&self, node: &str, value: u64) -> Option<u64> {
        let values = self.held.get(node)?;
        let i = values.binary_search_by_key(&value, |&(v, _)| v).ok()?;
        Some(values[i].1)
    }

    /// Whether no node holds anything.
    pub fn is_empty(&self) -> bool {
        self.held.values().all(Vec::is_empty)
    }
}
