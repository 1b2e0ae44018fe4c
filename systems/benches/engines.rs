//! The engines side by side, in one run:
//!
//! 1. the same 25-node broadcast scenario (`scenarios/broadcast-efficient.toml`) on `turmoil`
//!    and on `events`: simulated seconds per wall second (x real time) and their ratio;
//! 2. 1000 nodes on `events` (`scenarios/broadcast-1000.toml`): x real time, and each seed's
//!    verdict;
//! 3. messages delivered per wall second on `events` against a bare loop that only encodes,
//!    decodes and queues the same messages (the bodies the run sent, through
//!    `highstorm_nodes::wire` and a `BinaryHeap` of (time, seq, bytes)); at 25 nodes the two
//!    are interleaved (engine run, then bare loop over its messages, per round) so that both
//!    are timed at the same machine speed;
//! 4. a sweep: 1000 seeds of the 25-node 20 s scenario on `events` with 2 threads through
//!    `highstorm::sweep` (determinism rechecked on every 10th seed, as the CLI's default);
//! 5. checks against the engine for every shipped 25-node scenario: per run, the engine, the
//!    checks and metrics, the trace hash, and the determinism rerun, interleaved per round.
//!
//! Engine time (the run itself) is measured apart from the checkers and metrics (client
//! history, verdicts, metrics, trace hash), and both are printed. Wall-clock timing here is
//! the bench's own; nothing inside a simulated run reads a clock.
//!
//! ```text
//! cargo bench -p highstorm-systems --bench engines
//! HIGHSTORM_BENCH_SEEDS=5 HIGHSTORM_BENCH_SWEEP=200 cargo bench -p highstorm-systems --bench engines
//! ```
//! `HIGHSTORM_BENCH_SEEDS` (default 3): seeds per size and engine (turmoil runs one);
//! `HIGHSTORM_BENCH_REPEAT` (default 5): runs per seed, the fastest counted (turmoil: at most 2,
//! 1000 nodes: at most 3);
//! `HIGHSTORM_BENCH_SWEEP` (default 1000): seeds in the sweep (0 skips it);
//! `HIGHSTORM_BENCH_PARTS` (default `12345`): which of the five parts to run.

use highstorm_systems::system;

#[path = "../src/allocator.rs"]
mod allocator;

use highstorm::check::history_refs;
use highstorm::engine::{self, Engine};
use highstorm::sweep::{plan, sweep, RecheckPolicy};
use highstorm::{EventKind, Scenario, Trace};
use highstorm_nodes::wire::{self, Body, Envelope};
use highstorm_systems::broadcast::BroadcastMsg;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::time::Instant;

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One seed: the engine's wall time, the checkers' and metrics' wall time (client history,
/// verdicts, metrics: `System::judge_trace`, what `highstorm::run_seed` does after the run),
/// the trace hash's, the verdict and the trace.
struct Timed {
    engine_s: f64,
    checks_s: f64,
    /// Reading the client history out of the trace (part of what `checks_s` does, timed again
    /// apart).
    history_s: f64,
    hash_s: f64,
    ok: bool,
    trace: Trace,
}

fn run(s: &Scenario, seed: u64) -> Timed {
    let start = Instant::now();
    let out = engine::run(system(s), s, seed).expect("the scenario runs");
    let engine_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let (verdicts, metrics) = system(s).judge_trace(s, &out.trace);
    let checks_s = start.elapsed().as_secs_f64();
    // The history alone (what `judge_trace` reads first), timed apart.
    let start = Instant::now();
    std::hint::black_box(history_refs(&out.trace));
    let history_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let hash = out.trace.hash();
    let hash_s = start.elapsed().as_secs_f64();
    std::hint::black_box((&metrics, hash));
    let ok = verdicts.iter().all(|v| v.ok);
    if !ok {
        let failed: Vec<_> = verdicts.iter().filter(|v| !v.ok).collect();
        println!("  !! {} seed {seed} failed: {failed:?}", s.name);
    }
    Timed {
        engine_s,
        checks_s,
        history_s,
        hash_s,
        ok,
        trace: out.trace,
    }
}

