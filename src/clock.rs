//! The time a receiver reads when it checks a delivery's timestamp against its window.
//!
//! Schemes that sign a timestamp (Standard Webhooks, Stripe-style) refuse deliveries
//! whose timestamp is too far from now, and ChainVine can do the same with `sent_at`.
//! "Now" comes from a [`Clock`]: the [`SystemClock`] by default, a [`ManualClock`] in
//! tests, or any closure returning an [`OffsetDateTime`].
//!
//! ```
//! use std::time::Duration;
//! use hookguard::clock::{Clock, ManualClock};
//! use time::OffsetDateTime;
//!
//! let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(1_614_265_330).unwrap());
//! clock.advance(Duration::from_secs(301));
//! assert_eq!(clock.now().unix_timestamp(), 1_614_265_631);
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
///
/// Implemented by [`SystemClock`], [`ManualClock`], and any
/// `Fn() -> OffsetDateTime + Send + Sync + 'static` closure.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

impl<F> Clock for F
where
    F: Fn() -> OffsetDateTime + Send + Sync + 'static,
{
    fn now(&self) -> OffsetDateTime {
        self()
    }
}

/// The operating system's clock, in UTC. The default everywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that says what it is told: for tests of timestamp windows.
///
/// Clones share the same time, so a test can keep one and move the time of a
/// receiver that holds another.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock stopped at `seconds` after the unix epoch.
    ///
    /// # Panics
    ///
    /// When `seconds` is outside the range `time` can represent (years -9999 to 9999).
    pub fn at_unix(seconds: i64) -> Self {
        match OffsetDateTime::from_unix_timestamp(seconds) {
            Ok(now) => Self::new(now),
            Err(err) => panic!("{seconds} is not a representable unix time: {err}"),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: OffsetDateTime) {
        // A poisoned lock only means another thread panicked while setting a plain value.
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward by `by`.
    ///
    /// # Panics
    ///
    /// When the result is past the range `time` can represent.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A shared clock, as schemes and providers hold it.
#[derive(Clone)]
pub(crate) struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    pub(crate) fn new(clock: impl Clock) -> Self {
        Self(Arc::new(clock))
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Whether `then` lies within `tolerance` of `now`, in either direction.
pub(crate) fn within(now: OffsetDateTime, then: OffsetDateTime, tolerance: Duration) -> bool {
    (now - then).unsigned_abs() <= tolerance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clocks_share_their_time() {
        let clock = ManualClock::at_unix(100);
        let shared = SharedClock::new(clock.clone());
        clock.advance(Duration::from_secs(5));
        assert_eq!(shared.now().unix_timestamp(), 105);
        clock.set(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(shared.now().unix_timestamp(), 0);
    }

    #[test]
    fn closures_are_clocks() {
        let shared = SharedClock::new(|| OffsetDateTime::UNIX_EPOCH);
        assert_eq!(shared.now(), OffsetDateTime::UNIX_EPOCH);
        assert!(SystemClock.now().year() >= 2024);
    }

    #[test]
    fn the_window_is_inclusive_both_ways() {
        let now = OffsetDateTime::from_unix_timestamp(1000).unwrap();
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let tolerance = Duration::from_secs(300);
        assert!(within(now, at(700), tolerance));
        assert!(within(now, at(1300), tolerance));
        assert!(!within(now, at(699), tolerance));
        assert!(!within(now, at(1301), tolerance));
    }
}
