//! Time to first failure for each planted bug: (a) plain seed sweeps of the system's shipped
//! scenarios, (b) swarm, (c) explore — side by side in one table.
//!
//! ```text
//! cargo bench -p highstorm-systems --bench find
//! HIGHSTORM_FIND_SEEDS=50 HIGHSTORM_FIND_RUNS=200 HIGHSTORM_FIND_BUGS=work-queue \
//!     cargo bench -p highstorm-systems --bench find
//! ```
//!
//! (a) runs every shipped scenario of the bug's system (`scenarios/<system>-*.toml`, minus
//! the HTTP ones and the 1000-node one), with the planted variant, round-robin over seeds
//! 0, 1, 2, ... (seed 0 of every scenario, then seed 1, ...), up to `HIGHSTORM_FIND_SEEDS`
//! seeds each (default 100). (b) runs the system's swarm scenario
//! (`scenarios/<system>-swarm.toml`, `[nemesis] swarm = true`) at seeds 0, 1, 2, ... up to
//! `HIGHSTORM_FIND_SWARM_SEEDS` (default 100). (c) runs `highstorm explore` from one calm
//! shipped scenario (for the bugs of `highstorm_systems::planted`, the calmest one that misses
//! the bug: no nemesis, fewest faults), with the fault kinds and liveness bound of the
//! system's swarm scenario, search seed 0, up to `HIGHSTORM_FIND_RUNS` runs (default 400); a
//! failure it finds is replayed with the correct variant, which must pass it. CPU time is this thread's (from
//! `/proc/thread-self/schedstat`; wall time where that is missing), to the failing run, not
//! counting shrinking. Add a bug by adding a row to [`BUGS`] (or to `PLANTED`).

use highstorm_systems::planted::PLANTED;
use highstorm_systems::system;

#[path = "../src/allocator.rs"]
mod allocator;

use highstorm::explore::{explore, signals, Budget, Explore};
use highstorm::{run_seed, Recheck, Scenario};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A planted bug: a variant of a system, and the scenario explore starts from.
struct PlantedBug {
    /// The system.
    system: &'static str,
    /// The planted variant.
    variant: &'static str,
    /// The shipped scenario explore starts from (under `scenarios/`).
    explore_from: &'static str,
}

/// The older planted bugs the benchmark hunts, one row per bug; the swarm work's bugs
/// ([`PLANTED`]) follow them in the table, explore starting from the first shipped scenario
/// that misses the bug.
const BUGS: &[PlantedBug] = &[
    PlantedBug {
        system: "work-queue",
        variant: "unfenced",
        explore_from: "work-queue-partition.toml",
    },
    PlantedBug {
        system: "work-queue",
        variant: "forgetful",
        explore_from: "work-queue-partition.toml",
    },
    PlantedBug {
        system: "unique-ids",
        variant: "forgetful",
        explore_from: "unique-ids-faults.toml",
    },
    PlantedBug {
        system: "election",
        variant: "naive",
        explore_from: "election-partition.toml",
    },
    PlantedBug {
        system: "broadcast",
        variant: "amnesiac",
        explore_from: "broadcast-5-partition.toml",
    },
    PlantedBug {
        system: "broadcast",
        variant: "silent",
        explore_from: "broadcast-5.toml",
    },
    PlantedBug {
        system: "bridge-four",
        variant: "unfenced",
        explore_from: "bridge-four-partition.toml",
    },
];

/// Runs and CPU time to the first failure, or the runs spent without one.
struct Found {
    runs: u64,
    cpu: Duration,
    failed: Option<String>,
}

impl Found {
    /// Whether it found the bug (not a failure the correct variant shares).
    fn found(&self) -> bool {
        self.failed.as_ref().is_some_and(|f| !f.contains("FALSE"))
    }

    fn cell(&self) -> String {
        match &self.failed {
            Some(_) if self.found() => {
                format!("{:.2}s / {} runs", self.cpu.as_secs_f64(), self.runs)
            }
            _ => format!(
                "not found ({} runs, {:.1}s)",
                self.runs,
                self.cpu.as_secs_f64()
            ),
        }
    }
}

/// CPU time this thread has used.
struct CpuClock {
    wall: Instant,
}

impl CpuClock {
    fn start() -> (CpuClock, Duration) {
        let clock = CpuClock {
            wall: Instant::now(),
        };
        let at = clock.now();
        (clock, at)
    }

    fn now(&self) -> Duration {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map(Duration::from_nanos)
            .unwrap_or_else(|| self.wall.elapsed())
    }
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn with_variant(mut s: Scenario, variant: &str) -> Scenario {
    s.variant = Some(variant.to_owned());
    s
}

/// The shipped non-swarm scenarios of `system`, with `variant` planted.
fn shipped(system: &str, variant: &str) -> Vec<Scenario> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.starts_with(&format!("{system}-")) || name == format!("{system}.toml"))
                && name.ends_with(".toml")
                && !name.contains("http")
                && !name.contains("1000")
                && !name.contains("swarm")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            with_variant(
                Scenario::load(f).expect("a shipped scenario loads"),
                variant,
            )
        })
        .collect()
}