/// Checks against the engine for one scenario, interleaved per round (engine run, then its
/// checks and hash, then the determinism rerun compared as it goes): each seed's fastest of
/// `rounds`. Returns (engine s, checks + metrics s, hash s, rerun s, history s: part of the
/// checks) per run, and verdicts.
fn checks_vs_engine(s: &Scenario, seeds: u64, rounds: u64) -> ([f64; 5], Vec<bool>) {
    let mut sum = [0.0; 5];
    let mut oks = vec![];
    for seed in 0..seeds {
        let mut best = [f64::MAX; 5];
        let mut ok = true;
        for _ in 0..rounds.max(1) {
            let t = run(s, seed);
            let start = Instant::now();
            let diverged = engine::rerun(system(s), s, seed, &t.trace, t.trace.hash());
            let rerun_s = start.elapsed().as_secs_f64();
            assert_eq!(
                diverged.expect("reruns"),
                None,
                "seed {seed} is deterministic"
            );
            for (b, x) in
                best.iter_mut()
                    .zip([t.engine_s, t.checks_s, t.hash_s, rerun_s, t.history_s])
            {
                *b = b.min(x);
            }
            ok &= t.ok;
        }
        for (a, b) in sum.iter_mut().zip(best) {
            *a += b / seeds as f64;
        }
        oks.push(ok);
    }
    (sum, oks)
}

/// The shipped scenarios of exactly `nodes` nodes (`scenarios/*.toml`), by name.
fn shipped_of_size(nodes: usize) -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".toml").map(str::to_owned))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| load(n))
        .filter(|s| s.nodes == nodes)
        .collect()
}

/// Runs `seeds` seeds, each `repeat` times, counting each seed's fastest run (this machine's
/// speed drifts by half from minute to minute; the fastest of a few runs is the steady
/// figure). Returns (x real time of the engine alone, checks s per run, deliveries per
/// engine-second, verdicts, one trace).
fn measure(s: &Scenario, seeds: u64, repeat: u64) -> (f64, f64, f64, Vec<bool>, Trace) {
    let (mut engine_s, mut checks_s, mut delivered) = (0.0, 0.0, 0usize);
    let mut oks = vec![];
    let mut first = None;
    for seed in 0..seeds {
        let mut t = run(s, seed);
        t.checks_s += t.hash_s;
        for _ in 1..repeat.max(1) {
            let again = run(s, seed);
            assert_eq!(
                again.trace.hash(),
                t.trace.hash(),
                "seed {seed} is deterministic"
            );
            t.engine_s = t.engine_s.min(again.engine_s);
            t.checks_s = t.checks_s.min(again.checks_s + again.hash_s);
        }
        engine_s += t.engine_s;
        checks_s += t.checks_s;
        delivered += deliveries(&t.trace);
        oks.push(t.ok);
        first.get_or_insert(t.trace);
    }
    let sim = s.duration.as_secs_f64() * seeds as f64;
    (
        sim / engine_s,
        checks_s / seeds as f64,
        delivered as f64 / engine_s,
        oks,
        first.unwrap_or_default(),
    )
}

fn deliveries(t: &Trace) -> usize {
    t.events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Deliver { .. }))
        .count()
}

/// The messages a run sent, as typed envelopes with their send times (built before any
/// timing).
fn sends_of(trace: &Trace) -> Vec<(u64, Envelope<BroadcastMsg>)> {
    let mut sends = vec![];
    for e in trace.events() {
        if let EventKind::Send {
            src, dest, body, ..
        } = &e.kind
        {
            // Error replies are not broadcast messages; everything else is.
            if let Ok(body) = serde_json::from_str::<Body<BroadcastMsg>>(body) {
                let env = Envelope {
                    src: src.clone(),
                    dest: dest.clone(),
                    body,
                };
                sends.push((e.at_us, env));
            }
        }
    }
    sends
}

