//! Finding bugs without a hand-written scenario: explore searches fault schedules from a
//! scenario that lacks the fault a planted bug needs, buggify's rare paths are seeded and
//! deterministic, and sweeps report the sometimes-points the shipped systems mark.

use highstorm::explore::{explore, Budget, Explore};
use highstorm::scenario::FaultAction;
use highstorm::{run_seed, Engine, EventKind, Recheck, Scenario, SometimesReport};
use highstorm_systems::system;
use std::time::Duration;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// unique-ids with its planted `forgetful` bug (ids repeat after a restart), under a partition
/// only: no crash, so no seed of this scenario can show the bug.
fn forgetful_ids_partitioned() -> Scenario {
    Scenario::new("ids-forgetful-partition", "unique-ids")
        .variant("forgetful")
        .nodes(3)
        .duration(MS(3000))
        .latency(MS(1)..MS(20))
        .workload(2, 40.0)
        .client_timeout(MS(250))
        .engine(Engine::Events)
        .partition_at(MS(500), &[&["n0"][..], &["n1", "n2"][..]])
        .heal_at(MS(1000))
}

fn restarts(s: &Scenario) -> bool {
    s.faults.iter().any(|f| {
        matches!(
            f.action,
            FaultAction::Crash {
                restart_after: Some(_),
                ..
            } | FaultAction::Restart(_)
        )
    })
}

#[test]
fn explore_finds_and_shrinks_a_planted_bug_its_start_scenario_cannot_show() {
    let start = forgetful_ids_partitioned();
    let sys = system(&start);
    // The start scenario itself passes: the bug needs a restart it does not have.
    for seed in 0..20 {
        let r = run_seed(sys, &start, seed, Recheck::Once).unwrap();
        assert!(r.ok, "seed {seed}: {:?}", r.checks);
    }
    let how = Explore {
        budget: Budget::Runs(200),
        seed: 1,
        ..Explore::default()
    };
    let found = explore(sys, &start, &how, &mut |_| {}).unwrap();
    let (candidate, report) = found.failure.as_ref().expect("a failure within 200 runs");
    assert!(found.runs <= 200);
    assert!(
        restarts(&candidate.scenario),
        "{:?}",
        candidate.scenario.faults
    );
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["ids-unique"], "{:?}", report.checks);

    let shrunk = found.shrunk.as_ref().unwrap().as_ref().expect("shrinks");
    assert!(
        restarts(&shrunk.scenario),
        "the shrunk repro keeps its restart"
    );
    assert!(
        shrunk.scenario.faults.len() <= 2,
        "{:?}",
        shrunk.scenario.faults
    );
    // The written scenario file reads back and still fails the same way.
    let dir = std::env::temp_dir().join(format!("highstorm-explore-{}", std::process::id()));
    let path = highstorm::testing::write_shrunk(shrunk, &dir).unwrap();
    let again = Scenario::load(&path).unwrap();
    let replay = run_seed(sys, &again, shrunk.seed, Recheck::Once).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!replay.ok);
    assert!(replay
        .checks
        .iter()
        .any(|c| !c.ok && c.name == "ids-unique"));

    // Deterministic given its seed: the same search finds the same run.
    let twice = explore(sys, &start, &how, &mut |_| {}).unwrap();
    let (c2, r2) = twice.failure.as_ref().unwrap();
    assert_eq!((twice.runs, c2.seed), (found.runs, candidate.seed));
    assert_eq!(r2.trace_hash, report.trace_hash);
    assert_eq!(c2.scenario.faults, candidate.scenario.faults);
}

#[test]
fn explore_without_a_bug_to_find_spends_its_budget_and_reports_coverage() {
    let start = Scenario {
        variant: None,
        ..forgetful_ids_partitioned()
    };
    let how = Explore {
        budget: Budget::Runs(30),
        seed: 3,
        ..Explore::default()
    };
    let found = explore(system(&start), &start, &how, &mut |_| {}).unwrap();
    assert!(found.failure.is_none());
    assert_eq!(found.runs, 30);
    assert!(found.corpus >= 2 && found.signals > 10, "{found:?}");
    // Mutants added restarts, so ids were issued by restarted incarnations (and stayed unique).
    assert!(found.sometimes.points["id-after-restart"].runs_hit > 0);
}

/// g-counter under a partition, with buggify on: its gossip rounds may be skipped.
fn buggified_counter(engine: Engine) -> Scenario {
    Scenario::new("counter-buggify", "g-counter")
        .nodes(3)
        .duration(MS(4000))
        .latency(MS(1)..MS(20))
        .workload(2, 20.0)
        .converge_within(MS(1500))
        .engine(engine)
        .partition_at(MS(500), &[&["n0"][..], &["n1", "n2"][..]])
        .heal_at(MS(1200))
        .buggify(true)
}

