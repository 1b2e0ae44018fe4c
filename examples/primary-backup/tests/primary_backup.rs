//! The primary-backup store under faults, from `cargo test`, on both engines: the correct
//! variant passes its sweeps (`HIGHSTORM_SEEDS` narrows or widens them), the engines agree on
//! every verdict, and the planted `async-ack` bug is found. On faulty disks
//! (`primary-backup-storage.toml`, `primary-backup-lost-writes.toml`) it never acknowledges a
//! failed sync, stops on a damaged record, survives lost and misdirected writes on its backups
//! but not on its primary, and the planted `ignore-sync-failure` bug is found.

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

fn storage_scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/primary-backup-storage.toml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Storage faults (failed syncs, a full disk, torn and corrupted records, under the fault
/// atlas) with the primary restarting: 200 seeds on the events engine, every check passing —
/// no acknowledged write lost, per key.
#[test]
fn the_store_survives_storage_faults_over_its_seeds() {
    let outcome = Sweep::new(system(), &storage_scenario()).run();
    assert!(outcome.reports.len() >= 200 || std::env::var_os("HIGHSTORM_SEEDS").is_some());
}

/// The storage sweep tests what it claims: in its runs syncs fail and the nodes answer
/// errors, and a node that finds a damaged record stops — naming it in a `storage-halted`
/// note — after which it acknowledges nothing.
#[test]
fn failed_syncs_are_never_acknowledged_and_damage_stops_the_node() {
    let s = storage_scenario();
    const SEEDS: u64 = 20;
    let (mut failed_syncs, mut halts) = (0, 0);
    for seed in 0..SEEDS {
        let r = run_seed(system(), &s, seed, Recheck::Once).unwrap();
        let events = r.trace.events();
        failed_syncs += events
            .iter()
            .filter(
                |e| matches!(&e.kind, EventKind::Storage { fault, .. } if fault == "sync-failed"),
            )
            .count();
        for (i, e) in events.iter().enumerate() {
            let EventKind::Note { node, kind, data } = &e.kind else {
                continue;
            };
            if kind != "storage-halted" {
                continue;
            }
            halts += 1;
            assert!(data.get("record").is_some(), "seed {seed}: {data}");
            // Until this incarnation ends, the node answers no request with success.
            let acked = events[i..]
                .iter()
                .take_while(|e| !matches!(&e.kind, EventKind::Crash { node: n } if n == node))
                .find(|e| {
                    matches!(&e.kind, EventKind::Send { src, body, .. }
                        if src == node && ["\"write_ok\"", "\"read_ok\"", "\"replicate_ok\""]
                            .iter()
                            .any(|t| body.contains(t)))
                });
            assert!(
                acked.is_none(),
                "seed {seed}: {node} stopped, then {acked:?}"
            );
        }
    }
    assert!(
        failed_syncs >= SEEDS as usize,
        "only {failed_syncs} failed syncs"
    );
    assert!(
        halts >= SEEDS as usize / 2,
        "only {halts} halts in {SEEDS} runs"
    );
}

/// The turmoil engine (the real driver loop) gives the same verdicts as the events engine on
/// the storage scenario, on a smaller sample.
#[test]
fn both_engines_agree_on_storage_fault_verdicts() {
    let s = storage_scenario();
    for seed in 0..6 {
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

/// A node that acknowledges a write its sync failed to make durable is caught by the storage
/// scenario (within its first 30 seeds): the primary's next start finds the key older than
/// what it acknowledged. The shrunk schedule replays the same violation, and the correct
/// store passes it.
#[test]
fn acknowledging_a_failed_sync_is_caught() {
    let buggy = storage_scenario().variant("ignore-sync-failure");
    let failure = Sweep::new(system(), &buggy)
        .seeds(0..30)
        .shrink_budget(60)
        .find_failure()
        .expect("ignore-sync-failure must lose an acknowledged write within 30 seeds");
    let seed = failure.report.seed;
    let failed: Vec<&str> = failure
        .report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        failed.contains(&"no-acknowledged-write-lost"),
        "seed {seed}: {failed:?}"
    );
    let shrunk = failure.shrunk.as_ref().expect("shrunk");
    let path = failure.path.as_ref().expect("written");
    let replayed = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let again = run_seed(system(), &replayed, seed, Recheck::Once).unwrap();
    assert!(
        again
            .checks
            .iter()
            .any(|c| c.found().as_ref() == Some(&shrunk.violation)),
        "the shrunk scenario must fail the same way: {:?}",
        again.checks
    );
    let mut fixed = replayed;
    fixed.variant = None;
    let r = run_seed(system(), &fixed, seed, Recheck::Once).unwrap();
    assert!(
        r.ok,
        "the correct store fails the shrunk file: {:?}",
        r.checks
    );
    println!(
        "| primary-backup-storage (ignore-sync-failure) | seed {seed} | {} | {} -> {} faults | {} runs |",
        shrunk.violation,
        shrunk.faults_before,
        shrunk.scenario.faults.len(),
        shrunk.runs
    );
}

fn lost_writes_scenario() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/primary-backup-lost-writes.toml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The verdict of `name` in a run.
fn verdict<'r>(r: &'r highstorm::SeedReport, name: &str) -> &'r highstorm::check::Verdict {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

/// Lost and misdirected writes on the backups (the opt-in faults): 200 seeds pass, with the
/// faults striking (checked on the first 10) and `no-acknowledged-write-lost` excusing
/// nothing — a backup's copy is never read.
#[test]
fn lost_and_misdirected_writes_on_the_backups_are_survived() {
    let s = lost_writes_scenario();
    let outcome = Sweep::new(system(), &s).run();
    assert!(outcome.reports.len() >= 200 || std::env::var_os("HIGHSTORM_SEEDS").is_some());
    let (mut lost, mut misdirected) = (0, 0);
    for seed in 0..10 {
        let r = run_seed(system(), &s, seed, Recheck::Once).unwrap();
        for e in r.trace.events() {
            match &e.kind {
                EventKind::Storage { fault, node, .. } if fault == "lost-write" => {
                    assert_ne!(node, "n0", "seed {seed}: the primary's disk is sound here");
                    lost += 1;
                }
                EventKind::Storage { fault, .. } if fault == "misdirected" => misdirected += 1,
                _ => {}
            }
        }
        let v = verdict(&r, "no-acknowledged-write-lost");
        assert!(
            v.ok && v.detail.contains("(0 excused"),
            "seed {seed}: {v:?}"
        );
    }
    assert!(
        lost >= 10 && misdirected >= 10,
        "{lost} lost, {misdirected} misdirected"
    );
}

/// The same faults on the primary are not survived, by design (its one copy serves every
/// read): a sweep finds an acknowledged write lost, and the generic check does not excuse it —
/// the lost writes struck the primary, not every node.
#[test]
fn a_lost_write_on_the_primary_is_caught() {
    let mut s = lost_writes_scenario();
    let rates = s.storage.nodes.remove("n1").expect("n1's rates");
    s.storage.nodes.remove("n2");
    s.storage.nodes.insert("n0".into(), rates);
    let r = (0..30)
        .map(|seed| run_seed(system(), &s, seed, Recheck::Once).unwrap())
        .find(|r| !r.ok)
        .expect("a lost write on the primary must lose an acknowledged write within 30 seeds");
    let v = verdict(&r, "no-acknowledged-write-lost");
    assert!(
        !v.ok && v.detail.contains("no lost-write fault struck every node"),
        "seed {}: {v:?}",
        r.seed
    );
}

/// With lost writes on every node, the store's own check still catches a stale read, and the
/// generic check excuses one only once a lost write struck every node before the read began:
/// the excuse is "no copy was left to read", not "a storage fault happened".
#[test]
fn the_generic_check_excuses_a_stale_read_only_after_every_node_lost_a_write() {
    let mut s = lost_writes_scenario();
    s.storage.nodes.clear();
    s.storage.rates.lost_write = 0.2;
    let (mut excused, mut flagged) = (0, 0);
    for seed in 0..25 {
        let r = run_seed(system(), &s, seed, Recheck::Once).unwrap();
        let own = verdict(&r, "reads-see-acknowledged-writes");
        let generic = verdict(&r, "no-acknowledged-write-lost");
        // When every node lost a write (the first time each did; the last of those).
        let mut first: std::collections::BTreeMap<&str, u64> = Default::default();
        for e in r.trace.events() {
            if let EventKind::Storage { fault, node, .. } = &e.kind {
                if fault == "lost-write" {
                    first.entry(node.as_str()).or_insert(e.at_us);
                }
            }
        }
        let all_by = (first.len() == 3).then(|| first.values().copied().max().unwrap_or(0));
        match (own.ok, generic.ok) {
            (true, _) => assert!(generic.ok, "seed {seed}: {generic:?}"),
            (false, true) => {
                assert!(all_by.is_some(), "seed {seed}: excused, {generic:?}");
                excused += 1;
            }
            (false, false) => flagged += 1,
        }
    }
    assert!(
        excused >= 1 && flagged >= 1,
        "{excused} excused, {flagged} flagged"
    );
}
