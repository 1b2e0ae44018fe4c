//! The harness must catch a planted bug and shrink its failure to something a person can read.
//! `unique-ids` variant `forgetful` leaves the boot count out of its ids, so a node that
//! restarts hands out its earlier incarnation's ids again.

use highstorm_systems::system;

use highstorm::runner::{run_seed, Recheck};
use highstorm::scenario::{Nemesis, NemesisKind};
use highstorm::shrink::{schedule_strategy, shrink};
use highstorm::Scenario;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::time::Duration;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn scenario(variant: Option<&str>) -> Scenario {
    let mut s = Scenario::new("unique-ids-forgetful", "unique-ids")
        .nodes(3)
        .duration(MS(4000))
        .loss(0.01)
        .workload(2, 60.0)
        .client_timeout(MS(250))
        .nemesis(Nemesis {
            intensity: 0.6,
            fault_duration: MS(300),
            ..Nemesis::new(
                &[
                    NemesisKind::Partition,
                    NemesisKind::Crash,
                    NemesisKind::Pause,
                    NemesisKind::Loss,
                ],
                MS(500),
            )
        });
    s.variant = variant.map(str::to_owned);
    s
}

#[test]
fn a_sweep_finds_the_planted_bug_and_shrinks_it_to_at_most_three_faults() {
    let buggy = scenario(Some("forgetful"));
    let seed = (0..30)
        .find(|&seed| {
            !run_seed(system(&buggy), &buggy, seed, Recheck::Once)
                .unwrap()
                .ok
        })
        .expect("the planted bug is found within 30 seeds");

    let shrunk = shrink(system(&buggy), &buggy, seed, 300).unwrap();
    assert!(
        shrunk.failing.contains(&"ids-unique".to_owned()),
        "{:?}",
        shrunk.failing
    );
    assert!(
        shrunk.scenario.faults.len() <= 3,
        "shrunk from {} to {} faults:\n{}",
        shrunk.faults_before,
        shrunk.scenario.faults.len(),
        shrunk.scenario.to_toml()
    );
    assert!(shrunk.scenario.faults.len() < shrunk.faults_before);
    assert!(shrunk.scenario.nemesis.is_none());

    // The minimal scenario, as a file, still fails the same check at its seed.
    let text = shrunk.scenario.to_toml();
    let minimal = Scenario::from_toml("minimal.toml", &text).unwrap();
    assert_eq!(minimal.seeds, seed..seed + 1);
    let again = run_seed(system(&minimal), &minimal, seed, Recheck::Twice).unwrap();
    assert!(
        again.checks.iter().any(|c| c.name == "ids-unique" && !c.ok),
        "{text}"
    );
    assert!(again
        .checks
        .iter()
        .any(|c| c.name == "deterministic" && c.ok));

    // The correct variant passes the very same sweep.
    let correct = scenario(None);
    for s in 0..=seed {
        let r = run_seed(system(&correct), &correct, s, Recheck::Once).unwrap();
        assert!(r.ok, "correct variant failed at seed {s}: {:?}", r.checks);
    }
}

#[test]
fn proptest_generated_schedules_find_the_bug_and_shrink_it() {
    let nodes: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    let base = Scenario::new("generated", "unique-ids")
        .variant("forgetful")
        .duration(MS(2000))
        .workload(1, 50.0)
        .client_timeout(MS(200));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        max_shrink_iters: 200,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..Config::default()
    });
    let result = runner.run(&schedule_strategy(nodes, MS(2000), 8), |faults| {
        let mut s = base.clone();
        s.faults = faults;
        let r = run_seed(system(&s), &s, 0, Recheck::Once)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match r.checks.iter().find(|c| !c.ok) {
            Some(c) => Err(TestCaseError::fail(format!("{}: {}", c.name, c.detail))),
            None => Ok(()),
        }
    });
    match result {
        Err(TestError::Fail(reason, minimal)) => {
            assert!(reason.message().contains("ids-unique"), "{reason}");
            assert!(minimal.len() <= 3, "{minimal:?}");
            assert!(
                minimal.iter().any(|f| f.action.kind() == "crash"),
                "a restart is what makes the bug visible: {minimal:?}"
            );
        }
        other => panic!("expected proptest to find the planted bug, got {other:?}"),
    }
}

