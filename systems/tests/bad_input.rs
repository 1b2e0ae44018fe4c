//! Bad input, as a careless user or an attacker writes it (issue 18, the simulator half): every
//! probe of the hardening round is an exit-2 error naming `file:line:col` and the key — never a
//! panic, a hang, a run that goes on for ever or a file written outside its directory. Then a
//! property test mutates every shipped scenario file the same ways (lines deleted and
//! duplicated, types changed, extreme numbers, unknown names) and holds each result to that.
//!
//! `HIGHSTORM_MUTATIONS=N` sets how many mutated files the property test tries (default 48),
//! `HIGHSTORM_MUTATION_SEED=S` its seed (default fixed, so a run is repeatable).

use highstorm::runner::{run_seed, Recheck};
use highstorm::scenario::Api;
use highstorm::{Scenario, ScenarioError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch directory of this test process (`name` keeps parallel tests apart).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("highstorm-bad-input-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `args` in `dir`; a run that takes over a minute is a hang: killed,
/// and the test fails.
fn highstorm_in(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_highstorm"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run highstorm");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("highstorm {args:?} hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A shipped scenario file's text.
fn shipped(name: &str) -> String {
    std::fs::read_to_string(root().join("scenarios").join(name)).unwrap()
}

/// `text` with `from` replaced by `to` (which must occur).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the file");
    text.replacen(from, to, 1)
}

/// Checks an error line `FILE:LINE:COL: `KEY`: ...` for `key`, and that LINE of `contents` is
/// where the key is written; returns the message after the key.
fn located(stderr: &str, file: &str, contents: &str, key: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains(&format!("`{key}`: ")))
        .unwrap_or_else(|| panic!("no error naming `{key}`:\n{stderr}"));
    let rest = line
        .strip_prefix("highstorm: ")
        .and_then(|l| l.strip_prefix(file))
        .and_then(|l| l.strip_prefix(':'))
        .unwrap_or_else(|| panic!("not `highstorm: {file}:...`: {line}"));
    let mut parts = rest.splitn(3, ':');
    let (l, c) = (parts.next().unwrap(), parts.next().unwrap());
    let (l, c): (usize, usize) = (l.parse().expect(line), c.parse().expect(line));
    assert!(c >= 1, "{line}");
    let written = contents
        .lines()
        .nth(l - 1)
        .unwrap_or_else(|| panic!("line {l} is past the end: {line}"));
    let last = key.rsplit(['.', ']']).next().unwrap_or(key);
    assert!(
        written.contains(last) || written.contains(key.split('.').next().unwrap_or(key)),
        "line {l} ({written:?}) does not hold `{key}`: {line}"
    );
    let message = parts.next().unwrap_or_default();
    assert_eq!(
        stderr.matches(message.trim()).count(),
        1,
        "said twice: {stderr}"
    );
    message.to_owned()
}

/// Writes `contents` as `file` in a scratch directory, runs it, and expects exit 2 at `key`
/// with `says` in the message.
fn rejects(file: &str, contents: &str, key: &str, says: &str) {
    let dir = scratch(file.trim_end_matches(".toml"));
    std::fs::write(dir.join(file), contents).unwrap();
    let out = highstorm_in(&dir, &["run", file, "--seed", "0", "--no-shrink"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
    let message = located(&stderr, file, contents, key);
    assert!(message.contains(says), "{file}: {message:?} lacks {says:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn numbers_that_panicked_are_range_checked_at_their_key() {
    let queue = shipped("work-queue-worker-crash.toml");
    let b4 = shipped("bridge-four-slow.toml");
    rejects(
        "clients-negative.toml",
        &edit(&queue, "clients = 2", "clients = -1"),
        "workload.clients",
        "-1 is out of range",
    );
    rejects(
        "queue-slow-huge.toml",
        &edit(
            &queue,
            "work_ms = 80",
            "work_ms = 80\nslow = { n1 = 1e308 }",
        ),
        "config.slow.n1",
        "1e308 is out of range",
    );
    rejects(
        "b4-slow-huge.toml",
        &edit(
            &b4,
            "slow = { n3 = 30.0, n4 = 10.0 }",
            "slow = { n3 = 1e308 }",
        ),
        "config.slow.n3",
        "1e308 is out of range",
    );
}

#[test]
fn zero_and_absurd_periods_are_refused_before_anything_runs() {
    let queue = shipped("work-queue-worker-crash.toml");
    let b4 = shipped("bridge-four-slow.toml");
    rejects(
        "poll-zero.toml",
        &edit(&queue, "work_ms = 80", "work_ms = 80\npoll_ms = 0"),
        "config.poll_ms",
        "0 ms is out of range",
    );
    rejects(
        "heartbeat-zero.toml",
        &edit(&b4, "slots = 2", "slots = 2\nheartbeat_ms = 0"),
        "config.heartbeat_ms",
        "0 ms is out of range",
    );
    rejects(
        "nemesis-every-1us.toml",
        &edit(
            &shipped("unique-ids-nemesis.toml"),
            "every = \"700ms\"",
            "every = \"1us\"",
        ),
        "nemesis.every",
        "must be between 1ms",
    );
    rejects(
        "duration-forever.toml",
        &edit(
            &shipped("echo.toml"),
            "duration = \"5s\"",
            "duration = \"99999999h\"",
        ),
        "duration",
        "at most 1h",
    );
}

#[test]
fn real_nodes_refuse_a_config_out_of_range() {
    let dir = scratch("real");
    for (role, args) in [
        (
            "work-queue-worker",
            &[
                "--leader",
                "m=127.0.0.1:9",
                "--config",
                r#"{"slow":{"w1":1e308}}"#,
            ][..],
        ),
        (
            "work-queue-manager",
            &["--http", "127.0.0.1:0", "--set", "poll_ms=0"][..],
        ),
        (
            "bridge-four-worker",
            &["--leader", "l=127.0.0.1:9", "--set", "heartbeat_ms=0"][..],
        ),
    ] {
        let mut all = vec!["node", role, "--id", "w1", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let out = highstorm_in(&dir, &all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{role}: {stderr}");
        assert!(stderr.contains("bad config for"), "{role}: {stderr}");
        assert!(stderr.contains("is out of range"), "{role}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn real_nodes_refuse_a_min_work_time_out_of_range() {
    let dir = scratch("min-work");
    let out = highstorm_in(
        &dir,
        &[
            "node",
            "bridge-four-worker",
            "--id",
            "w1",
            "--listen",
            "127.0.0.1:0",
            "--leader",
            "l=127.0.0.1:9",
            "--min-work-ms",
            "18446744073709551615",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--min-work-ms"), "{stderr}");
    assert!(stderr.contains("0..=3600000"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_path_for_a_name_is_refused_and_writes_nothing() {
    let dir = scratch("escape/a/b/c");
    let file = "escape.toml";
    let contents = edit(
        &shipped("broken/unique-ids-forgetful.toml"),
        "name = \"unique-ids-forgetful\"",
        "name = \"../../../../ESCAPED\"",
    );
    std::fs::write(dir.join(file), &contents).unwrap();
    let out = highstorm_in(
        &dir,
        &["run", file, "--seed", "0", "--shrink-dir", "shrunk"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let message = located(&stderr, file, &contents, "name");
    assert!(message.contains("is a path"), "{message}");
    let mut up = dir.clone();
    for _ in 0..5 {
        assert!(!up.join("ESCAPED.forgetful.turmoil.seed0.toml").exists());
        up.pop();
    }
    let _ = std::fs::remove_dir_all(scratch("escape"));
}

#[test]
fn validation_gaps_are_exit_2_at_the_key() {
    let echo = shipped("echo.toml");
    let fault = |body: &str| format!("{echo}\n[[faults]]\nat = \"1s\"\n{body}\n");
    rejects(
        "two-groups.toml",
        &fault(r#"partition = [["n0", "n1"], ["n1", "n2"]]"#),
        "faults[0].partition",
        "\"n1\" is in two groups",
    );
    rejects(
        "empty-group.toml",
        &fault(r#"partition = [[], ["n1", "n2"]]"#),
        "faults[0].partition",
        "group 0 is empty",
    );
    rejects(
        "start-after-stop.toml",
        &format!("{echo}\n[nemesis]\nkinds = [\"crash\"]\nevery = \"1s\"\nstart = \"3s\"\nstop = \"2s\"\n"),
        "nemesis.start",
        "not before `stop`",
    );
    let b4 = shipped("bridge-four-slow.toml");
    let queue = shipped("work-queue-worker-crash.toml");
    rejects(
        "slow-unknown.toml",
        &edit(
            &b4,
            "slow = { n3 = 30.0, n4 = 10.0 }",
            "slow = { n9 = 2.0 }",
        ),
        "config.slow.n9",
        "unknown node \"n9\"",
    );
    rejects(
        "leader-unknown.toml",
        &edit(&b4, "slots = 2", "slots = 2\nleader = \"n9\""),
        "config.leader",
        "unknown node \"n9\"",
    );
    rejects(
        "manager-unknown.toml",
        &edit(&queue, "work_ms = 80", "work_ms = 80\nmanager = \"n9\""),
        "config.manager",
        "unknown node \"n9\"",
    );
    rejects(
        "slots-zero.toml",
        &edit(&b4, "slots = 2", "slots = 0"),
        "config.slots",
        "0 is out of range",
    );
    rejects(
        "restart-late.toml",
        &edit(&queue, "restart_after = \"1s\"", "restart_after = \"100s\""),
        "faults[3].restart_after",
        "after the scenario ends",
    );
    rejects(
        "resume-late.toml",
        &edit(&b4, "resume_after = \"900ms\"", "resume_after = \"100s\""),
        "faults[0].resume_after",
        "after the scenario ends",
    );
}

#[test]
fn error_messages_name_the_key_once_with_a_place() {
    rejects(
        "nodes-string.toml",
        &edit(&shipped("echo.toml"), "nodes = 3", "nodes = \"3\""),
        "nodes",
        "invalid type: string \"3\"",
    );
    rejects(
        "config-type.toml",
        &edit(
            &shipped("bridge-four-slow.toml"),
            "slow = { n3 = 30.0, n4 = 10.0 }",
            "slow = { n3 = \"fast\" }",
        ),
        "config.slow.n3",
        "invalid type: string \"fast\"",
    );
    // Not UTF-8: one message, at the bad byte, naming its key.
    let dir = scratch("utf8");
    let contents = edit(&shipped("echo.toml"), "name = \"echo\"", "name = \"ech?\"");
    let mut bytes = contents.clone().into_bytes();
    let at = bytes.iter().position(|b| *b == b'?').unwrap();
    bytes[at] = 0xff;
    std::fs::write(dir.join("latin.toml"), bytes).unwrap();
    let out = highstorm_in(&dir, &["run", "latin.toml", "--seed", "0"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let message = located(&stderr, "latin.toml", &contents, "name");
    assert!(message.contains("not valid UTF-8 (byte 0xff)"), "{message}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- The property test: mutated shipped scenarios. ----

/// One change to a scenario file's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Delete a line.
    Delete(usize),
    /// Write a line twice.
    Duplicate(usize),
    /// Give a `key = value` line a value of another type.
    Retype(usize),
    /// Replace the first number on a `key = value` line (in a duration too) by an extreme.
    Extreme(usize, usize),
    /// Replace the first string on a line by an unknown or malformed name, or rename its key.
    Rename(usize, usize),
}

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "18446744073709551615",
    "9223372036854775807",
    "4294967296",
    "0.000001",
    "99999999",
];

const NAMES: &[&str] = &[
    "n9999",
    "n01",
    "c99",
    "",
    "../../x",
    "nope",
    "n-1",
    "bogus_key",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Retype),
        (any::<usize>(), 0..EXTREMES.len()).prop_map(|(l, x)| Mutation::Extreme(l, x)),
        (any::<usize>(), 0..NAMES.len()).prop_map(|(l, x)| Mutation::Rename(l, x)),
    ]
}

/// `(key, value)` of a `key = value` line.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    (!line.trim_start().starts_with('#')).then_some((k, v))
}

impl Mutation {
    fn apply(&self, lines: &mut Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let assignments: Vec<usize> = (0..lines.len())
            .filter(|&i| assignment(&lines[i]).is_some())
            .collect();
        let pick = |n: usize| assignments.get(n % assignments.len().max(1)).copied();
        match *self {
            Mutation::Delete(n) => {
                lines.remove(n % lines.len());
            }
            Mutation::Duplicate(n) => {
                let i = n % lines.len();
                let copy = lines[i].clone();
                lines.insert(i + 1, copy);
            }
            Mutation::Retype(n) => {
                let Some(i) = pick(n) else { return };
                let (k, v) = assignment(&lines[i]).unwrap();
                let v = v.trim();
                let other = if v.starts_with('"') {
                    "7"
                } else if v.starts_with('[') {
                    "{ a = 1 }"
                } else if v.starts_with('{') {
                    "[1, 2]"
                } else if v == "true" || v == "false" {
                    "\"yes\""
                } else {
                    "\"7\""
                };
                lines[i] = format!("{k}= {other}");
            }
            Mutation::Extreme(n, x) => {
                let Some(i) = pick(n) else { return };
                let (k, v) = assignment(&lines[i]).unwrap();
                let start = v.find(|c: char| c.is_ascii_digit());
                let v = match start {
                    Some(s) => {
                        let end = v[s..]
                            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                            .map_or(v.len(), |e| s + e);
                        format!("{}{}{}", &v[..s], EXTREMES[x], &v[end..])
                    }
                    None => format!(" {}", EXTREMES[x]),
                };
                lines[i] = format!("{k}={v}");
            }
            Mutation::Rename(n, x) => {
                let Some(i) = pick(n) else { return };
                let (k, v) = assignment(&lines[i]).unwrap();
                let name = NAMES[x];
                let quoted: Vec<&str> = v.splitn(3, '"').collect();
                lines[i] = if name == "bogus_key" || quoted.len() < 3 {
                    format!("bogus_key ={v}")
                } else {
                    format!("{k}={}\"{name}\"{}", quoted[0], quoted[2])
                };
            }
        }
    }
}

/// Every shipped scenario file.
fn shipped_files() -> Vec<PathBuf> {
    let mut files = vec![];
    for dir in ["scenarios", "scenarios/broken"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// A short version of a valid scenario, to run it: two seconds at most, a light workload,
/// the events engine unless its clients speak HTTP. `None` when it is too big to run quickly
/// or shortening it makes it invalid.
fn bounded(s: &Scenario) -> Option<Scenario> {
    if s.nodes > 25 || s.workload.clients > 10 {
        return None;
    }
    let mut b = s.clone();
    let ms = Duration::from_millis;
    b.duration = b.duration.min(ms(2000));
    let end = b.duration;
    b.faults.retain(|f| f.at <= end);
    for f in &mut b.faults {
        let left = end - f.at;
        match &mut f.action {
            highstorm::FaultAction::Crash { restart_after, .. } => {
                *restart_after = restart_after.map(|d| d.min(left))
            }
            highstorm::FaultAction::Pause { resume_after, .. } => {
                *resume_after = resume_after.map(|d| d.min(left))
            }
            _ => {}
        }
    }
    if let Some(n) = &mut b.nemesis {
        n.every = n.every.clamp(ms(50), end / 2);
        n.fault_duration = n.fault_duration.min(n.every);
        n.start = n.start.min(end / 4);
        n.stop = Some(end.mul_f64(0.8));
    }
    b.checks = Default::default();
    b.workload.timeout = b.workload.timeout.min(ms(200));
    b.workload.rate = b.workload.rate.min(100.0);
    b.tick = b.tick.max(ms(1));
    if b.workload.api != Api::Http {
        b.engine = highstorm::engine::Engine::Events;
    }
    b.validate().ok()?;
    highstorm_systems::system(&b).validate(&b).ok()?;
    Some(b)
}

/// What one mutated file came to: rejected at a place, or run.
#[derive(Debug, Default)]
struct Tally {
    rejected: usize,
    ran: usize,
    valid_not_run: usize,
}

fn check_mutant(
    registry: &highstorm::system::Registry,
    path: &Path,
    text: &str,
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    std::fs::write(path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let file = path.display().to_string();
    let loaded = Scenario::load(path).and_then(|s| registry.resolve(&s).map(|_| s));
    match loaded {
        Err(ScenarioError::Invalid {
            file: f,
            line,
            col,
            key,
            message,
        }) => {
            tally.rejected += 1;
            prop_assert_eq!(&f, &file);
            let lines = text.lines().count().max(1);
            prop_assert!(
                (1..=lines + 1).contains(&line) && col >= 1,
                "{}:{}:{} outside the file\n{}",
                f,
                line,
                col,
                text
            );
            prop_assert!(
                !key.is_empty() && !key.starts_with('<'),
                "no key: {message}\n{text}"
            );
            prop_assert!(
                message.starts_with(&format!("`{key}`: ")),
                "message does not name `{}`: {}",
                key,
                message
            );
        }
        Err(e @ ScenarioError::Io { .. }) => {
            return Err(TestCaseError::fail(format!("{e}")));
        }
        Ok(s) => match bounded(&s) {
            None => tally.valid_not_run += 1,
            Some(b) => {
                tally.ran += 1;
                let system = highstorm_systems::system(&b);
                // Checks may fail (a mutation may break the system); the run may not.
                run_seed(system, &b, 0, Recheck::Once)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            }
        },
    }
    Ok(())
}

#[test]
fn mutated_shipped_scenarios_are_rejected_at_a_place_or_run_to_the_end() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("HIGHSTORM_MUTATIONS").unwrap_or(48) as u32;
    let seed = env("HIGHSTORM_MUTATION_SEED").unwrap_or(18);
    let files = shipped_files();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let dir = scratch("mutations");
    let registry = highstorm_systems::registry();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = (0..files.len(), proptest::collection::vec(mutation(), 1..=3));
    let result = runner.run(&strategy, |(f, mutations)| {
        let mut lines: Vec<String> = texts[f].lines().map(str::to_owned).collect();
        for m in &mutations {
            m.apply(&mut lines);
        }
        let stem = files[f].file_stem().unwrap().to_string_lossy().into_owned();
        let path = dir.join(format!("{stem}.toml"));
        check_mutant(&registry, &path, &lines.join("\n"), &mut tally.borrow_mut())
    });
    let tally = tally.into_inner();
    eprintln!("{cases} mutated files: {tally:?}");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(tally.rejected > 0, "no mutation was rejected: {tally:?}");
}
