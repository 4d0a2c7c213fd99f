//! Stores: where the claim on each payment request (or delivery) is kept, so that it is
//! executed once however often it arrives.
//!
//! A [`Store`] keeps one record per idempotency key: who holds it (`running`, with a lease
//! the running attempt renews and an attempt number), whether it succeeded (`done`),
//! failed cleanly and may run again (`failed`), or ended with an outcome nobody knows
//! (`panicked`; `unknown`, as the handler said; `recovery_failed`, a recovery that failed
//! cleanly; or `running` with its lease run out: the process died). The record also
//! keeps the fingerprint of what the key pays, so that a duplicate with the same key and
//! other content is refused. The protocol that uses it is in [`crate::idempotency`].
//!
//! | store | for | feature |
//! |---|---|---|
//! | [`MemoryStore`] | tests only: it forgets every key on restart | always |
//! | [`SqliteStore`] | one machine; survives restarts (WAL, `synchronous=FULL`) | `sqlite` (default) |
//! | [`PostgresStore`] | several receiver processes sharing one database | `postgres` |
//!
//! Leases are measured by one clock per store: the database's for the SQL stores (so
//! that a process whose clock is wrong, or steps, does not take over a live claim), the
//! runtime's monotonic clock for [`MemoryStore`].

use std::time::Duration;

use futures_util::future::BoxFuture;

/// The calls of a SQL store, written once for SQLite and PostgreSQL: `$store` has `pool`
/// (its sqlx pool) and `sql` (its statements: `claim`, `lookup`, `renew`, `finish`,
/// `release`, `resolve`). The statements differ by database (placeholders, clock); the
/// calls do not, and sqlx's per-database types would make one generic function a wall of
/// bounds, so a macro keeps the one text.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! sql_store {
    ($store:ty) => {
        impl $store {
            async fn finish(
                &self,
                key: &str,
                attempt: u32,
                state: $crate::idempotency::store::State,
            ) -> Result<(), $crate::idempotency::store::StoreError> {
                let statement = match state {
                    $crate::idempotency::store::State::Failed => ::sqlx::query(&self.sql.release)
                        .bind(key)
                        .bind(i64::from(attempt)),
                    _ => ::sqlx::query(&self.sql.finish)
                        .bind(key)
                        .bind(i64::from(attempt))
                        .bind(state.as_str()),
                };
                let done = statement
                    .execute(&self.pool)
                    .await
                    .map_err($crate::idempotency::store::unavailable)?;
                $crate::idempotency::store::finished(done.rows_affected(), key, attempt)
            }

            async fn lookup(
                &self,
                key: &str,
            ) -> Result<
                Option<$crate::idempotency::store::Found>,
                $crate::idempotency::store::StoreError,
            > {
                let row: Option<(String, i64, i64, String, i64)> =
                    ::sqlx::query_as(&self.sql.lookup)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::idempotency::store::unavailable)?;
                row.map(|(state, attempt, lease_left_ms, fingerprint, recovery)| {
                    Ok($crate::idempotency::store::Found {
                        state: $crate::idempotency::store::State::parse(&state)?,
                        attempt: $crate::idempotency::store::attempt_from(attempt)?,
                        lease_left_ms,
                        fingerprint,
                        recovery,
                    })
                })
                .transpose()
            }
        }

        impl $crate::idempotency::store::Store for $store {
            fn claim<'a>(
                &'a self,
                key: &'a str,
                fingerprint: &'a str,
                lease: ::std::time::Duration,
                recover: bool,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<$crate::idempotency::store::Claim, $crate::idempotency::store::StoreError>,
            > {
                Box::pin(async move {
                    let acquired: Option<(i64, i64)> = ::sqlx::query_as(&self.sql.claim)
                        .bind(key)
                        .bind($crate::idempotency::store::millis(lease))
                        .bind(fingerprint)
                        .bind(recover)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::idempotency::store::unavailable)?;
                    if let Some((attempt, recovery)) = acquired {
                        let attempt = $crate::idempotency::store::attempt_from(attempt)?;
                        return Ok($crate::idempotency::store::Claim::Acquired {
                            attempt,
                            recovery: $crate::idempotency::store::recovery_from(recovery, attempt),
                        });
                    }
                    let found = self.lookup(key).await?;
                    Ok($crate::idempotency::store::claim_not_acquired(
                        found,
                        fingerprint,
                        recover,
                    ))
                })
            }

            fn renew<'a>(
                &'a self,
                key: &'a str,
                attempt: u32,
                lease: ::std::time::Duration,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), $crate::idempotency::store::StoreError>,
            > {
                Box::pin(async move {
                    let renewed = ::sqlx::query(&self.sql.renew)
                        .bind(key)
                        .bind(i64::from(attempt))
                        .bind($crate::idempotency::store::millis(lease))
                        .execute(&self.pool)
                        .await
                        .map_err($crate::idempotency::store::unavailable)?;
                    $crate::idempotency::store::finished(renewed.rows_affected(), key, attempt)
                })
            }

            fn complete<'a>(
                &'a self,
                key: &'a str,
                attempt: u32,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), $crate::idempotency::store::StoreError>,
            > {
                Box::pin(self.finish(key, attempt, $crate::idempotency::store::State::Done))
            }

            fn release<'a>(
                &'a self,
                key: &'a str,
                attempt: u32,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), $crate::idempotency::store::StoreError>,
            > {
                Box::pin(self.finish(key, attempt, $crate::idempotency::store::State::Failed))
            }

            fn abandon<'a>(
                &'a self,
                key: &'a str,
                attempt: u32,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), $crate::idempotency::store::StoreError>,
            > {
                Box::pin(self.finish(key, attempt, $crate::idempotency::store::State::Panicked))
            }

            fn report_unknown<'a>(
                &'a self,
                key: &'a str,
                attempt: u32,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<(), $crate::idempotency::store::StoreError>,
            > {
                Box::pin(self.finish(key, attempt, $crate::idempotency::store::State::Unknown))
            }

            fn resolve<'a>(
                &'a self,
                key: &'a str,
                resolution: $crate::idempotency::store::Resolution,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<bool, $crate::idempotency::store::StoreError>,
            > {
                Box::pin(async move {
                    let settled = ::sqlx::query(&self.sql.resolve)
                        .bind(key)
                        .bind(resolution.state().as_str())
                        .execute(&self.pool)
                        .await
                        .map_err($crate::idempotency::store::unavailable)?;
                    Ok(settled.rows_affected() == 1)
                })
            }

            fn record<'a>(
                &'a self,
                key: &'a str,
            ) -> ::futures_util::future::BoxFuture<
                'a,
                Result<
                    Option<$crate::idempotency::store::Record>,
                    $crate::idempotency::store::StoreError,
                >,
            > {
                Box::pin(async move {
                    Ok(self
                        .lookup(key)
                        .await?
                        .map(|found| $crate::idempotency::store::Record {
                            state: found.state,
                            attempt: found.attempt,
                            fingerprint: found.fingerprint,
                        }))
                })
            }
        }
    };
}

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

