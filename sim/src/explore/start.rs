//! Where a search starts: the scenario itself, given a liveness phase when the system
//! promises what holds once healed, and swarm draws on top of it — each a seed's draw of
//! which fault kinds are on and how hard (as `[nemesis] swarm = true` draws them), written
//! out as plain `[[faults]]`.

use super::draw::{baseline, crashable};
use super::mutate::{recover_by, Candidate, Window};
use crate::faults::{nemesis_faults, swarm_draw};
use crate::scenario::{
    Conditions, Fault, FaultAction, Nemesis, NemesisKind, Scenario, MIN_NEMESIS_EVERY,
};
use crate::system::{Schedule, System};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// The scenario every candidate derives from: `scenario` without its path and regression
/// seeds, and, when `system` promises what holds once healed and the scenario has no
/// liveness phase, a phase of `liveness` (else a third of the run) appended to the run, so
/// its own faults all come before it.
///
/// A healed network loses nothing (as in VOPR's liveness mode): a lost request is no sign of
/// a node that stopped serving. So when a phase is appended to a scenario whose network loses
/// messages, that loss becomes a fault from the start (`[[faults]] at = "0s"`, `network = {
/// loss = .. }`), which the phase undoes like any other.
pub(super) fn base(system: &System, scenario: &Scenario, liveness: Option<Duration>) -> Scenario {
    let mut s = Scenario {
        path: None,
        regressions: vec![],
        ..scenario.clone()
    };
    if system.has_liveness() && s.checks.liveness.is_none() {
        let bound = liveness.unwrap_or(s.duration / 3);
        // Clients stop their regular operations a quiet time before the run ends (see
        // `Schedule`); a phase no longer than that would see no request at all, and a node
        // that stopped serving would pass it. So the run grows by the bound *and* that quiet
        // time: the clients keep working for the whole bound once everything is undone.
        let quiet = s
            .duration
            .saturating_sub(Schedule::of(&s).stop_at.as_duration());
        s.duration += bound + quiet;
        s.checks.liveness = Some(bound + quiet);
        if s.network.loss > 0.0 {
            let loss = Conditions {
                loss: Some(s.network.loss),
                ..Default::default()
            };
            s.network.loss = 0.0;
            s.faults.insert(
                0,
                Fault {
                    at: Duration::ZERO,
                    action: FaultAction::Network {
                        link: None,
                        conditions: loss,
                    },
                },
            );
        }
    }
    s
}

/// Drops the scenario's performance targets (latency, stable latency, messages per
/// operation): they were set for its own conditions, and a run under faults it never had
/// missing them is no bug. Its correctness checks and liveness phase stay.
pub(super) fn correctness_only(s: &mut Scenario) {
    s.checks.latency = None;
    s.checks.stable_latency = None;
    s.checks.msgs_per_op_max = None;
}

/// The fault kinds a search adds: `kinds` when given, else those of the scenario's nemesis,
/// else every kind.
pub(super) fn kinds_of(scenario: &Scenario, kinds: &[NemesisKind]) -> Vec<NemesisKind> {
    if !kinds.is_empty() {
        return kinds.to_vec();
    }
    match &scenario.nemesis {
        Some(n) if !n.kinds.is_empty() => n.kinds.clone(),
        _ => NemesisKind::ALL.to_vec(),
    }
}

