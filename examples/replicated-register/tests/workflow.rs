//! The failure workflow as a user meets it: a sweep of the planted bug fails in a `cargo test`
//! of its own, and the lines it prints are run as printed. Each failing seed's `repro:` line
//! reruns that seed alone, with the same trace; a replay does not shrink again; replaying the
//! shrunk file, even with `HIGHSTORM_SHRINK=1`, leaves the file as it was.
//!
//! The sweep that fails on purpose is `#[ignore]`d so that `cargo test` passes; the test that
//! checks the workflow runs it (and the printed commands) in child `cargo test` processes,
//! which reuse this package's already built test binary.

use highstorm::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant, SystemTime};

/// The planted bug over a handful of seeds: several of them fail.
fn buggy() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/register-faults.toml");
    Scenario::load(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .variant("local-reads")
}

#[test]
#[ignore = "fails on purpose: run by printed_repro_lines_rerun_each_failing_seed_alone"]
fn planted_bug_sweep() {
    Sweep::new(system(), &buggy())
        .seeds(0..12)
        .shrink_budget(30)
        .run();
}

/// One failing seed as the sweep printed it.
#[derive(Debug)]
struct Printed {
    seed: u64,
    trace: String,
    repro: Vec<String>,
}

/// The `FAIL NAME seed S (trace H)` blocks of a sweep's panic message, with their repro lines.
fn failures(output: &str) -> Vec<Printed> {
    let mut found: Vec<Printed> = vec![];
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("FAIL ") {
            let (_, rest) = rest
                .split_once(" seed ")
                .expect("FAIL NAME seed S (trace H)");
            let (seed, trace) = rest.split_once(" (trace ").expect("(trace H)");
            found.push(Printed {
                seed: seed.parse().expect("a seed"),
                trace: trace.trim_end_matches(')').to_owned(),
                repro: vec![],
            });
        } else if let (Some(repro), Some(last)) =
            (line.trim().strip_prefix("repro: "), found.last_mut())
        {
            last.repro.push(repro.to_owned());
        }
    }
    found
}

/// What a child `cargo test` printed, and whether it passed.
struct Run {
    passed: bool,
    output: String,
}

/// Runs a printed shell line (`VAR=value ... cargo test ARGS`) with `extra` environment, as a
/// shell would, stopping it if it runs past `limit`.
fn run_line(line: &str, extra: &[(&str, &Path)], scratch: &Path, limit: StdDuration) -> Run {
    let words = shell_words(line);
    let split = words
        .iter()
        .position(|w| !w.contains('='))
        .expect("a command");
    let (env, command) = words.split_at(split);
    assert_eq!(command[0], "cargo", "{line}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(&command[1..])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("HIGHSTORM_") {
            cmd.env_remove(var);
        }
    }
    for pair in env {
        let (k, v) = pair.split_once('=').expect("VAR=value");
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    // Into files, not pipes: a child that fills a pipe nobody reads would never finish.
    let out = scratch.join("child.out");
    let file = std::fs::File::create(&out).expect("scratch file");
    cmd.stdout(file.try_clone().expect("scratch file"))
        .stderr(file)
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("cargo runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{line}` ran past {limit:?}");
        }
        std::thread::sleep(StdDuration::from_millis(100));
    };
    Run {
        passed: status.success(),
        output: std::fs::read_to_string(&out).expect("child output"),
    }
}

/// Splits a shell line into words: blanks separate, single quotes quote (what
/// `TestCommand::line` writes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Every file in `dir`: its contents and when it was last written.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, SystemTime)> {
    std::fs::read_dir(dir)
        .expect("shrunk dir")
        .map(|e| {
            let path = e.expect("dir entry").path();
            let meta = std::fs::metadata(&path).expect("metadata");
            let text = std::fs::read_to_string(&path).expect("shrunk file");
            (path, (text, meta.modified().expect("mtime")))
        })
        .collect()
}

#[test]
fn printed_repro_lines_rerun_each_failing_seed_alone() {
    // Bounded: a child sweeps 12 short seeds (or one) in seconds. Under `cargo test
    // --workspace` features unify differently from `-p replicated-register`, so on a cold
    // target the first child builds this package's dependencies once more: minutes on 2 cores.
    let limit = StdDuration::from_secs(900);
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("register-workflow");
    let _ = std::fs::remove_dir_all(&scratch);
    let shrunk_dir = scratch.join("shrunk");
    std::fs::create_dir_all(&shrunk_dir).expect("scratch dir");
    let env = [("HIGHSTORM_SHRUNK_DIR", shrunk_dir.as_path())];

    let sweep = run_line(
        "cargo test -p replicated-register --test workflow planted_bug_sweep -- --exact --ignored",
        &env,
        &scratch,
        limit,
    );
    assert!(
        !sweep.passed,
        "the planted bug must fail:\n{}",
        sweep.output
    );
    let failed = failures(&sweep.output);
    assert!(
        failed.len() >= 2,
        "want two failing seeds:\n{}",
        sweep.output
    );
    for f in &failed {
        let line = f.repro.first().expect("a repro line");
        let seed = format!("HIGHSTORM_SEED={} ", f.seed);
        for part in [
            seed.as_str(),
            " -p replicated-register --test workflow planted_bug_sweep -- --exact",
            "--include-ignored",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line}");
        }
    }
    // The sweep shrank its first failure into a file named by scenario, variant, engine, seed.
    let first = &failed[0];
    let name = format!("register-faults.local-reads.events.seed{}.toml", first.seed);
    let shrunk = shrunk_dir.join(&name);
    assert!(shrunk.is_file(), "{name} not written:\n{}", sweep.output);
    let before = snapshot(&shrunk_dir);

    // A seed that is not the first: its line reruns it alone, with the same trace, unshrunk.
    let other = &failed[1];
    let replay = run_line(&other.repro[0], &env, &scratch, limit);
    assert!(
        !replay.passed,
        "seed {} must fail again:\n{}",
        other.seed, replay.output
    );
    let again = failures(&replay.output);
    assert_eq!(
        again.len(),
        1,
        "only seed {} runs:\n{}",
        other.seed,
        replay.output
    );
    assert_eq!((again[0].seed, &again[0].trace), (other.seed, &other.trace));
    assert!(
        replay.output.contains("not shrunk: a replay"),
        "{}",
        replay.output
    );
    assert_eq!(
        snapshot(&shrunk_dir),
        before,
        "a replay touched the shrunk files"
    );

    // The shrunk file replays the first seed; asked to shrink, it still keeps the file as is.
    let replay_it = sweep
        .output
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay it: "))
        .expect("a `replay it:` line");
    assert!(
        replay_it.contains(&format!("HIGHSTORM_SCENARIO={}", shrunk.display())),
        "{replay_it}"
    );
    let forced = [env[0], ("HIGHSTORM_SHRINK", Path::new("1"))];
    let file_replay = run_line(replay_it, &forced, &scratch, limit);
    assert!(!file_replay.passed, "{}", file_replay.output);
    let again = failures(&file_replay.output);
    assert_eq!(again.len(), 1, "{}", file_replay.output);
    assert_eq!(again[0].seed, first.seed);
    assert!(
        file_replay.output.contains("is the file being replayed"),
        "{}",
        file_replay.output
    );
    assert_eq!(
        snapshot(&shrunk_dir),
        before,
        "replaying the file rewrote it"
    );
}

/// The system under test, built once for the whole test binary (sweeps borrow it).
fn system() -> &'static System {
    static SYSTEM: std::sync::OnceLock<System> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(replicated_register::system)
}
