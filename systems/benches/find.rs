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
//! seeds each (default 100). (c) runs `highstorm explore` from one calm shipped scenario,
//! search seed 0, up to `HIGHSTORM_FIND_RUNS` runs (default 400). (b) is filled in once swarm
//! mode exists (`[nemesis] swarm = true`). CPU time is this thread's (from
//! `/proc/thread-self/schedstat`; wall time where that is missing), to the failing run, not
//! counting shrinking. Add a bug by adding a row to [`BUGS`].

use highstorm_systems::system;

#[path = "../src/allocator.rs"]
mod allocator;

use highstorm::explore::{explore, Budget, Explore};
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

/// Every planted bug the benchmark hunts. One row per bug.
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
    fn cell(&self) -> String {
        match &self.failed {
            Some(_) => format!("{:.2}s / {} runs", self.cpu.as_secs_f64(), self.runs),
            None => format!(
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

/// The shipped scenarios of `system`, with `variant` planted.
fn shipped(system: &str, variant: &str) -> Vec<Scenario> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(&format!("{system}-"))
                && name.ends_with(".toml")
                && !name.contains("http")
                && !name.contains("1000")
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

/// (c): explore from the bug's calm scenario.
fn explore_from(bug: &PlantedBug, runs: u64) -> Found {
    let file = scenarios_dir().join(bug.explore_from);
    let s = with_variant(Scenario::load(&file).expect("loads"), bug.variant);
    let how = Explore {
        budget: Budget::Runs(runs),
        seed: 0,
        shrink_budget: 0,
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
    Found {
        runs: found.runs,
        cpu: at.unwrap_or_else(|| clock.now() - start),
        failed: found
            .failure
            .map(|(c, _)| format!("seed {} with {} faults", c.seed, c.scenario.faults.len())),
    }
}

fn env_u64(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    allocator::keep_freed_memory();
    let seeds = env_u64("HIGHSTORM_FIND_SEEDS", 100);
    let runs = env_u64("HIGHSTORM_FIND_RUNS", 400);
    let only = std::env::var("HIGHSTORM_FIND_BUGS").unwrap_or_default();
    println!("time to first failure, CPU s / runs (plain: <= {seeds} seeds a scenario; explore: <= {runs} runs)");
    println!("| planted bug | (a) plain seed sweeps | (b) swarm | (c) explore | explore found |");
    println!("|---|---|---|---|---|");
    let mut ratios = vec![];
    for bug in BUGS {
        let name = format!("{} {}", bug.system, bug.variant);
        if !only.is_empty() && !name.contains(&only) {
            continue;
        }
        let plain = plain_sweep(bug, seeds);
        let explored = explore_from(bug, runs);
        if plain.failed.is_some() && explored.failed.is_some() {
            ratios.push(explored.cpu.as_secs_f64() / plain.cpu.as_secs_f64().max(1e-9));
        }
        println!(
            "| {name} | {} | — (swarm pending) | {} | {} |",
            plain.cell(),
            explored.cell(),
            explored.failed.as_deref().unwrap_or("-")
        );
    }
    ratios.sort_by(f64::total_cmp);
    if let Some(median) = ratios.get(ratios.len() / 2) {
        println!("median explore / plain CPU time, over bugs both found: {median:.2}");
    }
}
