//! The random nemesis: faults drawn from the run seed on top of the scripted ones.
//!
//! Every `every`, from `start` until `stop`, with probability `intensity`, it picks one of its
//! kinds and a random target, and schedules the fault together with its undoing
//! `fault_duration` later (never past `stop`): a partition and a heal, a crash with a restart,
//! a pause with a resume, a clock step and its reversal, worse link conditions and their
//! restoration to the scenario's. With `overlap = true` each family of kinds (cuts, crashes,
//! pauses, clock steps, loss, duplication, latency) runs such a schedule of its own, from its
//! own stream of the seed, so faults of different families overlap. The result is an
//! ordinary fault list, so a failing run's nemesis faults can be written into a scenario file
//! and shrunk like scripted ones.
//!
//! A swarm nemesis (`swarm = true`) first draws, from its own stream of the seed, the concrete
//! nemesis of this seed ([`swarm_draw`]): which of its kinds are on, how intense and how long
//! its faults are, and whether families overlap. Then it draws faults as above.

use crate::scenario::{
    Clock, Conditions, Fault, FaultAction, FaultFamily, Heal, Latency, Nemesis, NemesisKind,
    Scenario,
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
    let drawn;
    let n = if n.swarm {
        drawn = swarm_draw(n, seed);
        &drawn
    } else {
        n
    };
    let mut faults = vec![];
    if n.overlap {
        // One schedule per family, each from its own stream of the seed and starting at its
        // own offset into the first period, so families overlap without moving in step.
        for (i, family) in FaultFamily::ALL.into_iter().enumerate() {
            let kinds: Vec<NemesisKind> = n
                .kinds
                .iter()
                .copied()
                .filter(|k| k.family() == family)
                .collect();
            if kinds.is_empty() {
                continue;
            }
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "nemesis", 1 + i as u64));
            let offset = n.every.mul_f64(rng.random_range(0.0..1.0));
            draw(scenario, n, &kinds, n.start + offset, &mut rng, &mut faults);
        }
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "nemesis", 0));
        draw(
            scenario,
            n,
            &n.kinds,
            n.start + n.every,
            &mut rng,
            &mut faults,
        );
    }
    faults.sort_by_key(|f| f.at);
    faults
}

/// The nemesis a swarm nemesis `n` is at `seed`: each of its kinds on with probability one
/// half (at least one always is), an intensity between a quarter of `n.intensity` and all of
/// it, faults lasting from a quarter of `every` to all of it, and (when two families are on)
/// overlapping families with probability one half. Drawn from a stream of the seed of its own,
/// so the faults that follow are the ordinary nemesis's. A nemesis that is no swarm is
/// returned as it is.
pub fn swarm_draw(n: &Nemesis, seed: u64) -> Nemesis {
    if !n.swarm {
        return n.clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "swarm", 0));
    // One coin per kind, in the nemesis's order, whatever the outcome: adding a kind to the
    // list changes only the draws after it.
    let mut kinds: Vec<NemesisKind> = n
        .kinds
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    let forced = n.kinds[rng.random_range(0..n.kinds.len())];
    if kinds.is_empty() {
        kinds.push(forced);
    }
    let intensity = (n.intensity * rng.random_range(0.25..=1.0_f64) * 100.0).round() / 100.0;
    let quarter = n.every / 4;
    let fault_duration = quarter + (n.every - quarter).mul_f64(rng.random_range(0.0..=1.0));
    let mut families: Vec<FaultFamily> = kinds.iter().map(|k| k.family()).collect();
    families.sort();
    families.dedup();
    let overlap = rng.random_bool(0.5) && families.len() > 1;
    Nemesis {
        kinds,
        intensity: intensity.max(0.01),
        fault_duration: fault_duration.max(Duration::from_millis(1)),
        overlap,
        swarm: false,
        ..n.clone()
    }
}

/// The fault kinds `scenario`'s swarm nemesis turns on at `seed` (`None` without a swarm
/// nemesis).
pub fn swarm_kinds(scenario: &Scenario, seed: u64) -> Option<Vec<NemesisKind>> {
    let n = scenario.nemesis.as_ref().filter(|n| n.swarm)?;
    Some(swarm_draw(n, seed).kinds)
}

