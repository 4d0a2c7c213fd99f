use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{
    not_acquired, Claim, Record, Recovery, Resolution, State, Store, StoreError, Unresolved,
    MAX_LEASE,
};

/// Claims kept in this process's memory. **For tests**: it forgets every key, paid ones
/// included, when the process stops, so a receiver that pays must use
/// [`SqliteStore`](super::SqliteStore) or [`PostgresStore`](super::PostgresStore).
///
/// Leases are measured by tokio's monotonic clock, so that tests on paused time
/// (`tokio::time::pause`) expire them deterministically.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    state: State,
    attempt: u32,
    lease_until: Instant,
    /// When the lease was last set, so that `lease_until - renewed_at` is its length.
    renewed_at: Instant,
    fingerprint: String,
    /// Why the latest attempt was a recovery, if it was.
    recovery: Option<Unresolved>,
}

impl Entry {
    fn lease_left(&self, now: Instant) -> Option<Duration> {
        Some(self.lease_until.checked_duration_since(now)?).filter(|left| !left.is_zero())
    }
}

impl Entry {
    /// Whether an operator may settle the key: its outcome is unknown, and if it was
    /// running, its lease ran out a whole lease ago (late renewals are not a death).
    fn unknown_for_a_lease(&self, now: Instant) -> bool {
        match self.state {
            State::Panicked | State::Unknown | State::RecoveryFailed => true,
            State::Running => {
                let lease = self.lease_until.saturating_duration_since(self.renewed_at);
                self.lease_until
                    .checked_add(lease)
                    .is_some_and(|settled| settled <= now)
            }
            State::Done | State::Failed => false,
        }
    }
}

fn lease_until(now: Instant, lease: Duration) -> Instant {
    // `MAX_LEASE` from any instant the runtime can produce fits; the cut keeps a huge
    // lease from wrapping, and a failed add keeps the claim (never frees it early).
    now.checked_add(lease.min(MAX_LEASE))
        .unwrap_or_else(|| now + Duration::from_secs(1))
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_records<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        // A poisoned lock means a panic mid-update elsewhere; the map itself is still
        // consistent (every update is a single assignment), so carry on with it.
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut records)
    }

    fn held(&self, key: &str, attempt: u32, f: impl FnOnce(&mut Entry)) -> Result<(), StoreError> {
        self.with_records(|records| match records.get_mut(key) {
            Some(entry) if entry.state == State::Running && entry.attempt == attempt => {
                f(entry);
                Ok(())
            }
            _ => Err(StoreError::LostClaim {
                key: key.to_owned(),
                attempt,
            }),
        })
    }

    fn finish(&self, key: &str, attempt: u32, state: State) -> Result<(), StoreError> {
        self.held(key, attempt, |entry| {
            // A recovery that fails cleanly leaves the outcome it recovered from unknown.
            entry.state = match (state, entry.recovery) {
                (State::Failed, Some(_)) => State::RecoveryFailed,
                _ => state,
            };
        })
    }

    fn claim_now(&self, key: &str, fingerprint: &str, lease: Duration, recover: bool) -> Claim {
        let now = Instant::now();
        self.with_records(|records| {
            let Some(entry) = records.get_mut(key) else {
                records.insert(
                    key.to_owned(),
                    Entry {
                        state: State::Running,
                        attempt: 1,
                        lease_until: lease_until(now, lease),
                        renewed_at: now,
                        fingerprint: fingerprint.to_owned(),
                        recovery: None,
                    },
                );
                return Claim::Acquired {
                    attempt: 1,
                    recovery: None,
                };
            };
            let left = entry.lease_left(now);
            // `Some(recovery reason)` when this claim may take the key over.
            let takeover = match (entry.state, left) {
                (State::Failed, _) => Some(None),
                (State::Running, None) if recover => Some(Some(Unresolved::LeaseExpired)),
                (State::Panicked, _) if recover => Some(Some(Unresolved::Panicked)),
                (State::Unknown, _) if recover => Some(Some(Unresolved::Reported)),
                (State::RecoveryFailed, _) if recover => {
                    Some(Some(entry.recovery.unwrap_or(Unresolved::LeaseExpired)))
                }
                _ => None,
            };
            let matches = entry.fingerprint == fingerprint;
            let Some(reason) = takeover.filter(|_| matches) else {
                return not_acquired(
                    entry.state,
                    entry.attempt,
                    left,
                    matches,
                    recover,
                    entry.recovery,
                );
            };
            let previous_attempt = entry.attempt;
            entry.state = State::Running;
            entry.attempt = entry.attempt.saturating_add(1);
            entry.lease_until = lease_until(now, lease);
            entry.renewed_at = now;
            entry.recovery = reason;
            Claim::Acquired {
                attempt: entry.attempt,
                recovery: reason.map(|reason| Recovery {
                    previous_attempt,
                    reason,
                }),
            }
        })
    }
}

impl Store for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        let claim = self.claim_now(key, fingerprint, lease, recover);
        Box::pin(async move { Ok(claim) })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        let result = self.held(key, attempt, |entry| {
            entry.lease_until = lease_until(now, lease);
            entry.renewed_at = now;
        });
        Box::pin(async move { result })
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.finish(key, attempt, State::Done);
        Box::pin(async move { result })
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.finish(key, attempt, State::Failed);
        Box::pin(async move { result })
    }

    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.finish(key, attempt, State::Panicked);
        Box::pin(async move { result })
    }

    fn report_unknown<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.finish(key, attempt, State::Unknown);
        Box::pin(async move { result })
    }

    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let now = Instant::now();
        let settled = self.with_records(|records| match records.get_mut(key) {
            Some(entry) if entry.unknown_for_a_lease(now) => {
                entry.state = resolution.state();
                true
            }
            _ => false,
        });
        Box::pin(async move { Ok(settled) })
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let record = self.with_records(|records| {
            records.get(key).map(|e| Record {
                state: e.state,
                attempt: e.attempt,
                fingerprint: e.fingerprint.clone(),
            })
        });
        Box::pin(async move { Ok(record) })
    }
}
