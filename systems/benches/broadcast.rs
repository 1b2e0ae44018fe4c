//! Broadcast efficiency: every strategy on the same 25-node, 100 ops/s, 100 ms latency, 20 s
//! scenario and the same seeds, printed as one table: msgs-per-op (servers, all), stable
//! latency p50/p95/p99/max, whether it converged under the partition nemesis, and simulated
//! seconds per wall second.
//!
//! ```text
//! cargo bench -p highstorm --bench broadcast
//! HIGHSTORM_BENCH_SEEDS=5 cargo bench -p highstorm --bench broadcast
//! ```
//!
//! The scenarios are `scenarios/broadcast-efficient.toml` and
//! `scenarios/broadcast-efficient-partition.toml`, with `[config] strategy` set per row.

use highstorm_systems::system;

use highstorm::runner::{run_seed, Recheck};
use highstorm::Scenario;
use std::path::Path;
use std::time::Instant;

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn with_strategy(s: &Scenario, strategy: &str) -> Scenario {
    let mut s = s.clone();
    let mut config = s.config.as_object().cloned().unwrap_or_default();
    config.insert("strategy".into(), strategy.into());
    s.config = serde_json::Value::Object(config);
    s
}

fn max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max)
}

fn main() {
    let seeds: u64 = std::env::var("HIGHSTORM_BENCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let calm = load("broadcast-efficient");
    let stormy = load("broadcast-efficient-partition");
    println!(
        "broadcast efficiency: {} nodes, {} ops/s, latency {:?}..{:?}, {:?}, seeds 0..{seeds}",
        calm.nodes,
        calm.workload.rate,
        calm.network.latency.min,
        calm.network.latency.max,
        calm.duration
    );
    println!(
        "{:<8} {:>7} {:>6} | {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} | {:>11} {:>7}",
        "strategy",
        "msgs/op",
        "all",
        "p50",
        "p95",
        "p99",
        "max",
        "M-p50",
        "M-max",
        "partitions",
        "sim-s/s"
    );
    for strategy in ["flood", "grid", "tree", "star", "best"] {
        let (mut server, mut all, mut p50, mut p95, mut p99, mut worst) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut sim, mut wall) = (0.0, 0.0);
        let (mut m50, mut mmax) = (vec![], vec![]);
        let s = with_strategy(&calm, strategy);
        for seed in 0..seeds {
            let start = Instant::now();
            let r = run_seed(system(&s), &s, seed, Recheck::Once).expect("runs");
            wall += start.elapsed().as_secs_f64();
            sim += r.sim_time_s;
            let converged = |r: &highstorm::SeedReport| {
                r.checks
                    .iter()
                    .any(|c| c.name == "broadcast-converges" && c.ok)
            };
            assert!(converged(&r), "{strategy} seed {seed}: {:?}", r.checks);
            server.push(r.metrics.msgs_per_op);
            all.push(r.metrics.msgs_per_op_all);
            let l = r.metrics.stable_latency_ms.expect("stable latency");
            p50.push(l.p50);
            p95.push(l.p95);
            p99.push(l.p99);
            worst.push(l.max);
            if let Some(m) = r.metrics.maelstrom_stable_latency_ms {
                m50.push(m.p50);
                mmax.push(m.max);
            }
        }
        let s = with_strategy(&stormy, strategy);
        let converged = (0..seeds).all(|seed| {
            let r = run_seed(system(&s), &s, seed, Recheck::Once).expect("runs");
            r.checks
                .iter()
                .any(|c| c.name == "broadcast-converges" && c.ok)
        });
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let verdict = if converged {
            "converged"
        } else {
            "LOST VALUES"
        };
        println!(
            "{strategy:<8} {:>7.2} {:>6.2} | {:>6.0} {:>6.0} {:>6.0} {:>6.0} | {:>6.0} {:>6.0} | {verdict:>11} {:>7.1}",
            mean(&server),
            mean(&all),
            mean(&p50),
            mean(&p95),
            mean(&p99),
            max(worst.into_iter()),
            mean(&m50),
            max(mmax.into_iter()),
            sim / wall
        );
    }
    println!("stable latency in ms: p50..max exact (broadcast invoked -> every node holds it);");
    println!(
        "M-p50/M-max: Maelstrom's read-sampled definition (acknowledged -> last read missing it)."
    );
    println!("msgs/op and percentiles are means over seeds; max is the worst over seeds.");
}
