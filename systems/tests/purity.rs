//! Node logic must see the world only through its Context. This test reads the sources of the
//! shipped systems' node logic (every file of a system's folder except what runs beside it in
//! the harness: `check.rs`, `workload.rs`, `http.rs`, `system.rs`) and fails on anything that
//! would let the outside world in. The same files also build without the `harness` feature,
//! so without tokio, turmoil or axum in reach (`.ci/run` checks that).

use std::path::Path;

const FORBIDDEN: &[(&str, &str)] = &[
    ("std::time", "clocks come from ctx.now()"),
    ("Instant", "clocks come from ctx.now()"),
    ("SystemTime", "clocks come from ctx.now()"),
    ("tokio", "node logic is sans-IO"),
    ("turmoil", "node logic is sans-IO"),
    ("std::net", "node logic is sans-IO"),
    ("std::thread", "no threads in node logic"),
    ("std::fs", "durable state goes through the host"),
    ("thread_rng", "randomness comes from ctx.rng()"),
    ("rand::random", "randomness comes from ctx.rng()"),
    ("from_entropy", "randomness comes from ctx.rng()"),
    (
        "HashMap",
        "iteration order must be deterministic: use BTreeMap",
    ),
    (
        "HashSet",
        "iteration order must be deterministic: use BTreeSet",
    ),
];

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
    if path.extension().is_none_or(|e| e != "rs") {
        return;
    }
    let text = std::fs::read_to_string(path).expect("read source");
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (word, why) in FORBIDDEN {
            if code.contains(word) {
                hits.push(format!("{}:{}: `{word}`: {why}", path.display(), n + 1));
            }
        }
    }
}

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

#[test]
fn the_scan_catches_a_forbidden_word() {
    let dir = std::env::temp_dir().join(format!("highstorm-purity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("bad.rs"),
        "let t = std::time::Instant::now(); // fine here\n",
    )
    .expect("write");
    let mut hits = vec![];
    scan(&dir, &mut hits);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(hits.len(), 2, "{hits:?}");
}
