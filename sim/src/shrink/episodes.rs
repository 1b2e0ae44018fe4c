//! A fault schedule as episodes: each fault together with the recoveries that undo it (a
//! partition and its heal, a crash and its restart, a pause and its resume, a clock step and
//! its reversal, worse link conditions and their restoration). The shrinker removes, moves and
//! drops whole episodes, so a smaller schedule never keeps a fault while losing its undoing.
//!
//! [`Aftermath`] is what a schedule leaves behind when it ends — links still cut, nodes still
//! down or paused, clocks or links not restored — and how long the system had after its last
//! fault. A candidate may leave no more behind than the original run did, and must give the
//! system at least the quiet time the original gave it.

use crate::faults::timeline;
use crate::scenario::{Clock, Conditions, Fault, FaultAction, Heal, Network, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The links a network fault applies to: (senders, receivers).
type Links = (Vec<String>, Vec<String>);

/// The faults of `faults` grouped into episodes (indices into `faults`, ascending); every
/// fault is in exactly one. `baseline` tells a restoration of the network from a new fault.
pub(crate) fn episodes(faults: &[Fault], baseline: &Network) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..faults.len()).collect();
    fn root(parent: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while parent[r] != r {
            r = parent[r];
        }
        parent[i] = r;
        r
    }
    let mut join = |a: usize, b: usize| {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    };
    let mut order: Vec<usize> = (0..faults.len()).collect();
    order.sort_by_key(|&i| faults[i].at);
    let mut cuts: Vec<usize> = vec![];
    let mut down: BTreeMap<&str, usize> = BTreeMap::new();
    let mut paused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut full: BTreeMap<&str, usize> = BTreeMap::new();
    let mut steps: BTreeMap<&str, Vec<(usize, Clock)>> = BTreeMap::new();
    // Open changes of link conditions: (fault, links, conditions).
    let mut worse: Vec<(usize, &Option<Links>, Conditions)> = vec![];
    for i in order {
        match &faults[i].action {
            FaultAction::Partition(_) | FaultAction::PartitionOneway { .. } => cuts.push(i),
            FaultAction::Heal(Heal::All) => {
                for c in cuts.drain(..) {
                    join(c, i);
                }
            }
            FaultAction::Heal(Heal::Link(a, b)) => {
                for &c in cuts.iter().filter(|&&c| separates(&faults[c].action, a, b)) {
                    join(c, i);
                }
            }
            FaultAction::Crash {
                node,
                restart_after: None,
            } => {
                down.insert(node, i);
            }
            FaultAction::Restart(node) => {
                if let Some(c) = down.remove(node.as_str()) {
                    join(c, i);
                }
            }
            FaultAction::Pause {
                node,
                resume_after: None,
            } => {
                paused.insert(node, i);
            }
            FaultAction::Resume(node) => {
                if let Some(p) = paused.remove(node.as_str()) {
                    join(p, i);
                }
            }
            FaultAction::Skew { node, clock } => {
                let open = steps.entry(node).or_default();
                let undone = open
                    .iter()
                    .position(|(_, c)| clock.drift == 0.0 && c.skew_us == -clock.skew_us);
                match undone {
                    Some(k) => join(open.remove(k).0, i),
                    None => open.push((i, *clock)),
                }
            }
            FaultAction::Network { link, conditions } => {
                if restores(conditions, baseline) {
                    // Undoes the latest open change of the same links and settings.
                    let undone = worse
                        .iter()
                        .rposition(|(_, l, c)| *l == link && same_settings(c, conditions));
                    if let Some(k) = undone {
                        join(worse.remove(k).0, i);
                    }
                } else {
                    worse.push((i, link, *conditions));
                }
            }
            FaultAction::DiskFull {
                node,
                free_after: None,
            } => {
                full.insert(node, i);
            }
            FaultAction::DiskFree(node) => {
                if let Some(f) = full.remove(node.as_str()) {
                    join(f, i);
                }
            }
            // A corruption is an episode of its own: nothing undoes it.
            FaultAction::Corrupt { .. } => {}
            FaultAction::Crash { .. }
            | FaultAction::Pause { .. }
            | FaultAction::DiskFull { .. } => {}
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..faults.len() {
        groups.entry(root(&mut parent, i)).or_default().push(i);
    }
    groups.into_values().collect()
}

/// Whether a partition cuts the link between `a` and `b` (either way).
fn separates(action: &FaultAction, a: &str, b: &str) -> bool {
    match action {
        FaultAction::Partition(groups) => {
            let group = |n: &str| groups.iter().position(|g| g.iter().any(|x| x == n));
            matches!((group(a), group(b)), (Some(x), Some(y)) if x != y)
        }
        FaultAction::PartitionOneway { from, to } => {
            let has = |v: &[String], n: &str| v.iter().any(|x| x == n);
            (has(from, a) && has(to, b)) || (has(from, b) && has(to, a))
        }
        _ => false,
    }
}

/// Whether every setting `c` changes is set back to the scenario's own.
fn restores(c: &Conditions, baseline: &Network) -> bool {
    c.latency.is_none_or(|l| l == baseline.latency)
        && c.loss.is_none_or(|l| l == baseline.loss)
        && c.duplicate.is_none_or(|d| d == baseline.duplicate)
}

fn same_settings(a: &Conditions, b: &Conditions) -> bool {
    a.latency.is_some() == b.latency.is_some()
        && a.loss.is_some() == b.loss.is_some()
        && a.duplicate.is_some() == b.duplicate.is_some()
}

/// What a run's faults leave behind at its end.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Aftermath {
    /// Some partition is still in force (a `heal` of single links is not counted as ending one).
    cut: bool,
    /// Nodes crashed and never restarted.
    down: BTreeSet<String>,
    /// Nodes paused and never resumed.
    paused: BTreeSet<String>,
    /// Nodes whose clock was stepped or set drifting and not set back.
    clocks: BTreeSet<String>,
    /// Disks filled and never freed.
    full: BTreeSet<String>,
    /// Link settings changed and not set back: (links, setting).
    network: BTreeSet<(String, &'static str)>,
    /// The time from the last fault or recovery to the end of the run.
    pub(crate) quiet: Duration,
}

impl Aftermath {
    /// What `s`'s scripted faults leave behind.
    pub(crate) fn of(s: &Scenario) -> Aftermath {
        let mut after = Aftermath::default();
        let mut cuts = 0usize;
        let mut clocks: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
        let mut last = Duration::ZERO;
        let steps = timeline(&s.faults);
        for (at, action) in &steps {
            last = last.max(*at);
            match action {
                FaultAction::Partition(_) | FaultAction::PartitionOneway { .. } => cuts += 1,
                FaultAction::Heal(Heal::All) => cuts = 0,
                FaultAction::Heal(Heal::Link(..)) => {}
                FaultAction::Crash { node, .. } => {
                    after.down.insert(node.clone());
                }
                FaultAction::Restart(node) => {
                    after.down.remove(node);
                }
                FaultAction::Pause { node, .. } => {
                    after.paused.insert(node.clone());
                }
                FaultAction::Resume(node) => {
                    after.paused.remove(node);
                }
                FaultAction::DiskFull { node, .. } => {
                    after.full.insert(node.clone());
                }
                FaultAction::DiskFree(node) => {
                    after.full.remove(node);
                }
                FaultAction::Corrupt { .. } => {}
                FaultAction::Skew { node, clock } => {
                    let c = clocks.entry(node).or_default();
                    c.0 += clock.skew_us;
                    c.1 = clock.drift;
                }
                FaultAction::Network { link, conditions } => {
                    let links = link
                        .as_ref()
                        .map_or("all".to_owned(), |(f, t)| format!("{f:?}->{t:?}"));
                    let restored = restores(conditions, &s.network);
                    for (setting, set) in [
                        ("latency", conditions.latency.is_some()),
                        ("loss", conditions.loss.is_some()),
                        ("duplicate", conditions.duplicate.is_some()),
                    ] {
                        if set && restored {
                            after.network.remove(&(links.clone(), setting));
                        } else if set {
                            after.network.insert((links.clone(), setting));
                        }
                    }
                }
            }
        }
        after.cut = cuts > 0;
        after.clocks = clocks
            .into_iter()
            .filter(|(_, (skew, drift))| *skew != 0 || *drift != 0.0)
            .map(|(n, _)| n.to_owned())
            .collect();
        after.quiet = s.duration.saturating_sub(last);
        after
    }

    /// Whether this leaves nothing behind that `original` did not, and as much quiet time.
    pub(crate) fn within(&self, original: &Aftermath) -> bool {
        (!self.cut || original.cut)
            && self.down.is_subset(&original.down)
            && self.paused.is_subset(&original.paused)
            && self.full.is_subset(&original.full)
            && self.clocks.is_subset(&original.clocks)
            && self.network.is_subset(&original.network)
            && self.quiet >= original.quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn at(n: u64, action: FaultAction) -> Fault {
        Fault { at: ms(n), action }
    }

    #[test]
    fn each_fault_shares_an_episode_with_what_undoes_it() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let faults = vec![
            at(
                100,
                FaultAction::Partition(vec![v(&["n0"]), v(&["n1", "n2"])]),
            ),
            at(
                150,
                FaultAction::Crash {
                    node: "n1".into(),
                    restart_after: None,
                },
            ),
            at(
                200,
                FaultAction::Partition(vec![v(&["n1"]), v(&["n0", "n2"])]),
            ),
            at(300, FaultAction::Heal(Heal::All)),
            at(350, FaultAction::Restart("n1".into())),
            at(
                400,
                FaultAction::Skew {
                    node: "n2".into(),
                    clock: Clock {
                        skew_us: 500,
                        drift: 0.01,
                    },
                },
            ),
            at(
                500,
                FaultAction::Network {
                    link: None,
                    conditions: Conditions {
                        loss: Some(0.2),
                        ..Default::default()
                    },
                },
            ),
            at(
                600,
                FaultAction::Skew {
                    node: "n2".into(),
                    clock: Clock {
                        skew_us: -500,
                        drift: 0.0,
                    },
                },
            ),
            at(
                700,
                FaultAction::Network {
                    link: None,
                    conditions: Conditions {
                        loss: Some(0.0),
                        ..Default::default()
                    },
                },
            ),
            at(
                800,
                FaultAction::Pause {
                    node: "n0".into(),
                    resume_after: Some(ms(10)),
                },
            ),
        ];
        let e = episodes(&faults, &Network::default());
        assert_eq!(
            e,
            vec![vec![0, 2, 3], vec![1, 4], vec![5, 7], vec![6, 8], vec![9]]
        );
    }

    #[test]
    fn the_aftermath_counts_what_is_never_undone_and_the_quiet_time() {
        let s = Scenario::new("a", "ids")
            .duration(ms(2000))
            .partition_at(ms(100), &[&["n0"][..], &["n1"][..]])
            .crash_at(ms(300), "n1", Some(ms(200)));
        let healed = s.clone().heal_at(ms(1000));
        let cut = Aftermath::of(&s);
        let fine = Aftermath::of(&healed);
        assert!(cut.cut && !fine.cut);
        assert_eq!((cut.quiet, fine.quiet), (ms(1500), ms(1000)));
        assert!(!cut.within(&fine), "a partition the original healed");
        assert!(!fine.within(&cut), "less quiet time than the original");
        let earlier = s.clone().heal_at(ms(400));
        assert!(Aftermath::of(&earlier).within(&cut));
    }
}