#[test]
fn the_broadcast_checker_catches_a_node_without_anti_entropy() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/broken/broadcast-amnesiac.toml");
    let buggy = Scenario::load(&file).unwrap();
    let seed = (0..20)
        .find(|&seed| {
            let r = run_seed(system(&buggy), &buggy, seed, Recheck::Once).unwrap();
            r.checks
                .iter()
                .any(|c| c.name == "broadcast-converges" && !c.ok)
        })
        .expect("lost values are found within 20 seeds");
    let shrunk = shrink(system(&buggy), &buggy, seed, 300).unwrap();
    assert!(shrunk.failing.contains(&"broadcast-converges".to_owned()));
    assert!(
        shrunk.scenario.faults.len() <= 3,
        "{}",
        shrunk.scenario.to_toml()
    );
    // The correct node passes the same seeds.
    let mut correct = buggy.clone();
    correct.variant = None;
    for s in 0..=seed {
        let r = run_seed(system(&correct), &correct, s, Recheck::Once).unwrap();
        assert!(r.ok, "seed {s}: {:?}", r.checks);
    }
}

#[test]
fn a_sweep_finds_split_brain_in_the_naive_election_and_shrinks_it() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/broken/election-naive.toml");
    let naive = Scenario::load(&file).unwrap();
    let split_brain = |r: &highstorm::SeedReport| {
        r.checks
            .iter()
            .any(|c| c.name == "leaders-never-overlap" && !c.ok)
    };
    let seed = (0..20)
        .find(|&seed| split_brain(&run_seed(system(&naive), &naive, seed, Recheck::Once).unwrap()))
        .expect("split brain is found within 20 seeds");

    let shrunk = shrink(system(&naive), &naive, seed, 300).unwrap();
    assert!(
        shrunk.failing.contains(&"leaders-never-overlap".to_owned()),
        "{:?}",
        shrunk.failing
    );
    let text = shrunk.scenario.to_toml();
    assert!(shrunk.scenario.faults.len() <= 2, "{text}");
    assert!(shrunk.scenario.nemesis.is_none(), "{text}");
    assert!(shrunk.scenario.nodes <= naive.nodes, "{text}");
    assert!(shrunk.scenario.duration < naive.duration, "{text}");

    // The minimal scenario file still shows the split brain at its seed.
    let minimal = Scenario::from_toml("minimal.toml", &text).unwrap();
    assert!(
        split_brain(&run_seed(system(&minimal), &minimal, seed, Recheck::Twice).unwrap()),
        "{text}"
    );

    // The correct variant passes the very same sweep.
    let mut correct = naive.clone();
    correct.variant = None;
    for s in 0..=seed.max(19) {
        let r = run_seed(system(&correct), &correct, s, Recheck::Once).unwrap();
        assert!(r.ok, "default variant failed at seed {s}: {:?}", r.checks);
    }
}

/// The queue's planted bugs are caught, each by the property it breaks, and a forgetful
/// manager's lost results shrink to a short schedule around one manager crash (seed 0: one
/// crash at 137 ms on 2 nodes, a result recorded twice).
#[test]
fn the_work_queue_checkers_catch_lost_results_and_unfenced_completions() {
    let broken = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/broken");
    let failed =
        |r: &highstorm::SeedReport, name: &str| r.checks.iter().any(|c| c.name == name && !c.ok);
    let unfenced = Scenario::load(&broken.join("work-queue-unfenced.toml")).unwrap();
    let seed = (0..20)
        .find(|&s| {
            failed(
                &run_seed(system(&unfenced), &unfenced, s, Recheck::Once).unwrap(),
                "completions-fenced",
            )
        })
        .expect("a completion of an expired reservation is found within 20 seeds");
    let mut correct = unfenced.clone();
    correct.variant = None;
    assert!(
        run_seed(system(&correct), &correct, seed, Recheck::Once)
            .unwrap()
            .ok
    );

    let forgetful = Scenario::load(&broken.join("work-queue-forgetful.toml")).unwrap();
    let lost =
        |r: &highstorm::SeedReport| failed(r, "results-never-lost") && failed(r, "completed-once");
    let seed = (0..20)
        .find(|&s| lost(&run_seed(system(&forgetful), &forgetful, s, Recheck::Once).unwrap()))
        .expect("a forgotten result is found within 20 seeds");
    let shrunk = shrink(system(&forgetful), &forgetful, seed, 300).unwrap();
    let text = shrunk.scenario.to_toml();
    assert!(shrunk.scenario.faults.len() <= 2, "{text}");
    assert!(
        shrunk
            .scenario
            .faults
            .iter()
            .any(|f| f.action.kind() == "crash"),
        "a manager crash is what loses the results: {text}"
    );
    let minimal = Scenario::from_toml("minimal.toml", &text).unwrap();
    let again = run_seed(system(&minimal), &minimal, seed, Recheck::Twice).unwrap();
    assert!(
        failed(&again, "results-never-lost") || failed(&again, "completed-once"),
        "{text}\n{:?}",
        again.checks
    );
    assert!(!failed(&again, "deterministic"), "{text}");
    let mut correct = forgetful.clone();
    correct.variant = None;
    for s in 0..=seed {
        let r = run_seed(system(&correct), &correct, s, Recheck::Once).unwrap();
        assert!(r.ok, "default variant failed at seed {s}: {:?}", r.checks);
    }
}

