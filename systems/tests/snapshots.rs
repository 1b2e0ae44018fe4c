//! Snapshots of behaviour: the full rendered trace of a short echo run, and the outline of
//! every shipped scenario at a pinned seed. A change in behaviour shows up as a snapshot diff:
//! review it with `cargo insta review` (or accept with `INSTA_UPDATE=always cargo test`).

use highstorm_systems::system;

use highstorm::{run_seed, Recheck, Scenario};
use std::path::PathBuf;
use std::time::Duration;

/// The seed every scenario snapshot is taken at.
const PINNED_SEED: u64 = 1;

fn snapshot(name: &str, text: String) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn echo_trace_at_seed_7() {
    let ms = Duration::from_millis;
    let s = Scenario::new("echo-snapshot", "echo")
        .nodes(2)
        .duration(ms(400))
        .latency(ms(2)..ms(12))
        .loss(0.1)
        .workload(1, 25.0)
        .client_timeout(ms(60));
    let report = run_seed(system(&s), &s, 7, Recheck::Twice).unwrap();
    assert!(report.ok, "{:?}", report.checks);
    snapshot("echo_trace_seed_7", report.trace.render());
}

#[test]
fn every_shipped_scenario_at_its_pinned_seed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let s = Scenario::load(&path).unwrap();
        let report = run_seed(system(&s), &s, PINNED_SEED, Recheck::Once).unwrap();
        let stem = path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        let mut text = format!(
            "scenario {} seed {PINNED_SEED}: trace {} ({} events)\n",
            s.name, report.trace_hash, report.events
        );
        for c in &report.checks {
            text.push_str(&format!(
                "check {} {}: {}\n",
                c.name,
                if c.ok { "ok" } else { "FAILED" },
                c.detail
            ));
        }
        text.push_str(&report.trace.outline());
        snapshot(&format!("{stem}_seed_{PINNED_SEED}"), text);
    }
}
