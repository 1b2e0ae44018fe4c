//! Shrinking: from a failing (scenario, seed) to a minimal scenario file that still shows the
//! same bug, and nothing else.
//!
//! The run's whole fault schedule — scripted faults plus whatever the nemesis drew from the
//! seed — is first written out as explicit faults (the nemesis draws from its own rng, so this
//! replays the same run). Then, keeping the seed, the shrinker greedily tries simpler
//! candidates (module `candidates`) and keeps one only if it still fails with the original's
//! [`Violation`] — the same check *and* the same kind of violation — and with no violation the
//! original did not have. Three rules keep the result a repro of the bug rather than of the
//! shrinking:
//! - a fault and the recovery that undoes it (a partition and its heal, a crash and its
//!   restart, a pause and its resume, a clock step and its reversal) are removed, moved and
//!   dropped together, and no candidate leaves more unhealed at its end, or gives the system
//!   less quiet time after its last fault, than the original run;
//! - the cluster never shrinks below what the system needs ([`System::min_nodes`]) nor below
//!   the nodes the scenario's `[config]` names; node counts shrink by halving first;
//! - the target is a correctness violation when the run has one: a run that only goes over a
//!   message budget does not stand in for one that lost a value.
//!
//! It stops when no candidate fails so or the run budget is spent. [`Shrunk::header`] says
//! what was removed and what the violation is.
//!
//! For generating schedules rather than shrinking a given one, [`schedule_strategy`] is a
//! proptest strategy over fault schedules, whose own shrinking removes and simplifies faults.
//!
//! [`System::min_nodes`]: crate::system::System::min_nodes

mod candidates;
mod episodes;
mod strategy;

pub use strategy::{fault_strategy, schedule_strategy};

use crate::check::{Verdict, Violation, BUDGET_EXCEEDED};
use crate::engine::EngineError;
use crate::faults::faults_of_run;
use crate::runner::{run_seed, Recheck, SeedReport};
use crate::scenario::Scenario;
use crate::system::System;
use candidates::{candidates, Limits};
use episodes::Aftermath;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A minimal failing scenario.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The minimal scenario: explicit faults, no nemesis, `seeds` = just the seed.
    pub scenario: Scenario,
    /// The seed it fails at.
    pub seed: u64,
    /// The violation it fails with, the same as the original run's.
    pub violation: Violation,
    /// The failing verdict's detail in the minimal run.
    pub reason: String,
    /// The checks that failed originally.
    pub failing: Vec<String>,
    /// The scenario the shrinker started from: every fault of the original run explicit.
    pub original: Scenario,
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

/// The violation a shrunk run must keep: the run's first correctness violation, or its first
/// violation of any kind when all it broke were budgets.
pub fn target_violation(checks: &[Verdict]) -> Option<Violation> {
    let failed = || checks.iter().filter(|c| !c.ok);
    failed()
        .find(|c| c.kind != BUDGET_EXCEEDED)
        .or_else(|| failed().next())
        .and_then(Verdict::found)
}

/// The fewest nodes `s` can shrink to: the system's minimum, and every node its `[config]`
/// names (`manager = "n3"`, `slow = { n4 = 10.0 }`).
pub fn min_nodes(system: &System, s: &Scenario) -> usize {
    let system = system.min_nodes_for(s);
    let mut named = 0;
    config_nodes(&s.config, &mut |i| named = named.max(i + 1));
    system.max(named).max(1)
}

fn config_nodes(v: &serde_json::Value, found: &mut impl FnMut(usize)) {
    let index = |text: &str| text.strip_prefix('n')?.parse::<usize>().ok();
    match v {
        serde_json::Value::String(s) => index(s).into_iter().for_each(&mut *found),
        serde_json::Value::Array(items) => items.iter().for_each(|x| config_nodes(x, found)),
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                index(k).into_iter().for_each(&mut *found);
                config_nodes(x, found);
            }
        }
        _ => {}
    }
}

/// Shrinks the failure of `scenario` at `seed`, spending at most `budget` runs.
pub fn shrink(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    budget: usize,
) -> Result<Shrunk, ShrinkError> {
    let first = run_seed(system, scenario, seed, Recheck::Once)?;
    let Some(target) = target_violation(&first.checks) else {
        return Err(ShrinkError::Passes(seed));
    };
    let allowed: BTreeSet<Violation> = first.checks.iter().filter_map(Verdict::found).collect();
    let runs = std::cell::Cell::new(1);
    // The detail of the target's verdict when `s` fails the same way, else `None`.
    let same_bug = |s: &Scenario| -> Result<Option<String>, EngineError> {
        runs.set(runs.get() + 1);
        let r: SeedReport = run_seed(system, s, seed, Recheck::Once)?;
        let found: BTreeSet<Violation> = r.checks.iter().filter_map(Verdict::found).collect();
        if !found.contains(&target) || !found.is_subset(&allowed) {
            return Ok(None);
        }
        Ok(r.checks
            .into_iter()
            .find(|c| c.found().as_ref() == Some(&target))
            .map(|c| c.detail))
    };
    let original = materialize(scenario, seed);
    let Some(mut reason) = same_bug(&original)? else {
        return Err(ShrinkError::DoesNotReproduce(seed));
    };
    let limits = Limits {
        min_nodes: min_nodes(system, &original),
        original: Aftermath::of(&original),
    };
    let mut current = original.clone();
    'improve: loop {
        for candidate in candidates(&current, &limits) {
            if runs.get() >= budget {
                break 'improve;
            }
            // A candidate must be a scenario its system accepts (fewer nodes than its
            // `[config]` names is not one).
            if candidate.nodes < limits.min_nodes
                || candidate.validate().is_err()
                || system.validate(&candidate).is_err()
            {
                continue;
            }
            if let Some(detail) = same_bug(&candidate)? {
                current = candidate;
                reason = detail;
                continue 'improve;
            }
        }
        break;
    }
    Ok(Shrunk {
        scenario: current,
        seed,
        violation: target,
        reason,
        failing: first
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.clone())
            .collect(),
        faults_before: original.faults.len(),
        original,
        runs: runs.get(),
    })
}

