//! Proptest strategies over fault schedules, for generating schedules rather than shrinking a
//! given one (proptest's own shrinking then removes and simplifies faults).

use crate::scenario::{Fault, FaultAction, Heal};
use proptest::prelude::*;
use std::time::Duration;

/// A proptest strategy for one fault among `nodes` (at least two) within `duration`:
/// partitions (both ways and one way, neither side empty), heals, crashes with restarts and
/// pauses with resumes (within the run), and clock steps. Every fault it makes is valid.
pub fn fault_strategy(nodes: Vec<String>, duration: Duration) -> impl Strategy<Value = Fault> {
    let n = nodes.len();
    let max_ms = u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let node = {
        let nodes = nodes.clone();
        (0..n).prop_map(move |i| nodes[i].clone())
    };
    let split = {
        let nodes = nodes.clone();
        (proptest::collection::vec(any::<bool>(), n)).prop_map(move |sides| {
            let (a, b): (Vec<_>, Vec<_>) = nodes.iter().cloned().zip(sides).partition(|(_, s)| *s);
            let mut a: Vec<String> = a.into_iter().map(|(n, _)| n).collect();
            let mut b: Vec<String> = b.into_iter().map(|(n, _)| n).collect();
            // Neither side empty: a partition cuts something.
            if a.is_empty() && b.len() > 1 {
                a.push(b.remove(0));
            } else if b.is_empty() && a.len() > 1 {
                b.extend(a.pop());
            }
            (a, b)
        })
    };
    let ms = |max: u64| (1..max.max(2)).prop_map(Duration::from_millis);
    let action = prop_oneof![
        split
            .clone()
            .prop_map(|(a, b)| FaultAction::Partition(vec![a, b])),
        split.prop_map(|(from, to)| FaultAction::PartitionOneway { from, to }),
        Just(FaultAction::Heal(Heal::All)),
        (node.clone(), ms(max_ms / 4)).prop_map(|(node, d)| FaultAction::Crash {
            node,
            restart_after: Some(d)
        }),
        (node.clone(), ms(max_ms / 4)).prop_map(|(node, d)| FaultAction::Pause {
            node,
            resume_after: Some(d)
        }),
        (node, -1_000_000i64..1_000_000, -0.05f64..0.05).prop_map(|(node, skew_us, drift)| {
            FaultAction::Skew {
                node,
                clock: crate::scenario::Clock { skew_us, drift },
            }
        }),
    ];
    (ms(max_ms), action).prop_map(move |(at, action)| {
        // A restart or resume falls within the run.
        let left = duration.saturating_sub(at);
        let action = match action {
            FaultAction::Crash {
                node,
                restart_after,
            } => FaultAction::Crash {
                node,
                restart_after: restart_after.map(|d| d.min(left)),
            },
            FaultAction::Pause { node, resume_after } => FaultAction::Pause {
                node,
                resume_after: resume_after.map(|d| d.min(left)),
            },
            other => other,
        };
        Fault { at, action }
    })
}

/// A proptest strategy for up to `max_faults` faults, in time order.
pub fn schedule_strategy(
    nodes: Vec<String>,
    duration: Duration,
    max_faults: usize,
) -> impl Strategy<Value = Vec<Fault>> {
    proptest::collection::vec(fault_strategy(nodes, duration), 0..=max_faults).prop_map(|mut f| {
        f.sort_by_key(|f| f.at);
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn generated_schedules_are_valid_scenarios(
            faults in schedule_strategy(vec!["n0".into(), "n1".into(), "n2".into()], Duration::from_secs(5), 6)
        ) {
            let mut s = Scenario::new("gen", "ids").duration(Duration::from_secs(5));
            s.faults = faults;
            prop_assert!(s.validate().is_ok(), "{:?}", s.validate());
            let back = Scenario::from_toml("gen.toml", &s.to_toml()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, s);
        }
    }
}
