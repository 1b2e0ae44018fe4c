//! The liveness phase: at the start of `[checks] liveness`, every fault still in effect is
//! undone, so the run's last stretch asks whether the system recovers, not whether it
//! survives.
//!
//! The undoing is worked out from the run's own timeline (scripted plus nemesis faults), so
//! both engines apply the same steps and the trace records them as ordinary faults: a heal of
//! every cut link, the network set back to the scenario's conditions, a restart of every node
//! still down, a resume of every node still paused, and a clock step that sets every skewed
//! clock right (a backward step makes a clock stand still until true time catches up, as
//! any skew does).

use super::clock::ClockModel;
use super::network::Link;
use super::{faults_of_run, timeline};
use crate::scenario::{Clock, Conditions, FaultAction, Heal, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Every fault step of `scenario` at `seed`, in time order ([`timeline`] of
/// [`faults_of_run`]), followed, when the scenario has a liveness phase, by the steps that
/// undo whatever is still in effect when it starts ([`recovery`]).
pub fn timeline_of_run(scenario: &Scenario, seed: u64) -> Vec<(Duration, FaultAction)> {
    let mut steps = timeline(&faults_of_run(scenario, seed));
    if let Some(at) = scenario.liveness_from() {
        let undo = recovery(scenario, &steps, at);
        steps.extend(undo.into_iter().map(|a| (at, a)));
        steps.sort_by_key(|(t, _)| *t);
    }
    steps
}

/// The steps that undo, at `at`, every fault of `steps` (a [`timeline`]) still in effect
/// then: heal, network restore, restarts, resumes, full disks freed, clock corrections (in that order; nodes in
/// name order). Nothing for what is already undone.
pub fn recovery(
    scenario: &Scenario,
    steps: &[(Duration, FaultAction)],
    at: Duration,
) -> Vec<FaultAction> {
    let baseline = Link {
        latency: scenario.network.latency,
        loss: scenario.network.loss,
        duplicate: scenario.network.duplicate,
    };
    let mut cut = false;
    let mut global = baseline;
    let mut changed_links: Vec<(Vec<String>, Vec<String>)> = vec![];
    let mut down = BTreeSet::new();
    let mut paused = BTreeSet::new();
    let mut full = BTreeSet::new();
    let mut clocks: BTreeMap<String, ClockModel> = scenario
        .clocks
        .iter()
        .map(|(n, c)| (n.clone(), ClockModel::new(c.skew_us, c.drift)))
        .collect();
    for (t, action) in steps.iter().filter(|(t, _)| *t <= at) {
        match action {
            FaultAction::Partition(_) | FaultAction::PartitionOneway { .. } => cut = true,
            FaultAction::Heal(Heal::All) => cut = false,
            // A heal of one link may leave others cut: heal everything to be sure.
            FaultAction::Heal(Heal::Link(..)) => {}
            FaultAction::Crash { node, .. } => {
                down.insert(node.clone());
                paused.remove(node);
            }
            FaultAction::Restart(node) => {
                down.remove(node);
                paused.remove(node);
            }
            FaultAction::Pause { node, .. } => {
                if !down.contains(node) {
                    paused.insert(node.clone());
                }
            }
            FaultAction::Resume(node) => {
                paused.remove(node);
            }
            FaultAction::Network {
                link: None,
                conditions,
            } => global.apply(conditions),
            FaultAction::Network {
                link: Some(link), ..
            } => {
                if !changed_links.contains(link) {
                    changed_links.push(link.clone());
                }
            }
            FaultAction::DiskFull { node, .. } => {
                full.insert(node.clone());
            }
            FaultAction::DiskFree(node) => {
                full.remove(node);
            }
            // Damage to a record stays: recovering from it is the system's job.
            FaultAction::Corrupt { .. } => {}
            FaultAction::Skew { node, clock } => {
                clocks
                    .entry(node.clone())
                    .or_default()
                    .step(*t, clock.skew_us, clock.drift)
            }
        }
    }
    let mut undo = vec![];
    if cut {
        undo.push(FaultAction::Heal(Heal::All));
    }
    let restore = Conditions {
        latency: Some(baseline.latency),
        loss: Some(baseline.loss),
        duplicate: Some(baseline.duplicate),
    };
    if global != baseline {
        undo.push(FaultAction::Network {
            link: None,
            conditions: restore,
        });
    }
    if !changed_links.is_empty() {
        // Changed links get the global conditions, then the scenario's own link rules again.
        for link in changed_links {
            undo.push(FaultAction::Network {
                link: Some(link),
                conditions: restore,
            });
        }
        for rule in &scenario.network.links {
            undo.push(FaultAction::Network {
                link: Some((rule.from.clone(), rule.to.clone())),
                conditions: rule.conditions,
            });
        }
    }
    undo.extend(down.into_iter().map(FaultAction::Restart));
    undo.extend(paused.into_iter().map(FaultAction::Resume));
    undo.extend(full.into_iter().map(FaultAction::DiskFree));
    for (node, clock) in clocks {
        let (ahead_us, drift) = clock.error_at(at);
        if ahead_us != 0 || drift != 0.0 {
            undo.push(FaultAction::Skew {
                node,
                clock: Clock {
                    skew_us: -ahead_us,
                    drift: 0.0,
                },
            });
        }
    }
    undo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Nemesis, NemesisKind};

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn kinds(undo: &[FaultAction]) -> Vec<String> {
        undo.iter()
            .map(|a| format!("{} {}", a.kind(), a.nodes().first().map_or("", |n| n)))
            .collect()
    }

    #[test]
    fn what_is_still_broken_is_undone_and_nothing_else() {
        let s = Scenario::new("t", "ids")
            .nodes(4)
            .clock("n3", 200_000, 0.0)
            .partition_at(MS(100), &[["n0"], ["n1"]])
            .crash_at(MS(200), "n1", None)
            .crash_at(MS(300), "n2", Some(MS(100)))
            .pause_at(MS(400), "n0", None)
            .pause_at(MS(500), "n3", Some(MS(50)))
            .skew_at(MS(600), "n2", -50_000, 0.01)
            .liveness(MS(5000));
        let steps = timeline(&s.faults);
        let undo = recovery(&s, &steps, MS(5000));
        assert_eq!(
            kinds(&undo),
            ["heal ", "restart n1", "resume n0", "skew n2", "skew n3"]
        );
        // n3 starts 200 ms ahead: set back by exactly that; n2's drift is cleared.
        assert!(matches!(
            &undo[4],
            FaultAction::Skew { clock, .. } if clock.skew_us == -200_000 && clock.drift == 0.0
        ));
        let healed = Scenario::new("t", "ids")
            .partition_at(MS(100), &[["n0"], ["n1"]])
            .heal_at(MS(200));
        assert!(recovery(&healed, &timeline(&healed.faults), MS(300)).is_empty());
    }

    #[test]
    fn a_run_with_a_liveness_phase_ends_with_every_fault_undone() {
        let mut s = Scenario::new("t", "ids")
            .nodes(5)
            .duration(Duration::from_secs(20))
            .nemesis(Nemesis::new(&NemesisKind::ALL, Duration::from_secs(2)).overlapping())
            .liveness(Duration::from_secs(5));
        s.nemesis.as_mut().unwrap().fault_duration = Duration::from_secs(2);
        for seed in 0..20 {
            let steps = timeline_of_run(&s, seed);
            assert!(steps.iter().all(|(t, _)| *t <= Duration::from_secs(15)));
            // Undoing a second time finds nothing left to undo.
            let after = recovery(&s, &steps, Duration::from_secs(15));
            assert!(after.is_empty(), "seed {seed}: {after:?}");
        }
        let plain = Scenario::new("t", "ids").crash_at(MS(10), "n1", None);
        assert_eq!(timeline_of_run(&plain, 1), timeline(&plain.faults));
    }
}