/// (a): round-robin over the shipped scenarios' seeds until one fails.
fn plain_sweep(bug: &PlantedBug, seeds: u64) -> Found {
    let scenarios = shipped(bug.system, bug.variant);
    let (clock, start) = CpuClock::start();
    let mut runs = 0;
    for seed in 0..seeds {
        for s in &scenarios {
            runs += 1;
            let r = run_seed(system(s), s, seed, Recheck::Once).expect("runs");
            if !r.ok {
                return Found {
                    runs,
                    cpu: clock.now() - start,
                    failed: Some(format!("{} seed {seed}", s.name)),
                };
            }
        }
    }
    Found {
        runs,
        cpu: clock.now() - start,
        failed: None,
    }
}

/// (b): the system's swarm scenario (`scenarios/<system>-swarm.toml`) at seeds 0, 1, 2, ...
/// until one fails.
fn swarm_sweep(bug: &PlantedBug, seeds: u64) -> Found {
    let file = scenarios_dir().join(format!("{}-swarm.toml", bug.system));
    let s = with_variant(
        Scenario::load(&file).expect("a swarm scenario loads"),
        bug.variant,
    );
    assert!(
        s.nemesis.as_ref().is_some_and(|n| n.swarm),
        "{} is not a swarm scenario",
        file.display()
    );
    let (clock, start) = CpuClock::start();
    let mut runs = 0;
    for seed in 0..seeds {
        runs += 1;
        let r = run_seed(system(&s), &s, seed, Recheck::Once).expect("runs");
        if !r.ok {
            return Found {
                runs,
                cpu: clock.now() - start,
                failed: Some(format!("seed {seed}")),
            };
        }
    }
    Found {
        runs,
        cpu: clock.now() - start,
        failed: None,
    }
}

/// (c): explore from the bug's calm scenario, with the fault kinds and the liveness bound of
/// the system's swarm scenario (what the system claims to survive, and how long it may take
/// to recover). A failing candidate is replayed with the system's correct variant: if that
/// fails too, the failure is the harness's, not the bug's, and the row says so.
fn explore_from(bug: &PlantedBug, runs: u64) -> Found {
    let file = scenarios_dir().join(bug.explore_from);
    let s = with_variant(Scenario::load(&file).expect("loads"), bug.variant);
    let swarm = Scenario::load(&scenarios_dir().join(format!("{}-swarm.toml", bug.system)))
        .expect("a swarm scenario loads");
    let how = Explore {
        budget: Budget::Runs(runs),
        seed: 0,
        shrink_budget: 0,
        kinds: swarm.nemesis.map(|n| n.kinds).unwrap_or_default(),
        liveness: swarm.checks.liveness,
        ..Explore::default()
    };
    let (clock, start) = CpuClock::start();
    let mut at = None;
    let found = explore(system(&s), &s, &how, &mut |step| {
        if !step.ok && at.is_none() {
            at = Some(clock.now() - start);
        }
    })
    .expect("explores");
    let failed = found.failure.map(|(c, _)| {
        let correct = with_variant(c.scenario.clone(), "default");
        let control = run_seed(system(&correct), &correct, c.seed, Recheck::Once).expect("runs");
        let what = format!("seed {} with {} faults", c.seed, c.scenario.faults.len());
        if control.ok {
            what
        } else {
            format!("{what}, FALSE: the correct variant fails it too")
        }
    });
    Found {
        runs: found.runs,
        cpu: at.unwrap_or_else(|| clock.now() - start),
        failed,
    }
}

