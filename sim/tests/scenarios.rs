//! Every shipped scenario, swept over its seeds (or `HIGHSTORM_SEED` / `HIGHSTORM_SEEDS`), with
//! every run executed twice to check determinism. A failure prints the lines that reproduce it.

use highstorm::testing::Sweep;
use highstorm::Scenario;
use std::path::PathBuf;

/// Scenario files with a test below; a shipped file missing here fails `every_scenario_is_swept`.
const SWEPT: &[&str] = &[
    "bridge-four-http",
    "bridge-four-leader-crash",
    "bridge-four-nemesis",
    "bridge-four-partition",
    "bridge-four-slow",
    "bridge-four-worker-kill",
    "broadcast-1",
    "broadcast-1000",
    "broadcast-5",
    "broadcast-5-partition",
    "broadcast-efficient",
    "broadcast-efficient-partition",
    "echo",
    "election-crash",
    "election-nemesis",
    "election-partition",
    "election-pause",
    "election-skew",
    "g-counter-partition",
    "unique-ids-faults",
    "unique-ids-nemesis",
    "work-queue-http",
    "work-queue-manager-crash",
    "work-queue-nemesis",
    "work-queue-partition",
    "work-queue-pause",
    "work-queue-skew",
    "work-queue-worker-crash",
];

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn sweep(stem: &str) {
    sweep_sample(stem, None);
}

/// Sweeps `stem` over its own seeds, or only over `sample` (for scenarios whose full sweep is
/// too slow for a debug build; they are swept in release with `highstorm run`). A failure
/// panics with the repro lines and a shrunk scenario.
fn sweep_sample(stem: &str, sample: Option<std::ops::Range<u64>>) {
    let scenario = Scenario::load(&scenarios_dir().join(format!("{stem}.toml")))
        .unwrap_or_else(|e| panic!("{e}"));
    let sweep = Sweep::new(system(&scenario), &scenario);
    let sweep = match sample {
        Some(seeds) => sweep.seeds(seeds),
        None => sweep,
    };
    let reports = sweep.run().reports;
    let rechecked = reports
        .iter()
        .filter(|r| r.checks.iter().any(|c| c.name == "deterministic"))
        .count();
    let ops: usize = reports.iter().map(|r| r.metrics.ops_ok).sum();
    eprintln!(
        "{stem}: {} seeds passed ({rechecked} rechecked for determinism), {ops} operations ok",
        reports.len()
    );
}

#[test]
fn echo() {
    sweep("echo");
}

#[test]
fn unique_ids_faults() {
    sweep("unique-ids-faults");
}

#[test]
fn every_scenario_validates_and_is_swept() {
    let mut stems = vec![];
    for entry in std::fs::read_dir(scenarios_dir()).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            stems.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    stems.sort();
    for stem in &stems {
        assert!(
            SWEPT.contains(&stem.as_str()),
            "scenarios/{stem}.toml has no sweep test"
        );
    }
    assert_eq!(stems.len(), SWEPT.len());
    // Scenarios with planted bugs are not swept (they fail by design) but must be valid.
    for entry in std::fs::read_dir(scenarios_dir().join("broken")).expect("scenarios/broken/") {
        let path = entry.expect("entry").path();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.variant.is_some(),
            "{}: a broken scenario names its buggy variant",
            path.display()
        );
    }
}

#[test]
fn unique_ids_nemesis() {
    sweep("unique-ids-nemesis");
}

#[test]
fn broadcast_1() {
    sweep("broadcast-1");
}

#[test]
fn broadcast_5() {
    sweep("broadcast-5");
}

#[test]
fn broadcast_5_partition() {
    sweep("broadcast-5-partition");
}

#[test]
fn g_counter_partition() {
    sweep("g-counter-partition");
}

/// 1000 nodes on the `events` engine: its file sweeps one seed (a debug-build seed costs tens
/// of seconds); the wider sweep is `cargo bench -p highstorm --bench engines` and
/// `highstorm run scenarios/broadcast-1000.toml --seeds 0..N` in release.
#[test]
fn broadcast_1000() {
    sweep("broadcast-1000");
}

#[test]
fn broadcast_efficient() {
    sweep("broadcast-efficient");
}

#[test]
fn broadcast_efficient_partition() {
    sweep("broadcast-efficient-partition");
}

/// Bridge Four over HTTP on turmoil (the real router over simulated TCP): 200 seeds cost about
/// a minute of a debug build on 2 cores, so `cargo test` sweeps 40 of them (any others with
/// `HIGHSTORM_SEEDS`); all 200 run with `highstorm run scenarios/bridge-four-http.toml`.
#[test]
fn bridge_four_http() {
    sweep_sample("bridge-four-http", Some(0..40));
}

#[test]
fn bridge_four_leader_crash() {
    sweep("bridge-four-leader-crash");
}

#[test]
fn bridge_four_nemesis() {
    sweep("bridge-four-nemesis");
}

#[test]
fn bridge_four_partition() {
    sweep("bridge-four-partition");
}

#[test]
fn bridge_four_slow() {
    sweep("bridge-four-slow");
}

#[test]
fn bridge_four_worker_kill() {
    sweep("bridge-four-worker-kill");
}

#[test]
fn election_partition() {
    sweep("election-partition");
}

#[test]
fn election_crash() {
    sweep("election-crash");
}

#[test]
fn election_pause() {
    sweep("election-pause");
}

#[test]
fn election_skew() {
    sweep("election-skew");
}

#[test]
fn election_nemesis() {
    sweep("election-nemesis");
}

#[test]
fn work_queue_manager_crash() {
    sweep("work-queue-manager-crash");
}

#[test]
fn work_queue_nemesis() {
    sweep("work-queue-nemesis");
}

#[test]
fn work_queue_partition() {
    sweep("work-queue-partition");
}

#[test]
fn work_queue_pause() {
    sweep("work-queue-pause");
}

#[test]
fn work_queue_skew() {
    sweep("work-queue-skew");
}

#[test]
fn work_queue_worker_crash() {
    sweep("work-queue-worker-crash");
}

/// The queue over HTTP on turmoil: the manager's router over simulated TCP.
#[test]
fn work_queue_http() {
    sweep("work-queue-http");
}

/// The shipped system `s` names, from one registry built for the whole test binary.
fn system(s: &highstorm::Scenario) -> &'static highstorm::system::System {
    static SHIPPED: std::sync::OnceLock<highstorm::system::Registry> = std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(highstorm::shipped::registry)
        .get(&s.system)
        .unwrap_or_else(|e| panic!("{e}"))
}
