//! The purity rules, shared by `nodes/tests/purity.rs` (the node contract) and
//! `systems/tests/purity.rs` (the shipped systems' node logic): words that would let the outside
//! world into node logic, and a scan for them.

use std::path::Path;

pub(crate) const FORBIDDEN: &[(&str, &str)] = &[
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

pub(crate) fn scan(path: &Path, hits: &mut Vec<String>) {
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