// Every planted bug shipped, shrunk: the shrunk file fails on the bug with the original run's
// violation (same check, same kind) and passes on the correct variant, at its seed and at
// other seeds. Each test prints one row of the shrink table (`-- --nocapture`).

/// A shipped scenario file.
fn shipped(path: &str) -> Scenario {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(path);
    Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"))
}

/// Finds a seed in `seeds` where `buggy` fails `check`, shrinks it within the sweeps' default
/// budget (200 runs), and asserts that the shrunk file fails the bug's way and that the correct
/// variant passes it at that seed and at `others` more.
fn shrunk_file_fails_on_the_bug_and_passes_on_the_fix(
    buggy: &Scenario,
    seeds: std::ops::Range<u64>,
    check: &str,
    others: u64,
) -> highstorm::shrink::Shrunk {
    let seed = seeds
        .clone()
        .find(|&s| {
            let r = run_seed(system(buggy), buggy, s, Recheck::Once).unwrap();
            highstorm::shrink::target_violation(&r.checks).is_some_and(|v| v.check == check)
        })
        .unwrap_or_else(|| panic!("`{}` fails {check} within {seeds:?}", buggy.name));
    let shrunk = shrink(system(buggy), buggy, seed, 200).unwrap();
    assert_eq!(shrunk.violation.check, check);
    let file = highstorm::testing::shrunk_file(&shrunk);
    assert!(
        file.contains(&format!(
            "# Violation: {} ({})",
            shrunk.violation.check, shrunk.violation.kind
        )),
        "{file}"
    );
    assert!(file.contains("# faults: "), "{file}");
    let minimal = Scenario::from_toml("minimal.toml", &file).unwrap();
    assert!(minimal.nemesis.is_none());
    assert!(minimal.faults.len() <= shrunk.faults_before, "{file}");

    // On the bug: the same violation, and nothing the original run did not break.
    let again = run_seed(system(&minimal), &minimal, seed, Recheck::Twice).unwrap();
    let found: Vec<_> = again.checks.iter().filter_map(|c| c.found()).collect();
    assert!(found.contains(&shrunk.violation), "{file}\n{found:?}");
    assert!(again
        .checks
        .iter()
        .any(|c| c.name == "deterministic" && c.ok));

    // On the fix: passes, at the seed and at others.
    let mut correct = minimal.clone();
    correct.variant = None;
    for s in seed..=seed + others {
        let r = run_seed(system(&correct), &correct, s, Recheck::Once).unwrap();
        let failed: Vec<String> = r
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{} ({}): {}", c.name, c.kind, c.detail))
            .collect();
        assert!(
            failed.is_empty(),
            "the correct variant fails the shrunk file at seed {s}: {failed:?}\n{file}"
        );
    }
    println!(
        "| {} | {seed} | {} ({}) | {} -> {} | {} -> {} | {} -> {}ms | {} |",
        buggy.name,
        shrunk.violation.check,
        shrunk.violation.kind,
        shrunk.faults_before,
        shrunk.scenario.faults.len(),
        shrunk.original.nodes,
        shrunk.scenario.nodes,
        shrunk.original.duration.as_millis(),
        shrunk.scenario.duration.as_millis(),
        shrunk.runs
    );
    shrunk
}

