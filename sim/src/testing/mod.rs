//! Sweeps from `cargo test`: run a scenario over many seeds on every core, and when a seed
//! fails, panic with the lines that replay it and the path of a shrunk scenario file.
//!
//! Seeds come from the scenario (`seeds = "0..200"`, plus its pinned `regressions`) unless the
//! environment says otherwise: `HIGHSTORM_SEED=1234` runs that seed alone, `HIGHSTORM_SEEDS=0..1000`
//! widens or narrows the sweep. `HIGHSTORM_SCENARIO=FILE` makes a sweep of the same system run
//! that file instead of its own scenario — how a shrunk scenario of your own system is replayed
//! from the test that found it (or from your own binary built with [`crate::cli`]) —
//! and `HIGHSTORM_TRACE=1` prints the whole trace of the first failing seed.
//!
//! Every failing seed gets its own `repro:` line, the exact `cargo test` command that reruns
//! that seed alone: package, test binary, the test's full name with `--exact` (and
//! `--include-ignored` when the sweep ran as an ignored test), and the scenario file when the
//! sweep ran one through `HIGHSTORM_SCENARIO` (see [`TestCommand`]).
//!
//! The first failure a sweep finds is shrunk and written to `target/highstorm/shrunk/` (or
//! `HIGHSTORM_SHRUNK_DIR`) as `SCENARIO.VARIANT.ENGINE.seedN.toml`. A replay — `HIGHSTORM_SEED`
//! or `HIGHSTORM_SCENARIO` set — does not shrink again unless `HIGHSTORM_SHRINK=1` asks, and
//! `HIGHSTORM_SHRINK=0` turns shrinking off (see [`ShrinkPolicy`]); the file being replayed is
//! never rewritten.
//!
//! ```
//! use highstorm::testing::Sweep;
//! use highstorm::Scenario;
//! use std::time::Duration;
//! # use highstorm::prelude::*;
//! # #[derive(Debug, serde::Serialize, serde::Deserialize)]
//! # #[serde(tag = "type", rename_all = "snake_case")]
//! # enum Msg { Next, NextOk { id: String } }
//! # struct Ids(u64);
//! # impl Node for Ids {
//! #     type Msg = Msg;
//! #     type Timer = NoTimer;
//! #     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
//! #         let id = format!("{}-{}-{}", ctx.id(), ctx.boot(), self.0);
//! #         self.0 += 1;
//! #         ctx.reply(&msg, Msg::NextOk { id });
//! #     }
//! # }
//! # struct NextOps;
//! # impl Operations for NextOps {
//! #     type Msg = Msg;
//! #     fn next(&mut self, _: &str, _: u64, _: &mut OpsRng) -> (&'static str, serde_json::Value, Msg) {
//! #         ("next", serde_json::Value::Null, Msg::Next)
//! #     }
//! #     fn result(&self, reply: &Msg) -> Option<serde_json::Value> {
//! #         match reply { Msg::NextOk { id } => Some(id.clone().into()), _ => None }
//! #     }
//! # }
//! // A system of your own (its node, client and checker are hidden here: see the crate docs).
//! let system = System::new("ids", |_, _| Ok(Ids(0)))
//!     .client(|c| c.steady(NextOps))
//!     .check(generic::unique("ids-unique", "next", ""));
//! let ms = Duration::from_millis;
//! let scenario = Scenario::new("doc-sweep", "ids")
//!     .nodes(3)
//!     .duration(ms(3000))
//!     .crash_at(ms(800), "n1", Some(ms(200)));
//! // Panics with the failing seeds' repro lines and a shrunk scenario if any seed fails.
//! let outcome = Sweep::new(&system, &scenario).seeds(0..8).run();
//! assert_eq!(outcome.reports.len(), 8);
//! ```

#[cfg(test)]
pub(crate) mod fixture;
mod shrunk;

pub use crate::repro::{TestCommand, TestTarget};
pub use shrunk::{
    shrunk_dir, shrunk_file, shrunk_file_name, write_shrunk, ShrinkEnvError, ShrinkPolicy,
};

use crate::runner::{cli_repro_line, describe_failure, seeds_from_env, SeedReport};
use crate::scenario::Scenario;
use crate::shrink::{self, Shrunk};
use crate::sweep::{self, RecheckPolicy};
use crate::system::System;
use std::ops::Range;
use std::path::PathBuf;

/// A sweep of one scenario over many seeds.
#[derive(Clone, Debug)]
pub struct Sweep<'a> {
    system: &'a System,
    scenario: &'a Scenario,
    seeds: Option<Range<u64>>,
    jobs: usize,
    shrink_budget: usize,
}

/// What a sweep found.
#[derive(Debug)]
pub struct Outcome {
    /// One report per seed, in seed order (pinned regressions first).
    pub reports: Vec<SeedReport>,
}

