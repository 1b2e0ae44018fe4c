//! The core knows no shipped system: every system is a plugin built on the public API, in the
//! `highstorm-systems` crate or a user's own. This test reads the core's sources (code and
//! comments) and its manifest and fails on any mention of one.

use std::path::Path;

/// The shipped systems, in every spelling a mention would take (matched case-insensitively,
/// with `-`, `_`, ` ` or nothing between words).
const SYSTEMS: &[&str] = &[
    "echo",
    "unique ids",
    "uniqueids",
    "g counter",
    "gcounter",
    "broadcast",
    "bridge four",
    "bridgefour",
    "election",
    "scrap worker",
    "work queue",
    "workqueue",
    "distributed workers",
];

/// `text` lowercased with `-` and `_` read as spaces.
fn normal(text: &str) -> String {
    text.to_lowercase().replace(['-', '_'], " ")
}

fn scan(path: &Path, hits: &mut Vec<String>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("read source dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            scan(&entry, hits);
        }
        return;
    }
    let text = std::fs::read_to_string(path).expect("read source");
    for (n, line) in text.lines().enumerate() {
        let line = normal(line);
        for name in SYSTEMS {
            if line.contains(name) {
                hits.push(format!("{}:{}: `{name}`", path.display(), n + 1));
            }
        }
    }
}

#[test]
fn the_core_names_no_shipped_system() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut hits = vec![];
    scan(&root.join("src"), &mut hits);
    scan(&root.join("build.rs"), &mut hits);
    scan(&root.join("Cargo.toml"), &mut hits);
    assert!(
        hits.is_empty(),
        "the core crate mentions shipped systems:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_core_does_not_depend_on_the_systems() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read manifest");
    assert!(!manifest.contains("highstorm-systems"), "{manifest}");
}

#[test]
fn the_scan_catches_every_spelling() {
    let dir = std::env::temp_dir().join(format!("highstorm-core-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("bad.rs"),
        "use x::work_queue;\n// the Bridge Four leader\nlet s = \"g-counter\";\nfn ok() {}\n",
    )
    .expect("write");
    let mut hits = vec![];
    scan(&dir, &mut hits);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(hits.len(), 3, "{hits:?}");
}
