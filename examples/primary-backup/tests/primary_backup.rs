//! The primary-backup store under faults, from `cargo test`, on both engines: the correct
//! variant passes its sweeps (`HIGHSTORM_SEEDS` narrows or widens them), the engines agree on
//! every verdict, and the planted `async-ack` bug is found.

use highstorm::engine::Engine;
use highstorm::prelude::*;
use highstorm::{run_seed, EventKind, Recheck};
use std::path::Path;

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/primary-backup-faults.toml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The sweeps below test what they claim: in most runs a backup restarts while the primary's
/// answer to its earlier incarnation's forward is on its way, and that answer is discarded.
#[test]
fn the_scenario_forwards_across_restarts() {
    let s = scenario();
    for engine in [Engine::Events, Engine::Turmoil] {
        const SEEDS: u64 = 20;
        let stale = (0..SEEDS)
            .filter(|&seed| {
                let r = run_seed(system(), &s.clone().engine(engine), seed, Recheck::Once).unwrap();
                r.trace.events().iter().any(|e| {
                    matches!(&e.kind, EventKind::Discard { node, from: Some(from), reason }
                        if node != "n0" && from == "n0"
                            && reason.contains("of an earlier incarnation"))
                })
            })
            .count();
        assert!(
            stale as u64 * 2 >= SEEDS,
            "{engine:?}: only {stale} of {SEEDS} runs had a forward answered across a restart"
        );
    }
}

#[test]
fn forwarding_survives_crashes_and_partitions_on_the_events_engine() {
    let s = scenario().engine(Engine::Events);
    let outcome = Sweep::new(system(), &s).seeds(0..500).run();
    assert!(outcome.reports.len() >= 500 || std::env::var_os("HIGHSTORM_SEEDS").is_some());
}

#[test]
fn forwarding_survives_crashes_and_partitions_on_the_turmoil_engine() {
    let s = scenario().engine(Engine::Turmoil);
    let outcome = Sweep::new(system(), &s).seeds(0..200).run();
    assert!(outcome.reports.len() >= 200 || std::env::var_os("HIGHSTORM_SEEDS").is_some());
}

/// Same scenario, same seeds, both engines: the traces differ, the verdicts may not.
#[test]
fn both_engines_give_the_same_verdicts() {
    let s = scenario();
    for seed in 0..40 {
        let verdicts = |engine| {
            let r = run_seed(system(), &s.clone().engine(engine), seed, Recheck::Once).unwrap();
            r.checks
                .into_iter()
                .map(|c| (c.name, c.ok))
                .collect::<Vec<_>>()
        };
        let (on_events, on_turmoil) = (verdicts(Engine::Events), verdicts(Engine::Turmoil));
        assert_eq!(on_events, on_turmoil, "seed {seed}");
        assert!(
            on_events.iter().all(|(_, ok)| *ok),
            "seed {seed}: {on_events:?}"
        );
    }
}

#[test]
fn acknowledging_before_storing_is_caught() {
    let buggy = scenario().variant("async-ack");
    for engine in [Engine::Events, Engine::Turmoil] {
        let failure = Sweep::new(system(), &buggy.clone().engine(engine))
            .seeds(0..30)
            .find_failure()
            .unwrap_or_else(|| panic!("{engine:?}: async-ack must lose an acknowledged write"));
        let failed: Vec<&str> = failure
            .report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            failed.contains(&"reads-see-acknowledged-writes")
                || failed.contains(&"versions-unique"),
            "{engine:?}: {failed:?}"
        );
    }
}

/// The system under test, built once for the whole test binary (sweeps borrow it).
fn system() -> &'static System {
    static SYSTEM: std::sync::OnceLock<System> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(primary_backup::system)
}
