//! Sweeps from `cargo test`: run a scenario over many seeds on every core, and when a seed
//! fails, panic with the lines that replay it and the path of a shrunk scenario file.
//!
//! Seeds come from the scenario (`seeds = "0..200"`, plus its pinned `regressions`) unless the
//! environment says otherwise: `HIGHSTORM_SEED=1234` runs that seed alone, `HIGHSTORM_SEEDS=0..1000`
//! widens or narrows the sweep. Shrunk scenarios go to `target/highstorm/shrunk/` (or
//! `HIGHSTORM_SHRUNK_DIR`). `HIGHSTORM_SCENARIO=FILE` makes a sweep of the same system run that
//! file instead of its own scenario — how a shrunk scenario of your own system is replayed from
//! the test that found it (the `highstorm` command line knows only the shipped systems) — and
//! `HIGHSTORM_TRACE=1` prints the whole trace of the first failing seed. A failure's message
//! gives both commands, with the test's name.
//!
//! ```
//! use highstorm::testing::Sweep;
//! use highstorm::Scenario;
//! use std::time::Duration;
//!
//! let ms = Duration::from_millis;
//! let scenario = Scenario::new("doc-sweep", "unique-ids")
//!     .nodes(3)
//!     .duration(ms(3000))
//!     .crash_at(ms(800), "n1", Some(ms(200)));
//! // Panics with the failing seeds' repro lines and a shrunk scenario if any seed fails.
//! let outcome = Sweep::new(&scenario).seeds(0..8).run();
//! assert_eq!(outcome.reports.len(), 8);
//! ```

use crate::runner::{describe_failure, seeds_from_env, SeedReport};
use crate::scenario::Scenario;
use crate::shrink::{self, Shrunk};
use crate::sweep::{self, RecheckPolicy};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A sweep of one scenario over many seeds.
#[derive(Clone, Debug)]
pub struct Sweep<'a> {
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

/// A failing seed, and its schedule shrunk to the fewest faults that still fail.
#[derive(Debug)]
pub struct Failure {
    /// The failing run.
    pub report: SeedReport,
    /// The shrunk scenario (`None` when shrinking itself failed: see `shrink_error`).
    pub shrunk: Option<Shrunk>,
    /// Why shrinking failed, if it did.
    pub shrink_error: Option<String>,
    /// Where the shrunk scenario was written.
    pub path: Option<PathBuf>,
}

