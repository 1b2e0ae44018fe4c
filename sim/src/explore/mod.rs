//! Explore: coverage-guided search over fault schedules, for bugs no scenario was written for.
//!
//! Explore runs candidates one at a time (module `start`): first the scenario itself — given
//! a liveness phase when the system promises what holds once healed, so that a node which
//! stays up but stops serving is a failure too — then the scenario with swarm draws on top
//! (which fault kinds are on and how hard, drawn from a seed as swarm mode does, written as
//! plain `[[faults]]`). A run that shows a new coverage signal (module `coverage`: a message
//! type, note kind or client outcome in a fault context not seen before, or a sometimes-point
//! that held for the first time) joins the corpus; later candidates are mostly mutants of
//! corpus entries (module `mutate`: faults added — module `draw`: cuts, crashes and
//! restarts, pauses, clock steps, loss, duplication, latency, storage faults — removed, moved,
//! lengthened; seeds changed), now and then a fresh swarm draw. The first failing run stops
//! the search; its schedule is shrunk and written out as a scenario file a person can read,
//! edit and replay.
//!
//! The search is deterministic given [`Explore::seed`] and a run budget
//! ([`Budget::Runs`]); a time budget ([`Budget::Time`]) stops wherever the clock says.

mod coverage;
mod draw;
mod mutate;
mod start;

pub use coverage::{signals, Signals};
pub use mutate::{describe, mutate, Candidate, Window};

use crate::engine::EngineError;
use crate::runner::{run_seed, Recheck, SeedReport};
use crate::scenario::{NemesisKind, Scenario};
use crate::shrink::{self, ShrinkError, Shrunk};
use crate::sometimes::SometimesReport;
use crate::system::System;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long explore may search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// At most this many runs (deterministic).
    Runs(u64),
    /// Until this much wall-clock time has passed.
    Time(Duration),
}

impl FromStr for Budget {
    type Err = String;
    /// `500runs` (or `500 runs`), or a duration: `90s`, `5m`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(n) = t.strip_suffix("runs").or_else(|| t.strip_suffix("run")) {
            return match n.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(Budget::Runs(n)),
                _ => Err(format!(
                    "bad budget {s:?}: expected a positive run count, e.g. 500runs"
                )),
            };
        }
        match humantime::parse_duration(t) {
            Ok(d) if !d.is_zero() => Ok(Budget::Time(d)),
            _ => Err(format!(
                "bad budget {s:?}: expected a run count (500runs) or a duration (90s, 5m)"
            )),
        }
    }
}

/// How to explore.
#[derive(Clone, Debug)]
pub struct Explore {
    /// When to give up.
    pub budget: Budget,
    /// The search's own seed: the same seed (and a run budget) gives the same search.
    pub seed: u64,
    /// Runs before mutating: the start scenario once, then swarm draws on top of it.
    pub warmup: u64,
    /// The fault kinds mutants and swarm draws add; empty: those of the start scenario's
    /// nemesis, else every kind. (Leave out what the system does not claim to survive, as its
    /// swarm scenario does.)
    pub kinds: Vec<NemesisKind>,
    /// The liveness phase appended to a start scenario without one, when the system declares
    /// what must hold once healed ([`System::liveness`]); `None`: a third of the run.
    pub liveness: Option<Duration>,
    /// After the warmup, one candidate in this many is a fresh swarm draw rather than a
    /// mutant (0: never).
    pub swarm_every: u64,
    /// The most explicit faults a mutant may hold.
    pub max_faults: usize,
    /// Runs the shrinker may spend on a failure.
    pub shrink_budget: usize,
}

impl Default for Explore {
    fn default() -> Self {
        Explore {
            budget: Budget::Runs(500),
            seed: 0,
            warmup: 8,
            kinds: vec![],
            liveness: None,
            swarm_every: 4,
            max_faults: 12,
            shrink_budget: 200,
        }
    }
}

/// What a search found.
#[derive(Debug)]
pub struct Exploration {
    /// The failing run, if one was found: its candidate and report.
    pub failure: Option<(Candidate, SeedReport)>,
    /// The failure shrunk, when the shrinker could reproduce it.
    pub shrunk: Option<Result<Shrunk, ShrinkError>>,
    /// Runs spent searching (not counting shrinking).
    pub runs: u64,
    /// Candidates kept for showing something new.
    pub corpus: usize,
    /// Distinct coverage signals seen.
    pub signals: usize,
    /// The sometimes-points over every run of the search.
    pub sometimes: SometimesReport,
    /// Wall-clock time spent searching (not shrinking).
    pub elapsed: Duration,
}