#[test]
fn shrunk_forgetful_ids_fail_on_the_bug_and_pass_on_the_fix() {
    let buggy = shipped("broken/unique-ids-forgetful.toml");
    shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..30, "ids-unique", 3);
}

#[test]
fn shrunk_amnesiac_broadcast_fails_on_the_bug_and_passes_on_the_fix() {
    let buggy = shipped("broken/broadcast-amnesiac.toml");
    let shrunk =
        shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..20, "broadcast-converges", 3);
    assert_ne!(shrunk.violation.kind, "budget-exceeded");
}

/// Seed 2 once shrank to a single node crashed once: its values died with it, which no
/// implementation without a disk survives. Broadcast's minimum is two nodes.
#[test]
fn shrunk_amnesiac_broadcast_keeps_a_second_node_to_recover_from() {
    let buggy = shipped("broken/broadcast-amnesiac.toml");
    let shrunk =
        shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 2..20, "broadcast-converges", 3);
    assert!(shrunk.scenario.nodes >= 2, "{}", shrunk.scenario.to_toml());
}

/// The case: the amnesiac node on the 5-node partition scenario, where the old shrinker
/// dropped a heal and left a partition no implementation survives.
#[test]
fn shrunk_amnesiac_broadcast_under_partitions_keeps_its_heals() {
    let buggy = shipped("broadcast-5-partition.toml").variant("amnesiac");
    let shrunk =
        shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..20, "broadcast-converges", 3);
    let count = |k: &str| {
        shrunk
            .scenario
            .faults
            .iter()
            .filter(|f| f.action.kind() == k)
            .count()
    };
    let cuts = count("partition") + count("partition_oneway");
    assert!(
        cuts == 0 || count("heal") > 0,
        "{}",
        shrunk.scenario.to_toml()
    );
}

#[test]
fn shrunk_naive_election_fails_on_the_bug_and_passes_on_the_fix() {
    let buggy = shipped("broken/election-naive.toml");
    let shrunk = shrunk_file_fails_on_the_bug_and_passes_on_the_fix(
        &buggy,
        0..20,
        "leaders-never-overlap",
        3,
    );
    assert!(shrunk.scenario.nodes >= 3, "a quorum stays");
}

#[test]
fn shrunk_forgetful_work_queue_fails_on_the_bug_and_passes_on_the_fix() {
    let buggy = shipped("broken/work-queue-forgetful.toml");
    let r = run_seed(system(&buggy), &buggy, 0, Recheck::Once).unwrap();
    let check = highstorm::shrink::target_violation(&r.checks)
        .map(|v| v.check)
        .unwrap_or_else(|| "results-never-lost".to_owned());
    let shrunk = shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..20, &check, 3);
    assert!(shrunk.scenario.nodes >= 2, "the manager and a worker stay");
}

#[test]
fn shrunk_unfenced_work_queue_fails_on_the_bug_and_passes_on_the_fix() {
    let buggy = shipped("broken/work-queue-unfenced.toml");
    let shrunk =
        shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..20, "completions-fenced", 3);
    assert!(shrunk.scenario.nodes >= 5, "n4, named by the config, stays");
}

#[test]
fn shrunk_unfenced_bridge_four_fails_on_the_bug_and_passes_on_the_fix() {
    let buggy = shipped("broken/bridge-four-unfenced.toml");
    let shrunk = shrunk_file_fails_on_the_bug_and_passes_on_the_fix(
        &buggy,
        0..20,
        "results-match-reference",
        3,
    );
    assert!(shrunk.scenario.nodes >= 5, "n4, named by the config, stays");
}

/// 1000 nodes shrink within the 200-run budget: node counts halve first (seed 0: to 2 nodes
/// in 24 runs, about 11 s in the dev profile).
#[test]
fn a_thousand_node_broadcast_shrinks_within_the_budget() {
    let buggy = shipped("broadcast-1000.toml").variant("amnesiac");
    let shrunk =
        shrunk_file_fails_on_the_bug_and_passes_on_the_fix(&buggy, 0..5, "broadcast-converges", 1);
    assert!(shrunk.runs <= 200);
    assert!(
        shrunk.scenario.nodes <= 125,
        "{} nodes left",
        shrunk.scenario.nodes
    );
}