/// One schedule: a chance every `n.every` from `first` until the nemesis stops, each drawing
/// one of `kinds` with probability `n.intensity`.
fn draw(
    scenario: &Scenario,
    n: &Nemesis,
    kinds: &[NemesisKind],
    first: Duration,
    rng: &mut ChaCha8Rng,
    faults: &mut Vec<Fault>,
) {
    let nodes = scenario.node_names();
    let stop = scenario
        .nemesis_stop()
        .unwrap_or(scenario.duration.mul_f64(0.8));
    let baseline = &scenario.network;
    let mut at = first;
    while at < stop {
        if rng.random_bool(n.intensity) {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let undo_at = (at + n.fault_duration).min(stop);
            let held = undo_at - at;
            let node = nodes[rng.random_range(0..nodes.len())].clone();
            let mut push = |t: Duration, action| faults.push(Fault { at: t, action });
            match kind {
                NemesisKind::Partition | NemesisKind::PartitionOneway if nodes.len() > 1 => {
                    let mut shuffled = nodes.clone();
                    shuffled.shuffle(rng);
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
                NemesisKind::Storage => {
                    if rng.random_bool(0.5) {
                        push(at, FaultAction::Corrupt { node, key: None });
                    } else {
                        push(
                            at,
                            FaultAction::DiskFull {
                                node,
                                free_after: Some(held),
                            },
                        );
                    }
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
        Scenario::new("n", "ids")
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

    /// The windows `[fault, undo)` of each fault with its family: a partition to its heal, a
    /// network change to its restoration, a crash or pause over its `_after`, a skew to its
    /// reversal.
    fn windows(faults: &[Fault]) -> Vec<(FaultFamily, Duration, Duration)> {
        let mut out = vec![];
        let mut open: Vec<(FaultFamily, Duration)> = vec![];
        // A fault of a family that is open undoes it (the nemesis never overlaps a family with
        // itself, which is what the tests below check on the windows).
        let mut toggle = |family, at: Duration, out: &mut Vec<_>| match open
            .iter()
            .position(|(f, _)| *f == family)
        {
            Some(i) => {
                let (_, from) = open.remove(i);
                out.push((family, from, at));
            }
            None => open.push((family, at)),
        };
        for f in faults {
            match &f.action {
                FaultAction::Partition(_)
                | FaultAction::PartitionOneway { .. }
                | FaultAction::Heal(_) => toggle(FaultFamily::Cut, f.at, &mut out),
                FaultAction::Crash { restart_after, .. } => out.push((
                    FaultFamily::Crash,
                    f.at,
                    f.at + restart_after.expect("restarted"),
                )),
                FaultAction::Pause { resume_after, .. } => out.push((
                    FaultFamily::Pause,
                    f.at,
                    f.at + resume_after.expect("resumed"),
                )),
                FaultAction::Skew { .. } => toggle(FaultFamily::Skew, f.at, &mut out),
                FaultAction::Network { conditions, .. } => {
                    let family = if conditions.loss.is_some() {
                        FaultFamily::Loss
                    } else if conditions.duplicate.is_some() {
                        FaultFamily::Duplicate
                    } else {
                        FaultFamily::Latency
                    };
                    toggle(family, f.at, &mut out)
                }
                FaultAction::DiskFull { free_after, .. } => out.push((
                    FaultFamily::Storage,
                    f.at,
                    f.at + free_after.expect("freed"),
                )),
                // Damage is instant: a window of no length.
                FaultAction::Corrupt { .. } => out.push((FaultFamily::Storage, f.at, f.at)),
                other => panic!("the nemesis does not inject {other:?}"),
            }
        }
        assert!(open.is_empty(), "faults never undone: {open:?}");
        out
    }

    /// Pairs of windows active at the same time: (same family, different families).
    fn overlaps(w: &[(FaultFamily, Duration, Duration)]) -> (usize, usize) {
        let (mut same, mut across) = (0, 0);
        for (i, a) in w.iter().enumerate() {
            for b in &w[i + 1..] {
                if a.1 < b.2 && b.1 < a.2 {
                    if a.0 == b.0 {
                        same += 1;
                    } else {
                        across += 1;
                    }
                }
            }
        }
        (same, across)
    }

    #[test]
    fn without_overlap_one_fault_at_a_time() {
        let s = scenario(&NemesisKind::ALL);
        for seed in 0..50 {
            let w = windows(&nemesis_faults(&s, seed));
            assert!(!w.is_empty());
            assert_eq!(overlaps(&w), (0, 0), "seed {seed}: {w:?}");
        }
    }

    #[test]
    fn with_overlap_families_overlap_but_never_themselves() {
        let mut s = scenario(&NemesisKind::ALL);
        s.nemesis = s.nemesis.map(|n| Nemesis {
            fault_duration: Duration::from_millis(1500),
            ..n.overlapping()
        });
        s.validate().unwrap();
        let mut across = 0;
        let mut crash_while_cut = 0;
        for seed in 0..50 {
            let f = nemesis_faults(&s, seed);
            assert_eq!(f, nemesis_faults(&s, seed));
            assert!(f.iter().all(|f| f.at <= Duration::from_secs(16)), "{f:?}");
            let w = windows(&f);
            let (same, a) = overlaps(&w);
            assert_eq!(same, 0, "seed {seed}: a family overlaps itself: {w:?}");
            across += a;
            let cuts: Vec<_> = w.iter().filter(|x| x.0 == FaultFamily::Cut).collect();
            crash_while_cut += w
                .iter()
                .filter(|x| x.0 == FaultFamily::Crash)
                .filter(|c| cuts.iter().any(|p| p.1 <= c.1 && c.1 < p.2))
                .count();
        }
        // Seven families, each active 75% of the time: overlaps are the rule.
        assert!(across > 50 * 20, "{across} overlapping pairs over 50 seeds");
        assert!(
            crash_while_cut > 50,
            "{crash_while_cut} crashes while cut off"
        );
    }

    #[test]
    fn overlap_needs_two_families_and_faults_no_longer_than_every() {
        // With one family only, overlapping is refused: there is nothing to overlap with.
        let mut s = scenario(&[NemesisKind::Partition, NemesisKind::PartitionOneway]);
        s.nemesis = s.nemesis.map(Nemesis::overlapping);
        let e = s.validate().unwrap_err();
        assert_eq!(e.key, "nemesis.overlap");
        let mut s = scenario(&[NemesisKind::Partition, NemesisKind::Crash]);
        s.nemesis = s.nemesis.map(|n| Nemesis {
            fault_duration: Duration::from_secs(3),
            ..n.overlapping()
        });
        let e = s.validate().unwrap_err();
        assert_eq!(e.key, "nemesis.fault_duration");
    }

    #[test]
    fn a_swarm_draws_a_different_fault_mix_per_seed_from_the_seed_alone() {
        let mut s = scenario(&NemesisKind::ALL);
        s.nemesis.as_mut().unwrap().swarm = true;
        s.validate().unwrap();
        let mut on = [0usize; NemesisKind::ALL.len()];
        let mut mixes = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let kinds = swarm_kinds(&s, seed).unwrap();
            assert_eq!(kinds, swarm_kinds(&s, seed).unwrap());
            assert!(!kinds.is_empty());
            let drawn = swarm_draw(s.nemesis.as_ref().unwrap(), seed);
            assert!(!drawn.swarm);
            assert!(drawn.intensity > 0.0 && drawn.intensity <= 1.0);
            assert!(drawn.fault_duration >= Duration::from_millis(500));
            assert!(drawn.fault_duration <= Duration::from_secs(2));
            for (i, k) in NemesisKind::ALL.iter().enumerate() {
                on[i] += usize::from(kinds.contains(k));
            }
            // The faults are of the kinds that are on, and only those.
            for f in nemesis_faults(&s, seed) {
                let family = match &f.action {
                    FaultAction::Partition(_)
                    | FaultAction::PartitionOneway { .. }
                    | FaultAction::Heal(_) => FaultFamily::Cut,
                    FaultAction::Crash { .. } => FaultFamily::Crash,
                    FaultAction::Pause { .. } => FaultFamily::Pause,
                    FaultAction::Skew { .. } => FaultFamily::Skew,
                    FaultAction::Corrupt { .. }
                    | FaultAction::DiskFull { .. }
                    | FaultAction::DiskFree(_) => FaultFamily::Storage,
                    FaultAction::Network { .. } => continue,
                    other => panic!("{other:?}"),
                };
                assert!(
                    kinds.iter().any(|k| k.family() == family),
                    "seed {seed}: {f:?} with {kinds:?}"
                );
            }
            mixes.insert(kinds);
        }
        // Each kind is on in about half the seeds, and the mixes vary.
        assert!(on.iter().all(|&n| (70..=130).contains(&n)), "{on:?}");
        assert!(mixes.len() > 100, "{} mixes", mixes.len());
        // Without swarm nothing is drawn.
        assert_eq!(swarm_kinds(&scenario(&NemesisKind::ALL), 1), None);
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