/// A boxed error from a store's backend.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The name of the table the SQL stores create and use.
pub const DEFAULT_TABLE: &str = "hookguard_claims";

/// The longest lease a store records; longer ones are cut to it, so that lease arithmetic
/// never overflows (a day, as [`crate::idempotency::MAX_LEASE`]).
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// Why an attempt's outcome is unknown, so that the next one is a recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unresolved {
    /// The attempt's lease ran out while it was running: its process died, hung, or lost
    /// the store for longer than the lease.
    LeaseExpired,
    /// The attempt panicked, perhaps after the money left.
    Panicked,
    /// The attempt said it cannot tell whether the money left (its payment system timed
    /// out after the transfer was sent, say): [`PayoutError::outcome_unknown`](crate::PayoutError::outcome_unknown).
    Reported,
}

/// An attempt that follows one whose outcome is unknown: the handler must find out from
/// its payment system whether an earlier attempt paid before paying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Recovery {
    /// The attempt just before this one. Its outcome is unknown, or it was itself a
    /// recovery that failed cleanly, leaving an earlier attempt's outcome unknown.
    pub previous_attempt: u32,
    /// Why the outcome is unknown.
    pub reason: Unresolved,
}

/// What a [`Store::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller now holds the key for this attempt (1 for the first) and must run the
    /// handler, renewing the lease while it runs, then [`complete`](Store::complete),
    /// [`release`](Store::release) or [`abandon`](Store::abandon) it.
    Acquired {
        /// Which attempt this is, from 1.
        attempt: u32,
        /// Set when the previous attempt's outcome is unknown.
        recovery: Option<Recovery>,
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
    /// The last attempt's outcome is unknown and the caller asked not to take such keys
    /// over (see [`crate::idempotency::RecoveryPolicy::Hold`]).
    Unresolved {
        /// The attempt whose outcome is unknown.
        attempt: u32,
        /// Why.
        reason: Unresolved,
    },
    /// The key was first claimed with another fingerprint: the same key now names other
    /// content (another amount, wallet or user). Nothing changed.
    Conflict {
        /// The key's latest attempt.
        attempt: u32,
    },
}

