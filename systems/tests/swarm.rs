//! Swarm mode with a liveness phase finds the planted bugs of `highstorm_systems::planted`
//! within 100 seeds of each system's swarm scenario, and both engines agree on swarm verdicts.
//! (That the default variants pass the swarm scenarios is `tests/scenarios.rs`'s job.)

use highstorm::check::liveness::LIVE_AFTER_HEAL;
use highstorm::{run_seed, Engine, Recheck, Scenario};
use highstorm_systems::planted::PLANTED;
use highstorm_systems::system;
use std::path::PathBuf;

fn load(file: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_planted_bug_is_found_by_its_swarm_scenario_within_100_seeds() {
    for p in PLANTED {
        let mut s = load(p.scenario);
        assert_eq!(s.system, p.system, "{}", p.scenario);
        assert!(
            s.nemesis.as_ref().is_some_and(|n| n.swarm),
            "{}",
            p.scenario
        );
        s.variant = Some(p.variant.to_owned());
        let sys = system(&s);
        let found = (0..100).find_map(|seed| {
            let r = run_seed(sys, &s, seed, Recheck::Once).unwrap_or_else(|e| panic!("{e}"));
            (!r.ok).then_some(r)
        });
        let r = found.unwrap_or_else(|| {
            panic!(
                "{}/{}: not found in 100 seeds of {}",
                p.system, p.variant, p.scenario
            )
        });
        // The liveness phase is what names it.
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            failed.contains(&LIVE_AFTER_HEAL),
            "{}/{} seed {}: failed {failed:?}",
            p.system,
            p.variant,
            r.seed
        );
        eprintln!(
            "{}/{}: found at seed {} of {}",
            p.system, p.variant, r.seed, p.scenario
        );
    }
}

#[test]
fn both_engines_agree_on_swarm_verdicts() {
    for (file, variant) in [
        ("echo-swarm.toml", None),
        ("echo-swarm.toml", Some("wary")),
        ("unique-ids-swarm.toml", Some("stuck-recovery")),
        ("g-counter-swarm.toml", None),
    ] {
        let mut s = load(file);
        s.variant = variant.map(str::to_owned);
        let sys = system(&s);
        for seed in 0..4 {
            let verdict = |engine| {
                let s = s.clone().engine(engine);
                let r = run_seed(sys, &s, seed, Recheck::Once).unwrap_or_else(|e| panic!("{e}"));
                let mut failed: Vec<String> = r
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| c.name.clone())
                    .collect();
                failed.sort();
                failed
            };
            assert_eq!(
                verdict(Engine::Events),
                verdict(Engine::Turmoil),
                "{file} {variant:?} seed {seed}"
            );
        }
    }
}

#[test]
fn a_liveness_phase_needs_a_system_that_says_what_must_hold() {
    let mut s = load("echo-swarm.toml");
    assert!(system(&s).validate(&s).is_ok());
    let mute = highstorm::System::new("echo", |_, _| Ok(highstorm_systems::echo::Echo::default()));
    let e = mute.validate(&s).unwrap_err();
    assert_eq!(e.key, "checks.liveness");
    s.checks.liveness = None;
    assert!(mute.validate(&s).is_ok());
}

#[test]
fn the_liveness_phase_undoes_every_fault_in_the_trace() {
    // A crash that never restarts and a partition that never heals, before the phase.
    let s = load("echo-swarm.toml");
    let mut s = s;
    s.nemesis = None;
    let s = s
        .crash_at(std::time::Duration::from_secs(1), "n1", None)
        .partition_at(std::time::Duration::from_secs(2), &[["n0"], ["n2"]]);
    let r = run_seed(system(&s), &s, 3, Recheck::Once).unwrap_or_else(|e| panic!("{e}"));
    let at_phase: Vec<String> = r
        .trace
        .render()
        .lines()
        .filter(|l| l.trim_start().starts_with("4.000000s"))
        .map(str::to_owned)
        .collect();
    assert!(at_phase.iter().any(|l| l.contains("heal")), "{at_phase:#?}");
    assert!(
        at_phase.iter().any(|l| l.contains("restart n1")),
        "{at_phase:#?}"
    );
    assert!(r.ok, "{:?}", r.checks);
}

/// Broadcast's planted `silent` (no pushes: values spread by anti-entropy alone) is a
/// performance bug, and swarm mode sets performance targets aside under faults. The liveness
/// phase judges it where no fault is left: values broadcast after the heal must reach every
/// node within one anti-entropy period. (The correct broadcast passes all 100 seeds of
/// `broadcast-swarm`: `tests/scenarios.rs`.)
#[test]
fn a_broadcast_that_leaves_values_to_anti_entropy_fails_the_liveness_phase_under_swarm() {
    let mut s = load("broadcast-swarm.toml");
    s.variant = Some("silent".to_owned());
    let sys = system(&s);
    let failing: Vec<u64> = (0..10)
        .filter(|&seed| {
            let r = run_seed(sys, &s, seed, Recheck::Once).unwrap();
            r.checks.iter().any(|c| {
                !c.ok && c.name == LIVE_AFTER_HEAL && c.detail.contains("anti-entropy period")
            })
        })
        .collect();
    assert!(failing.len() >= 5, "{failing:?}");
}
