//! Mutations of a readable fault schedule: add (module `draw`), remove, move and lengthen the
//! scenario's `[[faults]]`, or change the seed. Every mutant is again a plain scenario file.

use super::draw::{baseline, crashes_a_majority, new_fault};
use crate::scenario::{Conditions, Fault, FaultAction, Heal, NemesisKind, Scenario};
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

/// Where new faults may go: from `start` to `end`, leaving the checks their quiet time.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// No new or moved fault before this: 0, unless the schedule crashes a majority of its
    /// nodes in turn (then the end of those crashes plus the time to recover from them).
    pub start: Duration,
    /// No fault (nor its recovery) later than this.
    pub end: Duration,
}

impl Window {
    /// The window of `scenario`: its run minus what its checks need after the last fault
    /// (`converge_within`, or two client timeouts, plus two more for the final reads), and
    /// never into its liveness phase.
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
        let end = scenario.liveness_from().map_or(end, |l| end.min(l));
        // A schedule that crashes a majority in turn (a start scenario's own) was spaced so
        // that each restarted node recovers before the next crash. A cut, pause or lossy
        // stretch among those crashes could keep one from recovering, and then a majority
        // lost its state after all (see `draw::crashable`): new faults come after the last
        // restart and the time the checks give the system to settle.
        let start = if crashes_a_majority(scenario) {
            let restarted = scenario
                .faults
                .iter()
                .filter_map(|f| match &f.action {
                    FaultAction::Crash { restart_after, .. } => {
                        Some(f.at + restart_after.unwrap_or_default())
                    }
                    FaultAction::Restart(_) => Some(f.at),
                    _ => None,
                })
                .max()
                .unwrap_or_default();
            let settle = scenario
                .checks
                .converge_within
                .unwrap_or_default()
                .max(timeout * 2);
            (restarted + settle).min(end)
        } else {
            Duration::ZERO
        };
        Window { start, end }
    }

    /// How long the window is.
    pub fn len(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// Whether the window leaves no room for a fault.
    pub fn is_empty(&self) -> bool {
        self.len() < Duration::from_millis(50)
    }
}

/// `parent` with 1 to 3 mutations; new faults are of `kinds` (not empty), and a mutation adds
/// none to a parent with `max_faults` explicit faults or more.
pub fn mutate(
    parent: &Candidate,
    kinds: &[NemesisKind],
    rng: &mut ChaCha8Rng,
    max_faults: usize,
) -> Candidate {
    let mut child = Candidate {
        how: vec![],
        ..parent.clone()
    };
    let window = Window::of(&parent.scenario);
    for _ in 0..rng.random_range(1..=3) {
        let what = mutate_once(&mut child, kinds, rng, window, max_faults);
        child.how.push(what);
    }
    child.scenario.faults.sort_by_key(|f| f.at);
    super::start::correctness_only(&mut child.scenario);
    let restore = baseline(&child.scenario);
    recover_by(&mut child.scenario.faults, window.end, restore);
    child
}

/// Ends every fault still in force after the last of `faults` (sorted by time): a cut with
/// no heal after it is healed, a node crashed or paused for good is restarted or resumed,
/// changed network conditions are set back to `restore` (the scenario's), a full disk is
/// freed, all at `end` (or at the last fault, if that is later). A mutant thus never fails
/// only because it left the system no time to recover, which no checker could tell from a
/// bug. (Clock steps stay: a scenario's liveness phase sets clocks right.)
pub(super) fn recover_by(faults: &mut Vec<Fault>, end: Duration, restore: Conditions) {
    let mut cut = false;
    let mut network = false;
    let mut full: Vec<String> = vec![];
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
            FaultAction::Network {
                link: None,
                conditions,
            } => network = !restores(conditions, &restore),
            FaultAction::DiskFull {
                node,
                free_after: None,
            } => full.push(node.clone()),
            FaultAction::DiskFree(node) => full.retain(|n| n != node),
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
    if network {
        faults.push(Fault {
            at,
            action: FaultAction::Network {
                link: None,
                conditions: restore,
            },
        });
    }
    down.dedup();
    paused.dedup();
    full.dedup();
    let restarts = down.into_iter().map(FaultAction::Restart);
    let resumes = paused.into_iter().map(FaultAction::Resume);
    let freed = full.into_iter().map(FaultAction::DiskFree);
    faults.extend(
        restarts
            .chain(resumes)
            .chain(freed)
            .map(|action| Fault { at, action }),
    );
}

/// Whether `c` sets nothing but what `restore` sets it to.
fn restores(c: &Conditions, restore: &Conditions) -> bool {
    c.latency.is_none_or(|l| Some(l) == restore.latency)
        && c.loss.is_none_or(|p| Some(p) == restore.loss)
        && c.duplicate.is_none_or(|p| Some(p) == restore.duplicate)
}

