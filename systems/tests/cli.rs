//! The `highstorm` command line: exit codes, error messages, JSON output, replay, diff, and
//! Maelstrom's stdio protocol.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn highstorm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_highstorm"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run highstorm")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("highstorm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn run_passes_shipped_scenarios_and_prints_a_summary() {
    let out = highstorm(&["run", "scenarios/", "--seeds", "0..3"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // Every shipped scenario, three seeds each (counted, so a new scenario needs no edit here).
    let shipped = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    let summary = format!("{} passed, 0 failed", shipped * 3);
    assert!(stdout.contains(&summary), "{summary}: {stdout}");
}

#[test]
fn json_output_has_one_object_per_seed() {
    let out = highstorm(&[
        "run",
        "scenarios/echo.toml",
        "--seeds",
        "3..5",
        "--json",
        "--recheck",
        "all",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (v, seed) in lines.iter().zip(3..) {
        assert_eq!(v["scenario"], "echo");
        assert_eq!(v["seed"], seed);
        assert_eq!(v["ok"], true);
        assert_eq!(v["trace_hash"].as_str().unwrap().len(), 16);
        assert!(v["sim_time_s"].as_f64().unwrap() >= 5.0);
        assert!(v["wall_s"].as_f64().unwrap() > 0.0);
        assert!(v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "deterministic"));
    }
}

#[test]
fn a_bad_scenario_exits_2_naming_file_line_and_key() {
    let bad = temp_file(
        "bad.toml",
        "name = \"bad\"\nsystem = \"echo\"\nnodes = 3\nduration = \"5s\"\n[network]\nloss = 2.0\n",
    );
    let out = highstorm(&["run", bad.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:6:8:"), "{stderr}");
    assert!(stderr.contains("network.loss"), "{stderr}");

    let out = highstorm(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = highstorm(&["run", "scenarios/echo.toml", "--seeds", "9..2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn http_scenarios_refuse_the_events_engine_clearly() {
    let file = std::fs::read_to_string(root().join("scenarios/bridge-four-http.toml")).unwrap();
    let on_events = file.replace("engine = \"turmoil\"", "engine = \"events\"");
    let line = on_events
        .lines()
        .position(|l| l.starts_with("api = "))
        .unwrap()
        + 1;
    let bad = temp_file("http-on-events.toml", &on_events);
    let out = highstorm(&["run", bad.to_str().unwrap(), "--seeds", "0..1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("http-on-events.toml:{line}:7: `workload.api`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("only the turmoil engine serves"),
        "{stderr}"
    );

    // The same from the command line's engine override.
    let out = highstorm(&[
        "run",
        "scenarios/bridge-four-http.toml",
        "--seeds",
        "0..1",
        "--engine",
        "events",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--engine turmoil"), "{stderr}");
}

#[test]
fn replay_takes_the_engine_override() {
    let on = |engine| {
        let out = highstorm(&[
            "replay",
            "scenarios/echo.toml",
            "--seed",
            "3",
            "--engine",
            engine,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let (turmoil, events) = (on("turmoil"), on("events"));
    // Each engine's own trace (turmoil rounds to its 1 ms tick), the same verdicts.
    let last = |t: &str| t.lines().last().unwrap().to_owned();
    assert_ne!(last(&turmoil), last(&events));
    let checks = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("check "))
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(checks(&turmoil), checks(&events));
    assert!(
        checks(&events).iter().all(|c| c.ends_with(" ok")),
        "{events}"
    );
    let out = highstorm(&[
        "replay",
        "scenarios/bridge-four-http.toml",
        "--seed",
        "0",
        "--engine",
        "events",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--engine turmoil"));
}

#[test]
fn a_failing_check_exits_1_with_repro_lines() {
    // Clients give up after 1 ms while every message takes at least 5 ms: no operation can
    // succeed, so the availability check must fail.
    let impatient = temp_file(
        "impatient.toml",
        "name = \"impatient\"\nsystem = \"echo\"\nnodes = 2\nduration = \"2s\"\n\
         [network]\nlatency = { min = \"5ms\", max = \"10ms\" }\n[workload]\ntimeout = \"1ms\"\n",
    );
    let out = highstorm(&["run", impatient.to_str().unwrap(), "--seed", "4"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL impatient seed 4"), "{stdout}");
    assert!(
        stdout.contains("requests-answered-unless-faulted"),
        "{stdout}"
    );
    assert!(stdout.contains("repro: highstorm replay"), "{stdout}");
    assert!(stdout.contains("--seed 4"), "{stdout}");
}

#[test]
fn replay_is_exact_and_diff_finds_divergence() {
    let a = temp_file("a.jsonl", "");
    let b = temp_file("b.jsonl", "");
    let c = temp_file("c.jsonl", "");
    let run = |seed: &str, out: &PathBuf| {
        highstorm(&[
            "replay",
            "scenarios/unique-ids-faults.toml",
            "--seed",
            seed,
            "--trace",
            out.to_str().unwrap(),
        ])
    };
    let first = run("11", &a);
    let second = run("11", &b);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(first.stdout, second.stdout);
    assert!(text(&first.stdout).contains("crash n1"));
    run("12", &c);

    let same = highstorm(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0));
    assert!(text(&same.stdout).starts_with("identical"));
    let differ = highstorm(&["diff", a.to_str().unwrap(), c.to_str().unwrap()]);
    assert_eq!(differ.status.code(), Some(1));
    assert!(
        text(&differ.stdout).contains("traces diverge at event"),
        "{}",
        text(&differ.stdout)
    );
}

#[test]
fn maelstrom_stdio_answers_init_and_echo_and_survives_garbage() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_highstorm"))
        .args(["node", "echo", "--maelstrom"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = [
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2"]}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":"hello"}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"echo""#,
        r#"{"src":"c1","dest":"n1","body":{"type":"teleport","msg_id":3}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":4,"echo":[1,2]}}"#,
    ];
    for line in input {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replies: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert_eq!(replies[0]["body"]["type"], "init_ok");
    assert_eq!(replies[0]["body"]["in_reply_to"], 1);
    assert_eq!(replies[1]["body"]["type"], "echo_ok");
    assert_eq!(replies[1]["body"]["in_reply_to"], 2);
    assert_eq!(replies[1]["body"]["echo"], "hello");
    assert_eq!(replies[1]["dest"], "c1");
    assert_eq!(replies[2]["body"]["type"], "error");
    assert_eq!(replies[2]["body"]["code"], 10);
    assert_eq!(replies[2]["body"]["in_reply_to"], 3);
    assert_eq!(replies[3]["body"]["echo"], serde_json::json!([1, 2]));
    // The unparseable line was logged, not answered.
    assert!(
        text(&out.stderr).contains("malformed input"),
        "{}",
        text(&out.stderr)
    );
}

/// The per-seed objects of `--json` output (not the closing `sometimes` report).
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("seed").is_some())
        .collect()
}

#[test]
fn shards_split_a_sweep_and_jobs_do_not_change_results() {
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "scenarios/unique-ids-faults.toml",
            "--seeds",
            "0..6",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = highstorm(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        json_lines(&out)
            .into_iter()
            .map(|v| {
                (
                    v["seed"].as_u64().unwrap(),
                    v["trace_hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let serial = sweep(&["--jobs", "1"]);
    assert_eq!(serial.len(), 6);
    assert_eq!(sweep(&["--jobs", "2"]), serial);
    let mut sharded = sweep(&["--shard", "0/2"]);
    sharded.extend(sweep(&["--shard", "1/2"]));
    sharded.sort();
    assert_eq!(sharded, serial);
    let bad = highstorm(&["run", "scenarios/echo.toml", "--shard", "2/2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn json_reports_carry_metrics() {
    let out = highstorm(&["run", "scenarios/echo.toml", "--seed", "2", "--json"]);
    let v = &json_lines(&out)[0];
    let m = &v["metrics"];
    assert!(m["ops"].as_u64().unwrap() > 100, "{m}");
    assert_eq!(m["msgs_per_op"], 0.0, "echo nodes never talk to each other");
    assert!(m["msgs_per_op_all"].as_f64().unwrap() >= 1.9, "{m}");
    let lat = &m["latency_ms"];
    assert!(
        lat["p50"].as_f64().unwrap() >= 2.0,
        "two hops of at least 1 ms: {lat}"
    );
    assert!(lat["max"].as_f64().unwrap() <= 300.0, "{lat}");
    assert!(lat["p50"].as_f64() <= lat["p99"].as_f64());
}

#[test]
fn a_failing_sweep_writes_a_shrunk_scenario_that_still_fails() {
    let dir = std::env::temp_dir().join(format!("highstorm-shrunk-{}", std::process::id()));
    let out = highstorm(&[
        "run",
        "scenarios/broken/unique-ids-forgetful.toml",
        "--seeds",
        "0..10",
        "--shrink-dir",
        dir.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        text(&out.stdout).contains("ids-unique: id"),
        "{}",
        text(&out.stdout)
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("shrunk "))
        .expect(&stderr);
    let path = PathBuf::from(line.split(": ").nth(1).unwrap().split(' ').next().unwrap());
    let minimal = highstorm::Scenario::load(&path).unwrap();
    assert!(minimal.faults.len() <= 3, "{minimal:?}");
    let seed = minimal.seeds.start.to_string();
    let replay = highstorm(&["replay", path.to_str().unwrap(), "--seed", &seed]);
    assert_eq!(replay.status.code(), Some(1));
    assert!(text(&replay.stdout).contains("check ids-unique FAILED"));

    // The shrink command does the same on demand.
    let out_file = dir.join("by-hand.toml");
    let shrunk = highstorm(&[
        "shrink",
        "scenarios/broken/unique-ids-forgetful.toml",
        "--seed",
        &seed,
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(shrunk.status.code(), Some(0), "{}", text(&shrunk.stderr));
    assert!(highstorm::Scenario::load(&out_file).unwrap().faults.len() <= 3);
    let passing = highstorm(&[
        "shrink",
        "scenarios/echo.toml",
        "--seed",
        "1",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(passing.status.code(), Some(2));
    assert!(text(&passing.stderr).contains("nothing to shrink"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn broadcast_and_g_counter_speak_maelstrom_stdio() {
    let run = |system: &str, lines: &[&str]| -> Vec<serde_json::Value> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_highstorm"))
            .args(["node", system, "--maelstrom"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#;
    let b = run(
        "broadcast",
        &[
            init,
            r#"{"src":"c1","dest":"n1","body":{"type":"topology","msg_id":2,"topology":{"n1":[]}}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"broadcast","msg_id":3,"message":42}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":4}}"#,
        ],
    );
    let types: Vec<&str> = b
        .iter()
        .map(|v| v["body"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["init_ok", "topology_ok", "broadcast_ok", "read_ok"]);
    assert_eq!(b[3]["body"]["messages"], serde_json::json!([42]));

    let g = run(
        "g-counter",
        &[
            init,
            r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":2,"delta":5}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":3,"delta":2}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":4}}"#,
        ],
    );
    assert_eq!(g[3]["body"]["type"], "read_ok");
    assert_eq!(g[3]["body"]["value"], 7);
}