impl<'a> Sweep<'a> {
    /// A sweep of `scenario` over its own seeds (or the environment's), on every core.
    pub fn new(scenario: &'a Scenario) -> Self {
        Sweep {
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

    /// Runs the sweep; panics with the repro lines and a shrunk scenario if any seed fails (or
    /// a run cannot be carried out at all).
    pub fn run(self) -> Outcome {
        let outcome = self.try_run();
        let failures: Vec<&SeedReport> = outcome.reports.iter().filter(|r| !r.ok).collect();
        if let Some(first) = failures.first() {
            if std::env::var_os("HIGHSTORM_TRACE").is_some() {
                eprintln!("{}", first.trace.render());
            }
            let scenario = self.scenario();
            let failure = self.shrink(&scenario, (*first).clone());
            let text: Vec<String> = failures.iter().map(|r| describe_failure(r)).collect();
            panic!(
                "{} of {} seeds of `{}` failed:\n{}  this seed again: {}\n{}",
                failures.len(),
                outcome.reports.len(),
                scenario.name,
                text.join(""),
                test_command(None, first.seed),
                failure.summary()
            );
        }
        outcome
    }

    /// Runs the sweep and returns every report, failing or not (panics only if a run cannot be
    /// carried out: an unknown system, a bad config).
    pub fn try_run(&self) -> Outcome {
        let scenario = self.scenario();
        let default = self.seeds.clone().unwrap_or_else(|| scenario.seeds.clone());
        let seeds =
            seeds_from_env(default, &scenario.regressions).unwrap_or_else(|e| panic!("{e}"));
        let scenarios = [scenario];
        let plan = sweep::plan(&scenarios, |_| seeds.clone(), None);
        // Determinism is rechecked on every 5th seed; every failure is rechecked anyway.
        let recheck = RecheckPolicy::Sample(5);
        let reports = sweep::sweep(&scenarios, &plan, self.jobs, recheck, &|_| {})
            .unwrap_or_else(|e| panic!("`{}`: {e}", scenarios[0].name));
        Outcome { reports }
    }

    /// The sweep's scenario, or `HIGHSTORM_SCENARIO`'s file when it names the same system.
    fn scenario(&self) -> Scenario {
        let Some(path) = std::env::var_os("HIGHSTORM_SCENARIO") else {
            return self.scenario.clone();
        };
        let file = Scenario::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
        if file.system == self.scenario.system {
            file
        } else {
            self.scenario.clone()
        }
    }

    /// The first failing seed among the sweep's, shrunk and written out; `None` if every seed
    /// passed. For tests that a planted bug is found.
    pub fn find_failure(&self) -> Option<Failure> {
        let outcome = self.try_run();
        let first = outcome.reports.into_iter().find(|r| !r.ok)?;
        Some(self.shrink(&self.scenario(), first))
    }

    fn shrink(&self, scenario: &Scenario, report: SeedReport) -> Failure {
        match shrink::shrink(scenario, report.seed, self.shrink_budget) {
            Ok(shrunk) => {
                let path = write_shrunk(&shrunk, &shrunk_dir()).ok();
                Failure {
                    report,
                    shrunk: Some(shrunk),
                    shrink_error: None,
                    path,
                }
            }
            Err(e) => Failure {
                report,
                shrunk: None,
                shrink_error: Some(e.to_string()),
                path: None,
            },
        }
    }
}

impl Failure {
    /// For people: what the shrinker made of it, and how to replay it.
    pub fn summary(&self) -> String {
        match (&self.shrunk, &self.path) {
            (Some(s), Some(path)) => {
                let mut text = format!(
                    "shrunk from {} faults to {}: {}\n  replay it: {}\n",
                    s.faults_before,
                    s.scenario.faults.len(),
                    path.display(),
                    test_command(Some(path), s.seed)
                );
                if highstorm_nodes::systems::lookup(&s.scenario.system).is_ok() {
                    let cli = format!("highstorm replay {} --seed {}", path.display(), s.seed);
                    text.push_str(&format!("  or: {cli}\n"));
                }
                text
            }
            (Some(s), None) => format!(
                "shrunk from {} faults to {} (could not write it):\n{}",
                s.faults_before,
                s.scenario.faults.len(),
                s.scenario.to_toml()
            ),
            _ => format!(
                "could not shrink: {}\n",
                self.shrink_error.as_deref().unwrap_or("?")
            ),
        }
    }
}

impl Outcome {
    /// The failing runs.
    pub fn failures(&self) -> impl Iterator<Item = &SeedReport> {
        self.reports.iter().filter(|r| !r.ok)
    }
}

/// The `cargo test` command that reruns the current test at `seed` (on the scenario file at
/// `path`, if given): the test is the current thread's name, as `cargo test` names its threads.
pub fn test_command(path: Option<&Path>, seed: u64) -> String {
    let mut cmd = String::new();
    if let Some(p) = path {
        cmd.push_str(&format!("HIGHSTORM_SCENARIO={} ", p.display()));
    }
    cmd.push_str(&format!(
        "HIGHSTORM_SEED={seed} HIGHSTORM_TRACE=1 cargo test"
    ));
    if let Ok(pkg) = std::env::var("CARGO_PKG_NAME") {
        cmd.push_str(&format!(" -p {pkg}"));
    }
    if let Some(test) = std::thread::current().name().filter(|n| *n != "main") {
        cmd.push_str(&format!(" {test} -- --exact"));
    }
    cmd
}

/// Where shrunk scenarios go: `HIGHSTORM_SHRUNK_DIR`, else `highstorm/shrunk` in the cargo
/// target directory (`CARGO_TARGET_DIR`, else `target/` beside the workspace's `Cargo.lock`,
/// found from the working directory up: `cargo test` runs a package's tests in its own
/// directory).
pub fn shrunk_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HIGHSTORM_SHRUNK_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            let root = cwd.ancestors().find(|d| d.join("Cargo.lock").is_file())?;
            Some(root.join("target"))
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("highstorm").join("shrunk")
}

/// Writes a shrunk scenario into `dir` as `NAME-seedN.toml`, with a header saying what it
/// came from; returns its path.
pub fn write_shrunk(shrunk: &Shrunk, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}-seed{}.toml", shrunk.scenario.name, shrunk.seed));
    std::fs::write(&path, shrunk_file(shrunk))?;
    Ok(path)
}

/// A shrunk scenario as a file: a header saying what it came from, what was removed and what
/// the violation is ([`Shrunk::header`]), then the scenario.
pub fn shrunk_file(shrunk: &Shrunk) -> String {
    format!("{}{}", shrunk.header(), shrunk.scenario.to_toml())
}
