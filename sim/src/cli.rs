//! The `highstorm` command line as a library: any crate builds the same binary for its own
//! systems in a few lines.
//!
//! ```no_run
//! use highstorm::system::{Registry, System};
//! # fn my_system() -> System { unimplemented!() }
//!
//! fn main() -> std::process::ExitCode {
//!     highstorm::cli::main(Registry::new().with(my_system()))
//! }
//! ```
//!
//! Subcommands: `run` (scenario files or directories over seeds, `--json`, `--jobs`,
//! `--shard K/N`, `--engine`, a progress bar on a terminal, the sometimes-points report),
//! `replay`, `shrink`, `explore` (coverage-guided search over fault schedules), `diff`, and
//! `node` (one node for real, over UDP or Maelstrom's stdio, for any system; its HTTP API when
//! it has one). Exit status: 0 all passed, 1 a check failed (or traces differ), 2 bad usage or
//! a bad scenario. A binary adds node roles ([`Cli::role`]) and subcommands of its own
//! ([`Cli::command`]).

use crate::driver::{
    blocking_work_runner, drive, stdio, AddressBook, DirBlobs, DirStore, Gateway, RealEnvironment,
    UdpTransport,
};
use crate::engine::Engine;
use crate::http_api::HttpSetup;
use crate::runner::{describe_failure, with_regressions, Recheck};
use crate::scenario::parse_seed_range;
use crate::shrink;
use crate::sweep::{self, RecheckPolicy, Shard};
use crate::system::{Registry, System};
use crate::trace::{first_difference, Trace};
use crate::{run_seed, Scenario, SeedReport};
use anyhow::{bail, Context as _};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "highstorm",
    version,
    about = "Deterministic simulation testing for distributed systems"
)]
struct Parsed {
    #[command(subcommand)]
    command: Command,
}

/// Fills in a role's system config (and peers, `--http`) from `node`'s arguments.
pub type RoleFn =
    fn(&mut NodeArgs, &mut serde_json::Map<String, serde_json::Value>) -> anyhow::Result<()>;

/// Runs a subcommand a binary adds ([`Cli::command`]) on its parsed arguments.
pub type CommandFn = fn(&clap::ArgMatches) -> anyhow::Result<ExitCode>;

/// A role of a system for `node`: `NAME` runs `system` with its config filled in by `fill`.
#[derive(Clone, Copy)]
struct Role {
    name: &'static str,
    system: &'static str,
    usage: &'static str,
    fill: RoleFn,
}

/// The command line of a binary: its systems, plus any node roles and subcommands it adds.
pub struct Cli {
    registry: Registry,
    roles: Vec<Role>,
    commands: Vec<(clap::Command, CommandFn)>,
}

/// Runs the command line of a binary that knows the systems in `registry` (see the
/// [module docs](self)): parses `std::env::args`, runs, returns the exit status.
pub fn main(registry: Registry) -> ExitCode {
    Cli::new(registry).main()
}

impl Cli {
    /// The command line for the systems in `registry`.
    pub fn new(registry: Registry) -> Self {
        Cli {
            registry,
            roles: vec![],
            commands: vec![],
        }
    }

    /// Adds a node role: `BIN node NAME ...` runs `system` with its `[config]` filled in by
    /// `fill` from the node's arguments (a leader names itself, a worker its leader). `usage`,
    /// an example command line, is listed in `node --help`.
    pub fn role(
        mut self,
        name: &'static str,
        system: &'static str,
        usage: &'static str,
        fill: RoleFn,
    ) -> Self {
        self.roles.push(Role {
            name,
            system,
            usage,
            fill,
        });
        self
    }

    /// Adds a subcommand `command` of the binary's own, run by `run`.
    pub fn command(mut self, command: clap::Command, run: CommandFn) -> Self {
        self.commands.push((command, run));
        self
    }

