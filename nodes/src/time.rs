//! The node-local clock.
//!
//! A node never reads a system clock. Its host passes the current [`LocalTime`] into every
//! handler: in the simulator that is simulated time (plus the node's skew, once a scenario sets
//! one), for real it is the time since the process started.

use std::fmt;
use std::ops::{Add, Sub};

pub use core::time::Duration;

/// A reading of a node's local clock: time since the node's clock origin.
///
/// Readings from one node only ever increase. Readings from two nodes are not comparable: each
/// node may have its own skew and drift.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(Duration);

impl LocalTime {
    /// The clock's origin.
    pub const ZERO: LocalTime = LocalTime(Duration::ZERO);

    /// A reading `since` after the origin.
    pub const fn from_duration(since: Duration) -> Self {
        LocalTime(since)
    }

    /// A reading `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        LocalTime(Duration::from_millis(ms))
    }

    /// Time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole milliseconds since the origin.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: LocalTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for LocalTime {
    type Output = LocalTime;
    fn add(self, rhs: Duration) -> LocalTime {
        LocalTime(self.0.saturating_add(rhs))
    }
}

impl Sub<Duration> for LocalTime {
    type Output = LocalTime;
    fn sub(self, rhs: Duration) -> LocalTime {
        LocalTime(self.0.saturating_sub(rhs))
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0.as_secs(), self.0.subsec_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_microsecond_precision() {
        let t = LocalTime::from_millis(1234) + Duration::from_micros(5);
        assert_eq!(t.to_string(), "1.234005s");
        assert_eq!(
            t.saturating_since(LocalTime::from_millis(2000)),
            Duration::ZERO
        );
        assert_eq!(t.as_millis(), 1234);
    }
}