/// `base` at a fresh seed with a swarm draw of `kinds` on top of its faults: the seed draws
/// which kinds are on, how often they strike (a chance every twelfth of the fault window) and
/// how long they last, and the faults drawn are added as `[[faults]]`, all undone within the
/// window.
pub(super) fn swarm_candidate(
    base: &Scenario,
    kinds: &[NemesisKind],
    rng: &mut ChaCha8Rng,
) -> Candidate {
    let seed = rng.random::<u32>() as u64;
    let window = Window::of(base);
    if window.is_empty() {
        let mut scenario = base.clone();
        correctness_only(&mut scenario);
        return Candidate {
            scenario,
            seed,
            how: vec!["no room for a swarm draw: the start scenario at a new seed".to_owned()],
        };
    }
    let every = (window.len() / 12).max(MIN_NEMESIS_EVERY);
    let nemesis = Nemesis {
        start: window.start,
        stop: Some(window.end),
        ..Nemesis::swarm(kinds, every)
    };
    let drawn = swarm_draw(&nemesis, seed);
    let mut scenario = Scenario {
        nemesis: Some(nemesis),
        ..base.clone()
    };
    let added = nemesis_faults(&scenario, seed);
    scenario.nemesis = base.nemesis.clone();

    for f in added {
        // Crashes stay within a minority of the nodes (see `crashable`).
        if let FaultAction::Crash { node, .. } = &f.action {
            if !crashable(&scenario).contains(node) {
                continue;
            }
        }
        scenario.faults.push(f);
    }
    correctness_only(&mut scenario);
    scenario.faults.sort_by_key(|f| f.at);
    let restore = baseline(&scenario);
    recover_by(&mut scenario.faults, window.end, restore);
    let names: Vec<&str> = drawn.kinds.iter().map(|k| k.name()).collect();
    Candidate {
        scenario,
        seed,
        how: vec![format!(
            "swarm draw of {} (intensity {}, faults of {:?})",
            names.join(", "),
            drawn.intensity,
            drawn.fault_duration
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn promising() -> System {
        System::new("t", |_, _| Ok(crate::workload::Idle)).liveness(|_, _, _, _| Ok(String::new()))
    }

    #[test]
    fn a_liveness_phase_under_load_is_appended_and_the_scenarios_loss_becomes_a_fault_it_undoes() {
        let mut s = Scenario::new("t", "t")
            .nodes(3)
            .duration(Duration::from_secs(6));
        s.network.loss = 0.02;
        let b = base(&promising(), &s, Some(Duration::from_secs(2)));
        // The phase is the bound plus the clients' quiet time (two timeouts and the larger
        // of a timeout and `converge_within`: 1.5 s here), so they work through the bound.
        assert_eq!(b.duration, Duration::from_millis(9500));
        assert_eq!(b.checks.liveness, Some(Duration::from_millis(3500)));
        let clients = Schedule::of(&b);
        assert_eq!(clients.stop_at.as_duration(), Duration::from_secs(8));
        assert_eq!(b.network.loss, 0.0);
        assert!(matches!(
            &b.faults[0].action,
            FaultAction::Network { link: None, conditions } if conditions.loss == Some(0.02)
        ));
        assert_eq!(baseline(&b).loss, Some(0.02), "mutants restore the loss");
        b.validate().unwrap();
        // A system that promises nothing once healed gets no phase.
        let plain = System::new("t", |_, _| Ok(crate::workload::Idle));
        assert_eq!(base(&plain, &s, None).duration, s.duration);
    }

    #[test]
    fn swarm_draws_are_valid_reproducible_and_crash_at_most_a_minority() {
        let s = Scenario::new("t", "t")
            .nodes(5)
            .duration(Duration::from_secs(10));
        let b = base(&promising(), &s, None);
        let draws = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..30)
                .map(|_| swarm_candidate(&b, &NemesisKind::ALL, &mut rng))
                .collect::<Vec<_>>()
        };
        let (a, again) = (draws(1), draws(1));
        let window = Window::of(&b);
        for (c, d) in a.iter().zip(&again) {
            assert_eq!((c.seed, &c.scenario.faults), (d.seed, &d.scenario.faults));
            c.scenario
                .validate()
                .expect("a swarm draw is a valid scenario");
            assert!(c.scenario.faults.iter().all(|f| f.at <= window.end));
            let mut crashed: Vec<&str> = c
                .scenario
                .faults
                .iter()
                .filter_map(|f| match &f.action {
                    FaultAction::Crash { node, .. } => Some(node.as_str()),
                    _ => None,
                })
                .collect();
            crashed.sort();
            crashed.dedup();
            assert!(crashed.len() <= 2, "{crashed:?}");
        }
        assert!(a.iter().any(|c| !c.scenario.faults.is_empty()));

        // A start scenario that crashes a majority in turn gets no more crashes.
        let secs = Duration::from_secs;
        let in_turn = base(
            &promising(),
            &Scenario::new("t", "t")
                .nodes(3)
                .duration(secs(10))
                .crash_at(secs(1), "n1", Some(secs(1)))
                .crash_at(secs(3), "n2", Some(secs(1))),
            None,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..50 {
            let c = swarm_candidate(&in_turn, &NemesisKind::ALL, &mut rng);
            let crashes = c
                .scenario
                .faults
                .iter()
                .filter(|f| matches!(f.action, FaultAction::Crash { .. }))
                .count();
            assert_eq!(crashes, 2, "{:?}", c.scenario.faults);
            // Nothing else strikes among those crashes or while the nodes recover.
            let window = Window::of(&c.scenario);
            assert!(window.start >= secs(4), "{window:?}");
            assert!(c
                .scenario
                .faults
                .iter()
                .filter(|f| !matches!(f.action, FaultAction::Crash { .. }))
                .all(|f| f.at >= window.start));
        }
    }
}
