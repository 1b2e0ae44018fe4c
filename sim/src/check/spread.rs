//! Values that spread to every node (a replicated set, say): nodes note `learn` with
//! the values they came to hold (`ctx.note("learn", [1, 2])`), and [`holdings`] reads back when
//! each node first held each value. [`Metrics::stable_latency_ms`](crate::metrics::Metrics)
//! and convergence checkers are built on it.

use crate::trace::{EventKind, Trace};
use serde_json::Value;
use std::collections::BTreeMap;

/// When each node came to hold each value: per node, the first `learn` note of the value since
/// the node's last restart. A node that crashed and never restarted holds nothing.
///
/// Read once per trace and kept: [`Trace::holdings`] borrows the same without the copy.
pub fn holdings(trace: &Trace) -> Holdings {
    trace.holdings().clone()
}

/// [`holdings`] read from the events.
pub(crate) fn read_holdings(trace: &Trace) -> Holdings {
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

/// What [`Holdings::everywhere`] found: the values a set of nodes all hold, and when the last
/// of them came to hold each.
#[derive(Clone, Debug, Default)]
pub struct Everywhere {
    /// (value, held by every node from µs), sorted by value.
    held: Vec<(u64, u64)>,
}

impl Everywhere {
    /// From when every node held `value`; `None` if some node does not hold it.
    pub fn since(&self, value: u64) -> Option<u64> {
        let i = self.held.binary_search_by_key(&value, |&(v, _)| v).ok()?;
        Some(self.held[i].1)
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

    /// Every value that all of `nodes` hold, with the time the last of them came to hold it
    /// (the latest of their [`first_held`](Holdings::first_held) times), ascending by value:
    /// one merge over each node's holdings instead of a lookup per node per value. Empty when
    /// `nodes` is.
    pub fn everywhere(&self, nodes: &[String]) -> Everywhere {
        let mut nodes = nodes.iter();
        let Some(first) = nodes.next() else {
            return Everywhere::default();
        };
        let mut all: Vec<(u64, u64)> = self.held.get(first.as_str()).cloned().unwrap_or_default();
        for node in nodes {
            let Some(theirs) = self.held.get(node.as_str()) else {
                return Everywhere::default();
            };
            // Both sorted by value: keep the common values, with the later time.
            let mut j = 0;
            all.retain_mut(|(v, at)| {
                while j < theirs.len() && theirs[j].0 < *v {
                    j += 1;
                }
                match theirs.get(j) {
                    Some(&(w, t)) if w == *v => {
                        *at = (*at).max(t);
                        true
                    }
                    _ => false,
                }
            });
        }
        Everywhere { held: all }
    }

    /// Whether no node holds anything.
    pub fn is_empty(&self) -> bool {
        self.held.values().all(Vec::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn learn(trace: &mut Trace, ms: u64, node: &str, values: &[u64]) {
        trace.push(
            Duration::from_millis(ms),
            EventKind::Note {
                node: node.to_owned(),
                kind: "learn".to_owned(),
                data: values.iter().copied().map(Value::from).collect(),
            },
        );
    }

    #[test]
    fn holdings_are_read_again_after_the_trace_changes() {
        let mut trace = Trace::new();
        learn(&mut trace, 1, "n1", &[1, 2]);
        learn(&mut trace, 2, "n1", &[2, 3]);
        assert_eq!(trace.holdings().first_held("n1", 2), Some(1000));
        assert_eq!(trace.holdings().first_held("n1", 4), None);
        learn(&mut trace, 3, "n1", &[4]);
        assert_eq!(trace.holdings().first_held("n1", 4), Some(3000));
        trace.push(
            Duration::from_millis(4),
            EventKind::Crash {
                node: "n1".to_owned(),
            },
        );
        assert_eq!(
            holdings(&trace).first_held("n1", 1),
            None,
            "a crash forgets"
        );
        let copy = trace.clone();
        trace.clear();
        assert!(trace.holdings().is_empty());
        assert_eq!(copy.holdings().first_held("n1", 1), None);
        assert_eq!(copy, copy.clone());
    }
}
