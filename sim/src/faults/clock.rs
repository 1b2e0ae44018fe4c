//! A node's clock as a function of true (simulated) time: piecewise linear, with steps and
//! drift, never running backwards ([`ClockModel`]); what each process's clock reads in the
//! [`World`]; and the fault that steps one (skew).

use super::{Ix, World};
use crate::scenario::Clock;
use crate::trace::EventKind;
use highstorm_nodes::LocalTime;
use std::time::Duration;

/// One node's clock: `local = anchor_local + (true - anchor_true) * (1 + drift)`, clamped so
/// readings never decrease and never go below zero.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockModel {
    anchor_true_us: i128,
    anchor_local_us: i128,
    drift: f64,
    last_us: i128,
}

impl Default for ClockModel {
    fn default() -> Self {
        ClockModel::new(0, 0.0)
    }
}

fn us(d: Duration) -> i128 {
    d.as_micros() as i128
}

impl ClockModel {
    /// A clock `skew_us` ahead of true time (behind, if negative) and running `1 + drift`
    /// times as fast.
    pub fn new(skew_us: i64, drift: f64) -> Self {
        ClockModel {
            anchor_true_us: 0,
            anchor_local_us: i128::from(skew_us),
            drift,
            last_us: 0,
        }
    }

    fn raw_us(&self, now: Duration) -> i128 {
        let elapsed = (us(now) - self.anchor_true_us) as f64;
        self.anchor_local_us + (elapsed * (1.0 + self.drift)).round() as i128
    }

    /// How far ahead of true time the clock runs at `now` (negative: behind), and its drift:
    /// `(0, 0.0)` for a clock that reads true time.
    pub(crate) fn error_at(&self, now: Duration) -> (i64, f64) {
        let ahead = self.raw_us(now) - us(now);
        (
            ahead.clamp(i64::MIN.into(), i64::MAX.into()) as i64,
            self.drift,
        )
    }

    /// The reading at true time `now` without recording it.
    pub fn peek(&self, now: Duration) -> LocalTime {
        let t = self.raw_us(now).max(self.last_us).max(0);
        LocalTime::from_duration(Duration::from_micros(t as u64))
    }

    /// The reading at true time `now`; later readings are never smaller.
    pub fn read(&mut self, now: Duration) -> LocalTime {
        let t = self.peek(now);
        self.last_us = us(t.as_duration());
        t
    }

    /// Steps the clock by `offset_us` at true time `now` and sets its drift. A backward step
    /// makes the clock stand still at its reading at `now` (whether or not anybody read it
    /// then), so the clock is a function of true time and its steps alone: a checker can
    /// rebuild it from the trace.
    pub fn step(&mut self, now: Duration, offset_us: i64, drift: f64) {
        self.last_us = self.last_us.max(self.raw_us(now));
        self.anchor_local_us = self.raw_us(now) + i128::from(offset_us);
        self.anchor_true_us = us(now);
        self.drift = drift;
    }

    /// The earliest true time at which the clock reads at least `local`, given that it is now
    /// `now`.
    pub fn true_time_of(&self, now: Duration, local: LocalTime) -> Duration {
        if self.peek(now) >= local {
            return now;
        }
        // Readings are whole microseconds; a deadline between two of them is first reached
        // at the later one (a node without a clock model until a skew step may hold one).
        let d = local.as_duration();
        let target = (us(d) + i128::from(d.subsec_nanos() % 1000 != 0)).max(self.last_us);
        let true_us = self.anchor_true_us
            + ((target - self.anchor_local_us) as f64 / (1.0 + self.drift)).ceil() as i128;
        Duration::from_micros(true_us.max(us(now)) as u64)
    }
}

impl World {
    /// `node`'s clock reading at true time `now` (recorded: later readings never go back).
    pub(crate) fn local_time(&mut self, node: &str, now: Duration) -> LocalTime {
        match self.ix(node) {
            Some(ix) => self.local_time_ix(ix, now),
            None => LocalTime::from_duration(now),
        }
    }

    /// [`local_time`](World::local_time) by process number.
    pub(crate) fn local_time_ix(&mut self, ix: Ix, now: Duration) -> LocalTime {
        match &mut self.clocks[ix] {
            Some(c) => c.read(now),
            None => LocalTime::from_duration(now),
        }
    }

    /// The earliest true time, from `now` on, at which `node`'s clock reads `local`.
    pub(crate) fn true_time_of(&self, node: &str, now: Duration, local: LocalTime) -> Duration {
        match self.ix(node) {
            Some(ix) => self.true_time_of_ix(ix, now, local),
            None => local.as_duration().max(now),
        }
    }

    /// [`true_time_of`](World::true_time_of) by process number.
    pub(crate) fn true_time_of_ix(&self, ix: Ix, now: Duration, local: LocalTime) -> Duration {
        match &self.clocks[ix] {
            Some(c) => c.true_time_of(now, local),
            None => local.as_duration().max(now),
        }
    }

    /// Steps `node`'s clock by `clock.skew_us` at true time `now` and sets its drift.
    pub(super) fn step_clock(&mut self, now: Duration, node: &str, clock: &Clock) -> EventKind {
        let ix = self.intern(node);
        self.clocks[ix]
            .get_or_insert_with(ClockModel::default)
            .step(now, clock.skew_us, clock.drift);
        EventKind::Skew {
            node: node.to_owned(),
            offset_us: clock.skew_us,
            drift: clock.drift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn skew_and_drift_shift_and_scale_time() {
        let mut c = ClockModel::new(200_000, 0.1);
        assert_eq!(c.read(MS(0)).as_millis(), 200);
        assert_eq!(c.read(MS(1000)).as_millis(), 1300);
        let at = c.true_time_of(MS(1000), LocalTime::from_millis(1410));
        assert_eq!(at, MS(1100));
    }

    #[test]
    fn a_backward_step_makes_the_clock_stand_still_not_rewind() {
        let mut c = ClockModel::default();
        assert_eq!(c.read(MS(1000)).as_millis(), 1000);
        c.step(MS(1000), -300_000, 0.0);
        assert_eq!(c.read(MS(1100)).as_millis(), 1000);
        assert_eq!(c.read(MS(1400)).as_millis(), 1100);
        // A timer for local 1050 set while standing still fires when the clock gets there.
        assert_eq!(
            c.true_time_of(MS(1400), LocalTime::from_millis(1150)),
            MS(1450)
        );
    }

    #[test]
    fn a_deadline_between_microseconds_is_reached_at_the_next_one() {
        let c = ClockModel::new(0, 0.0);
        let now = Duration::from_micros(10);
        let local = LocalTime::from_duration(Duration::from_nanos(20_500));
        let at = c.true_time_of(now, local);
        assert_eq!(at, Duration::from_micros(21));
        assert!(c.peek(at) >= local);
    }

    #[test]
    fn a_negative_initial_skew_starts_at_zero() {
        let mut c = ClockModel::new(-500_000, 0.0);
        assert_eq!(c.read(MS(100)), LocalTime::ZERO);
        assert_eq!(c.read(MS(700)).as_millis(), 200);
    }
}
