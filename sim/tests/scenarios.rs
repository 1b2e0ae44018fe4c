//! Every shipped scenario, swept over its seeds (or `HIGHSTORM_SEED` / `HIGHSTORM_SEEDS`), with
//! every run executed twice to check determinism. A failure prints the lines that reproduce it.

use highstorm::runner::{describe_failure, seeds_from_env};
use highstorm::{run_seed, Recheck, Scenario};
use std::path::PathBuf;

/// Scenario files with a test below; a shipped file missing here fails `every_scenario_is_swept`.
const SWEPT: &[&str] = &["echo", "unique-ids-faults", "unique-ids-nemesis"];

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn sweep(stem: &str) {
    let scenario = Scenario::load(&scenarios_dir().join(format!("{stem}.toml")))
        .unwrap_or_else(|e| panic!("{e}"));
    let seeds = seeds_from_env(scenario.seeds.clone(), &scenario.regressions)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut failures = vec![];
    let mut ops_ok = 0;
    for &seed in &seeds {
        let report = run_seed(&scenario, seed, Recheck::Twice).unwrap_or_else(|e| panic!("{e}"));
        if !report.ok {
            failures.push(describe_failure(&report));
        }
        ops_ok += highstorm::check::history(&report.trace)
            .iter()
            .filter(|op| {
                op.completion
                    .as_ref()
                    .is_some_and(|c| c.phase == highstorm::nodes::OpPhase::Ok)
            })
            .count();
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    eprintln!(
        "{stem}: {} seeds passed, {ops_ok} operations answered",
        seeds.len()
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
}

#[test]
fn unique_ids_nemesis() {
    sweep("unique-ids-nemesis");
}