/// The bare loop, once: every message in `sends`, in send order, encoded with
/// `wire::encode`, queued in a `BinaryHeap` of (time, seq, bytes) to arrive `latency_us`
/// later, and decoded with `wire::decode` when its time comes. Returns its wall seconds.
fn bare_pass(sends: &[(u64, Envelope<BroadcastMsg>)], latency_us: u64) -> f64 {
    type Queue = BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>;
    let start = Instant::now();
    let mut queue: Queue = BinaryHeap::new();
    let mut delivered = 0usize;
    let mut deliver_until = |queue: &mut Queue, now: u64| {
        while queue.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Some(Reverse((_, _, bytes))) = queue.pop() else {
                break;
            };
            let env = wire::decode::<BroadcastMsg>(&bytes).expect("decodes");
            std::hint::black_box(&env);
            delivered += 1;
        }
    };
    for (seq, (at, env)) in sends.iter().enumerate() {
        deliver_until(&mut queue, *at);
        queue.push(Reverse((*at + latency_us, seq as u64, wire::encode(env))));
    }
    deliver_until(&mut queue, u64::MAX);
    assert_eq!(delivered, sends.len());
    start.elapsed().as_secs_f64()
}

/// The events engine and the bare loop on the same seeds, interleaved: each round runs the
/// engine on a seed, then the bare loop over the messages that run sent, so both see the
/// machine at the same speed (it drifts by half from minute to minute here). Each seed counts
/// its fastest round on each side. Returns (engine deliveries per wall second, bare-loop
/// messages per wall second, bare-loop messages).
fn side_by_side(s: &Scenario, seeds: u64, rounds: u64) -> (f64, f64, usize) {
    let latency = s.network.latency.max.as_micros() as u64;
    let (mut engine_s, mut delivered, mut bare_s, mut messages) = (0.0, 0usize, 0.0, 0usize);
    for seed in 0..seeds {
        let (mut best_engine, mut best_bare) = (f64::MAX, f64::MAX);
        let mut sends = None;
        let mut hash = None;
        for _ in 0..rounds.max(1) {
            let start = Instant::now();
            let out = engine::run(system(s), s, seed).expect("the scenario runs");
            best_engine = best_engine.min(start.elapsed().as_secs_f64());
            let h = out.trace.hash();
            assert_eq!(*hash.get_or_insert(h), h, "seed {seed} is deterministic");
            let sends = sends.get_or_insert_with(|| {
                delivered += deliveries(&out.trace);
                sends_of(&out.trace)
            });
            best_bare = best_bare.min(bare_pass(sends, latency));
        }
        engine_s += best_engine;
        bare_s += best_bare;
        messages += sends.map_or(0, |s| s.len());
    }
    (
        delivered as f64 / engine_s,
        messages as f64 / bare_s,
        messages,
    )
}

