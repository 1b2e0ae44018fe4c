//! The register's own command line (`src/main.rs`, the embedded CLI) on its own system:
//! `run`, `replay` and `shrink` with their exit codes (0 passed, 1 a check failed, 2 bad usage
//! or a bad scenario).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replicated-register"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/register-faults.toml")
}

/// The shipped scenario with the planted bug, in a scratch directory of this test.
fn buggy(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario()).unwrap();
    let text = text.replacen(
        "engine = \"events\"",
        "engine = \"events\"\nvariant = \"local-reads\"",
        1,
    );
    assert!(text.contains("local-reads"));
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("register-buggy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn run_passes_on_the_register_and_fails_on_the_planted_bug() {
    let file = scenario();
    let out = cli(&[
        "run",
        file.to_str().unwrap(),
        "--seeds",
        "0..4",
        "--no-shrink",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("4 passed, 0 failed"), "{}", text(&out));

    let dir = scratch("cli-run");
    let buggy = buggy(&dir);
    let out = cli(&[
        "run",
        buggy.to_str().unwrap(),
        "--seeds",
        "0..4",
        "--no-shrink",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("failed: register-faults seed"),
        "{}",
        text(&out)
    );

    let out = cli(&[
        "run",
        buggy.to_str().unwrap(),
        "--seed",
        "0",
        "--json",
        "--no-shrink",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(report["ok"], false);
}

#[test]
fn replay_and_shrink_a_failing_seed_of_the_register() {
    let dir = scratch("cli-shrink");
    let buggy = buggy(&dir);
    let out = cli(&["replay", buggy.to_str().unwrap(), "--seed", "0"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("FAILED"), "{}", text(&out));

    let shrunk = dir.join("shrunk.toml");
    let out = cli(&[
        "shrink",
        buggy.to_str().unwrap(),
        "--seed",
        "0",
        "--budget",
        "30",
        "-o",
        shrunk.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = cli(&["replay", shrunk.to_str().unwrap(), "--seed", "0"]);
    assert_eq!(code(&out), 1, "the shrunk file still fails: {}", text(&out));

    let out = cli(&["replay", scenario().to_str().unwrap(), "--seed", "0"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn a_system_the_binary_does_not_know_is_a_usage_error() {
    let dir = scratch("cli-unknown");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.toml");
    let toml = std::fs::read_to_string(scenario()).unwrap();
    let toml = toml.replacen("system = \"replicated-register\"", "system = \"echo\"", 1);
    std::fs::write(&path, toml).unwrap();
    let out = cli(&["run", path.to_str().unwrap(), "--seed", "0"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("unknown system `echo` (known: replicated-register)"),
        "{}",
        text(&out)
    );
}
