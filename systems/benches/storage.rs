//! The cost of storage faults on run speed, side by side in one run (events engine): each
//! storage scenario as shipped, and the same scenario without storage faults (no `[storage]`
//! table, its `corrupt` / `disk_full` faults and nemesis kind `storage` removed). Prints x real
//! time (simulated seconds per wall second of the engine run) for both, and their ratio.
//!
//! ```text
//! cargo bench -p highstorm-systems --bench storage
//! HIGHSTORM_BENCH_SEEDS=40 cargo bench -p highstorm-systems --bench storage
//! ```
//! Wall-clock timing here is the bench's own; nothing inside a simulated run reads a clock.

use highstorm::engine;
use highstorm::scenario::{FaultAction, NemesisKind, StorageFaults};
use highstorm::Scenario;
use highstorm_systems::system;
use std::time::Instant;

fn without_storage_faults(s: &Scenario) -> Scenario {
    let mut plain = s.clone();
    plain.storage = StorageFaults::default();
    plain.faults.retain(|f| {
        !matches!(
            f.action,
            FaultAction::Corrupt { .. } | FaultAction::DiskFull { .. } | FaultAction::DiskFree(_)
        )
    });
    if let Some(n) = &mut plain.nemesis {
        n.kinds.retain(|k| *k != NemesisKind::Storage);
    }
    plain
}

/// x real time over `seeds` seeds (engine run only).
fn speed(s: &Scenario, seeds: u64) -> f64 {
    let mut wall = 0.0;
    for seed in 0..seeds {
        let start = Instant::now();
        let out = engine::run(system(s), s, seed).expect("the scenario runs");
        wall += start.elapsed().as_secs_f64();
        std::hint::black_box(out.trace.events().len());
    }
    s.duration.as_secs_f64() * seeds as f64 / wall
}

fn main() {
    let seeds = std::env::var("HIGHSTORM_BENCH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    println!("| scenario | seeds | with storage faults (x real time) | without | cost |");
    println!("|---|---|---|---|---|");
    for name in [
        "work-queue-storage",
        "bridge-four-storage",
        "election-storage",
    ] {
        let s = Scenario::load(&dir.join(format!("{name}.toml"))).expect("scenario loads");
        let plain = without_storage_faults(&s);
        // Interleaved, twice, the faster counted: this machine's speed drifts.
        let with = speed(&s, seeds).max(speed(&s, seeds));
        let without = speed(&plain, seeds).max(speed(&plain, seeds));
        println!(
            "| {name} | {seeds} | {with:.0}x | {without:.0}x | {:.2}x slower |",
            without / with
        );
    }
}
