//! The timer table: every pending deadline of one node incarnation, earliest first.

use crate::time::LocalTime;
use crate::wire::MsgId;
use std::collections::BTreeMap;

/// Identifies a timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub(crate) u64);

/// What a pending deadline is for.
pub(crate) enum Slot<T> {
    /// A node timer: fires [`Node::on_timer`](crate::Node::on_timer).
    User(T),
    /// An RPC's timeout: fires [`Node::on_rpc_reply`](crate::Node::on_rpc_reply) with `Timeout`
    /// unless the reply came first.
    RpcTimeout(MsgId),
}

/// Deadlines ordered by (time, insertion order), so two timers due at the same instant fire in
/// the order they were set: deterministic by construction.
pub(crate) struct TimerTable<T> {
    due: BTreeMap<(LocalTime, u64), Slot<T>>,
    when: BTreeMap<u64, LocalTime>,
    next: u64,
}

impl<T> Default for TimerTable<T> {
    fn default() -> Self {
        TimerTable {
            due: BTreeMap::new(),
            when: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<T> TimerTable<T> {
    pub(crate) fn insert(&mut self, at: LocalTime, slot: Slot<T>) -> TimerId {
        let id = self.next;
        self.next += 1;
        self.due.insert((at, id), slot);
        self.when.insert(id, at);
        TimerId(id)
    }

    pub(crate) fn remove(&mut self, id: TimerId) -> bool {
        match self.when.remove(&id.0) {
            Some(at) => self.due.remove(&(at, id.0)).is_some(),
            None => false,
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<LocalTime> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    /// A mark of the slots set so far: [`pop_due`](TimerTable::pop_due) with it leaves the
    /// slots set after it for later.
    pub(crate) fn mark(&self) -> u64 {
        self.next
    }

    /// Removes and returns the earliest slot due at or before `now` that was set before
    /// `mark`. (A slot set later for `now` sorts after every slot due then, so it waits for
    /// the next call: a timer that re-arms itself for the instant it fires hands control
    /// back to the host each time instead of looping inside one call.)
    pub(crate) fn pop_due(&mut self, now: LocalTime, mark: u64) -> Option<Slot<T>> {
        let (&(at, id), _) = self.due.iter().next()?;
        if at > now || id >= mark {
            return None;
        }
        self.when.remove(&id);
        self.due.remove(&(at, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_then_insertion_order_and_honours_cancel() {
        let mut t = TimerTable::default();
        let late = t.insert(LocalTime::from_millis(20), Slot::User("late"));
        t.insert(LocalTime::from_millis(10), Slot::User("a"));
        t.insert(LocalTime::from_millis(10), Slot::User("b"));
        let gone = t.insert(LocalTime::from_millis(5), Slot::User("cancelled"));
        assert!(t.remove(gone));
        assert!(!t.remove(gone));
        assert_eq!(t.next_deadline(), Some(LocalTime::from_millis(10)));
        let mut fired = vec![];
        while let Some(Slot::User(name)) = t.pop_due(LocalTime::from_millis(15), t.mark()) {
            fired.push(name);
        }
        assert_eq!(fired, ["a", "b"]);
        assert!(t.remove(late));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn a_slot_set_for_now_after_the_mark_waits_for_the_next_call() {
        let now = LocalTime::from_millis(10);
        let mut t = TimerTable::default();
        t.insert(now, Slot::User("first"));
        let mark = t.mark();
        assert!(matches!(t.pop_due(now, mark), Some(Slot::User("first"))));
        // Re-armed while firing, for the same instant: not in this call.
        t.insert(now, Slot::User("again"));
        assert!(t.pop_due(now, mark).is_none());
        assert_eq!(t.next_deadline(), Some(now));
        assert!(matches!(
            t.pop_due(now, t.mark()),
            Some(Slot::User("again"))
        ));
    }
}