fn buggify_notes(s: &Scenario, seed: u64) -> (usize, String, bool) {
    let r = run_seed(system(s), s, seed, Recheck::Once).unwrap();
    let fired = r
        .trace
        .events()
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Note { kind, .. } if kind == "buggify"))
        .count();
    (fired, r.trace_hash, r.ok)
}

#[test]
fn buggify_is_seeded_recorded_and_deterministic_on_both_engines() {
    for engine in [Engine::Events, Engine::Turmoil] {
        let on = buggified_counter(engine);
        let off = Scenario {
            checks: highstorm::scenario::Checks {
                buggify: false,
                ..on.checks.clone()
            },
            ..on.clone()
        };
        let mut fired_seeds = 0;
        for seed in 0..12 {
            let (fired, hash, ok) = buggify_notes(&on, seed);
            assert!(ok, "{engine:?} seed {seed}: the rare path is legal");
            assert_eq!(buggify_notes(&on, seed).1, hash, "{engine:?} seed {seed}");
            let (none, plain, _) = buggify_notes(&off, seed);
            assert_eq!(none, 0, "off by default");
            if fired > 0 {
                fired_seeds += 1;
                assert_ne!(
                    hash, plain,
                    "{engine:?} seed {seed}: firing changes the run"
                );
            } else {
                assert_eq!(
                    hash, plain,
                    "{engine:?} seed {seed}: no site fired, same run"
                );
            }
        }
        // Each site is on in about a quarter of runs.
        assert!(
            (1..12).contains(&fired_seeds),
            "{engine:?}: {fired_seeds} of 12"
        );
    }
}

#[test]
fn a_sweep_reports_which_sometimes_points_were_hit_and_which_never_were() {
    let s = Scenario::new("ids-restarts", "unique-ids")
        .nodes(3)
        .duration(MS(2000))
        .workload(2, 40.0)
        .client_timeout(MS(250))
        .engine(Engine::Events)
        .crash_at(MS(500), "n1", Some(MS(300)));
    let calm = Scenario {
        faults: vec![],
        ..s.clone()
    };
    let sys = system(&s);
    let mut report = SometimesReport::new(sys.sometimes_points().iter().copied());
    let mut calm_report = SometimesReport::new(sys.sometimes_points().iter().copied());
    for seed in 0..5 {
        report.add(&run_seed(sys, &s, seed, Recheck::Once).unwrap().sometimes);
        calm_report.add(&run_seed(sys, &calm, seed, Recheck::Once).unwrap().sometimes);
    }
    let p = report.points["id-after-restart"];
    assert_eq!((p.declared, p.runs_hit), (true, 5));
    assert!(report.never_hit().is_empty());
    assert_eq!(calm_report.never_hit(), ["id-after-restart"]);
    assert!(calm_report
        .to_string()
        .contains("NEVER HIT (reached in 5 runs)"));
}

#[test]
fn highstorm_explore_writes_the_shrunk_failure_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("highstorm-explore-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start = dir.join("start.toml");
    std::fs::write(&start, forgetful_ids_partitioned().to_toml()).unwrap();
    let out_dir = dir.join("found");
    let run = |budget: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_highstorm"))
            .args([
                "explore",
                start.to_str().unwrap(),
                "--budget",
                budget,
                "--seed",
                "1",
            ])
            .arg("-o")
            .arg(&out_dir)
            .output()
            .expect("runs highstorm")
    };
    let found = run("200runs");
    let stdout = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ids-unique") && stdout.contains("shrunk to"),
        "{stdout}"
    );
    let written: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert_eq!(written.len(), 1, "{stdout}");
    // Too small a budget finds nothing: exit 0.
    let none = run("2runs");
    let text = String::from_utf8_lossy(&none.stdout).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(none.status.code(), Some(0), "{text}");
    assert!(text.contains("no failure found"), "{text}");
}

/// echo with its planted `wary` bug (a request delivered twice makes a node refuse every
/// later request with an indefinite error), on a network that never duplicates and with no
/// fault at all: no seed of it can show the bug, and nothing in it asks that requests be
/// answered once faults are over.
fn wary_echo_calm() -> Scenario {
    Scenario::new("echo-wary-calm", "echo")
        .variant("wary")
        .nodes(3)
        .duration(MS(3000))
        .latency(MS(1)..MS(20))
        .workload(2, 40.0)
        .client_timeout(MS(250))
        .engine(Engine::Events)
}

