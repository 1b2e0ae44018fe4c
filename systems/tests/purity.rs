//! Node logic must see the world only through its Context. This test reads the sources of the
//! shipped systems' node logic (every file of a system's folder except what runs beside it in
//! the harness: `check.rs`, `workload.rs`, `http.rs`, `system.rs`) and fails on anything that
//! would let the outside world in. The same files also build without the `harness` feature,
//! so without tokio, turmoil or axum in reach (`.ci/run` checks that).

use std::path::Path;

#[path = "../../nodes/tests/purity_rules/mod.rs"]
mod purity_rules;
use purity_rules::scan;

/// Files of a system's folder that run beside the node, in the harness.
const HARNESS: &[&str] = &["check.rs", "workload.rs", "http.rs", "system.rs"];

#[test]
fn node_logic_sees_the_world_only_through_its_context() {
    let systems = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = vec![];
    let mut folders = 0;
    for folder in std::fs::read_dir(&systems).expect("read systems/src") {
        let folder = folder.expect("dir entry").path();
        if !folder.is_dir() {
            continue;
        }
        folders += 1;
        for file in std::fs::read_dir(&folder).expect("read a system's folder") {
            let file = file.expect("dir entry").path();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !HARNESS.contains(&name) {
                scan(&file, &mut hits);
            }
        }
    }
    assert!(
        folders >= 7,
        "expected a folder per shipped system in {systems:?}"
    );
    assert!(
        hits.is_empty(),
        "forbidden in node logic:\n{}",
        hits.join("\n")
    );
}
