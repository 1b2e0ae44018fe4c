//! Shrinking: from a failing (scenario, seed) to a minimal scenario file that still fails the
//! same way.
//!
//! The run's whole fault schedule — scripted faults plus whatever the nemesis drew from the
//! seed — is first written out as explicit faults (the nemesis draws from its own rng, so this
//! replays the same run). Then, keeping the seed, the shrinker greedily tries simpler
//! candidates and keeps any that still fail one of the originally failing checks: fewer faults
//! (halves, quarters, ..., single faults), a calmer network (no loss, duplication, link rules
//! or clock skew), fewer nodes, fewer clients, a shorter run, shorter faults, earlier faults
//! and smaller partitions. It stops when no candidate fails or the run budget is spent.
//!
//! For generating schedules rather than shrinking a given one, [`schedule_strategy`] is a
//! proptest strategy over fault schedules, whose own shrinking removes and simplifies faults.

use crate::engine::EngineError;
use crate::faults::faults_of_run;
use crate::runner::{run_seed, Recheck};
use crate::scenario::{Fault, FaultAction, Heal, Scenario};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// A minimal failing scenario.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The minimal scenario: explicit faults, no nemesis, `seeds` = just the seed.
    pub scenario: Scenario,
    /// The seed it fails at.
    pub seed: u64,
    /// The checks that failed originally (the shrunk scenario fails at least one of them).
    pub failing: Vec<String>,
    /// Faults in the original run (scripted plus nemesis).
    pub faults_before: usize,
    /// Simulation runs the shrinker spent.
    pub runs: usize,
}

/// Why a run could not be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The run could not be executed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Nothing to shrink: the seed passes.
    #[error("seed {0} passes: nothing to shrink")]
    Passes(u64),
    /// The explicit schedule did not reproduce the failure (a determinism bug).
    #[error("seed {0} fails, but not with its fault schedule written out explicitly")]
    DoesNotReproduce(u64),
}

/// `scenario` at `seed` with every fault of the run explicit and the nemesis removed.
pub fn materialize(scenario: &Scenario, seed: u64) -> Scenario {
    let mut s = scenario.clone();
    s.faults = faults_of_run(scenario, seed);
    s.nemesis = None;
    s.seeds = seed..seed.saturating_add(1);
    s.regressions = vec![];
    s.path = None;
    if !s.name.ends_with("-shrunk") {
        s.name = format!("{}-shrunk", s.name);
    }
    s
}

/// Shrinks the failure of `scenario` at `seed`, spending at most `budget` runs.
pub fn shrink(scenario: &Scenario, seed: u64, budget: usize) -> Result<Shrunk, ShrinkError> {
    let first = run_seed(scenario, seed, Recheck::Once)?;
    if first.ok {
        return Err(ShrinkError::Passes(seed));
    }
    let target: BTreeSet<String> = first
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.clone())
        .collect();
    let runs = std::cell::Cell::new(1);
    let fails = |s: &Scenario| -> Result<bool, EngineError> {
        runs.set(runs.get() + 1);
        let r = run_seed(s, seed, Recheck::Once)?;
        Ok(r.checks.iter().any(|c| !c.ok && target.contains(&c.name)))
    };
    let mut current = materialize(scenario, seed);
    let faults_before = current.faults.len();
    if !fails(&current)? {
        return Err(ShrinkError::DoesNotReproduce(seed));
    }
    'improve: loop {
        for candidate in candidates(&current) {
            if runs.get() >= budget {
                break 'improve;
            }
            if candidate.validate().is_ok() && fails(&candidate)? {
                current = candidate;
                continue 'improve;
            }
        }
        break;
    }
    Ok(Shrunk {
        scenario: current,
        seed,
        failing: target.into_iter().collect(),
        faults_before,
        runs: runs.get(),
    })
}

