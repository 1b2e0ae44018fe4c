//! How a swarm sweep went, per fault kind: how many seeds had the kind on, and how many of
//! the failing seeds did ([`SwarmTally`]). A kind on in most failures but few passes is the
//! first suspect; a kind no failure had on is cleared.

use crate::faults::swarm_kinds;
use crate::runner::SeedReport;
use crate::scenario::{NemesisKind, Scenario};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// One fault kind's count over a swarm sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindTally {
    /// The kind, as written in scenario files.
    pub kind: &'static str,
    /// Seeds that had it on.
    pub on: usize,
    /// Failing seeds that had it on.
    pub failed: usize,
}

/// Per fault kind, seeds with it on and failures with it on, over the swarm runs of a sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SwarmTally {
    /// Swarm runs counted.
    pub seeds: usize,
    /// Of which failed.
    pub failures: usize,
    /// Every kind some swarm scenario of the sweep draws from, in kind order.
    pub kinds: Vec<KindTally>,
}

impl SwarmTally {
    /// The tally of `reports` (runs of `scenarios`, matched by name); runs of scenarios
    /// without a swarm nemesis are left out. `None` when no run was a swarm run.
    pub fn of(scenarios: &[Scenario], reports: &[SeedReport]) -> Option<SwarmTally> {
        let mut tally = SwarmTally::default();
        let mut counts: BTreeMap<NemesisKind, (usize, usize)> = BTreeMap::new();
        for r in reports {
            let Some(s) = scenarios.iter().find(|s| s.name == r.scenario) else {
                continue;
            };
            let Some(on) = swarm_kinds(s, r.seed) else {
                continue;
            };
            for k in s.nemesis.iter().flat_map(|n| &n.kinds) {
                counts.entry(*k).or_default();
            }
            tally.seeds += 1;
            tally.failures += usize::from(!r.ok);
            for k in on {
                let c = counts.entry(k).or_default();
                c.0 += 1;
                c.1 += usize::from(!r.ok);
            }
        }
        if tally.seeds == 0 {
            return None;
        }
        tally.kinds = counts
            .into_iter()
            .map(|(k, (on, failed))| KindTally {
                kind: k.name(),
                on,
                failed,
            })
            .collect();
        Some(tally)
    }
}

impl fmt::Display for SwarmTally {
    /// A table: one line per kind, `kind  on N/SEEDS  in F/FAILURES failures`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "swarm: {} seeds, {} failed; per fault kind, seeds with it on and failures with it on:",
            self.seeds, self.failures
        )?;
        for k in &self.kinds {
            writeln!(
                f,
                "  {:<17} on in {:>5}/{} seeds, in {:>5}/{} failures",
                k.kind, k.on, self.seeds, k.failed, self.failures
            )?;
        }
        Ok(())
    }
}
