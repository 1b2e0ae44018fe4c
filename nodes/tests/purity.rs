//! Node logic must see the world only through its Context. This test reads the sources of the
//! node contract and fails on anything that would let the outside world in (the shipped
//! systems' node logic has the same test in `systems/tests/purity.rs`).

use std::path::Path;

mod purity_rules;
use purity_rules::scan;

#[test]
fn node_logic_sees_the_world_only_through_its_context() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = vec![];
    for part in [
        "spawn.rs",
        "node.rs",
        "process.rs",
        "timers.rs",
        "time.rs",
        "wire",
        "testing.rs",
    ] {
        scan(&src.join(part), &mut hits);
    }
    assert!(
        hits.is_empty(),
        "forbidden in node logic:\n{}",
        hits.join("\n")
    );
}
