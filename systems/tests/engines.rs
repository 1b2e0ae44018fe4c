//! The two engines share scenarios, traces and checkers: every shipped scenario gets the same
//! checker verdicts on both over a sample of seeds (traces differ; verdicts may not), and the
//! `events` engine is as deterministic as the turmoil one.

use highstorm_systems::system;

use highstorm::engine::Engine;
use highstorm::scenario::Api;
use highstorm::{run_seed, Recheck, Scenario};
use std::path::PathBuf;

fn shipped() -> Vec<Scenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.iter().map(|f| Scenario::load(f).unwrap()).collect()
}

/// The scenario as the `events` engine can run it: clients over HTTP (which only turmoil
/// serves) become clients over messages, the same operations on the same node logic.
fn for_both_engines(mut s: Scenario) -> Scenario {
    if highstorm::engine::supports(Engine::Events, &s).is_err() {
        s.workload.api = Api::Messages;
    }
    s
}

fn verdicts(s: &Scenario, seed: u64) -> Vec<(String, bool)> {
    let r = run_seed(system(s), s, seed, Recheck::Once).unwrap();
    r.checks.into_iter().map(|c| (c.name, c.ok)).collect()
}

#[test]
fn every_shipped_scenario_gets_the_same_verdicts_on_both_engines() {
    for s in shipped() {
        // turmoil cannot run 1000 nodes (every step scans every pair of hosts): compare the
        // same scenario shrunk to 25 nodes instead.
        let s = if s.nodes > 100 { s.nodes(25) } else { s };
        let s = for_both_engines(s);
        // The 25-node scenarios cost seconds per seed on turmoil in a debug build: fewer seeds.
        let seeds = if s.nodes > 5 { 0..1 } else { 0..3 };
        for seed in seeds {
            let on_turmoil = verdicts(&s.clone().engine(Engine::Turmoil), seed);
            let on_events = verdicts(&s.clone().engine(Engine::Events), seed);
            assert_eq!(on_turmoil, on_events, "{} seed {seed}", s.name);
            assert!(
                on_events.iter().all(|(_, ok)| *ok),
                "{} seed {seed}: {on_events:?}",
                s.name
            );
        }
    }
}

#[test]
fn the_events_engine_is_deterministic_and_catches_the_planted_bugs() {
    for s in shipped() {
        // At 1000 nodes a debug-build run costs tens of seconds: `scenarios.rs` and the
        // snapshot already run it (with a determinism recheck); here, the same at 100 nodes.
        let s = if s.nodes > 100 { s.nodes(100) } else { s };
        let s = for_both_engines(s).engine(Engine::Events);
        let r = run_seed(system(&s), &s, 11, Recheck::Twice).unwrap();
        assert!(r.ok, "{} seed 11: {:?}", s.name, r.checks);
    }
    let broken = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/broken");
    for name in [
        "unique-ids-forgetful",
        "broadcast-amnesiac",
        "bridge-four-unfenced",
        "election-naive",
        "work-queue-forgetful",
        "work-queue-unfenced",
    ] {
        let s = Scenario::load(&broken.join(format!("{name}.toml")))
            .unwrap()
            .engine(Engine::Events);
        let failing =
            (0..20).find(|&seed| !run_seed(system(&s), &s, seed, Recheck::Once).unwrap().ok);
        assert!(
            failing.is_some(),
            "{name}: the events engine must find the planted bug"
        );
    }
}