/// A failing seed, and (unless this was a replay) its schedule shrunk to the fewest faults
/// that still fail.
#[derive(Debug)]
pub struct Failure {
    /// The failing run.
    pub report: SeedReport,
    /// The shrunk scenario (`None` when shrinking was skipped or failed: see `shrink_note`).
    pub shrunk: Option<Shrunk>,
    /// Where the shrunk scenario was written.
    pub path: Option<PathBuf>,
    /// Why there is no shrunk scenario, or no file of it: a replay, `HIGHSTORM_SHRINK=0`,
    /// the shrinker's error, or why the file was not written.
    pub shrink_note: Option<String>,
    /// The command that reruns the failing test (on the shrunk file, once there is one).
    pub command: TestCommand,
    /// The CLI command that replays the shrunk file, when the system names a binary
    /// ([`System::replayed_by`](crate::system::System::replayed_by)).
    pub replay: Option<String>,
}

/// The scenario a sweep runs, and the file it came from when `HIGHSTORM_SCENARIO` gave it.
struct Resolved {
    scenario: Scenario,
    file: Option<PathBuf>,
}

impl Resolved {
    /// The command that reruns the current test on this scenario.
    fn command(&self) -> TestCommand {
        let cmd = TestCommand::current();
        match &self.file {
            Some(file) => cmd.on_file(file),
            None => cmd,
        }
    }
}

impl<'a> Sweep<'a> {
    /// A sweep of `scenario` of `system` over its own seeds (or the environment's), on every
    /// core.
    pub fn new(system: &'a System, scenario: &'a Scenario) -> Self {
        Sweep {
            system,
            scenario,
            seeds: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shrink_budget: 200,
        }
    }

    /// Sweeps `seeds` instead of the scenario's own (the environment still overrides them).
    pub fn seeds(mut self, seeds: Range<u64>) -> Self {
        self.seeds = Some(seeds);
        self
    }

    /// Runs on `jobs` threads (default: every core).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// How many runs the shrinker may spend on a failure (default 200).
    pub fn shrink_budget(mut self, runs: usize) -> Self {
        self.shrink_budget = runs;
        self
    }

    /// Runs the sweep; panics if any seed fails (or a run cannot be carried out at all),
    /// naming each failing seed's failed checks and the command that reruns that seed alone,
    /// then the first failure shrunk (see [`ShrinkPolicy`]).
    pub fn run(self) -> Outcome {
        crate::build_hint::warn_once_if_unoptimised();
        let resolved = self.resolve();
        let outcome = self.sweep(&resolved);
        let failures: Vec<&SeedReport> = outcome.failures().collect();
        if let Some(first) = failures.first() {
            if std::env::var_os("HIGHSTORM_TRACE").is_some() {
                eprintln!("{}", first.trace.render());
            }
            let failure = self.shrink(&resolved, (*first).clone());
            let text: Vec<String> = failures.iter().map(|r| describe_failure(r)).collect();
            panic!(
                "{} of {} seeds of `{}` failed:\n{}{}",
                failures.len(),
                outcome.reports.len(),
                resolved.scenario.name,
                text.join(""),
                failure.summary()
            );
        }
        outcome
    }

    /// Runs the sweep and returns every report, failing or not (panics only if a run cannot be
    /// carried out: an unknown system, a bad config). Each report's `repro` lines rerun its
    /// seed from the current test.
    pub fn try_run(&self) -> Outcome {
        self.sweep(&self.resolve())
    }

    fn sweep(&self, resolved: &Resolved) -> Outcome {
        let scenario = &resolved.scenario;
        let default = self.seeds.clone().unwrap_or_else(|| scenario.seeds.clone());
        let seeds =
            seeds_from_env(default, &scenario.regressions).unwrap_or_else(|e| panic!("{e}"));
        let scenarios = [scenario.clone()];
        let plan = sweep::plan(&scenarios, |_| seeds.clone(), None);
        // Determinism is rechecked on every 5th seed; every failure is rechecked anyway.
        let recheck = RecheckPolicy::Sample(5);
        let mut reports = sweep::sweep(
            &[self.system],
            &scenarios,
            &plan,
            self.jobs,
            recheck,
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("`{}`: {e}", scenario.name));
        // The runs happened on worker threads, which know nothing of the test: name it here.
        let command = resolved.command();
        for r in &mut reports {
            r.repro = std::iter::once(command.line(r.seed))
                .chain(cli_repro_line(self.system, scenario, r.seed))
                .collect();
        }
        Outcome { reports }
    }

    /// The sweep's scenario, or `HIGHSTORM_SCENARIO`'s file when it names the same system.
    fn resolve(&self) -> Resolved {
        let own = || Resolved {
            scenario: self.scenario.clone(),
            file: None,
        };
        let Some(path) = std::env::var_os("HIGHSTORM_SCENARIO") else {
            return own();
        };
        let path = PathBuf::from(path);
        let file = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if file.system == self.scenario.system {
            if let Err(e) = self.system.validate(&file) {
                panic!("{}", file.error(&e));
            }
            Resolved {
                scenario: file,
                file: Some(path),
            }
        } else {
            own()
        }
    }

