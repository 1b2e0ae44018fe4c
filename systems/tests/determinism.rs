//! Determinism is the product: the same seed gives the same trace, different seeds explore
//! different runs, and the self-check reports where two runs part ways.

use highstorm_systems::system;

use highstorm::runner::determinism_verdict;
use highstorm::{run_seed, Recheck, Scenario};
use std::time::Duration;

fn faulty() -> Scenario {
    let ms = Duration::from_millis;
    Scenario::new("determinism", "unique-ids")
        .nodes(4)
        .duration(ms(3000))
        .latency(ms(1)..ms(40))
        .loss(0.05)
        .workload(2, 80.0)
        .partition_at(ms(500), &[&["n0", "n1"][..], &["n2", "n3"][..]])
        .partition_oneway_at(ms(800), &["n3"], &["n0"])
        .crash_at(ms(1000), "n2", Some(ms(400)))
        .heal_at(ms(2000))
}

#[test]
fn same_seed_gives_the_same_trace_hash() {
    let s = faulty();
    for seed in [0, 1, 77, u64::MAX] {
        let a = run_seed(system(&s), &s, seed, Recheck::Once).unwrap();
        let b = run_seed(system(&s), &s, seed, Recheck::Once).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.trace.render(), b.trace.render());
        assert!(a.events > 500, "seed {seed}: only {} events", a.events);
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let s = faulty();
    let hashes: std::collections::BTreeSet<String> = (0..10)
        .map(|seed| {
            run_seed(system(&s), &s, seed, Recheck::Once)
                .unwrap()
                .trace_hash
        })
        .collect();
    assert_eq!(hashes.len(), 10);
}

#[test]
fn self_check_reports_the_first_differing_event() {
    let s = faulty();
    let a = run_seed(system(&s), &s, 5, Recheck::Once).unwrap();
    let b = run_seed(system(&s), &s, 6, Recheck::Once).unwrap();
    let v = determinism_verdict(&a.trace, a.trace.hash(), &b.trace);
    assert!(!v.ok);
    assert!(v.detail.contains("traces diverge at event"), "{}", v.detail);
    let same = determinism_verdict(&a.trace, a.trace.hash(), &a.trace);
    assert!(same.ok);
}