/// The state of a key's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// A run holds the key (or held it, if its lease has run out).
    Running,
    /// The handler succeeded.
    Done,
    /// The last run failed cleanly; the next delivery runs again.
    Failed,
    /// The last run panicked; the next delivery is a recovery.
    Panicked,
    /// The last run reported that its outcome is unknown; the next delivery is a
    /// recovery.
    Unknown,
    /// The last run was a recovery and failed cleanly: the outcome it was recovering
    /// from is still unknown, so the next delivery is a recovery too.
    RecoveryFailed,
}

impl State {
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Panicked => "panicked",
            State::Unknown => "unknown",
            State::RecoveryFailed => "recovery_failed",
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "running" => Ok(State::Running),
            "done" => Ok(State::Done),
            "failed" => Ok(State::Failed),
            "panicked" => Ok(State::Panicked),
            "unknown" => Ok(State::Unknown),
            "recovery_failed" => Ok(State::RecoveryFailed),
            other => Err(StoreError::Corrupt(format!("unknown state `{other}`"))),
        }
    }
}

/// A key's record, for inspection and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the key stands.
    pub state: State,
    /// How many attempts have claimed it.
    pub attempt: u32,
    /// The fingerprint it was first claimed with.
    pub fingerprint: String,
}

/// How an operator settles a key whose outcome is unknown (see [`Store::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// The payment system shows the money moved: later duplicates are answered 200.
    Paid,
    /// It did not: the next delivery runs again, as a plain (not recovery) attempt.
    NotPaid,
}

impl Resolution {
    /// The state a key settled this way is left in.
    pub(crate) fn state(self) -> State {
        match self {
            Resolution::Paid => State::Done,
            Resolution::NotPaid => State::Failed,
        }
    }
}

/// Why a store could not answer. The payout or delivery is then answered with a
/// retryable error, never with 200.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BackendError),
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

/// Where claims are kept.
///
/// Implementations must make [`claim`](Store::claim) atomic: of any number of concurrent
/// claims on one key, at most one is `Acquired`; and they must measure every lease by one
/// clock that all processes sharing the store agree on.
pub trait Store: Send + Sync + 'static {
    /// Claims `key`, first seen with `fingerprint`, for a run holding it for `lease`.
    ///
    /// Acquired when the key is new or its last run failed cleanly; and, when `recover`
    /// is true, when its last run's outcome is unknown (it panicked, or its lease ran out),
    /// as a [`Recovery`]. The attempt number then grows by one. A key first claimed with
    /// another fingerprint is a [`Claim::Conflict`] and changes nothing, whatever its
    /// state. Otherwise says who holds it.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Extends `attempt`'s hold on `key` to `lease` from now.
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that `attempt` succeeded: later claims answer [`Claim::Done`].
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that `attempt` failed cleanly: the next claim is acquired at once, as a
    /// plain attempt, unless `attempt` was itself a recovery (then the outcome it was
    /// recovering from is still unknown: [`State::RecoveryFailed`], and the next claim is
    /// a recovery with the same reason).
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that `attempt` ended with an unknown outcome (it panicked): the next claim
    /// is a [`Recovery`].
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that `attempt` ended saying its outcome is unknown: the next claim is a
    /// [`Recovery`] for [`Unresolved::Reported`]. Stores written before this method
    /// existed record it as [`abandon`](Store::abandon) does.
    ///
    /// # Errors
    ///
    /// [`StoreError::LostClaim`] when `attempt` no longer holds the key.
    fn report_unknown<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.abandon(key, attempt)
    }

    /// Settles a key whose last attempt's outcome is unknown, as an operator found it in
    /// the payment system. Returns whether the key was in that state: panicked, reported
    /// unknown, a failed recovery, or running with a lease that ran out a whole lease ago (the grace keeps
    /// an operator from settling a live run whose renewals are merely late). A key that
    /// is done, failed, or held by a live run is left alone.
    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The record kept for `key`, if any.
    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        (**self).claim(key, fingerprint, lease, recover)
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).renew(key, attempt, lease)
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(key, attempt)
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(key, attempt)
    }

    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).abandon(key, attempt)
    }

    fn report_unknown<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).report_unknown(key, attempt)
    }

    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).resolve(key, resolution)
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        (**self).record(key)
    }
}

/// The SQL stores' `recovery` column: 0 none, 1 lease expired, 2 panicked, 3 reported.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn unresolved_from(code: i64) -> Option<Unresolved> {
    match code {
        1 => Some(Unresolved::LeaseExpired),
        2 => Some(Unresolved::Panicked),
        3 => Some(Unresolved::Reported),
        _ => None,
    }
}

