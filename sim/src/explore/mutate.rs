//! Mutations of a readable fault schedule: add, remove, move and lengthen the scenario's
//! `[[faults]]`, or change the seed. Every mutant is again a plain scenario file.

use crate::scenario::{Clock, Fault, FaultAction, Heal, Scenario};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// One candidate run: a schedule and a seed.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The scenario, with its explicit faults.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// How it was made from its parent, for the log (`add crash n1 at 1.2s`, ...).
    pub how: Vec<String>,
}

/// Where faults may go: from the start to `end`, leaving the checks their quiet time.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// No fault (nor its recovery) later than this.
    pub end: Duration,
}

impl Window {
    /// The window of `scenario`: its run minus what its checks need after the last fault
    /// (`converge_within`, or two client timeouts, plus two more for the final reads).
    pub fn of(scenario: &Scenario) -> Window {
        let timeout = scenario.workload.timeout;
        let quiet = scenario
            .checks
            .converge_within
            .unwrap_or_default()
            .max(timeout * 2)
            + timeout * 2;
        let end = scenario
            .duration
            .saturating_sub(quiet)
            .max(scenario.duration / 4);
        Window { end }
    }
}

/// `parent` with 1 to 3 mutations; at most `max_faults` explicit faults.
pub fn mutate(parent: &Candidate, rng: &mut ChaCha8Rng, max_faults: usize) -> Candidate {
    let mut child = Candidate {
        how: vec![],
        ..parent.clone()
    };
    let window = Window::of(&parent.scenario);
    for _ in 0..rng.random_range(1..=3) {
        let what = mutate_once(&mut child, rng, window, max_faults);
        child.how.push(what);
    }
    child.scenario.faults.sort_by_key(|f| f.at);
    recover_by(&mut child.scenario.faults, window.end);
    child
}

/// Ends every fault still in force after the last of `faults` (sorted by time): a cut with
/// no heal after it is healed, a node crashed or paused for good is restarted or resumed, all
/// at `end` (or just after the last fault, if that is later). A mutant thus never fails only
/// because it left the system no time to recover, which no checker could tell from a bug.
fn recover_by(faults: &mut Vec<Fault>, end: Duration) {
    let mut cut = false;
    let mut down: Vec<String> = vec![];
    let mut paused: Vec<String> = vec![];
    for f in faults.iter() {
        match &f.action {
            FaultAction::Partition(_) | FaultAction::PartitionOneway { .. } => cut = true,
            FaultAction::Heal(Heal::All) => cut = false,
            FaultAction::Crash {
                node,
                restart_after: None,
            } => down.push(node.clone()),
            FaultAction::Restart(node) => down.retain(|n| n != node),
            FaultAction::Pause {
                node,
                resume_after: None,
            } => paused.push(node.clone()),
            FaultAction::Resume(node) => paused.retain(|n| n != node),
            _ => {}
        }
    }
    let at = faults.last().map_or(end, |f| f.at.max(end));
    if cut {
        faults.push(Fault {
            at,
            action: FaultAction::Heal(Heal::All),
        });
    }
    down.dedup();
    paused.dedup();
    let restarts = down.into_iter().map(FaultAction::Restart);
    let resumes = paused.into_iter().map(FaultAction::Resume);
    faults.extend(restarts.chain(resumes).map(|action| Fault { at, action }));
}

fn mutate_once(
    c: &mut Candidate,
    rng: &mut ChaCha8Rng,
    window: Window,
    max_faults: usize,
) -> String {
    let faults = &mut c.scenario.faults;
    let choice = if faults.is_empty() {
        0
    } else if faults.len() >= max_faults {
        rng.random_range(1..5)
    } else {
        rng.random_range(0..5)
    };
    match choice {
        0 => {
            let added = new_fault(&c.scenario, rng, window);
            let what = added.iter().map(describe).collect::<Vec<_>>().join(" + ");
            c.scenario.faults.extend(added);
            format!("add {what}")
        }
        1 => {
            let i = rng.random_range(0..faults.len());
            let gone = faults.remove(i);
            format!("remove {}", describe(&gone))
        }
        2 => {
            let i = rng.random_range(0..faults.len());
            let f = &mut faults[i];
            let before = f.at;
            f.at = within(rng, window.end.saturating_sub(span(&f.action)));
            format!("move {} from {}", describe(f), show(before))
        }
        3 => {
            let i = rng.random_range(0..faults.len());
            let longer = |d: Duration, room: Duration, rng: &mut ChaCha8Rng| {
                d.mul_f64(rng.random_range(1.5..3.0)).min(room).max(d)
            };
            let from = faults[i].at;
            let cut = matches!(
                faults[i].action,
                FaultAction::Partition(_) | FaultAction::PartitionOneway { .. }
            );
            let heal = faults
                .iter_mut()
                .find(|h| h.at >= from && matches!(h.action, FaultAction::Heal(Heal::All)));
            if let (true, Some(heal)) = (cut, heal) {
                // A longer cut: its heal comes later.
                let room = window.end.saturating_sub(from);
                heal.at = from + longer(heal.at - from, room, rng);
                return format!("lengthen the cut at {} to {}", show(from), show(heal.at));
            }
            let f = &mut faults[i];
            let room = window.end.saturating_sub(f.at);
            match &mut f.action {
                FaultAction::Crash {
                    restart_after: Some(d),
                    ..
                }
                | FaultAction::Pause {
                    resume_after: Some(d),
                    ..
                } => *d = longer(*d, room, rng),
                _ => f.at = longer(f.at, window.end, rng),
            }
            format!("lengthen {}", describe(f))
        }
        _ => {
            c.seed = rng.random::<u32>() as u64;
            format!("seed {}", c.seed)
        }
    }
}

