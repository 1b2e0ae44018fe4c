//! Bridge Four at scale, on the `events` engine, and the leader's cost per event.
//!
//! ```text
//! cargo bench -p highstorm --bench bridge_four
//! ```
//!
//! 1. One job of 1,000 tasks (one small generated file each) on 10 workers x 4 slots, with a
//!    worker crash (0.7 s) and a leader crash (1.2 s) in the middle: wall time, simulated time until the job is
//!    Done, and the checkers' verdicts.
//! 2. The leader alone (its sans-IO node driven directly, no engine, no work): the wall time
//!    per handled event (assignments, reports, heartbeats) while the leader holds 100, 1,000
//!    and 10,000 tasks. Flat means the cost per event does not grow with the number of tasks.

use highstorm_systems::system;

use highstorm::engine::Engine;
use highstorm::runner::{run_seed, Recheck};
use highstorm::trace::EventKind;
use highstorm::Scenario;
use highstorm_nodes::testing::Harness;
use highstorm_nodes::Duration as LocalDuration;
use highstorm_systems::bridge_four::{
    BridgeFour, BridgeFourConfig, BridgeFourMsg, BridgeFourNote, JobStatus, TaskOutput,
};
use std::time::{Duration, Instant};

fn big_job(tasks: u32) -> Scenario {
    let ms = Duration::from_millis;
    Scenario::new("bridge-four-1000", "bridge-four")
        .engine(Engine::Events)
        .nodes(11)
        .duration(Duration::from_secs(60))
        .latency(ms(1)..ms(10))
        .loss(0.01)
        .workload(1, 1.0)
        .client_timeout(ms(500))
        .config(serde_json::json!({
            "slots": 4,
            "jobs": 1,
            "files_per_job": tasks,
            "corpus": {"files": tasks, "words": 300, "seed": 1},
        }))
        .crash_at(ms(700), "n3", Some(ms(500)))
        .crash_at(ms(1200), "n0", Some(ms(300)))
}

fn full_run(tasks: u32) {
    let s = big_job(tasks);
    let start = Instant::now();
    let r = run_seed(system(&s), &s, 1, Recheck::Once).expect("runs");
    let wall = start.elapsed().as_secs_f64();
    let out = highstorm::engine::run(system(&s), &s, 1).expect("runs");
    let done_at = out
        .trace
        .notes::<BridgeFourNote>()
        .map(|n| n.expect("the leader's notes decode"))
        .find(|n| {
            matches!(
                n.note,
                BridgeFourNote::Job {
                    to: JobStatus::Done,
                    ..
                }
            )
        })
        .map(|n| n.at_us as f64 / 1e6);
    let delivered = out
        .trace
        .events()
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Deliver { dest, .. } if dest == "n0"))
        .count();
    println!(
        "{tasks} tasks, 10 workers x 4 slots, worker and leader crash: {} ({} checks), job Done at {} s simulated; \
         60 s simulated in {wall:.2} s wall (with checkers) = {:.0}x real time; {} trace events, {delivered} messages to the leader",
        if r.ok { "all checks pass" } else { "CHECKS FAILED" },
        r.checks.len(),
        done_at.map_or("never".into(), |t| format!("{t:.2}")),
        60.0 / wall,
        out.trace.events().len(),
    );
    for c in r.checks.iter().filter(|c| !c.ok) {
        println!("  {}: {}", c.name, c.detail);
    }
}

/// Drives a leader through `total` tasks (in jobs of at most 1,000) with 10 workers x 4 slots,
/// completing every assignment at once; returns (events handled, wall seconds).
fn leader_alone(total: u32) -> (u64, f64) {
    let cfg = BridgeFourConfig {
        leader: "n0".into(),
        slots: 4,
        ..BridgeFourConfig::default()
    };
    let workers: Vec<String> = (1..=10).map(|i| format!("n{i}")).collect();
    let peers: Vec<&str> = workers.iter().map(String::as_str).collect();
    let mut h = Harness::new(BridgeFour::new(cfg, "n0", false), "n0", &peers);
    let mut msg_id = 1000;
    let mut events = 0u64;
    let start = Instant::now();
    let mut left = total;
    let mut job = 0;
    while left > 0 {
        let n = left.min(1000);
        left -= n;
        // Every worker heartbeats (alive, nothing running) before each job.
        for w in &workers {
            msg_id += 1;
            let hb = BridgeFourMsg::Heartbeat {
                boot: 0,
                slots: 4,
                seen: (0, 0),
                running: vec![],
                finished: vec![],
            };
            h.request(w, msg_id, &hb);
            events += 1;
        }
        job += 1;
        msg_id += 1;
        let inputs = (0..n).map(|i| format!("corpus/j{job}-{i}.txt")).collect();
        let mut sent = h.request(
            "c0",
            msg_id,
            &BridgeFourMsg::SubmitJob {
                name: format!("job {job}"),
                kind: "wordcount".into(),
                inputs,
                output: None,
                token: None,
            },
        );
        events += 1;
        // Complete every assignment as it comes; each completion frees a slot for the next.
        while let Some(m) = sent.pop() {
            if let BridgeFourMsg::Assign {
                attempt, output, ..
            } = m.body
            {
                msg_id += 1;
                let done = BridgeFourMsg::TaskDone {
                    attempt,
                    result: Ok(TaskOutput { output, words: 1 }),
                };
                sent.extend(h.request(&m.dest, msg_id, &done));
                // The harness keeps notes and storage writes; drop them so its own
                // bookkeeping does not grow with the run.
                h.outputs.clear();
                events += 1;
            }
        }
        // Let the timers run (dead-worker checks) and aggregation be asked for.
        h.advance(LocalDuration::from_millis(100));
    }
    (events, start.elapsed().as_secs_f64())
}

fn main() {
    println!("Bridge Four on the events engine");
    full_run(1000);
    println!();
    println!("the leader alone: wall time per event as the tasks it holds grow");
    println!(
        "{:>8} {:>10} {:>12} {:>14}",
        "tasks", "events", "wall (s)", "us per event"
    );
    let mut first = None;
    for total in [100, 1_000, 10_000] {
        let (events, secs) = leader_alone(total);
        let per = secs * 1e6 / events as f64;
        let base = *first.get_or_insert(per);
        println!(
            "{total:>8} {events:>10} {secs:>12.3} {per:>14.2}   ({:.2}x the 100-task cost)",
            per / base
        );
    }
}