fn env_u64(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every row of the table: [`BUGS`], then [`PLANTED`] with explore starting from the calmest
/// shipped scenario that misses the bug.
fn rows() -> Vec<PlantedBug> {
    let mut rows: Vec<PlantedBug> = BUGS
        .iter()
        .map(|b| PlantedBug {
            system: b.system,
            variant: b.variant,
            explore_from: b.explore_from,
        })
        .collect();
    rows.extend(PLANTED.iter().map(|p| PlantedBug {
        system: p.system,
        variant: p.variant,
        explore_from: calmest(p.misses),
    }));
    rows
}

/// The calmest of `files` (shipped scenarios, not HTTP): no nemesis, then the fewest
/// `[[faults]]`; the first of equals.
fn calmest(files: &[&'static str]) -> &'static str {
    files
        .iter()
        .copied()
        .filter(|f| !f.contains("http"))
        .min_by_key(|f| {
            let s = Scenario::load(&scenarios_dir().join(f)).expect("loads");
            (s.nemesis.is_some(), s.faults.len())
        })
        .expect("a planted bug names a shipped scenario that misses it")
}

/// What explore adds to a run: the CPU time of reading a run's coverage signals, next to the
/// run itself (engine, checks, metrics, trace hash: what a plain sweep pays too), over
/// `seeds` seeds of each scenario explore starts from.
fn coverage_cost(seeds: u64) {
    let mut files: Vec<&str> = rows().iter().map(|r| r.explore_from).collect();
    files.sort();
    files.dedup();
    println!("explore's cost per run over a plain run ({seeds} seeds each, CPU):");
    for f in files {
        let s = Scenario::load(&scenarios_dir().join(f)).expect("loads");
        let (clock, start) = CpuClock::start();
        let reports: Vec<_> = (0..seeds)
            .map(|seed| run_seed(system(&s), &s, seed, Recheck::Once).expect("runs"))
            .collect();
        let ran = clock.now();
        // Read each run's signals 20 times: one reading is below the clock's resolution.
        const READS: u32 = 20;
        for _ in 0..READS {
            for r in &reports {
                std::hint::black_box(signals(&r.trace, &r.sometimes));
            }
        }
        let read = (clock.now() - ran) / READS;
        let run = ran - start;
        println!(
            "- {}: run {:.1} ms, coverage signals {:.2} ms ({:.1}% of the run)",
            f.trim_end_matches(".toml"),
            run.as_secs_f64() * 1e3 / seeds as f64,
            read.as_secs_f64() * 1e3 / seeds as f64,
            100.0 * read.as_secs_f64() / run.as_secs_f64().max(1e-9)
        );
    }
}

/// The median of `xs` (the upper one of an even count), if any.
fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied()
}

fn main() {
    allocator::keep_freed_memory();
    let seeds = env_u64("HIGHSTORM_FIND_SEEDS", 100);
    let swarm_seeds = env_u64("HIGHSTORM_FIND_SWARM_SEEDS", 100);
    let runs = env_u64("HIGHSTORM_FIND_RUNS", 400);
    let only = std::env::var("HIGHSTORM_FIND_BUGS").unwrap_or_default();
    println!(
        "time to first failure, CPU s / runs (plain: <= {seeds} seeds a scenario; \
         swarm: <= {swarm_seeds} seeds; explore: <= {runs} runs)"
    );
    println!(
        "| planted bug | (a) plain seed sweeps | (b) swarm | (c) explore | explore from | explore found |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut explore_ratios, mut swarm_ratios, mut explore_all) = (vec![], vec![], vec![]);
    let (mut rows_run, mut plain_found, mut swarm_found, mut explore_found) = (0, 0, 0, 0);
    for bug in rows() {
        let name = format!("{} {}", bug.system, bug.variant);
        if !only.is_empty() && !name.contains(&only) {
            continue;
        }
        rows_run += 1;
        let plain = plain_sweep(&bug, seeds);
        let swarm = swarm_sweep(&bug, swarm_seeds);
        let explored = explore_from(&bug, runs);
        let ratio = |other: &Found| other.cpu.as_secs_f64() / plain.cpu.as_secs_f64().max(1e-9);
        if plain.found() && explored.found() {
            explore_ratios.push(ratio(&explored));
        }
        if plain.found() && swarm.found() {
            swarm_ratios.push(ratio(&swarm));
        }
        // A false alarm stopped the search early: it counts as never found.
        let false_alarm = explored.failed.is_some() && !explored.found();
        explore_all.push(if false_alarm {
            f64::INFINITY
        } else {
            ratio(&explored)
        });
        plain_found += u32::from(plain.found());
        swarm_found += u32::from(swarm.found());
        explore_found += u32::from(explored.found());
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            plain.cell(),
            swarm.cell(),
            explored.cell(),
            bug.explore_from.trim_end_matches(".toml"),
            explored.failed.as_deref().unwrap_or("-")
        );
    }
    println!(
        "found: plain {plain_found}/{rows_run}, swarm {swarm_found}/{rows_run}, \
         explore {explore_found}/{rows_run}"
    );
    if let Some(m) = median(explore_ratios) {
        println!("median explore / plain CPU time, over bugs both found: {m:.2}");
    }
    if let Some(m) = median(swarm_ratios) {
        println!("median swarm / plain CPU time, over bugs both found: {m:.2}");
    }
    if let Some(m) = median(explore_all) {
        println!(
            "median explore / plain CPU time, over all {rows_run} bugs (a bug a method did not \
             find counts with the CPU time it spent): {m:.2}"
        );
    }
    if env_u64("HIGHSTORM_FIND_COST_SEEDS", 5) > 0 {
        coverage_cost(env_u64("HIGHSTORM_FIND_COST_SEEDS", 5));
    }
}
