//! Simpler variants of a failing scenario, most promising first: no faults, half the nodes,
//! fewer episodes (halves, quarters, ..., single ones), a calmer network, fewer clients, a
//! shorter run, fewer nodes by smaller steps, shorter and narrower faults, earlier episodes.
//! Every candidate keeps each fault with its undoing (see [`episodes`]) and leaves no more
//! behind at its end than the original run did ([`Aftermath`]).

use super::episodes::{episodes, Aftermath};
use crate::scenario::{FaultAction, Scenario};
use std::collections::BTreeSet;
use std::time::Duration;

/// What a candidate must keep from the original run.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// The fewest nodes the system and the scenario's config need.
    pub(crate) min_nodes: usize,
    /// What the original run's faults left behind.
    pub(crate) original: Aftermath,
}

/// Simpler variants of `s`, most promising first, each within `limits`.
pub(crate) fn candidates(s: &Scenario, limits: &Limits) -> Vec<Scenario> {
    let mut out = vec![];
    let groups = episodes(&s.faults, &s.network);
    let n = groups.len();
    let with = |f: &dyn Fn(&mut Scenario)| {
        let mut c = s.clone();
        f(&mut c);
        c
    };
    // No faults at all, then half the nodes (big steps first: a 1000-node run must get small
    // within the budget).
    if n > 1 {
        out.push(with(&|c| c.faults.clear()));
    }
    let node_steps = node_counts(s.nodes, limits.min_nodes);
    if let Some(&half) = node_steps.first() {
        out.extend(with_nodes(s, half));
    }
    // Fewer episodes: chunks of halving size.
    let mut chunk = n.div_ceil(2);
    while chunk >= 1 && n > 0 {
        for start in (0..n).step_by(chunk) {
            let drop: BTreeSet<usize> = groups[start..(start + chunk).min(n)]
                .iter()
                .flatten()
                .copied()
                .collect();
            out.push(without(s, &drop));
        }
        chunk = if chunk == 1 { 0 } else { chunk.div_ceil(2) };
    }
    // A calmer network.
    if s.network.loss > 0.0 {
        out.push(with(&|c| c.network.loss = 0.0));
    }
    if s.network.duplicate > 0.0 {
        out.push(with(&|c| c.network.duplicate = 0.0));
    }
    if !s.network.links.is_empty() {
        out.push(with(&|c| c.network.links.clear()));
    }
    if !s.clocks.is_empty() {
        out.push(with(&|c| c.clocks.clear()));
    }
    if s.workload.clients > 1 {
        out.push(with(&|c| c.workload.clients -= 1));
    }
    // A shorter run, still with the original's quiet time after the last fault.
    let last = s.duration.saturating_sub(Aftermath::of(s).quiet);
    for d in [last + limits.original.quiet, s.duration.mul_f64(0.75)] {
        let d = round_ms(d);
        if d < s.duration && d > last {
            out.push(with(&|c| c.duration = d));
        }
    }
    // Fewer nodes by smaller steps.
    for &k in node_steps.iter().skip(1) {
        out.extend(with_nodes(s, k));
    }
    // Shorter and narrower faults; earlier episodes.
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(simpler) = simpler_action(&f.action) {
            out.push(with(&|c| c.faults[i].action = simpler.clone()));
        }
    }
    for g in &groups {
        let start = g.iter().map(|&i| s.faults[i].at).min().unwrap_or_default();
        if start >= Duration::from_millis(2) {
            let by = start - round_ms(start / 2);
            out.push(with(&|c| {
                for &i in g {
                    c.faults[i].at -= by;
                }
                c.faults.sort_by_key(|f| f.at);
            }));
        }
    }
    out.retain(|c| c != s && Aftermath::of(c).within(&limits.original));
    out
}

/// Node counts to try between `min` and `nodes`: half of them first (never below `min`), then
/// ever smaller steps down from `nodes`: 1000 -> 500, 750, 875, ..., 999.
pub(crate) fn node_counts(nodes: usize, min: usize) -> Vec<usize> {
    if nodes <= min {
        return vec![];
    }
    let half = (nodes / 2).max(min);
    let mut out = vec![half];
    let mut step = (nodes - half) / 2;
    while step >= 1 {
        out.push(nodes - step);
        step /= 2;
    }
    if !out.contains(&(nodes - 1)) {
        out.push(nodes - 1);
    }
    out.dedup();
    out
}

/// `s` on its first `k` nodes: the episodes of faults on the others go, partitions lose the
/// others, and so do clocks and link rules. `None` if nothing would change.
fn with_nodes(s: &Scenario, k: usize) -> Option<Scenario> {
    if k >= s.nodes || k == 0 {
        return None;
    }
    let keep = |n: &String| {
        n.strip_prefix('n')
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < k)
    };
    let mut c = s.clone();
    c.nodes = k;
    let mut gone = BTreeSet::new();
    for (i, f) in c.faults.iter_mut().enumerate() {
        let empty = match &mut f.action {
            FaultAction::Partition(groups) => {
                for g in groups.iter_mut() {
                    g.retain(&keep);
                }
                groups.retain(|g| !g.is_empty());
                groups.len() < 2
            }
            FaultAction::PartitionOneway { from, to } => {
                from.retain(&keep);
                to.retain(&keep);
                from.is_empty() || to.is_empty()
            }
            FaultAction::Network {
                link: Some((from, to)),
                ..
            } => {
                from.retain(&keep);
                to.retain(&keep);
                from.is_empty() || to.is_empty()
            }
            other => !other.nodes().into_iter().all(keep),
        };
        if empty {
            gone.insert(i);
        }
    }
    // A fault that goes takes its whole episode with it.
    let drop: BTreeSet<usize> = episodes(&s.faults, &s.network)
        .into_iter()
        .filter(|g| g.iter().any(|i| gone.contains(i)))
        .flatten()
        .collect();
    let mut c = without(&c, &drop);
    c.clocks.retain(|n, _| keep(n));
    for l in &mut c.network.links {
        l.from.retain(keep);
        l.to.retain(keep);
    }
    c.network
        .links
        .retain(|l| !l.from.is_empty() && !l.to.is_empty());
    Some(c)
}