fn main() {
    allocator::keep_freed_memory();
    let seeds = env("HIGHSTORM_BENCH_SEEDS", 3).max(1);
    let repeat = env("HIGHSTORM_BENCH_REPEAT", 5).max(1);
    let sweep_seeds = env("HIGHSTORM_BENCH_SWEEP", 1000);
    let parts = std::env::var("HIGHSTORM_BENCH_PARTS").unwrap_or_else(|_| "12345".into());
    let part = |n: char| parts.contains(n);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "engines: release build, {cores} cores; x real time = simulated s / engine wall s \
         (each seed's fastest of {repeat} runs)"
    );

    let calm = load("broadcast-efficient");
    let on_turmoil = calm.clone().engine(Engine::Turmoil);
    let on_events = calm.clone().engine(Engine::Events);
    let big = load("broadcast-1000");
    let verdicts = |v: &[bool]| format!("{}/{} ok", v.iter().filter(|o| **o).count(), v.len());
    if part('1') {
        println!(
            "\n1. {} ({} nodes, {:?}), turmoil 1 seed, events {seeds} seeds",
            calm.name, calm.nodes, calm.duration
        );
        let (t_x, t_checks, t_rate, t_ok, _) = measure(&on_turmoil, 1, repeat.min(2));
        let (e_x, e_checks, e_rate, e_ok, _) = measure(&on_events, seeds, repeat);
        println!(
            "   {:<8} {:>12} {:>16} {:>14} {:>8}",
            "engine", "x real time", "checks s/run", "delivered/s", "verdicts"
        );
        println!(
            "   {:<8} {t_x:>12.1} {t_checks:>16.3} {t_rate:>14.0} {:>8}",
            "turmoil",
            verdicts(&t_ok)
        );
        println!(
            "   {:<8} {e_x:>12.1} {e_checks:>16.3} {e_rate:>14.0} {:>8}",
            "events",
            verdicts(&e_ok)
        );
        println!(
            "   events / turmoil: {:.1}x (target >= 5x); events {:.0}x real time (target >= 500x)",
            e_x / t_x,
            e_x
        );
    }

    if part('2') {
        println!(
            "\n2. {} ({} nodes, {:?}) on events, {seeds} seeds",
            big.name, big.nodes, big.duration
        );
        let (b_x, b_checks, b_rate, b_ok, _) = measure(&big, seeds, repeat.min(3));
        println!(
        "   {b_x:.1}x real time (target >= 10x); checks {b_checks:.2} s/run; {b_rate:.0} delivered/s; {}",
        verdicts(&b_ok)
    );
    }

    if part('3') {
        println!(
        "\n3. messages delivered per wall second: events engine vs a bare encode/decode/queue loop"
    );
        let (e_rate, bare, n) = side_by_side(&on_events, seeds, repeat);
        println!(
        "   25 nodes:   events {e_rate:>10.0}/s   bare loop {bare:>10.0}/s ({n} messages)   bare/events {:.2}x (target <= 2x; interleaved, each seed's fastest of {} rounds)",
        bare / e_rate,
        repeat
    );
        let (b_rate, bare, n) = side_by_side(&big, seeds, repeat.min(3));
        println!(
        "   1000 nodes: events {b_rate:>10.0}/s   bare loop {bare:>10.0}/s ({n} messages)   bare/events {:.2}x",
        bare / b_rate
    );
    }

    if part('5') {
        println!(
            "\n5. checks against the engine, every shipped 25-node scenario on events, {seeds} seeds \
             (interleaved per round, each seed's fastest of {repeat}); checks = history + verdicts + metrics"
        );
        println!(
            "   {:<32} {:>10} {:>10} {:>9} {:>11} {:>10} {:>9} {:>11} {:>8}",
            "scenario",
            "engine ms",
            "checks ms",
            "checks %",
            "history ms",
            "hash ms",
            "+hash %",
            "recheck ms",
            "verdicts"
        );
        for s in shipped_of_size(25) {
            let s = s.engine(Engine::Events);
            let ([engine_s, checks_s, hash_s, rerun_s, history_s], oks) =
                checks_vs_engine(&s, seeds, repeat);
            println!(
                "   {:<32} {:>10.2} {:>10.2} {:>8.1}% {:>11.2} {:>10.2} {:>8.1}% {:>11.2} {:>8}",
                s.name,
                engine_s * 1e3,
                checks_s * 1e3,
                100.0 * checks_s / engine_s,
                history_s * 1e3,
                hash_s * 1e3,
                100.0 * (checks_s + hash_s) / engine_s,
                rerun_s * 1e3,
                verdicts(&oks)
            );
        }
        println!("   (target: checks <= 25% of the engine; history = the part of the checks that reads the client history out of the trace; recheck = the rerun compared with the first trace as it goes)");
    }

    if part('4') && sweep_seeds > 0 {
        let scenarios = [on_events];
        let runs = plan(&scenarios, |_| (0..sweep_seeds).collect(), None);
        let start = Instant::now();
        let systems = [system(&scenarios[0])];
        let reports = sweep(
            &systems,
            &scenarios,
            &runs,
            2,
            RecheckPolicy::Sample(10),
            &|_| {},
        )
        .expect("the sweep runs");
        let wall = start.elapsed().as_secs_f64();
        let failed: Vec<u64> = reports.iter().filter(|r| !r.ok).map(|r| r.seed).collect();
        println!(
            "\n4. sweep: {sweep_seeds} seeds of {} on events, 2 threads, rechecks 1/10: {wall:.1} s wall (target < 20 s), {:.1} seeds/s, failed seeds: {failed:?}",
            scenarios[0].name,
            sweep_seeds as f64 / wall
        );
    }
}