fn mutate_once(
    c: &mut Candidate,
    kinds: &[NemesisKind],
    rng: &mut ChaCha8Rng,
    window: Window,
    max_faults: usize,
) -> String {
    // A schedule that crashes a majority in turn keeps its crashes and restarts where they
    // are: moved or lengthened, they could overlap (see `draw::crashable`).
    let pinned = crashes_a_majority(&c.scenario);
    let faults = &mut c.scenario.faults;
    let timed: Vec<usize> = (0..faults.len())
        .filter(|&i| !(pinned && is_crash_or_restart(&faults[i].action)))
        .collect();
    let choice = if faults.is_empty() {
        0
    } else if faults.len() >= max_faults {
        rng.random_range(1..5)
    } else {
        rng.random_range(0..5)
    };
    let choice = if matches!(choice, 2 | 3) && (timed.is_empty() || window.is_empty()) {
        4
    } else {
        choice
    };
    match choice {
        0 => {
            let added = new_fault(&c.scenario, kinds, rng, window);
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
            let i = timed[rng.random_range(0..timed.len())];
            let f = &mut faults[i];
            let before = f.at;
            let room = window.end.saturating_sub(span(&f.action));
            f.at = (window.start + within(rng, room.saturating_sub(window.start))).min(room);
            format!("move {} from {}", describe(f), show(before))
        }
        3 => {
            let i = timed[rng.random_range(0..timed.len())];
            let longer = |d: Duration, room: Duration, rng: &mut ChaCha8Rng| {
                d.mul_f64(rng.random_range(1.5..3.0)).min(room).max(d)
            };
            let from = faults[i].at;
            let undone_by: fn(&FaultAction) -> bool = match faults[i].action {
                FaultAction::Partition(_) | FaultAction::PartitionOneway { .. } => {
                    |a| matches!(a, FaultAction::Heal(Heal::All))
                }
                FaultAction::Network { link: None, .. } => {
                    |a| matches!(a, FaultAction::Network { link: None, .. })
                }
                _ => |_| false,
            };
            let undo = faults
                .iter_mut()
                .enumerate()
                .find(|(j, u)| *j != i && u.at >= from && undone_by(&u.action));
            if let Some((_, undo)) = undo {
                // A longer cut or network change: what undoes it comes later.
                let room = window.end.saturating_sub(from);
                undo.at = from + longer(undo.at - from, room, rng);
                return format!("lengthen the fault at {} to {}", show(from), show(undo.at));
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
                }
                | FaultAction::DiskFull {
                    free_after: Some(d),
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

fn is_crash_or_restart(a: &FaultAction) -> bool {
    matches!(a, FaultAction::Crash { .. } | FaultAction::Restart(_))
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
        }
        | FaultAction::DiskFull {
            free_after: Some(d),
            ..
        } => *d,
        _ => Duration::ZERO,
    }
}

/// A random time in `[0, end]`, on a millisecond.
pub(super) fn within(rng: &mut ChaCha8Rng, end: Duration) -> Duration {
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
        FaultAction::Network { link, conditions } => {
            let mut parts = vec![];
            if let Some(l) = conditions.latency {
                parts.push(format!("latency {}..{}", show(l.min), show(l.max)));
            }
            if let Some(p) = conditions.loss {
                parts.push(format!("loss {p}"));
            }
            if let Some(p) = conditions.duplicate {
                parts.push(format!("duplicate {p}"));
            }
            match link {
                Some((from, to)) => format!("network {from:?} -> {to:?} {}", parts.join(" ")),
                None => format!("network {}", parts.join(" ")),
            }
        }
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
                c = mutate(&c, &NemesisKind::ALL, &mut rng, 8);
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

    fn crashes_of(s: &Scenario) -> Vec<(Duration, String, Option<Duration>)> {
        s.faults
            .iter()
            .filter_map(|f| match &f.action {
                FaultAction::Crash {
                    node,
                    restart_after,
                } => Some((f.at, node.clone(), *restart_after)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn mutants_crash_at_most_a_minority_and_leave_a_majority_crashed_in_turn_alone() {
        let secs = Duration::from_secs;
        // One node crashed: mutants may crash one more (a minority of five), never a third,
        // not even with the pattern that crashes two nodes one soon after the other.
        let one = Scenario::new("m", "ids")
            .nodes(5)
            .duration(secs(20))
            .crash_at(secs(2), "n0", Some(secs(1)));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut c = Candidate {
            scenario: one,
            seed: 1,
            how: vec![],
        };
        for _ in 0..300 {
            c = mutate(&c, &[NemesisKind::Crash], &mut rng, 12);
            let mut nodes: Vec<String> = crashes_of(&c.scenario).into_iter().map(|c| c.1).collect();
            nodes.sort();
            nodes.dedup();
            assert!(nodes.len() <= 2, "{nodes:?}");
        }
        // Three of five crashed in turn by the start scenario: no mutant adds a crash, moves
        // one or lengthens one (another could take the state from a majority at once).
        let in_turn = Scenario::new("m", "ids")
            .nodes(5)
            .duration(secs(20))
            .crash_at(secs(2), "n0", Some(secs(1)))
            .crash_at(secs(5), "n1", Some(secs(1)))
            .crash_at(secs(8), "n2", Some(secs(1)))
            .partition_at(secs(10), &[&["n0"][..], &["n1", "n2", "n3", "n4"][..]])
            .heal_at(secs(11));
        let start = crashes_of(&in_turn);
        for seed in 0..100 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let parent = Candidate {
                scenario: in_turn.clone(),
                seed: 1,
                how: vec![],
            };
            let child = mutate(&parent, &NemesisKind::ALL, &mut rng, 12);
            let kept: Vec<_> = crashes_of(&child.scenario);
            let mut nodes: Vec<&String> = kept.iter().map(|c| &c.1).collect();
            nodes.sort();
            nodes.dedup();
            // (Unless a mutation removed one: then two nodes at most crash at all.)
            assert!(
                kept.iter().all(|c| start.contains(c)) || nodes.len() <= 2,
                "{:?}: {kept:?}",
                child.how
            );
        }
    }
}
