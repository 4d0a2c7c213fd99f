use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Claim, Record, State, Store, StoreError};

/// Claims kept in this process's memory: for tests and single-process receivers that
/// accept losing them on restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: State,
    attempt: u32,
    lease_until: Instant,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_records<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Entry>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned lock means a panic mid-update elsewhere; the map itself is still
        // consistent (every update is a single insert), so carry on with it.
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut records)
    }

    fn finish(&self, key: &str, attempt: u32, state: State) -> Result<(), StoreError> {
        self.with_records(|records| match records.get_mut(key) {
            Some(entry) if entry.state == State::Running && entry.attempt == attempt => {
                entry.state = state;
                Ok(())
            }
            _ => Err(StoreError::LostClaim {
                key: key.to_owned(),
                attempt,
            }),
        })
    }
}

impl Store for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        let now = Instant::now();
        let result = self.with_records(|records| {
            let lease_until = now.checked_add(lease).unwrap_or(now);
            match records.get_mut(key) {
                None => {
                    records.insert(
                        key.to_owned(),
                        Entry {
                            state: State::Running,
                            attempt: 1,
                            lease_until,
                        },
                    );
                    Ok(Claim::Acquired { attempt: 1 })
                }
                Some(entry) => match entry.state {
                    State::Done => Ok(Claim::Done {
                        attempt: entry.attempt,
                    }),
                    State::Running if entry.lease_until > now => Ok(Claim::Running {
                        attempt: entry.attempt,
                        lease_left: entry.lease_until - now,
                    }),
                    State::Running | State::Failed => {
                        entry.state = State::Running;
                        entry.attempt = entry.attempt.saturating_add(1);
                        entry.lease_until = lease_until;
                        Ok(Claim::Acquired {
                            attempt: entry.attempt,
                        })
                    }
                },
            }
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

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let result = self.with_records(|records| {
            Ok(records.get(key).map(|e| Record {
                state: e.state,
                attempt: e.attempt,
            }))
        });
        Box::pin(async move { result })
    }
}