/// How long after its start a fault holds until it undoes itself.
fn span(a: &FaultAction) -> Duration {
    match a {
        FaultAction::Crash {
            restart_after: Some(d),
            ..
        }
        | FaultAction::Pause {
            resume_after: Some(d),
            ..
        } => *d,
        _ => Duration::ZERO,
    }
}

/// A random new fault (and the heal that ends it, for a cut) within `window`.
fn new_fault(s: &Scenario, rng: &mut ChaCha8Rng, window: Window) -> Vec<Fault> {
    let nodes = s.node_names();
    let node = |rng: &mut ChaCha8Rng| nodes[rng.random_range(0..nodes.len())].clone();
    let max_len = (window.end / 3).max(Duration::from_millis(50));
    let len = Duration::from_millis(rng.random_range(50..=max_len.as_millis().max(51) as u64));
    let at = within(rng, window.end.saturating_sub(len));
    let one = |action| vec![Fault { at, action }];
    match rng.random_range(0..6) {
        0 | 1 => one(FaultAction::Crash {
            node: node(rng),
            restart_after: Some(len),
        }),
        2 => one(FaultAction::Pause {
            node: node(rng),
            resume_after: Some(len),
        }),
        3 | 4 if nodes.len() > 1 => {
            let (a, b) = split(&nodes, rng);
            let cut = if rng.random_bool(0.5) {
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
        _ => one(FaultAction::Skew {
            node: node(rng),
            clock: Clock {
                skew_us: rng.random_range(-1_000_000..1_000_000),
                drift: 0.0,
            },
        }),
    }
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

/// A random time in `[0, end]`, on a millisecond.
fn within(rng: &mut ChaCha8Rng, end: Duration) -> Duration {
    Duration::from_millis(rng.random_range(0..=end.as_millis() as u64))
}

fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// A fault in a few words: `crash n1 at 1s 200ms for 300ms`.
pub fn describe(f: &Fault) -> String {
    let what = match &f.action {
        FaultAction::Partition(groups) => format!("partition {groups:?}"),
        FaultAction::PartitionOneway { from, to } => format!("partition {from:?} -> {to:?}"),
        FaultAction::Heal(_) => "heal".to_owned(),
        FaultAction::Crash {
            node,
            restart_after,
        } => match restart_after {
            Some(d) => format!("crash {node} for {}", show(*d)),
            None => format!("crash {node}"),
        },
        FaultAction::Restart(node) => format!("restart {node}"),
        FaultAction::Pause { node, resume_after } => match resume_after {
            Some(d) => format!("pause {node} for {}", show(*d)),
            None => format!("pause {node}"),
        },
        FaultAction::Resume(node) => format!("resume {node}"),
        FaultAction::Network { .. } => "network change".to_owned(),
        FaultAction::Skew { node, clock } => format!("skew {node} {:+}us", clock.skew_us),
        FaultAction::Corrupt { node, key } => match key {
            Some(k) => format!("corrupt {node} {k}"),
            None => format!("corrupt {node}"),
        },
        FaultAction::DiskFull { node, free_after } => match free_after {
            Some(d) => format!("disk full {node} for {}", show(*d)),
            None => format!("disk full {node}"),
        },
        FaultAction::DiskFree(node) => format!("disk free {node}"),
    };
    format!("{what} at {}", show(f.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mutants_stay_valid_within_their_window_and_are_reproducible() {
        let s = Scenario::new("m", "ids")
            .nodes(3)
            .duration(Duration::from_secs(6));
        let window = Window::of(&s);
        let start = Candidate {
            scenario: s,
            seed: 1,
            how: vec![],
        };
        let walk = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut c = start.clone();
            let mut log = vec![];
            for _ in 0..200 {
                c = mutate(&c, &mut rng, 8);
                c.scenario.validate().expect("a mutant is a valid scenario");
                assert!(c.scenario.faults.len() <= 8 + 3);
                for f in &c.scenario.faults {
                    assert!(f.at + span(&f.action) <= window.end, "{}", describe(f));
                }
                log.push((c.seed, c.how.clone()));
            }
            log
        };
        assert_eq!(walk(5), walk(5));
        assert_ne!(walk(5), walk(6));
    }
}