impl Shrunk {
    /// What was removed, in words: faults by kind, nodes, duration, clients, network.
    pub fn removed(&self) -> Vec<String> {
        let (a, b) = (&self.original, &self.scenario);
        let count = |s: &Scenario| {
            let mut m: BTreeMap<&'static str, usize> = BTreeMap::new();
            for f in &s.faults {
                *m.entry(f.action.kind()).or_default() += 1;
            }
            m
        };
        let (before, after) = (count(a), count(b));
        let gone: Vec<String> = before
            .iter()
            .filter_map(|(k, n)| {
                let left = after.get(k).copied().unwrap_or(0);
                (left < *n).then(|| format!("{} {k}", n - left))
            })
            .collect();
        let mut out = vec![format!(
            "faults: {} -> {}{}",
            a.faults.len(),
            b.faults.len(),
            if gone.is_empty() {
                String::new()
            } else {
                format!(" (removed {})", gone.join(", "))
            }
        )];
        out.push(format!("nodes: {} -> {}", a.nodes, b.nodes));
        out.push(format!(
            "duration: {} -> {}",
            ms(a.duration),
            ms(b.duration)
        ));
        if a.workload.clients != b.workload.clients {
            out.push(format!(
                "clients: {} -> {}",
                a.workload.clients, b.workload.clients
            ));
        }
        let mut calmer = vec![];
        if a.network.loss != b.network.loss {
            calmer.push(format!("loss {} -> {}", a.network.loss, b.network.loss));
        }
        if a.network.duplicate != b.network.duplicate {
            calmer.push(format!(
                "duplicate {} -> {}",
                a.network.duplicate, b.network.duplicate
            ));
        }
        if a.network.links.len() != b.network.links.len() {
            calmer.push(format!(
                "link rules {} -> {}",
                a.network.links.len(),
                b.network.links.len()
            ));
        }
        if a.clocks.len() != b.clocks.len() {
            calmer.push(format!(
                "skewed clocks {} -> {}",
                a.clocks.len(),
                b.clocks.len()
            ));
        }
        if !calmer.is_empty() {
            out.push(format!("config simplified: {}", calmer.join(", ")));
        }
        out
    }

    /// The shrunk file's header, as TOML comments: where it came from, what the shrinker
    /// removed, and the violation it still shows.
    pub fn header(&self) -> String {
        let mut text = format!(
            "# Shrunk by highstorm from `{}` at seed {} in {} runs.\n",
            self.original.name.trim_end_matches("-shrunk"),
            self.seed,
            self.runs
        );
        text.push_str(&format!(
            "# Violation: {} ({}): {}\n",
            self.violation.check,
            self.violation.kind,
            self.reason.replace('\n', " ")
        ));
        for line in self.removed() {
            text.push_str(&format!("# {line}\n"));
        }
        text
    }
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_the_target_only_when_nothing_else_failed() {
        let budget = Verdict::violation("msgs-per-op-within-budget", BUDGET_EXCEEDED, "7.24 > 5");
        let lost = Verdict::violation("values-converge", "missing-value", "3 missing");
        let target = target_violation(&[budget.clone(), lost]).unwrap();
        assert_eq!(
            (target.check.as_str(), target.kind.as_str()),
            ("values-converge", "missing-value")
        );
        let target = target_violation(&[Verdict::pass("x", ""), budget]).unwrap();
        assert_eq!(target.kind, BUDGET_EXCEEDED);
        assert_eq!(target_violation(&[Verdict::pass("x", "")]), None);
    }

    #[test]
    fn the_minimum_covers_the_system_and_the_nodes_the_config_names() {
        let registry = crate::testing::fixture::registry();
        let min = |s: &Scenario| min_nodes(registry.get(&s.system).unwrap(), s);
        let mut s = Scenario::new("m", "pair").nodes(5);
        assert_eq!(min(&s), 2);
        s.config = serde_json::json!({ "slow": { "n3": 10.0 } });
        assert_eq!(min(&s), 4);
        assert_eq!(min(&Scenario::new("m", "quorum").nodes(5)), 3);
        assert_eq!(min(&Scenario::new("m", "ids").nodes(5)), 1);
    }
}
