//! The random nemesis: faults drawn from the run seed on top of the scripted ones.
//!
//! Every `every`, from `start` until `stop`, with probability `intensity`, it picks one of its
//! kinds and a random target, and schedules the fault together with its undoing
//! `fault_duration` later (never past `stop`): a partition and a heal, a crash with a restart,
//! a pause with a resume, a clock step and its reversal, worse link conditions and their
//! restoration to the scenario's. The result is an ordinary fault list, so a failing run's
//! nemesis faults can be written into a scenario file and shrunk like scripted ones.

use crate::scenario::{
    Clock, Conditions, Fault, FaultAction, Heal, Latency, NemesisKind, Scenario,
};
use highstorm_nodes::derive_seed;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// The faults `scenario`'s nemesis injects at `seed` (none without a nemesis).
pub fn nemesis_faults(scenario: &Scenario, seed: u64) -> Vec<Fault> {
    let Some(n) = &scenario.nemesis else {
        return vec![];
    };
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "nemesis", 0));
    let nodes = scenario.node_names();
    let stop = n.stop.unwrap_or(scenario.duration.mul_f64(0.8));
    let baseline = &scenario.network;
    let mut faults = vec![];
    let mut at = n.start + n.every;
    while at < stop {
        if rng.random_bool(n.intensity) {
            let kind = n.kinds[rng.random_range(0..n.kinds.len())];
            let undo_at = (at + n.fault_duration).min(stop);
            let held = undo_at - at;
            let node = nodes[rng.random_range(0..nodes.len())].clone();
            let mut push = |t: Duration, action| faults.push(Fault { at: t, action });
            match kind {
                NemesisKind::Partition | NemesisKind::PartitionOneway if nodes.len() > 1 => {
                    let mut shuffled = nodes.clone();
                    shuffled.shuffle(&mut rng);
                    let split = rng.random_range(1..shuffled.len());
                    let (a, b) = shuffled.split_at(split);
                    let (mut a, mut b) = (a.to_vec(), b.to_vec());
                    a.sort();
                    b.sort();
                    let action = if kind == NemesisKind::Partition {
                        FaultAction::Partition(vec![a, b])
                    } else {
                        FaultAction::PartitionOneway { from: a, to: b }
                    };
                    push(at, action);
                    push(undo_at, FaultAction::Heal(Heal::All));
                }
                NemesisKind::Partition | NemesisKind::PartitionOneway => {}
                NemesisKind::Crash => push(
                    at,
                    FaultAction::Crash {
                        node,
                        restart_after: Some(held),
                    },
                ),
                NemesisKind::Pause => push(
                    at,
                    FaultAction::Pause {
                        node,
                        resume_after: Some(held),
                    },
                ),
                NemesisKind::Skew => {
                    let offset_us = rng.random_range(-1_000_000..=1_000_000);
                    let drift = rng.random_range(-0.05..=0.05);
                    let skew = |skew_us, drift| Clock { skew_us, drift };
                    push(
                        at,
                        FaultAction::Skew {
                            node: node.clone(),
                            clock: skew(offset_us, drift),
                        },
                    );
                    push(
                        undo_at,
                        FaultAction::Skew {
                            node,
                            clock: skew(-offset_us, 0.0),
                        },
                    );
                }
                NemesisKind::Loss | NemesisKind::Duplicate => {
                    let p = (rng.random_range(0.05..0.3_f64) * 100.0).round() / 100.0;
                    let (worse, restore) = if kind == NemesisKind::Loss {
                        let c = |p| Conditions {
                            loss: Some(p),
                            ..Default::default()
                        };
                        (c(p), c(baseline.loss))
                    } else {
                        let c = |p| Conditions {
                            duplicate: Some(p),
                            ..Default::default()
                        };
                        (c(p), c(baseline.duplicate))
                    };
                    network(&mut push, at, undo_at, worse, restore);
                }
                NemesisKind::Latency => {
                    let factor = rng.random_range(2..=10);
                    let slow = Latency {
                        min: baseline.latency.min,
                        max: baseline.latency.max.max(Duration::from_millis(1)) * factor,
                        distribution: baseline.latency.distribution,
                    };
                    network(
                        &mut push,
                        at,
                        undo_at,
                        Conditions {
                            latency: Some(slow),
                            ..Default::default()
                        },
                        Conditions {
                            latency: Some(baseline.latency),
                            ..Default::default()
                        },
                    );
                }
            }
        }
        at += n.every;
    }
    faults.sort_by_key(|f| f.at);
    faults
}

fn network(
    push: &mut impl FnMut(Duration, FaultAction),
    at: Duration,
    undo_at: Duration,
    worse: Conditions,
    restore: Conditions,
) {
    push(
        at,
        FaultAction::Network {
            link: None,
            conditions: worse,
        },
    );
    push(
        undo_at,
        FaultAction::Network {
            link: None,
            conditions: restore,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Nemesis;

    fn scenario(kinds: &[NemesisKind]) -> Scenario {
        Scenario::new("n", "echo")
            .nodes(5)
            .duration(Duration::from_secs(20))
            .nemesis(Nemesis::new(kinds, Duration::from_secs(2)))
    }

    #[test]
    fn draws_from_the_seed_and_stays_within_its_window() {
        let s = scenario(&NemesisKind::ALL);
        let a = nemesis_faults(&s, 7);
        assert_eq!(a, nemesis_faults(&s, 7));
        assert_ne!(a, nemesis_faults(&s, 8));
        assert!(!a.is_empty());
        assert!(a.iter().all(|f| f.at <= Duration::from_secs(16)), "{a:?}");
        let mut with_faults = s.clone();
        with_faults.faults = a;
        with_faults.validate().unwrap();
    }

    #[test]
    fn every_partition_is_healed_and_every_crash_restarted() {
        let s = scenario(&[NemesisKind::Partition, NemesisKind::Crash]);
        for seed in 0..20 {
            let f = nemesis_faults(&s, seed);
            let parts = f.iter().filter(|f| f.action.kind() == "partition").count();
            let heals = f.iter().filter(|f| f.action.kind() == "heal").count();
            assert_eq!(parts, heals);
            assert!(f.iter().all(|f| !matches!(
                f.action,
                FaultAction::Crash {
                    restart_after: None,
                    ..
                }
            )));
        }
    }

    #[test]
    fn intensity_thins_the_faults() {
        let mut s = scenario(&[NemesisKind::Crash]);
        let full: usize = (0..50).map(|seed| nemesis_faults(&s, seed).len()).sum();
        s.nemesis.as_mut().unwrap().intensity = 0.25;
        let quarter: usize = (0..50).map(|seed| nemesis_faults(&s, seed).len()).sum();
        assert!(
            quarter * 3 < full && quarter * 6 > full,
            "{quarter} vs {full}"
        );
    }
}
