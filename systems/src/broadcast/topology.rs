//! Topology: where values go next under each push strategy, and the cluster in order.

use super::{Broadcast, Strategy};
use highstorm_nodes::Ctx;
use std::sync::Arc;

/// How values reached a node, which decides where it sends them next.
#[derive(Clone, Copy, Debug)]
pub(super) enum Arrival<'a> {
    /// From a client, or by a repair path (anti-entropy, a replica of last resort): spread
    /// them as their origin would.
    Origin { from: Option<&'a str> },
    /// Pushed along the strategy's topology from `from`: relay them onward.
    Push { from: &'a str },
}

impl Broadcast {
    /// Every node, this one included, sorted.
    pub(super) fn everyone(&mut self, ctx: &Ctx<'_, Self>) -> &[String] {
        if self.all.is_empty() {
            self.all = everyone(ctx);
            self.me_at = self.position(ctx.id());
        }
        &self.all
    }

    /// Where `node` stands in `all`.
    pub(super) fn position(&self, node: &str) -> Option<usize> {
        self.all
            .binary_search_by(|n| natural(n).cmp(&natural(node)))
            .ok()
    }

    /// Where values that arrived as `arrival` go next from node `me`: positions in `all`.
    pub(super) fn targets(&self, me: &str, arrival: Arrival<'_>) -> Vec<usize> {
        let all = &self.all[..];
        if all.is_empty() || self.silent {
            return vec![];
        }
        let (origin, from) = match arrival {
            Arrival::Origin { from } => (true, from),
            Arrival::Push { from } => (false, Some(from)),
        };
        let me_at = self
            .me_at
            .filter(|&i| all[i] == me)
            .or_else(|| self.position(me));
        let positions = |names: Vec<String>| -> Vec<usize> {
            names.iter().filter_map(|n| self.position(n)).collect()
        };
        let mut out: Vec<usize> = match self.config.strategy {
            Strategy::Flood if origin => (0..all.len()).collect(),
            Strategy::Flood => vec![],
            Strategy::Star | Strategy::Best => {
                if me_at == Some(0) {
                    (0..all.len()).collect()
                } else if origin {
                    vec![0]
                } else {
                    vec![]
                }
            }
            Strategy::Tree => positions(tree_neighbours(me, all, self.config.fanout.max(1))),
            Strategy::Grid => positions(grid_neighbours(me, all)),
        };
        if !out.is_empty() {
            let from_at = from.and_then(|f| self.position(f));
            out.retain(|&n| Some(n) != me_at && Some(n) != from_at);
        }
        out
    }
}

/// Every node of the cluster, this one included, sorted: the host's shared member list when
/// it is in natural order already (as the engines give it), else a sorted copy.
fn everyone(ctx: &Ctx<'_, Broadcast>) -> Arc<[String]> {
    if let Some(members) = ctx.peers().with_me() {
        if members.is_sorted_by(|a, b| natural(a) < natural(b)) {
            return members.clone();
        }
    }
    let mut all: Vec<String> = ctx.peers().to_vec();
    // Peers usually come in order already: then one insertion, not a sort, per node.
    if all.is_sorted_by(|a, b| natural(a) <= natural(b)) {
        let at = all.partition_point(|n| natural(n) < natural(ctx.id()));
        all.insert(at, ctx.id().to_owned());
    } else {
        all.push(ctx.id().to_owned());
        all.sort_by(|a, b| natural(a).cmp(&natural(b)));
    }
    all.into()
}

/// Sort key putting `n2` before `n10`.
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// Parent and children of `me` in a `fanout`-ary tree over `all` in order.
fn tree_neighbours(me: &str, all: &[String], fanout: usize) -> Vec<String> {
    let Some(i) = all.iter().position(|n| n == me) else {
        return vec![];
    };
    let mut out = vec![];
    if i > 0 {
        out.push(all[(i - 1) / fanout].clone());
    }
    for c in (i * fanout + 1)..=(i * fanout + fanout) {
        if let Some(n) = all.get(c) {
            out.push(n.clone());
        }
    }
    out
}

/// Up, down, left and right of `me` in a square grid over `all` in order (Maelstrom's grid).
fn grid_neighbours(me: &str, all: &[String]) -> Vec<String> {
    let Some(i) = all.iter().position(|n| n == me) else {
        return vec![];
    };
    let n = all.len();
    let width = (n as f64).sqrt().ceil() as usize;
    let mut out = vec![];
    if i % width > 0 {
        out.push(all[i - 1].clone());
    }
    if i % width + 1 < width && i + 1 < n {
        out.push(all[i + 1].clone());
    }
    if i >= width {
        out.push(all[i - width].clone());
    }
    if i + width < n {
        out.push(all[i + width].clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn trees_and_grids_are_connected_and_symmetric() {
        let all = names(25);
        for me in &all {
            for other in tree_neighbours(me, &all, 4) {
                assert!(
                    tree_neighbours(&other, &all, 4).contains(me),
                    "{me} {other}"
                );
            }
            for other in grid_neighbours(me, &all) {
                assert!(grid_neighbours(&other, &all).contains(me), "{me} {other}");
            }
        }
        assert_eq!(grid_neighbours("n0", &all), ["n1", "n5"]);
        assert_eq!(tree_neighbours("n0", &all, 4), ["n1", "n2", "n3", "n4"]);
        assert_eq!(
            tree_neighbours("n5", &all, 4),
            ["n1", "n21", "n22", "n23", "n24"]
        );
    }
}
