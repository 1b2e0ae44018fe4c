//! Running scenarios at seeds: one run, its checks, its determinism self-check, and the line
//! that reproduces it.

use crate::check::Verdict;
use crate::engine::{self, EngineError};
use crate::metrics::Metrics;
use crate::scenario::{parse_seed_range, Scenario};
use crate::system::System;
use crate::trace::{first_difference, Trace};
use serde::Serialize;
use std::time::Instant;

/// The outcome of one scenario at one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Whether every check passed.
    pub ok: bool,
    /// Every check's verdict (determinism included when it was checked).
    pub checks: Vec<Verdict>,
    /// What the run measured.
    pub metrics: Metrics,
    /// The trace's 64-bit id, as 16 hex digits.
    pub trace_hash: String,
    /// Simulated seconds covered.
    pub sim_time_s: f64,
    /// Wall-clock seconds the run took (both executions, when rechecked).
    pub wall_s: f64,
    /// How many events the trace holds.
    pub events: usize,
    /// Commands that reproduce this run exactly.
    pub repro: Vec<String>,
    /// The sometimes-points its nodes evaluated, and how often they held.
    pub sometimes: crate::sometimes::Sometimes,
    /// The trace itself.
    #[serde(skip)]
    pub trace: Trace,
}

/// Whether to execute a run twice and compare traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recheck {
    /// Run twice; fail the run if the trace hashes differ.
    Twice,
    /// Run once.
    Once,
}

/// Runs `scenario` at `seed`, checks it, and (with [`Recheck::Twice`]) checks that a second
/// execution produces the identical trace.
pub fn run_seed(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    recheck: Recheck,
) -> Result<SeedReport, EngineError> {
    let wall = Instant::now();
    let out = engine::run(system, scenario, seed)?;
    let (checks, metrics) = system.judge_trace(scenario, &out.trace);
    let hash = out.trace.hash();
    let mut report = SeedReport {
        scenario: scenario.name.clone(),
        seed,
        ok: checks.iter().all(|c| c.ok),
        checks,
        metrics,
        trace_hash: format!("{hash:016x}"),
        sim_time_s: out.sim_time.as_secs_f64(),
        wall_s: 0.0,
        events: out.trace.events().len(),
        repro: repro_lines(system, scenario, seed),
        sometimes: out.sometimes,
        trace: out.trace,
    };
    if recheck == Recheck::Twice {
        recheck_determinism(system, scenario, &mut report)?;
    }
    report.wall_s = wall.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs the report's seed once more and adds the `deterministic` verdict. The rerun is compared
/// with the report's trace as it goes ([`engine::rerun`]): on `events` it renders nothing and
/// stops at the first event that differs.
pub fn recheck_determinism(
    system: &System,
    scenario: &Scenario,
    report: &mut SeedReport,
) -> Result<(), EngineError> {
    let first = u64::from_str_radix(&report.trace_hash, 16).unwrap_or_else(|_| report.trace.hash());
    let diverged = engine::rerun(system, scenario, report.seed, &report.trace, first)?;
    let verdict = match diverged {
        None => Verdict::pass(
            DETERMINISTIC,
            format!("rerun gave the same trace hash {first:016x}"),
        ),
        Some(d) => Verdict::violation(
            DETERMINISTIC,
            "trace-differs",
            format!("rerun differs from the first run (hash {first:016x}); {d}"),
        ),
    };
    report.ok &= verdict.ok;
    report.checks.push(verdict);
    Ok(())
}

/// The name of the determinism verdict.
const DETERMINISTIC: &str = "deterministic";

/// Compares a rerun's trace with the first one.
pub fn determinism_verdict(first: &Trace, first_hash: u64, again: &Trace) -> Verdict {
    const NAME: &str = DETERMINISTIC;
    let again_hash = again.hash();
    if again_hash == first_hash {
        return Verdict::pass(
            NAME,
            format!("rerun gave the same trace hash {first_hash:016x}"),
        );
    }
    let detail = match first_difference(first, again, 3) {
        Some(d) => d.to_string(),
        None => "hashes differ but renderings agree".to_owned(),
    };
    Verdict::violation(
        NAME,
        "trace-differs",
        format!("rerun gave hash {again_hash:016x}, first run {first_hash:016x}; {detail}"),
    )
}

/// The commands that reproduce `scenario` at `seed`: the CLI form (for a scenario file of a
/// system with a [`replayed_by`](System::replayed_by) binary), and the `cargo test` form, the
/// test running on this thread. [`Sweep`](crate::testing::Sweep) replaces the latter with the
/// exact command of the test that ran the sweep.
pub fn repro_lines(system: &System, scenario: &Scenario, seed: u64) -> Vec<String> {
    let cli = cli_repro_line(system, scenario, seed);
    let test = crate::repro::TestCommand::current().line(seed);
    cli.into_iter().chain(std::iter::once(test)).collect()
}

/// `BIN replay FILE --seed S --engine E`, for a scenario that came from a file, of a system
/// that names the binary that knows it ([`System::replayed_by`]).
pub fn cli_repro_line(system: &System, scenario: &Scenario, seed: u64) -> Option<String> {
    let bin = system.replay_binary()?;
    let path = scenario.path.as_ref()?;
    // `--swarm` is harmless when the file says `swarm = true` and needed when the sweep added it.
    let swarm = if scenario.nemesis.as_ref().is_some_and(|n| n.swarm) {
        " --swarm"
    } else {
        ""
    };
    Some(format!(
        "{bin} replay {} --seed {seed} --engine {}{swarm}",
        path.display(),
        scenario.engine.name()
    ))
}

/// Why seeds from the environment could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value}: {reason}")]
pub struct SeedEnvError {
    var: &'static str,
    value: String,
    reason: String,
}

/// The seeds to run: `HIGHSTORM_SEED=S` alone, else `HIGHSTORM_SEEDS=A..B`, else `default`;
/// the scenario's pinned regressions are added unless a single seed was asked for.
pub fn seeds_from_env(
    default: std::ops::Range<u64>,
    regressions: &[u64],
) -> Result<Vec<u64>, SeedEnvError> {
    let read = |var: &'static str| -> Result<Option<std::ops::Range<u64>>, SeedEnvError> {
        match std::env::var(var) {
            Ok(value) => parse_seed_range(&value)
                .map(Some)
                .map_err(|reason| SeedEnvError { var, value, reason }),
            Err(_) => Ok(None),
        }
    };
    if let Some(one) = read("HIGHSTORM_SEED")? {
        return Ok(one.collect());
    }
    let range = read("HIGHSTORM_SEEDS")?.unwrap_or(default);
    Ok(with_regressions(range, regressions))
}

/// `range` plus the pinned `regressions` not already in it, in order.
pub fn with_regressions(range: std::ops::Range<u64>, regressions: &[u64]) -> Vec<u64> {
    let mut seeds: Vec<u64> = regressions
        .iter()
        .copied()
        .filter(|s| !range.contains(s))
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    seeds.extend(range);
    seeds
}

/// Renders a failing report for a person: the failed checks and the repro lines.
pub fn describe_failure(r: &SeedReport) -> String {
    let mut s = format!(
        "FAIL {} seed {} (trace {})\n",
        r.scenario, r.seed, r.trace_hash
    );
    for c in r.checks.iter().filter(|c| !c.ok) {
        s.push_str(&format!("  {}: {}\n", c.name, c.detail));
    }
    for line in &r.repro {
        s.push_str(&format!("  repro: {line}\n"));
    }
    s
}