/// Simpler variants of `s`, most promising first.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = vec![];
    let with = |f: &dyn Fn(&mut Scenario)| {
        let mut c = s.clone();
        f(&mut c);
        c
    };
    // Fewer faults: none at all, then chunks of halving size.
    let n = s.faults.len();
    if n > 1 {
        out.push(with(&|c| c.faults.clear()));
    }
    let mut chunk = n.div_ceil(2);
    while chunk >= 1 && n > 0 {
        for start in (0..n).step_by(chunk) {
            out.push(with(&|c| {
                c.faults.drain(start..(start + chunk).min(n));
            }));
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
    // Fewer nodes, when the last one is named nowhere.
    let last = format!("n{}", s.nodes.saturating_sub(1));
    let named = s.faults.iter().any(|f| f.action.nodes().contains(&&last))
        || s.clocks.contains_key(&last)
        || s.network
            .links
            .iter()
            .any(|l| l.from.contains(&last) || l.to.contains(&last));
    if s.nodes > 1 && !named {
        out.push(with(&|c| c.nodes -= 1));
    }
    if s.workload.clients > 1 {
        out.push(with(&|c| c.workload.clients -= 1));
    }
    // A shorter run: end soon after the last fault, or cut the run by a quarter.
    let last_fault = s.faults.iter().map(|f| f.at).max().unwrap_or_default();
    let settle = s.workload.timeout * 4 + Duration::from_millis(500);
    for d in [last_fault + settle, s.duration.mul_f64(0.75)] {
        let d = round_ms(d);
        if d < s.duration && d > last_fault {
            out.push(with(&|c| c.duration = d));
        }
    }
    // Shorter, earlier, smaller faults.
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(simpler) = simpler_action(&f.action) {
            out.push(with(&|c| c.faults[i].action = simpler.clone()));
        }
        if f.at >= Duration::from_millis(2) {
            let earlier = round_ms(f.at / 2);
            out.push(with(&|c| {
                c.faults[i].at = earlier;
                c.faults.sort_by_key(|f| f.at);
            }));
        }
    }
    out
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

/// A proptest strategy for one fault among `nodes` within `duration`: partitions (both ways
/// and one way), heals, crashes with restarts, pauses with resumes, and clock steps.
pub fn fault_strategy(nodes: Vec<String>, duration: Duration) -> impl Strategy<Value = Fault> {
    let n = nodes.len();
    let max_ms = u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let node = {
        let nodes = nodes.clone();
        (0..n).prop_map(move |i| nodes[i].clone())
    };
    let split = {
        let nodes = nodes.clone();
        (proptest::collection::vec(any::<bool>(), n)).prop_map(move |sides| {
            let (a, b): (Vec<_>, Vec<_>) = nodes.iter().cloned().zip(sides).partition(|(_, s)| *s);
            (
                a.into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
                b.into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
        })
    };
    let ms = |max: u64| (1..max.max(2)).prop_map(Duration::from_millis);
    let action = prop_oneof![
        split
            .clone()
            .prop_map(|(a, b)| FaultAction::Partition(vec![a, b])),
        split.prop_map(|(from, to)| FaultAction::PartitionOneway { from, to }),
        Just(FaultAction::Heal(Heal::All)),
        (node.clone(), ms(max_ms / 4)).prop_map(|(node, d)| FaultAction::Crash {
            node,
            restart_after: Some(d)
        }),
        (node.clone(), ms(max_ms / 4)).prop_map(|(node, d)| FaultAction::Pause {
            node,
            resume_after: Some(d)
        }),
        (node, -1_000_000i64..1_000_000, -0.05f64..0.05).prop_map(|(node, skew_us, drift)| {
            FaultAction::Skew {
                node,
                clock: crate::scenario::Clock { skew_us, drift },
            }
        }),
    ];
    (ms(max_ms), action).prop_map(|(at, action)| Fault { at, action })
}

/// A proptest strategy for up to `max_faults` faults, in time order.
pub fn schedule_strategy(
    nodes: Vec<String>,
    duration: Duration,
    max_faults: usize,
) -> impl Strategy<Value = Vec<Fault>> {
    proptest::collection::vec(fault_strategy(nodes, duration), 0..=max_faults).prop_map(|mut f| {
        f.sort_by_key(|f| f.at);
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_simpler_and_valid() {
        let ms = Duration::from_millis;
        let s = Scenario::new("c", "unique-ids")
            .nodes(4)
            .loss(0.1)
            .partition_at(ms(100), &[&["n0", "n1"][..], &["n2"][..]])
            .crash_at(ms(300), "n1", Some(ms(400)));
        let c = candidates(&s);
        assert!(c.iter().any(|c| c.faults.is_empty()));
        assert!(c.iter().any(|c| c.network.loss == 0.0));
        assert!(c.iter().any(|c| c.nodes == 3), "n3 is named nowhere");
        assert!(c.iter().any(|c| c.faults.iter().any(|f| f.action
            == FaultAction::Crash {
                node: "n1".into(),
                restart_after: Some(ms(200))
            })));
        assert!(c.iter().all(|c| c != &s));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn generated_schedules_are_valid_scenarios(
            faults in schedule_strategy(vec!["n0".into(), "n1".into(), "n2".into()], Duration::from_secs(5), 6)
        ) {
            let mut s = Scenario::new("gen", "echo").duration(Duration::from_secs(5));
            s.faults = faults;
            prop_assert!(s.validate().is_ok(), "{:?}", s.validate());
            let back = Scenario::from_toml("gen.toml", &s.to_toml()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, s);
        }
    }
}
