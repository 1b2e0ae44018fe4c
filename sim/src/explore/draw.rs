//! New faults for explore's mutants, one kind at a time, from the kinds the search may use
//! (the nemesis kinds: cuts, crashes, pauses, clock steps, loss, duplication, latency,
//! storage). Each is written as plain `[[faults]]` with its own undoing, so a mutant stays a
//! scenario a person can read.

use super::mutate::{within, Window};
use crate::scenario::{
    Clock, Conditions, Fault, FaultAction, Heal, Latency, NemesisKind, Scenario,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// A random new fault of one of `kinds` within `window`, with whatever undoes it (the heal
/// of a cut, the network set back, a clock stepped back). `kinds` must not be empty.
pub(super) fn new_fault(
    s: &Scenario,
    kinds: &[NemesisKind],
    rng: &mut ChaCha8Rng,
    window: Window,
) -> Vec<Fault> {
    let nodes = s.node_names();
    let node = |rng: &mut ChaCha8Rng| nodes[rng.random_range(0..nodes.len())].clone();
    if window.is_empty() {
        return vec![];
    }
    let max_len = (window.len() / 3).max(Duration::from_millis(50));
    let len = Duration::from_millis(rng.random_range(50..=max_len.as_millis().max(51) as u64));
    let at = window.start + within(rng, window.len().saturating_sub(len));
    let one = |action| vec![Fault { at, action }];
    // No crash where the schedule leaves no node to crash (see `crashable`).
    let crash_room = !crashable(s).is_empty();
    let kinds: Vec<NemesisKind> = kinds
        .iter()
        .copied()
        .filter(|k| crash_room || *k != NemesisKind::Crash)
        .collect();
    if kinds.is_empty() {
        return vec![];
    }
    let kind = kinds[rng.random_range(0..kinds.len())];
    match kind {
        NemesisKind::Partition | NemesisKind::PartitionOneway if nodes.len() > 1 => {
            let (a, b) = split(&nodes, rng);
            let cut = if kind == NemesisKind::Partition {
                FaultAction::Partition(vec![a, b])
            } else {
                FaultAction::PartitionOneway { from: a, to: b }
            };
            vec![
                Fault { at, action: cut },
                Fault {
                    at: at + len,
                    action: FaultAction::Heal(Heal::All),
                },
            ]
        }
        NemesisKind::Partition | NemesisKind::PartitionOneway | NemesisKind::Crash
            if crash_room =>
        {
            crashes(s, rng, window, at, len)
        }
        NemesisKind::Partition | NemesisKind::PartitionOneway | NemesisKind::Crash => vec![],
        NemesisKind::Pause => one(FaultAction::Pause {
            node: node(rng),
            resume_after: Some(len),
        }),
        NemesisKind::Skew => {
            let n = node(rng);
            let skew_us = rng.random_range(-1_000_000..=1_000_000);
            let drift = (rng.random_range(-0.05..=0.05_f64) * 1000.0).round() / 1000.0;
            let mut out = one(FaultAction::Skew {
                node: n.clone(),
                clock: Clock { skew_us, drift },
            });
            if rng.random_bool(0.5) {
                // Stepped back later (its drift stays: the liveness phase or the run's end
                // sets it right).
                out.push(Fault {
                    at: at + len,
                    action: FaultAction::Skew {
                        node: n,
                        clock: Clock {
                            skew_us: -skew_us,
                            drift: 0.0,
                        },
                    },
                });
            }
            out
        }
        NemesisKind::Loss | NemesisKind::Duplicate | NemesisKind::Latency => {
            let net = &s.network;
            let p = (rng.random_range(0.05..0.3_f64) * 100.0).round() / 100.0;
            let worse = match kind {
                NemesisKind::Loss => Conditions {
                    loss: Some(p),
                    ..Default::default()
                },
                NemesisKind::Duplicate => Conditions {
                    duplicate: Some(p),
                    ..Default::default()
                },
                // Slower and more spread out: messages overtake each other.
                _ => Conditions {
                    latency: Some(Latency {
                        min: net.latency.min,
                        max: net.latency.max.max(Duration::from_millis(1))
                            * rng.random_range(2..=10),
                        distribution: net.latency.distribution,
                    }),
                    ..Default::default()
                },
            };
            vec![
                Fault {
                    at,
                    action: FaultAction::Network {
                        link: None,
                        conditions: worse,
                    },
                },
                Fault {
                    at: at + len,
                    action: FaultAction::Network {
                        link: None,
                        conditions: baseline(s),
                    },
                },
            ]
        }
        NemesisKind::Storage => {
            if rng.random_bool(0.5) {
                one(FaultAction::Corrupt {
                    node: node(rng),
                    key: None,
                })
            } else {
                one(FaultAction::DiskFull {
                    node: node(rng),
                    free_after: Some(len),
                })
            }
        }
    }
}

/// The network conditions a run of `s` starts with (its `[network]`, changed by any network
/// fault at 0 s), as a change that restores them: where a mutant's network fault returns to.
pub(super) fn baseline(s: &Scenario) -> Conditions {
    let mut c = Conditions {
        latency: Some(s.network.latency),
        loss: Some(s.network.loss),
        duplicate: Some(s.network.duplicate),
    };
    let at_start = s.faults.iter().take_while(|f| f.at.is_zero());
    for f in at_start {
        if let FaultAction::Network {
            link: None,
            conditions,
        } = &f.action
        {
            c.latency = conditions.latency.or(c.latency);
            c.loss = conditions.loss.or(c.loss);
            c.duplicate = conditions.duplicate.or(c.duplicate);
        }
    }
    c
}

/// One of three crash patterns: a long crash; a short one (a node restarting while what it
/// just accepted may not have reached anyone else yet); or a short crash of one node and,
/// soon after, of another (a worker killed, then its leader restarted).
/// The nodes come from [`crashable`] (which must not be empty), the second one's too once
/// the first has crashed.
fn crashes(
    s: &Scenario,
    rng: &mut ChaCha8Rng,
    window: Window,
    at: Duration,
    len: Duration,
) -> Vec<Fault> {
    let nodes = crashable(s);
    let first = nodes[rng.random_range(0..nodes.len())].clone();
    let crash = |node: String, at, d| Fault {
        at,
        action: FaultAction::Crash {
            node,
            restart_after: Some(d),
        },
    };
    // Never longer than `len`, which fits the window from `at`.
    let short = |rng: &mut ChaCha8Rng| Duration::from_millis(rng.random_range(5..=150)).min(len);
    match rng.random_range(0..3) {
        0 => vec![crash(first, at, len)],
        1 => vec![crash(first, at, short(rng))],
        _ => {
            let d = short(rng);
            let mut out = vec![crash(first.clone(), at, d)];
            let after_first = Scenario {
                faults: s.faults.iter().chain(&out).cloned().collect(),
                ..s.clone()
            };
            let nodes = crashable(&after_first);
            let others: Vec<&String> = nodes.iter().filter(|n| **n != first).collect();
            let then = at + Duration::from_millis(rng.random_range(20..=400));
            let d2 = short(rng);
            if !others.is_empty() && then + d2 <= window.end {
                let second = others[rng.random_range(0..others.len())].clone();
                out.push(crash(second, then, d2));
            }
            out
        }
    }
}

/// The nodes a new crash may hit: any, until a minority of the nodes (at least one) has
/// crashed somewhere in the schedule; from then on only those; and none when the schedule
/// already crashes more than a minority (a start scenario that crashes its nodes in turn:
/// its author spaced those crashes so that a majority always held the state; another crash
/// could take it from a majority at once). A majority that never loses its volatile state
/// is what a system without durable storage needs to recover at all (as VOPR keeps a core
/// of replicas), so a failure without it says nothing about the system.
pub(super) fn crashable(s: &Scenario) -> Vec<String> {
    let crashed = crashed(s);
    let minority = minority(s);
    if crashed.len() > minority {
        vec![]
    } else if crashed.len() == minority {
        crashed
    } else {
        s.node_names()
    }
}

/// Whether `s` crashes more than a minority of its nodes (in turn): then explore neither
/// adds a crash nor moves or lengthens one (see [`crashable`]).
pub(super) fn crashes_a_majority(s: &Scenario) -> bool {
    crashed(s).len() > minority(s)
}

/// The most nodes that may ever crash in a schedule explore writes: a minority, at least one.
fn minority(s: &Scenario) -> usize {
    (s.nodes.saturating_sub(1) / 2).max(1)
}

/// The nodes `s` crashes somewhere, in order of their first crash.
fn crashed(s: &Scenario) -> Vec<String> {
    let mut crashed: Vec<String> = vec![];
    for f in &s.faults {
        if let FaultAction::Crash { node, .. } = &f.action {
            if !crashed.contains(node) {
                crashed.push(node.clone());
            }
        }
    }
    crashed
}

/// Two non-empty groups of `nodes`.
fn split(nodes: &[String], rng: &mut ChaCha8Rng) -> (Vec<String>, Vec<String>) {
    loop {
        let (a, b): (Vec<String>, Vec<String>) =
            nodes.iter().cloned().partition(|_| rng.random_bool(0.5));
        if !a.is_empty() && !b.is_empty() {
            return (a, b);
        }
    }
}