/// One finished run of a search, for a progress display.
#[derive(Debug)]
pub struct Step<'a> {
    /// Its number, from 1.
    pub run: u64,
    /// The candidate.
    pub candidate: &'a Candidate,
    /// Whether it passed.
    pub ok: bool,
    /// Signals it showed that no earlier run had.
    pub new_signals: usize,
    /// The corpus after it.
    pub corpus: usize,
}

/// Searches from `scenario` of `system` (see the [module docs](self)); `step` sees each run.
pub fn explore(
    system: &System,
    scenario: &Scenario,
    how: &Explore,
    step: &mut dyn FnMut(&Step<'_>),
) -> Result<Exploration, EngineError> {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(how.seed);
    let base = start::base(system, scenario, how.liveness);
    // The scenario as written comes first when explore appends a liveness phase to it: the
    // cheapest run, with its own checks and targets; then with the phase, at the same seed.
    let as_written = Scenario {
        path: None,
        regressions: vec![],
        ..scenario.clone()
    };
    let mut firsts = vec![];
    if base.checks.liveness != as_written.checks.liveness {
        firsts.push((as_written, "start as written"));
    }
    firsts.push((base.clone(), "start"));
    let kinds = start::kinds_of(scenario, &how.kinds);
    let mut corpus: Vec<Candidate> = vec![];
    let mut seen = Signals::new();
    let mut sometimes = SometimesReport::new(system.sometimes_points().iter().copied());
    let mut runs = 0u64;
    let out_of_budget = |runs: u64| match how.budget {
        Budget::Runs(n) => runs >= n,
        Budget::Time(d) => started.elapsed() >= d,
    };
    // Invalid mutants are skipped, but a search that can make nothing valid must still end.
    let mut attempts = 0u64;
    while !out_of_budget(runs) && attempts < runs.saturating_add(1) * 100 {
        attempts += 1;
        let fresh_draw = how.swarm_every > 0 && rng.random_range(0..how.swarm_every) == 0;
        let first = firsts.get(attempts as usize - 1);
        let candidate = if let Some((first, how)) = first {
            Candidate {
                scenario: first.clone(),
                seed: scenario.seeds.start,
                how: vec![(*how).to_owned()],
            }
        } else if runs < how.warmup || corpus.is_empty() || fresh_draw {
            start::swarm_candidate(&base, &kinds, &mut rng)
        } else {
            let parent = &corpus[rng.random_range(0..corpus.len())];
            mutate(parent, &kinds, &mut rng, how.max_faults)
        };
        if system.validate(&candidate.scenario).is_err() || candidate.scenario.validate().is_err() {
            continue;
        }
        runs += 1;
        let report = run_seed(system, &candidate.scenario, candidate.seed, Recheck::Once)?;
        sometimes.add(&report.sometimes);
        // The run as written, without the phase, is no parent for mutants (they would lack
        // the phase) and leaves its signals for the run with it to show.
        let parent = first.is_none_or(|(f, _)| f.checks.liveness == base.checks.liveness);
        let fresh: Vec<u64> = if parent {
            signals(&report.trace, &report.sometimes)
                .into_iter()
                .filter(|s| !seen.contains(s))
                .collect()
        } else {
            vec![]
        };
        let new_signals = fresh.len();
        seen.extend(fresh);
        let ok = report.ok;
        if ok && new_signals > 0 {
            corpus.push(candidate.clone());
        }
        step(&Step {
            run: runs,
            candidate: &candidate,
            ok,
            new_signals,
            corpus: corpus.len(),
        });
        if !ok {
            let elapsed = started.elapsed();
            let shrunk = shrink::shrink(
                system,
                &candidate.scenario,
                candidate.seed,
                how.shrink_budget,
            );
            return Ok(Exploration {
                failure: Some((candidate, report)),
                shrunk: Some(shrunk),
                runs,
                corpus: corpus.len(),
                signals: seen.len(),
                sometimes,
                elapsed,
            });
        }
    }
    Ok(Exploration {
        failure: None,
        shrunk: None,
        runs,
        corpus: corpus.len(),
        signals: seen.len(),
        sometimes,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_read_as_runs_or_durations() {
        assert_eq!("500runs".parse(), Ok(Budget::Runs(500)));
        assert_eq!("40 runs".parse(), Ok(Budget::Runs(40)));
        assert_eq!("90s".parse(), Ok(Budget::Time(Duration::from_secs(90))));
        assert!("0runs".parse::<Budget>().is_err());
        assert!("soon".parse::<Budget>().is_err());
    }
}