    /// Parses `std::env::args`, runs the subcommand, returns the exit status (usage errors and
    /// bad scenarios: 2).
    pub fn main(self) -> ExitCode {
        let mut command = Parsed::command();
        if !self.roles.is_empty() {
            let roles: Vec<String> = self
                .roles
                .iter()
                .map(|r| format!("  {} ({}): {}", r.name, r.system, r.usage))
                .collect();
            let help = format!("Roles:\n{}", roles.join("\n"));
            command = command.mut_subcommand("node", |c| c.after_help(help));
        }
        for (extra, _) in &self.commands {
            command = command.subcommand(extra.clone());
        }
        let matches = command.get_matches();
        let result = match matches.subcommand() {
            Some((name, sub)) if self.commands.iter().any(|(c, _)| c.get_name() == name) => {
                let run = self
                    .commands
                    .iter()
                    .find(|(c, _)| c.get_name() == name)
                    .map(|(_, run)| *run);
                match run {
                    Some(run) => run(sub),
                    None => Ok(ExitCode::from(2)),
                }
            }
            _ => match Parsed::from_arg_matches(&matches) {
                Ok(parsed) => self.dispatch(parsed.command),
                Err(e) => e.exit(),
            },
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("highstorm: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files (or every *.toml in a directory) over seeds and check them.
    ///
    /// Exit status: 0 all passed, 1 a check failed, 2 bad usage or a bad scenario.
    Run {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run one seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Run a half-open range of seeds, `A..B` (default: each scenario's `seeds`).
        #[arg(long)]
        seeds: Option<String>,
        /// Print one JSON object per seed (with metrics) instead of text.
        #[arg(long)]
        json: bool,
        /// Run on this engine (`turmoil` or `events`) instead of each scenario's own.
        #[arg(long)]
        engine: Option<Engine>,
        /// Swarm mode: each seed draws which fault kinds of the nemesis are on, and how hard
        /// (a scenario without a nemesis gets one over every kind).
        #[arg(long)]
        swarm: bool,
        /// Parallel runs (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only part `K` of `N` of the sweep (0-based: `0/4` .. `3/4`), for CI matrices
        /// and Kubernetes Indexed Jobs.
        #[arg(long)]
        shard: Option<Shard>,
        /// Which runs execute twice to check determinism: `all`, `failures`, or `1/N` (every
        /// N-th run, plus every failure).
        #[arg(long, default_value = "1/10")]
        recheck: RecheckPolicy,
        /// Where shrunk scenarios of failing seeds are written.
        #[arg(long, default_value = "target/highstorm/shrunk")]
        shrink_dir: PathBuf,
        /// Do not shrink failing seeds.
        #[arg(long)]
        no_shrink: bool,
    },
    /// Shrink a failing seed to a minimal scenario file that still fails.
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario.
        #[arg(short, long)]
        output: PathBuf,
        /// The most simulation runs to spend.
        #[arg(long, default_value_t = 400)]
        budget: usize,
        /// Run on this engine (`turmoil` or `events`) instead of the scenario's own (the
        /// minimal scenario records it).
        #[arg(long)]
        engine: Option<Engine>,
        /// Swarm mode: each seed draws which fault kinds of the nemesis are on, and how hard
        /// (a scenario without a nemesis gets one over every kind).
        #[arg(long)]
        swarm: bool,
    },
    /// Search fault schedules around a scenario for a failure, guided by coverage.
    ///
    /// Runs the scenario at random seeds, keeps runs that show something new (a message,
    /// note or client outcome in a fault context not seen before, a sometimes-point first
    /// hit), and mutates their `[[faults]]` (add, remove, move, lengthen; new seeds). Stops at
    /// the first failure, shrinks it and writes the minimal scenario file. Deterministic for a
    /// given `--seed` and a run budget. Exit status: 1 a failure was found, 0 none within the
    /// budget, 2 bad usage.
    Explore {
        /// The scenario file to start from.
        scenario: PathBuf,
        /// When to stop: a run count (`500runs`) or wall-clock time (`90s`, `5m`).
        #[arg(long, default_value = "500runs")]
        budget: crate::explore::Budget,
        /// The search's own seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the shrunk failing scenario is written.
        #[arg(short, long, default_value = "target/highstorm/explore")]
        out: PathBuf,
        /// Run on this engine (`turmoil` or `events`) instead of the scenario's own.
        #[arg(long)]
        engine: Option<Engine>,
        /// The fault kinds to add, comma-separated (`crash,duplicate,skew`); default: the
        /// scenario's nemesis kinds, else every kind.
        #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
        kinds: Vec<crate::scenario::NemesisKind>,
        /// The liveness phase appended to a scenario without one, when the system declares what
        /// must hold once healed (default: a third of the run).
        #[arg(long, value_parser = humantime::parse_duration)]
        liveness: Option<std::time::Duration>,
        /// Print every run, not only those that find something new.
        #[arg(long)]
        verbose: bool,
    },
    /// Run one seed of a scenario and print its rendered trace.
    Replay {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Also write the trace as JSON Lines to this file.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Run on this engine (`turmoil` or `events`) instead of the scenario's own.
        #[arg(long)]
        engine: Option<Engine>,
        /// Swarm mode: each seed draws which fault kinds of the nemesis are on, and how hard
        /// (a scenario without a nemesis gets one over every kind).
        #[arg(long)]
        swarm: bool,
    },
    /// Show where two JSON Lines traces first differ.
    Diff {
        /// One trace.
        a: PathBuf,
        /// The other.
        b: PathBuf,
        /// Common events to show before the divergence.
        #[arg(long, default_value_t = 5)]
        context: usize,
    },
    /// Run one node for real: over UDP, or under Maelstrom's stdio protocol.
    ///
    /// `node SYSTEM --id n1 --listen 127.0.0.1:7001 --peers n2=127.0.0.1:7002` runs a node of
    /// SYSTEM; a role the binary defines (listed below, if any) runs its system configured
    /// for one part (a leader, a worker).
    Node(NodeArgs),
}

impl Cli {
    fn dispatch(&self, command: Command) -> anyhow::Result<ExitCode> {
        let registry = &self.registry;
        match command {
            Command::Run {
                paths,
                seed,
                seeds,
                json,
                engine,
                swarm,
                jobs,
                shard,
                recheck,
                shrink_dir,
                no_shrink,
            } => run(
                registry,
                RunArgs {
                    paths,
                    seed,
                    seeds,
                    json,
                    with: Overrides { engine, swarm },
                    jobs: jobs.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
                    }),
                    shard,
                    recheck,
                    shrink_dir: (!no_shrink).then_some(shrink_dir),
                },
            ),
            Command::Shrink {
                scenario,
                seed,
                output,
                budget,
                engine,
                swarm,
            } => shrink_command(
                registry,
                &scenario,
                Overrides { engine, swarm },
                seed,
                &output,
                budget,
            ),
            Command::Replay {
                scenario,
                seed,
                trace,
                engine,
                swarm,
            } => replay(
                registry,
                &scenario,
                Overrides { engine, swarm },
                seed,
                trace.as_deref(),
            ),
            Command::Diff { a, b, context } => diff(&a, &b, context),
            Command::Explore {
                scenario,
                budget,
                seed,
                out,
                engine,
                kinds,
                liveness,
                verbose,
            } => {
                let (system, scenario) = load_on(
                    registry,
                    &scenario,
                    Overrides {
                        engine,
                        swarm: false,
                    },
                )?;
                let how = crate::explore::Explore {
                    budget,
                    seed,
                    kinds,
                    liveness,
                    ..Default::default()
                };
                explore_command(system, &scenario, &how, &out, verbose)
            }
            Command::Node(args) => node(registry, &self.roles, args),
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HIGHSTORM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Every scenario file named by `paths` (directories expand to their `*.toml`, sorted).
fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = vec![];
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{}: no *.toml scenario files", p.display());
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(files)
}

/// What the command line changes in every scenario it loads.
#[derive(Clone, Copy)]
struct Overrides {
    /// Run on this engine.
    engine: Option<Engine>,
    /// Swarm mode ([`Scenario::swarmed`]).
    swarm: bool,
}

impl Overrides {
    fn apply(self, mut scenario: Scenario) -> Scenario {
        if let Some(engine) = self.engine {
            scenario.engine = engine;
        }
        if self.swarm {
            scenario = scenario.swarmed();
        }
        scenario
    }
}

struct RunArgs {
    paths: Vec<PathBuf>,
    seed: Option<u64>,
    seeds: Option<String>,
    json: bool,
    with: Overrides,
    jobs: usize,
    shard: Option<Shard>,
    recheck: RecheckPolicy,
    shrink_dir: Option<PathBuf>,
}

fn run(registry: &Registry, args: RunArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let files = scenario_files(&args.paths)?;
    // Load everything first: a bad scenario is a usage error before anything runs.
    let scenarios = files
        .iter()
        .map(|f| Scenario::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let systems = scenarios
        .iter()
        .map(|s| registry.resolve(s))
        .collect::<Result<Vec<_>, _>>()?;
    let scenarios: Vec<Scenario> = scenarios.into_iter().map(|s| args.with.apply(s)).collect();
    let range = args
        .seeds
        .as_deref()
        .map(parse_seed_range)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let plan = sweep::plan(
        &scenarios,
        |s| match (args.seed, &range) {
            (Some(one), _) => vec![one],
            (None, Some(r)) => r.clone().collect(),
            (None, None) => with_regressions(s.seeds.clone(), &s.regressions),
        },
        args.shard,
    );
    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::new(plan.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let wall = std::time::Instant::now();
    let reports = sweep::sweep(&systems, &scenarios, &plan, args.jobs, args.recheck, &|r| {
        if !r.ok {
            let n = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(format!("{n} failed"));
        }
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let secs = wall.elapsed().as_secs_f64();

    let mut out = std::io::stdout().lock();
    let mut failed: Vec<&SeedReport> = vec![];
    for r in &reports {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else if !r.ok {
            write!(out, "{}", describe_failure(r))?;
        }
        if !r.ok {
            failed.push(r);
        }
    }
    // Shrink the first failing seed of each scenario.
    if let Some(dir) = &args.shrink_dir {
        let mut shrunk_scenarios = std::collections::BTreeSet::new();
        for r in &failed {
            if !shrunk_scenarios.insert(r.scenario.clone()) {
                continue;
            }
            let Some(i) = scenarios.iter().position(|s| s.name == r.scenario) else {
                continue;
            };
            match write_shrunk(systems[i], &scenarios[i], r.seed, dir, 200) {
                Ok((path, faults)) => eprintln!(
                    "shrunk {} seed {} to {faults} faults: {} (replay: highstorm replay {} --seed {})",
                    r.scenario,
                    r.seed,
                    path.display(),
                    path.display(),
                    r.seed
                ),
                Err(e) => eprintln!("could not shrink {} seed {}: {e:#}", r.scenario, r.seed),
            }
        }
    }
    let sometimes = sometimes_report(&systems, &reports);
    let passed = reports.len() - failed.len();
    let line = format!(
        "{passed} passed, {} failed ({} seeds in {secs:.1}s, {:.1} seeds/s, {} jobs)",
        failed.len(),
        reports.len(),
        reports.len() as f64 / secs.max(1e-9),
        args.jobs
    );
    let tally = crate::swarm::SwarmTally::of(&scenarios, &reports);
    if args.json {
        // Stdout stays JSON Lines: one object per seed, then the closing reports (`swarm`,
        // `sometimes`), which carry no `seed` key; the summary line goes to stderr.
        if let Some(t) = &tally {
            writeln!(out, "{}", serde_json::json!({ "swarm": t }))?;
        }
        if !sometimes.is_empty() {
            writeln!(out, "{}", serde_json::json!({ "sometimes": sometimes }))?;
        }
        eprintln!("{line}");
    } else {
        if let Some(t) = &tally {
            write!(out, "{t}")?;
        }
        if !sometimes.is_empty() {
            write!(out, "{sometimes}")?;
        }
        for f in &failed {
            writeln!(
                out,
                "failed: {} seed {}: {}",
                f.scenario,
                f.seed,
                f.repro.first().map_or("", String::as_str)
            )?;
        }
        writeln!(out, "{line}")?;
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `explore`: searches, prints what it found, writes the shrunk failure into `out`.
fn explore_command(
    system: &System,
    scenario: &Scenario,
    how: &crate::explore::Explore,
    out: &Path,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    init_logs();
    let found = crate::explore::explore(system, scenario, how, &mut |s| {
        if verbose || s.new_signals > 0 || !s.ok {
            println!(
                "run {:>4} seed {:<10} {} +{} signals, corpus {}  [{}]",
                s.run,
                s.candidate.seed,
                if s.ok { "ok  " } else { "FAIL" },
                s.new_signals,
                s.corpus,
                s.candidate.how.join("; ")
            );
        }
    })?;
    print!("{}", found.sometimes);
    println!(
        "explored {} runs in {:.1}s: {} coverage signals, corpus {}",
        found.runs,
        found.elapsed.as_secs_f64(),
        found.signals,
        found.corpus
    );
    let Some((candidate, report)) = &found.failure else {
        println!("no failure found within the budget");
        return Ok(ExitCode::SUCCESS);
    };
    print!("{}", describe_failure(report));
    println!("its schedule:");
    for f in &candidate.scenario.faults {
        println!("  {}", crate::explore::describe(f));
    }
    match &found.shrunk {
        Some(Ok(shrunk)) => {
            let path = crate::testing::write_shrunk(shrunk, out)
                .with_context(|| format!("writing into {}", out.display()))?;
            println!(
                "shrunk to {} faults in {} runs: {}\nreplay: highstorm replay {} --seed {}",
                shrunk.scenario.faults.len(),
                shrunk.runs,
                path.display(),
                path.display(),
                shrunk.seed
            );
        }
        Some(Err(e)) => println!("could not shrink it: {e}"),
        None => {}
    }
    Ok(ExitCode::from(1))
}

/// The sometimes-points of a sweep: every point the runs' systems declared, and what the runs
/// hit.
fn sometimes_report(systems: &[&System], reports: &[SeedReport]) -> crate::SometimesReport {
    let mut declared: Vec<&str> = systems
        .iter()
        .flat_map(|s| s.sometimes_points().iter().copied())
        .collect();
    declared.sort_unstable();
    declared.dedup();
    let mut report = crate::SometimesReport::new(declared);
    for r in reports {
        report.add(&r.sometimes);
    }
    report
}

/// Shrinks a failing seed and writes the minimal scenario into `dir`; returns its path and
/// fault count.
fn write_shrunk(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    dir: &Path,
    budget: usize,
) -> anyhow::Result<(PathBuf, usize)> {
    let shrunk = shrink::shrink(system, scenario, seed, budget)?;
    let path = crate::testing::write_shrunk(&shrunk, dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    Ok((path, shrunk.scenario.faults.len()))
}

/// Loads one scenario, on `engine` if given, and resolves its system.
fn load_on<'r>(
    registry: &'r Registry,
    path: &Path,
    with: Overrides,
) -> anyhow::Result<(&'r System, Scenario)> {
    let scenario = Scenario::load(path)?;
    let system = registry.resolve(&scenario)?;
    Ok((system, with.apply(scenario)))
}

fn shrink_command(
    registry: &Registry,
    path: &Path,
    with: Overrides,
    seed: u64,
    output: &Path,
    budget: usize,
) -> anyhow::Result<ExitCode> {
    init_logs();
    let (system, scenario) = load_on(registry, path, with)?;
    let shrunk = shrink::shrink(system, &scenario, seed, budget)?;
    std::fs::write(output, crate::testing::shrunk_file(&shrunk))
        .with_context(|| format!("{}", output.display()))?;
    println!(
        "shrunk {} seed {seed}: {} faults -> {}, {} nodes -> {} in {} runs; still fails {}",
        scenario.name,
        shrunk.faults_before,
        shrunk.scenario.faults.len(),
        shrunk.original.nodes,
        shrunk.scenario.nodes,
        shrunk.runs,
        shrunk.violation
    );
    println!("wrote {}", output.display());
    println!(
        "replay: highstorm replay {} --seed {seed}",
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn replay(
    registry: &Registry,
    path: &Path,
    with: Overrides,
    seed: u64,
    trace_out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    init_logs();
    let (system, scenario) = load_on(registry, path, with)?;
    let report = run_seed(system, &scenario, seed, Recheck::Twice)?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", report.trace.render())?;
    if let Some(p) = trace_out {
        std::fs::write(p, report.trace.to_jsonl()).with_context(|| format!("{}", p.display()))?;
    }
    for c in &report.checks {
        writeln!(
            out,
            "check {} {}: {}",
            c.name,
            if c.ok { "ok" } else { "FAILED" },
            c.detail
        )?;
    }
    writeln!(
        out,
        "trace {} ({} events)",
        report.trace_hash, report.events
    )?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn diff(a: &Path, b: &Path, context: usize) -> anyhow::Result<ExitCode> {
    let load = |p: &Path| -> anyhow::Result<Trace> {
        let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
        Trace::from_jsonl(&text).with_context(|| format!("{}", p.display()))
    };
    let (ta, tb) = (load(a)?, load(b)?);
    match first_difference(&ta, &tb, context) {
        None => {
            println!(
                "identical: {} events, trace {:016x}",
                ta.events().len(),
                ta.hash()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(d) => {
            println!("--- {}\n+++ {}\n{d}", a.display(), b.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// `highstorm node`'s arguments (what a [`RoleFn`] reads and fills in).
#[derive(Args)]
pub struct NodeArgs {
    /// The system, or a role of one (see the list below).
    pub system: String,
    /// Speak Maelstrom's protocol on stdin/stdout instead of UDP.
    #[arg(long)]
    pub maelstrom: bool,
    /// This node's id (UDP mode).
    #[arg(long, required_unless_present = "maelstrom")]
    pub id: Option<String>,
    /// Address to listen on (UDP mode); loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:7001")]
    pub listen: SocketAddr,
    /// The other nodes, `n2=127.0.0.1:7002,n3=127.0.0.1:7003`.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// The variant of the system's logic.
    #[arg(long)]
    pub variant: Option<String>,
    /// This incarnation's boot count (default: milliseconds since the Unix epoch, so a
    /// restarted process never reuses an earlier incarnation's number). It also picks the
    /// incarnation's msg id range (boot mod 2^21), so replies meant for an earlier incarnation
    /// are discarded; Maelstrom mode always numbers from 1, as Maelstrom expects.
    #[arg(long)]
    pub boot: Option<u64>,
    /// Seed for the node's rng (default: derived from the boot count).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The system's config as a JSON object (the scenario's `[config]`).
    #[arg(long)]
    pub config: Option<String>,
    /// Sets one key of the config, `KEY=VALUE` (VALUE as JSON, else as a string); repeatable,
    /// applied after `--config`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Keep the node's durable storage in this directory (created if missing; without
    /// it, nothing survives a restart).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The blob directory outside work reads and writes (inputs, outputs).
    #[arg(long, default_value = ".")]
    pub blobs: PathBuf,
    /// Serve the system's HTTP API here (a role may default it).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Every piece of outside work takes at least this many milliseconds (demos and
    /// tests: time to kill a worker mid-task). At most one hour.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_MIN_WORK_MS))]
    pub min_work_ms: u64,
    /// The node this one follows (its leader, manager or coordinator), `name=host:port`: for
    /// roles that read it.
    #[arg(long)]
    pub leader: Option<String>,
}

/// The most `--min-work-ms` takes: an hour (it only ever slows outside work down).
pub const MAX_MIN_WORK_MS: u64 = 3_600_000;

/// A fault kind by its scenario-file name (`partition-oneway`).
fn parse_kind(name: &str) -> Result<crate::scenario::NemesisKind, String> {
    crate::scenario::NemesisKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = crate::scenario::NemesisKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        format!("unknown fault kind {name:?} (known: {})", known.join(", "))
    })
}

/// `name=host:port` (for roles that read `--leader`).
pub fn parse_peer(p: &str) -> anyhow::Result<(String, SocketAddr)> {
    let (name, addr) = p
        .split_once('=')
        .with_context(|| format!("peer {p:?}: expected name=host:port"))?;
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("peer {p:?}: bad address"))?;
    Ok((name.to_owned(), addr))
}

fn node(registry: &Registry, roles: &[Role], mut a: NodeArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let mut config = match &a.config {
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .context("--config: expected a JSON object")?,
        None => serde_json::Value::Object(Default::default()),
    };
    let Some(cfg) = config.as_object_mut() else {
        bail!("--config: expected a JSON object");
    };
    for entry in &a.set {
        let (key, value) = entry
            .split_once('=')
            .with_context(|| format!("--set {entry:?}: expected KEY=VALUE"))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| value.into());
        cfg.insert(key.to_owned(), value);
    }
    // A role is one system, configured by the node's arguments (who leads, who manages).
    let system = match roles.iter().find(|r| r.name == a.system) {
        Some(role) => {
            (role.fill)(&mut a, cfg)?;
            role.system.to_owned()
        }
        None => a.system.clone(),
    };
    let system = system.as_str();
    let sys = registry.get(system)?;
    // Real mode is outside the simulation: the wall clock may name an incarnation.
    let boot = a.boot.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    });
    let seed = a.seed.unwrap_or(boot);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let variant = a.variant.as_deref();
    if a.maelstrom {
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let stdout = tokio::io::stdout();
        rt.block_on(stdio::serve(stdin, stdout, seed, |setup| {
            sys.spawn(variant, &config, setup)
                .map_err(std::io::Error::other)
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let id = a.id.context("--id is required without --maelstrom")?;
    let book = a
        .peers
        .iter()
        .map(|p| parse_peer(p))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("--peers")?;
    let (store, durable) = match &a.store {
        Some(dir) => {
            let (store, durable) =
                DirStore::open(dir).with_context(|| format!("--store {}", dir.display()))?;
            (Some(store), durable)
        }
        None => (None, Default::default()),
    };
    let peers = book.iter().map(|(n, _)| n.clone()).collect();
    let setup = crate::driver::real_setup(id.clone(), peers, seed, boot, durable);
    let mut process = sys.spawn(variant, &config, setup)?;
    let blobs = DirBlobs::new(&a.blobs);
    let mut env = RealEnvironment {
        work: sys.work_fn().map(|w| {
            let at_least = std::time::Duration::from_millis(a.min_work_ms);
            blocking_work_runner(w, blobs.clone(), at_least)
        }),
        store,
        ..RealEnvironment::default()
    };
    let http = a.http;
    rt.block_on(async move {
        let socket = tokio::net::UdpSocket::bind(a.listen)
            .await
            .with_context(|| format!("--listen {}", a.listen))?;
        tracing::info!(node = %id, listen = %a.listen, "listening");
        let transport = UdpTransport::new(socket, AddressBook::new(book));
        let Some(http) = http else {
            let mut transport = transport;
            drive(process.as_mut(), &mut transport, &mut env).await?;
            return anyhow::Ok(());
        };
        let Some((api, _)) = sys.http_api() else {
            bail!("`{system}` has no HTTP API");
        };
        let (mut gateway, client) = Gateway::new(transport, &id, "http");
        let router = api(HttpSetup {
            node: &id,
            variant: variant.unwrap_or(&sys.variant_names()[0]),
            config: &config,
            gateway: client,
            blobs: Arc::new(blobs),
        })?
        .with_context(|| format!("`{system}` serves no HTTP API on node `{id}`"))?;
        let listener = tokio::net::TcpListener::bind(http)
            .await
            .with_context(|| format!("--http {http}"))?;
        tracing::info!(node = %id, %http, "serving HTTP");
        // The server is a task of its own: a node busy with a flood of datagrams yields to it
        // (see `RealEnvironment::gate`), so reads are answered during the flood.
        let server = tokio::spawn(crate::http_api::serve(listener, router));
        tokio::select! {
            biased;
            r = drive(process.as_mut(), &mut gateway, &mut env) => r?,
            r = server => r.context("the HTTP server stopped")??,
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