/// `s` without the faults at the indices in `drop`.
fn without(s: &Scenario, drop: &BTreeSet<usize>) -> Scenario {
    let mut c = s.clone();
    c.faults = s
        .faults
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, f)| f.clone())
        .collect();
    c
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The same fault, shorter or narrower.
fn simpler_action(a: &FaultAction) -> Option<FaultAction> {
    let halve = |d: &Duration| (*d >= Duration::from_millis(2)).then(|| round_ms(*d / 2));
    match a {
        FaultAction::Crash {
            node,
            restart_after: Some(d),
        } => halve(d).map(|d| FaultAction::Crash {
            node: node.clone(),
            restart_after: Some(d),
        }),
        FaultAction::Pause {
            node,
            resume_after: Some(d),
        } => halve(d).map(|d| FaultAction::Pause {
            node: node.clone(),
            resume_after: Some(d),
        }),
        FaultAction::Partition(groups) => {
            // Move one node out of the largest group (it keeps all its links).
            let (i, g) = groups.iter().enumerate().max_by_key(|(_, g)| g.len())?;
            (g.len() > 1).then(|| {
                let mut groups = groups.clone();
                groups[i].pop();
                FaultAction::Partition(groups)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn limits(s: &Scenario, min_nodes: usize) -> Limits {
        Limits {
            min_nodes,
            original: Aftermath::of(s),
        }
    }

    #[test]
    fn candidates_are_simpler_and_valid() {
        let s = Scenario::new("c", "ids")
            .nodes(4)
            .loss(0.1)
            .partition_at(ms(100), &[&["n0", "n1"][..], &["n2"][..]])
            .crash_at(ms(300), "n1", Some(ms(400)));
        let c = candidates(&s, &limits(&s, 1));
        assert!(c.iter().any(|c| c.faults.is_empty()));
        assert!(c.iter().any(|c| c.network.loss == 0.0));
        assert!(c.iter().any(|c| c.nodes == 3), "n3 is named nowhere");
        assert!(c.iter().any(|c| c.faults.iter().any(|f| f.action
            == FaultAction::Crash {
                node: "n1".into(),
                restart_after: Some(ms(200))
            })));
        assert!(c.iter().all(|c| c != &s && c.validate().is_ok()));
    }

    #[test]
    fn a_heal_goes_only_with_its_partition() {
        let s = Scenario::new("c", "ids")
            .nodes(5)
            .duration(ms(5000))
            .partition_at(ms(1000), &[&["n0", "n1"][..], &["n2", "n3", "n4"][..]])
            .heal_at(ms(2000))
            .crash_at(ms(2500), "n3", Some(ms(300)));
        for c in candidates(&s, &limits(&s, 1)) {
            let parts = c.faults.iter().filter(|f| f.action.kind() == "partition");
            let heals = c.faults.iter().filter(|f| f.action.kind() == "heal");
            assert_eq!(parts.count(), heals.count(), "{}", c.to_toml());
            if let (Some(p), Some(h)) = (
                c.faults.iter().find(|f| f.action.kind() == "partition"),
                c.faults.iter().find(|f| f.action.kind() == "heal"),
            ) {
                assert!(p.at < h.at, "{}", c.to_toml());
            }
            assert!(
                c.duration - ms(2800) >= ms(2200),
                "quiet time kept: {}",
                c.to_toml()
            );
        }
    }

    #[test]
    fn node_counts_halve_first_then_take_smaller_steps_and_respect_the_minimum() {
        let steps = node_counts(1000, 1);
        assert_eq!(&steps[..4], &[500, 750, 875, 938]);
        assert_eq!(steps.last(), Some(&999));
        assert_eq!(node_counts(5, 3), vec![3, 4]);
        assert_eq!(node_counts(3, 3), Vec::<usize>::new());
        assert!(node_counts(40, 2).iter().all(|&k| (2..40).contains(&k)));
    }

    #[test]
    fn fewer_nodes_drop_the_faults_on_the_others_with_their_undoing() {
        let s = Scenario::new("c", "ids")
            .nodes(6)
            .duration(ms(5000))
            .partition_at(ms(1000), &[&["n0", "n4"][..], &["n1", "n5"][..]])
            .heal_at(ms(2000))
            .crash_at(ms(2500), "n5", Some(ms(300)));
        let c = with_nodes(&s, 3).unwrap();
        assert_eq!(c.nodes, 3);
        assert_eq!(
            c.faults.iter().map(|f| f.action.kind()).collect::<Vec<_>>(),
            vec!["partition", "heal"],
            "{}",
            c.to_toml()
        );
        let c = with_nodes(&s, 1).unwrap();
        assert!(c.faults.is_empty(), "{}", c.to_toml());
        c.validate().unwrap();
    }
}
