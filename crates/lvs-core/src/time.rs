//! Time as the core sees it: a monotonic millisecond count passed in by the caller.
//!
//! `lvs-core` never reads a clock. Every operation that depends on time takes a [`Time`],
//! which the I/O layer derives from its own monotonic clock (any origin will do, as long as it
//! never goes backwards).

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in milliseconds since an arbitrary origin chosen by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(0);

    /// A time `ms` milliseconds after the origin.
    #[inline]
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms)
    }

    /// A time `s` seconds after the origin.
    #[inline]
    pub const fn from_secs(s: u64) -> Time {
        Time(s * 1000)
    }

    /// Milliseconds since the origin.
    #[inline]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the origin.
    #[inline]
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `self + ms`, saturating.
    #[inline]
    pub const fn add_millis(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, 0 if `earlier` is later.
    #[inline]
    pub const fn millis_since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.add_millis(ms)
    }
}

impl Sub for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        Duration::from_millis(self.millis_since(rhs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_secs(5);
        assert_eq!(t.as_millis(), 5000);
        assert_eq!((t + Duration::from_millis(250)).as_millis(), 5250);
        assert_eq!(
            Time::from_millis(u64::MAX).add_millis(1).as_millis(),
            u64::MAX
        );
        assert_eq!(Time::ZERO - t, Duration::ZERO);
        assert_eq!(t - Time::ZERO, Duration::from_secs(5));
    }
}
