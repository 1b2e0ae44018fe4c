//! Which faults a run goes through, and when: the scenario's scripted faults plus the
//! nemesis's, as one list, and as single actions in time order.

use super::nemesis_faults;
use crate::scenario::{Fault, FaultAction, Scenario};
use std::time::Duration;

/// Every fault of a run: the scenario's scripted faults plus, if it has a nemesis, the faults
/// the nemesis draws from `seed`, in time order.
pub fn faults_of_run(scenario: &Scenario, seed: u64) -> Vec<Fault> {
    let mut all = scenario.faults.clone();
    all.extend(nemesis_faults(scenario, seed));
    all.sort_by_key(|f| f.at);
    all
}

/// The faults as single actions in time order: `restart_after` and `resume_after` become a
/// `Restart` / `Resume` of their own.
pub fn timeline(faults: &[Fault]) -> Vec<(Duration, FaultAction)> {
    let mut steps = vec![];
    for f in faults {
        match &f.action {
            FaultAction::Crash {
                node,
                restart_after: Some(after),
            } => {
                steps.push((
                    f.at,
                    FaultAction::Crash {
                        node: node.clone(),
                        restart_after: None,
                    },
                ));
                steps.push((f.at + *after, FaultAction::Restart(node.clone())));
            }
            FaultAction::Pause {
                node,
                resume_after: Some(after),
            } => {
                steps.push((
                    f.at,
                    FaultAction::Pause {
                        node: node.clone(),
                        resume_after: None,
                    },
                ));
                steps.push((f.at + *after, FaultAction::Resume(node.clone())));
            }
            FaultAction::DiskFull {
                node,
                free_after: Some(after),
            } => {
                steps.push((
                    f.at,
                    FaultAction::DiskFull {
                        node: node.clone(),
                        free_after: None,
                    },
                ));
                steps.push((f.at + *after, FaultAction::DiskFree(node.clone())));
            }
            other => steps.push((f.at, other.clone())),
        }
    }
    steps.sort_by_key(|(at, _)| *at);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_expands_restarts_and_resumes() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .crash_at(ms(100), "n1", Some(ms(50)))
            .pause_at(ms(120), "n2", Some(ms(10)));
        let t = timeline(&s.faults);
        let kinds: Vec<(u128, &str)> = t.iter().map(|(at, a)| (at.as_millis(), a.kind())).collect();
        assert_eq!(
            kinds,
            [
                (100, "crash"),
                (120, "pause"),
                (130, "resume"),
                (150, "restart")
            ]
        );
    }
}