    /// The first failing seed among the sweep's, shrunk and written out as [`Sweep::run`]
    /// would (see [`ShrinkPolicy`]); `None` if every seed passed. For tests that a planted
    /// bug is found.
    pub fn find_failure(&self) -> Option<Failure> {
        let resolved = self.resolve();
        let first = self.sweep(&resolved).reports.into_iter().find(|r| !r.ok)?;
        Some(self.shrink(&resolved, first))
    }

    fn shrink(&self, resolved: &Resolved, report: SeedReport) -> Failure {
        let mut failure = Failure {
            report,
            shrunk: None,
            path: None,
            shrink_note: None,
            command: resolved.command(),
            replay: None,
        };
        let policy = ShrinkPolicy::from_env().unwrap_or_else(|e| panic!("{e}"));
        if let ShrinkPolicy::Skip(why) = policy {
            failure.shrink_note = Some(why);
            return failure;
        }
        let shrunk = match shrink::shrink(
            self.system,
            &resolved.scenario,
            failure.report.seed,
            self.shrink_budget,
        ) {
            Ok(shrunk) => shrunk,
            Err(e) => {
                failure.shrink_note = Some(format!("could not shrink: {e}"));
                return failure;
            }
        };
        let dir = shrunk_dir();
        let dest = dir.join(shrunk_file_name(&shrunk.scenario, shrunk.seed));
        let replayed = resolved.file.as_deref();
        if replayed.is_some_and(|file| shrunk::same_file(file, &dest)) {
            failure.shrink_note = Some(format!(
                "not written: {} is the file being replayed",
                dest.display()
            ));
        } else {
            match write_shrunk(&shrunk, &dir) {
                Ok(path) => {
                    failure.command = TestCommand::current().on_file(&path);
                    let mut on_file = shrunk.scenario.clone();
                    on_file.path = Some(path.clone());
                    failure.replay = cli_repro_line(self.system, &on_file, shrunk.seed);
                    failure.path = Some(path);
                }
                Err(e) => failure.shrink_note = Some(format!("could not write it: {e}")),
            }
        }
        failure.shrunk = Some(shrunk);
        failure
    }
}

impl Failure {
    /// For people: the seed, each failing check with its reason, what the shrinker made of
    /// it, and how to replay it.
    pub fn summary(&self) -> String {
        let r = &self.report;
        let mut text = format!(
            "{} seed {} (trace {}) failed:\n",
            r.scenario, r.seed, r.trace_hash
        );
        for c in r.checks.iter().filter(|c| !c.ok) {
            text.push_str(&format!("  {}: {}\n", c.name, c.detail));
        }
        let note = self.shrink_note.as_deref();
        match (&self.shrunk, &self.path) {
            (Some(s), Some(path)) => {
                text.push_str(&format!(
                    "shrunk from {} faults to {}: {}\n  replay it: {}\n",
                    s.faults_before,
                    s.scenario.faults.len(),
                    path.display(),
                    self.command.line(s.seed)
                ));
                if let Some(cli) = &self.replay {
                    text.push_str(&format!("  or: {cli}\n"));
                }
            }
            (Some(s), None) => text.push_str(&format!(
                "shrunk from {} faults to {} ({}):\n{}",
                s.faults_before,
                s.scenario.faults.len(),
                note.unwrap_or("not written"),
                s.scenario.to_toml()
            )),
            (None, _) => {
                text.push_str(note.unwrap_or("not shrunk"));
                text.push_str(&format!(
                    "\n  this seed again: {}\n",
                    self.command.line(r.seed)
                ));
            }
        }
        text
    }
}

impl Outcome {
    /// The failing runs.
    pub fn failures(&self) -> impl Iterator<Item = &SeedReport> {
        self.reports.iter().filter(|r| !r.ok)
    }

    /// The sometimes-points over every run: which held, how often, and which of those
    /// `system` declares never did.
    pub fn sometimes(&self, system: &System) -> crate::SometimesReport {
        let mut report = crate::SometimesReport::new(system.sometimes_points().iter().copied());
        for r in &self.reports {
            report.add(&r.sometimes);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_sweep_reports_a_stuck_run_with_its_seed() {
        let system = crate::testing::fixture::spinner();
        let s = Scenario::new("spin", "spinner")
            .nodes(2)
            .workload(0, 1.0)
            .duration(Duration::from_secs(1))
            .engine(crate::engine::Engine::Events)
            .config(serde_json::json!({"spins": "n0"}));
        let sweep = Sweep::new(&system, &s).seeds(3..4).jobs(1);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sweep.run()))
            .expect_err("a stuck run");
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            text.contains("`spin` seed 3: `n0` is stuck at 100ms"),
            "{text}"
        );
    }
}
