//! Sweep throughput: seeds per second for a 5-node and a 25-node 20 s scenario, with one and
//! with two parallel jobs, side by side with the parallel speed-up.
//!
//! ```text
//! cargo bench -p highstorm --bench sweep
//! HIGHSTORM_BENCH_SEEDS=40 cargo bench -p highstorm --bench sweep
//! ```
//!
//! The scenario: unique ids under a crash / partition / pause nemesis, 2 clients at 100 ops/s,
//! 1–20 ms latency, 1% loss, the turmoil engine at a 1 ms tick. Determinism rechecks are off
//! (`failures` policy) so the figure is pure run throughput; the default `1/10` sampling costs
//! about 10% more.

use highstorm_systems::system;

#[path = "../src/allocator.rs"]
mod allocator;

use highstorm::scenario::{Nemesis, NemesisKind};
use highstorm::sweep::{plan, sweep, RecheckPolicy};
use highstorm::Scenario;
use std::time::{Duration, Instant};

fn scenario(nodes: usize) -> Scenario {
    let ms = Duration::from_millis;
    Scenario::new(&format!("sweep-{nodes}"), "unique-ids")
        .nodes(nodes)
        .duration(Duration::from_secs(20))
        .latency(ms(1)..ms(20))
        .loss(0.01)
        .workload(2, 100.0)
        .client_timeout(ms(300))
        .nemesis(Nemesis::new(
            &[
                NemesisKind::Crash,
                NemesisKind::Partition,
                NemesisKind::Pause,
            ],
            ms(2000),
        ))
}

fn seeds_per_second(s: &Scenario, seeds: u64, jobs: usize) -> f64 {
    let scenarios = [s.clone()];
    let runs = plan(&scenarios, |_| (0..seeds).collect(), None);
    let start = Instant::now();
    let systems = [system(s)];
    let reports = sweep(
        &systems,
        &scenarios,
        &runs,
        jobs,
        RecheckPolicy::Failures,
        &|_| {},
    )
    .expect("sweep runs");
    let secs = start.elapsed().as_secs_f64();
    let failed = reports.iter().filter(|r| !r.ok).count();
    assert_eq!(failed, 0, "the benchmark scenario must pass");
    seeds as f64 / secs
}

fn main() {
    allocator::keep_freed_memory();
    let seeds: u64 = std::env::var("HIGHSTORM_BENCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("sweep throughput: unique-ids + nemesis, 20 s simulated per seed, turmoil engine, {cores} cores");
    println!(
        "{:<6} {:>6} {:>18} {:>18} {:>9} {:>14}",
        "nodes", "seeds", "jobs=1 (seeds/s)", "jobs=2 (seeds/s)", "speed-up", "sim-s/s (j=2)"
    );
    for nodes in [5, 25] {
        // 25 nodes cost about 10x per seed: sweep fewer.
        let n = if nodes > 5 { (seeds / 4).max(2) } else { seeds };
        let s = scenario(nodes);
        let one = seeds_per_second(&s, n, 1);
        let two = seeds_per_second(&s, n, 2);
        println!(
            "{nodes:<6} {n:>6} {one:>18.2} {two:>18.2} {:>8.2}x {:>14.0}",
            two / one,
            two * 20.0
        );
    }
}