fn duplicates(s: &Scenario) -> bool {
    s.faults.iter().any(|f| {
        matches!(
            &f.action,
            FaultAction::Network { conditions, .. } if conditions.duplicate.is_some_and(|p| p > 0.0)
        )
    })
}

#[test]
fn explore_adds_the_duplication_and_the_liveness_phase_a_gray_failure_needs() {
    let start = wary_echo_calm();
    let sys = system(&start);
    assert!(start.checks.liveness.is_none());
    for seed in 0..10 {
        let r = run_seed(sys, &start, seed, Recheck::Once).unwrap();
        assert!(r.ok, "seed {seed}: {:?}", r.checks);
    }
    let how = Explore {
        budget: Budget::Runs(40),
        seed: 2,
        liveness: Some(MS(1500)),
        shrink_budget: 60,
        ..Explore::default()
    };
    let found = explore(sys, &start, &how, &mut |_| {}).unwrap();
    let (candidate, report) = found.failure.as_ref().expect("a failure within 40 runs");
    // Explore gave the run a liveness phase after the start scenario's own 3 s: the bound,
    // plus the clients' quiet time at the end (two timeouts and one more: 750 ms) ...
    assert_eq!(candidate.scenario.checks.liveness, Some(MS(2250)));
    assert_eq!(candidate.scenario.duration, MS(5250));
    // ... and the duplication that trips the bug; the node, up but refusing, fails it.
    assert!(
        duplicates(&candidate.scenario),
        "{:?}",
        candidate.scenario.faults
    );
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["live-after-heal"], "{:?}", report.checks);

    let shrunk = found.shrunk.as_ref().unwrap().as_ref().expect("shrinks");
    assert!(duplicates(&shrunk.scenario), "{:?}", shrunk.scenario.faults);
    assert!(
        shrunk.scenario.faults.len() <= 2,
        "{:?}",
        shrunk.scenario.faults
    );
    // The written file reads back (liveness phase and all) and fails the same way.
    let dir = std::env::temp_dir().join(format!("highstorm-explore-wary-{}", std::process::id()));
    let path = highstorm::testing::write_shrunk(shrunk, &dir).unwrap();
    let again = Scenario::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(again.checks.liveness, Some(MS(2250)));
    let replay = run_seed(sys, &again, shrunk.seed, Recheck::Once).unwrap();
    assert!(replay
        .checks
        .iter()
        .any(|c| !c.ok && c.name == "live-after-heal"));

    // The correct echo, searched the same way, fails nothing.
    let correct = Scenario {
        variant: None,
        ..start
    };
    let clean = explore(sys, &correct, &how, &mut |_| {}).unwrap();
    assert!(
        clean.failure.is_none(),
        "{:?}",
        clean.failure.map(|f| f.1.checks)
    );
    assert_eq!(clean.runs, 40);
}

/// election with its planted `wedged-leader` bug (a node whose lease once ran out refuses
/// every submit whenever it leads again), from the shipped `election-pause`: its clients stop
/// submitting 10 s before the end (two timeouts and its 8 s `converge_within`), so a liveness
/// phase of 10 s appended without more would see no submit at all and pass a leader that
/// serves nobody.
#[test]
fn explore_keeps_clients_working_through_the_liveness_phase_and_finds_a_wedged_leader() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/election-pause.toml");
    let start = Scenario::load(&file).unwrap().variant("wedged-leader");
    let sys = system(&start);
    let how = Explore {
        budget: Budget::Runs(12),
        seed: 0,
        liveness: Some(MS(10_000)),
        shrink_budget: 0,
        ..Explore::default()
    };
    let found = explore(sys, &start, &how, &mut |_| {}).unwrap();
    let (candidate, report) = found.failure.as_ref().expect("a failure within 12 runs");
    let c = &candidate.scenario;
    // The phase holds the bound with clients still submitting, then their quiet time.
    let from = c.liveness_from().unwrap();
    assert_eq!(from, start.duration);
    assert_eq!(c.checks.liveness, Some(MS(20_000)));
    let clients = highstorm::system::Schedule::of(c);
    assert_eq!(clients.stop_at.as_duration(), from + MS(10_000));
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["live-after-heal"], "{:?}", report.checks);
    // The correct election passes the same run: the failure is the planted bug's.
    let correct = Scenario {
        variant: None,
        ..c.clone()
    };
    let control = run_seed(system(&correct), &correct, candidate.seed, Recheck::Once).unwrap();
    assert!(control.ok, "{:?}", control.checks);
}