/// The recovery an acquired `attempt` is, from its `recovery` column.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn recovery_from(code: i64, attempt: u32) -> Option<Recovery> {
    Some(Recovery {
        previous_attempt: attempt.saturating_sub(1),
        reason: unresolved_from(code)?,
    })
}

/// The SQL both stores share, with the database's clock expression `now` and its
/// placeholders `p(n)` spliced in.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql {
    /// Why a taking-over claim is a recovery, from the old row's state (the `SET`
    /// expressions of an upsert read the old row): none after a clean failure, the
    /// panic, the reason carried by a failed recovery, else an expired lease.
    pub(crate) fn recovery_of_takeover(table: &str) -> String {
        format!(
            "CASE {table}.state WHEN 'failed' THEN 0 WHEN 'panicked' THEN 2 WHEN 'unknown' THEN 3 \
             WHEN 'recovery_failed' THEN {table}.recovery ELSE 1 END"
        )
    }

    /// Whether the old row may be taken over: the same fingerprint, and a clean failure,
    /// or (when `recover`, a boolean placeholder, is set) an unknown outcome.
    pub(crate) fn may_take_over(table: &str, recover: &str) -> String {
        format!(
            "{table}.fingerprint = excluded.fingerprint AND ({table}.state = 'failed' \
             OR ({recover} AND ({table}.state IN ('panicked', 'unknown', 'recovery_failed') \
               OR ({table}.state = 'running' AND {table}.lease_until <= excluded.updated_at))))"
        )
    }

    /// Records a clean failure: `failed`, or `recovery_failed` for a recovery.
    pub(crate) fn release(table: &str, now: &str, key: &str, attempt: &str) -> String {
        format!(
            "UPDATE {table} SET state = CASE WHEN recovery = 0 THEN 'failed' \
               ELSE 'recovery_failed' END, updated_at = {now} \
             WHERE key = {key} AND attempt = {attempt} AND state = 'running'"
        )
    }

    /// Settles an unknown outcome: panicked, a failed recovery, or a lease that ran out
    /// a whole lease ago (`lease_until - updated_at` is the lease of the last renewal).
    pub(crate) fn resolve(table: &str, now: &str, key: &str, state: &str) -> String {
        format!(
            "UPDATE {table} SET state = {state}, updated_at = {now} \
             WHERE key = {key} AND (state IN ('panicked', 'unknown', 'recovery_failed') \
               OR (state = 'running' AND 2 * lease_until - updated_at <= {now}))"
        )
    }
}

/// A lease in whole milliseconds, cut to [`MAX_LEASE`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX)
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

/// A key's record as a claim that did not acquire it reads it back.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct Found {
    pub(crate) state: State,
    pub(crate) attempt: u32,
    /// Milliseconds of lease left, by the store's clock (zero or less: run out).
    pub(crate) lease_left_ms: i64,
    pub(crate) fingerprint: String,
    /// The `recovery` column: why the latest attempt was a recovery (0: it was not).
    pub(crate) recovery: i64,
}

/// What a claim that did not acquire its key found. A record that changed in between
/// (failed, or its lease ran out while `recover` is set), or vanished, reads as a lease
/// already over, so the caller claims again at once. `carried` is why the latest attempt
/// was a recovery, for a failed recovery's key.
pub(crate) fn not_acquired(
    state: State,
    attempt: u32,
    lease_left: Option<Duration>,
    fingerprint_matches: bool,
    recover: bool,
    carried: Option<Unresolved>,
) -> Claim {
    if !fingerprint_matches {
        return Claim::Conflict { attempt };
    }
    let again = Claim::Running {
        attempt,
        lease_left: Duration::ZERO,
    };
    let unresolved = |reason| {
        if recover {
            again
        } else {
            Claim::Unresolved { attempt, reason }
        }
    };
    match (state, lease_left) {
        (State::Done, _) => Claim::Done { attempt },
        (State::Failed, _) => again,
        (State::Running, Some(lease_left)) => Claim::Running {
            attempt,
            lease_left,
        },
        (State::Running, None) => unresolved(Unresolved::LeaseExpired),
        (State::Panicked, _) => unresolved(Unresolved::Panicked),
        (State::Unknown, _) => unresolved(Unresolved::Reported),
        (State::RecoveryFailed, _) => unresolved(carried.unwrap_or(Unresolved::LeaseExpired)),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn claim_not_acquired(found: Option<Found>, fingerprint: &str, recover: bool) -> Claim {
    match found {
        Some(found) => not_acquired(
            found.state,
            found.attempt,
            u64::try_from(found.lease_left_ms)
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis),
            found.fingerprint == fingerprint,
            recover,
            unresolved_from(found.recovery),
        ),
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
