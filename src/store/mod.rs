//! Stores: where the claim on each payment request (or delivery) is kept, so that it is
//! executed once however often it arrives.
//!
//! A [`Store`] keeps one record per idempotency key: who holds it (`running`, with a lease
//! and an attempt number), whether it succeeded (`done`), or failed and may run again
//! (`failed`). The protocol that uses it is in [`crate::idempotency`].
//!
//! | store | for | feature |
//! |---|---|---|
//! | [`MemoryStore`] | tests, one process | always |
//! | [`SqliteStore`] | one machine; survives restarts (WAL, `synchronous=FULL`) | `sqlite` (default) |
//! | [`PostgresStore`] | several receiver processes sharing one database | `postgres` |

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::handler::BoxError;

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The name of the table the SQL stores create and use.
pub const DEFAULT_TABLE: &str = "hookguard_claims";

/// What a [`Store::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller now holds the key for this attempt (1 for the first) and must run the
    /// handler, then [`complete`](Store::complete) or [`release`](Store::release).
    Acquired {
        /// Which attempt this is, from 1.
        attempt: u32,
    },
    /// Another run holds the key and its lease has not expired.
    Running {
        /// The attempt under way.
        attempt: u32,
        /// How long until its lease expires.
        lease_left: Duration,
    },
    /// The key's handler already succeeded.
    Done {
        /// The attempt that succeeded.
        attempt: u32,
    },
}

/// The state of a key's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// A run holds the key.
    Running,
    /// The handler succeeded.
    Done,
    /// The last run failed; the next delivery runs again.
    Failed,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "running" => Ok(State::Running),
            "done" => Ok(State::Done),
            "failed" => Ok(State::Failed),
            other => Err(StoreError::Corrupt(format!("unknown state `{other}`"))),
        }
    }
}

/// A key's record, for inspection and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Where the key stands.
    pub state: State,
    /// How many attempts have claimed it.
    pub attempt: u32,
}

/// Why a store could not answer. The payout or delivery is then answered with a
/// retryable error, never with 200.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The claim was no longer held by this attempt: its lease expired and another
    /// attempt took it over.
    #[error("claim on `{key}` lost by attempt {attempt}")]
    LostClaim {
        /// The key.
        key: String,
        /// The attempt that lost it.
        attempt: u32,
    },
    /// The store holds something this crate did not write.
    #[error("store holds an unexpected record: {0}")]
    Corrupt(String),
}

/// Where claims are kept. Implementations must make [`claim`](Store::claim) atomic:
/// of any number of concurrent claims on one key, at most one is `Acquired`.
pub trait Store: Send + Sync + 'static {
    /// Claims `key` for a run holding it for `lease`.
    ///
    /// Acquired when the key is new, when its last run failed, or when the lease of the
    /// run holding it has expired (a crashed process); the attempt number then grows by
    /// one. Otherwise says who holds it.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Records that `attempt` succeeded: later claims answer [`Claim::Done`].
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that `attempt` failed: the next claim is acquired at once.
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The record kept for `key`, if any.
    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        (**self).claim(key, lease)
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(key, attempt)
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(key, attempt)
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        (**self).record(key)
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
#[cfg(feature = "sqlite")]
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A lease in whole milliseconds, saturating.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// An attempt number read back from SQL.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn attempt_from(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("attempt {value}")))
}

/// A table name safe to splice into SQL: letters, digits and `_`, not starting with a digit.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn checked_table(name: &str) -> Result<String, crate::ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(name.to_owned())
    } else {
        Err(crate::ConfigError::InvalidTableName(name.to_owned()))
    }
}

/// What a claim that did not acquire its key found, from the record read back: `done`, or
/// held with this many milliseconds of lease left. A record that failed in between, or
/// vanished, reads as a lease already over, so the caller claims again at once.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn claim_not_acquired(record: Option<(State, u32, i64)>) -> Claim {
    match record {
        Some((State::Done, attempt, _)) => Claim::Done { attempt },
        Some((_, attempt, lease_left_ms)) => Claim::Running {
            attempt,
            lease_left: Duration::from_millis(u64::try_from(lease_left_ms).unwrap_or(0)),
        },
        None => Claim::Running {
            attempt: 0,
            lease_left: Duration::ZERO,
        },
    }
}

/// The outcome of recording `attempt`'s end: one row changed, or the claim was lost.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn finished(rows_affected: u64, key: &str, attempt: u32) -> Result<(), StoreError> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::LostClaim {
            key: key.to_owned(),
            attempt,
        })
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn unavailable(err: sqlx::Error) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}
