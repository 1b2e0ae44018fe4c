//! Which processes are up: crashed (or not yet listening), paused, and how many times each node
//! has booted; and the faults that change that (crash, restart, pause, resume).

use super::{Ix, World};
use crate::trace::EventKind;

impl World {
    /// Marks `node` as listening (its process is ready to receive) or not. Engines mark every
    /// node not listening at the start and after a crash, and listening once its process has
    /// started: messages sent to it in between are dropped as `down`, in the trace.
    pub(crate) fn set_listening(&mut self, node: &str, listening: bool) {
        let ix = self.intern(node);
        self.down[ix] = !listening;
    }

    /// Restarts `node` (crashing it first if `running`): returns its new boot count and the
    /// trace events. The engine then starts the new incarnation; it counts as down until
    /// [`set_listening`](World::set_listening).
    pub(crate) fn restart(&mut self, node: &str, running: bool) -> (u64, Vec<EventKind>) {
        let mut events = vec![];
        if running {
            events = self.crash(node);
        }
        let boot = self.boots.entry(node.to_owned()).or_insert(0);
        *boot += 1;
        events.push(EventKind::Restart {
            node: node.to_owned(),
            boot: *boot,
        });
        (*boot, events)
    }

    /// How many times `node` has restarted (its current boot count).
    pub(crate) fn boot(&self, node: &str) -> u64 {
        self.boots.get(node).copied().unwrap_or(0)
    }

    /// Whether `node` is paused.
    pub(crate) fn is_paused(&self, node: &str) -> bool {
        self.ix(node).is_some_and(|i| self.paused[i])
    }

    /// [`is_paused`](World::is_paused) by process number.
    pub(crate) fn is_paused_ix(&self, ix: Ix) -> bool {
        self.paused[ix]
    }

    /// Crashes `node`: down (and no longer paused), losing the writes its disk had not synced.
    pub(super) fn crash(&mut self, node: &str) -> Vec<EventKind> {
        let ix = self.intern(node);
        self.down[ix] = true;
        self.paused[ix] = false;
        let mut events = vec![EventKind::Crash {
            node: node.to_owned(),
        }];
        events.extend(self.lose_unsynced(node));
        events
    }

    /// Pauses `node`, unless it is down or paused already.
    pub(super) fn pause(&mut self, node: &str) -> Option<EventKind> {
        let ix = self.intern(node);
        if self.down[ix] || self.paused[ix] {
            return None;
        }
        self.paused[ix] = true;
        Some(EventKind::Pause {
            node: node.to_owned(),
        })
    }

    /// Resumes `node`, if it is paused.
    pub(super) fn resume(&mut self, node: &str) -> Option<EventKind> {
        let ix = self.intern(node);
        if !std::mem::replace(&mut self.paused[ix], false) {
            return None;
        }
        Some(EventKind::Resume {
            node: node.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::network::DropReason;
    use super::super::tests::world;
    use crate::scenario::FaultAction;
    use std::time::Duration;

    #[test]
    fn pause_and_resume_are_recorded_once() {
        let mut net = world();
        let pause = FaultAction::Pause {
            node: "n1".into(),
            resume_after: None,
        };
        assert_eq!(net.apply(Duration::ZERO, &pause).len(), 1);
        assert!(net.is_paused("n1"));
        assert!(net.apply(Duration::ZERO, &pause).is_empty());
        assert_eq!(
            net.apply(Duration::ZERO, &FaultAction::Resume("n1".into()))
                .len(),
            1
        );
        assert!(!net.is_paused("n1"));
    }

    #[test]
    fn a_restart_of_a_running_node_crashes_it_first_and_counts_its_boots() {
        let mut w = world();
        let (boot, events) = w.restart("n1", true);
        assert_eq!(boot, 1);
        assert_eq!(
            w.send("n0", "n1"),
            Err(DropReason::Down),
            "down until it listens"
        );
        let kinds: Vec<_> = events.iter().map(|e| format!("{e:?}")).collect();
        assert!(kinds[0].starts_with("Crash"), "{kinds:?}");
        assert!(kinds[1].starts_with("Restart"), "{kinds:?}");
        w.set_listening("n1", true);
        assert_eq!(w.send("n0", "n1"), Ok(()));
        let (boot, events) = w.restart("n1", false);
        assert_eq!((boot, events.len(), w.boot("n1")), (2, 1, 2));
    }
}
