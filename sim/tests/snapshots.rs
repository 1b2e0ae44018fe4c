//! The rendered trace of a short echo run at a fixed seed. A change in behaviour shows up as a
//! snapshot diff (`cargo insta review`).

use highstorm::{run_seed, Recheck, Scenario};
use std::time::Duration;

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
    let report = run_seed(&s, 7, Recheck::Twice).unwrap();
    assert!(report.ok, "{:?}", report.checks);
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("echo_trace_seed_7", report.trace.render());
    });
}
