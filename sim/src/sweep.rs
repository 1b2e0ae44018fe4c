//! Sweeps: many (scenario, seed) runs, in parallel on threads (each run is independent and
//! single-threaded inside), split into shards for external runners, with determinism
//! rechecked on a sample of seeds and on every failure.

use crate::engine::EngineError;
use crate::runner::{recheck_determinism, run_seed, Recheck, SeedReport};
use crate::scenario::Scenario;
use crate::system::System;
use crate::trace::Trace;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One part of a sweep split `count` ways: runs number `index`, `index + count`, ... of the
/// plan. `K/N` on the command line, 0-based like Kubernetes Indexed Jobs (`0/4` .. `3/4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad shard {s:?}: expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Which runs are executed twice to check determinism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecheckPolicy {
    /// Every run.
    All,
    /// Every `n`-th run of the plan, and every failing run.
    Sample(usize),
    /// Only failing runs (whose repro must be trustworthy).
    Failures,
}

impl FromStr for RecheckPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(RecheckPolicy::All),
            "failures" => Ok(RecheckPolicy::Failures),
            _ => match s.strip_prefix("1/").map(str::parse) {
                Some(Ok(n)) if n > 0 => Ok(RecheckPolicy::Sample(n)),
                _ => Err(format!(
                    "bad recheck policy {s:?}: expected all, failures, or 1/N (every N-th run)"
                )),
            },
        }
    }
}

/// The runs of a sweep, in order: (index into the scenarios, seed).
pub fn plan(
    scenarios: &[Scenario],
    seeds_of: impl Fn(&Scenario) -> Vec<u64>,
    shard: Option<Shard>,
) -> Vec<(usize, u64)> {
    let all = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| seeds_of(s).into_iter().map(move |seed| (i, seed)));
    match shard {
        None => all.collect(),
        Some(sh) => all
            .enumerate()
            .filter(|(n, _)| n % sh.count == sh.index)
            .map(|(_, run)| run)
            .collect(),
    }
}

/// Runs every planned run on `jobs` threads; calls `done` as each finishes (from the worker
/// thread). `systems[i]` is the system of `scenarios[i]`. Returns the reports in plan order.
/// Passing runs' traces are dropped to bound memory; failing runs keep theirs.
pub fn sweep(
    systems: &[&System],
    scenarios: &[Scenario],
    plan: &[(usize, u64)],
    jobs: usize,
    recheck: RecheckPolicy,
    done: &(dyn Fn(&SeedReport) + Sync),
) -> Result<Vec<SeedReport>, EngineError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SeedReport, EngineError>>>> =
        Mutex::new((0..plan.len()).map(|_| None).collect());
    let workers = jobs.clamp(1, plan.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(si, seed)) = plan.get(i) else {
                    break;
                };
                let (system, scenario) = (systems[si], &scenarios[si]);
                let twice = match recheck {
                    RecheckPolicy::All => true,
                    RecheckPolicy::Sample(n) => i % n == 0,
                    RecheckPolicy::Failures => false,
                };
                let result = run_seed(
                    system,
                    scenario,
                    seed,
                    if twice { Recheck::Twice } else { Recheck::Once },
                )
                .and_then(|mut r| {
                    if !r.ok && !twice {
                        recheck_determinism(system, scenario, &mut r)?;
                    }
                    if r.ok {
                        r.trace = Trace::new();
                    }
                    Ok(r)
                });
                if let Ok(r) = &result {
                    done(r);
                }
                let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
                all[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(EngineError::Sim("a sweep worker died".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shards_partition_the_plan() {
        let s = vec![
            Scenario::new("a", "ids").seeds(0..5),
            Scenario::new("b", "ids").seeds(10..13),
        ];
        let full = plan(&s, |s| s.seeds.clone().collect(), None);
        assert_eq!(full.len(), 8);
        let mut joined: Vec<(usize, u64)> = (0..3)
            .flat_map(|k| {
                plan(
                    &s,
                    |s| s.seeds.clone().collect(),
                    Some(Shard { index: k, count: 3 }),
                )
            })
            .collect();
        joined.sort();
        assert_eq!(joined, full);
        assert!("3/3".parse::<Shard>().is_err());
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(
            "1/10".parse::<RecheckPolicy>(),
            Ok(RecheckPolicy::Sample(10))
        );
    }

    #[test]
    fn parallel_sweeps_give_the_same_reports_as_serial_ones() {
        let ms = Duration::from_millis;
        let s = vec![Scenario::new("p", "ids")
            .duration(ms(3000))
            .loss(0.05)
            .crash_at(ms(400), "n1", Some(ms(300)))];
        let p = plan(&s, |_| (0..6).collect(), None);
        let ids = crate::testing::fixture::ids();
        let systems = [&ids];
        let hashes = |jobs| -> Vec<String> {
            sweep(&systems, &s, &p, jobs, RecheckPolicy::Sample(2), &|_| {})
                .unwrap()
                .into_iter()
                .map(|r| {
                    assert!(r.ok, "{:?}", r.checks);
                    r.trace_hash
                })
                .collect()
        };
        assert_eq!(hashes(1), hashes(2));
    }
}
