//! The claim protocol that runs a handler once per key, however often its delivery
//! arrives: **claim → run → record**.
//!
//! 1. *Claim* the key in the [`Store`]. If it is already `done`, answer 200 at once
//!    without running anything. If another run holds it, wait (up to
//!    [`with_wait`](Idempotency::with_wait)) for that run's outcome, then answer 200 if
//!    it succeeded, or a retryable 503 if it is still under way.
//! 2. *Run* the handler, telling it the key and the attempt number.
//! 3. *Record* the outcome: `Ok` marks the key `done` (later duplicates get 200);
//!    `Err` marks it `failed`, so the next delivery runs again as attempt n + 1.
//!
//! A store that cannot be reached at step 1 answers 503: nothing runs, nothing is
//! acknowledged, the sender retries.
//!
//! ## What "exactly once" promises across a crash
//!
//! While processes stay up, a key's handler runs to success once, and no two runs of it
//! overlap. If a process dies *during* a run (after the claim, before the record), the
//! store cannot know whether the money moved. The claim then expires after its
//! [lease](Idempotency::with_lease), and the next delivery runs again with `attempt`
//! one higher. So the handler must do its part: pass the
//! [idempotency key](crate::Payout::idempotency_key) to the payment system (most take
//! one), or check there whether the transfer for this key already happened when
//! `attempt > 1`. Choose a lease longer than the slowest payout, or a slow run can be
//! overtaken by a retry. If recording `done` fails after a successful run, the delivery
//! is still answered 200 (the money moved), and the failure is logged as an error.
//!
//! A run stopped by the dispatcher's
//! [handler timeout](crate::Dispatcher::with_handler_timeout) (30 s by default) is treated
//! like a crash: the money may be in flight, so its claim is not released, and the retry
//! runs once the lease has expired. Keep the lease above the handler timeout.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use http::StatusCode;

use crate::handler::HandlerError;
use crate::store::{Claim, Store, StoreError};

/// How long a claim holds its key unless recorded sooner: 5 minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

/// How long a duplicate waits for the run holding its key: 5 seconds.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting duplicate looks at the store again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often recording an outcome is tried before giving up.
const RECORD_TRIES: u32 = 3;

/// The claim protocol over a [`Store`]. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use hookguard::idempotency::Idempotency;
/// use hookguard::store::MemoryStore;
///
/// let idempotency = Idempotency::new(MemoryStore::new())
///     .with_lease(Duration::from_secs(120))
///     .with_wait(Duration::from_secs(2));
/// assert_eq!(idempotency.lease(), Duration::from_secs(120));
/// ```
#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn Store>,
    lease: Duration,
    wait: Duration,
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("lease", &self.lease)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl<S: Store> From<S> for Idempotency {
    fn from(store: S) -> Self {
        Self::new(store)
    }
}

/// What [`Idempotency::run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler ran, as this attempt, and succeeded.
    Ran {
        /// The attempt number it ran as.
        attempt: u32,
    },
    /// The key was already done: the handler did not run.
    AlreadyDone,
}

impl Idempotency {
    /// The protocol over `store`, with [`DEFAULT_LEASE`] and [`DEFAULT_WAIT`].
    pub fn new(store: impl Store) -> Self {
        Self {
            store: Arc::new(store),
            lease: DEFAULT_LEASE,
            wait: DEFAULT_WAIT,
        }
    }

    /// Holds each claim for `lease` (a crashed run's key is free again after it).
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Lets a duplicate wait up to `wait` for the run holding its key; zero answers 503
    /// at once.
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Runs `handler` for `key` unless it already succeeded, as the module docs say.
    ///
    /// # Errors
    ///
    /// The handler's own error (the key is then released), or a 503 [`HandlerError`]
    /// when the store cannot be reached or another run still holds the key.
    pub async fn run<F, Fut>(&self, key: &str, handler: F) -> Result<Outcome, HandlerError>
    where
        F: FnOnce(u32) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let attempt = match self.acquire(key).await? {
            Some(attempt) => attempt,
            None => return Ok(Outcome::AlreadyDone),
        };
        let result = AssertUnwindSafe(async { handler(attempt).await })
            .catch_unwind()
            .await;
        match result {
            Ok(Ok(())) => {
                self.record_done(key, attempt).await;
                Ok(Outcome::Ran { attempt })
            }
            Ok(Err(err)) => {
                self.release(key, attempt).await;
                Err(err)
            }
            Err(panic) => {
                // A panic is a failed run: free the key for the retry, then let the
                // dispatcher answer the panic as it answers any other.
                self.release(key, attempt).await;
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Claims `key`: `Some(attempt)` to run, `None` when it is already done.
    async fn acquire(&self, key: &str) -> Result<Option<u32>, HandlerError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            match self.store.claim(key, self.lease).await {
                Ok(Claim::Acquired { attempt }) => return Ok(Some(attempt)),
                Ok(Claim::Done { .. }) => return Ok(None),
                Ok(Claim::Running { lease_left, .. }) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        let retry =
                            lease_left.clamp(Duration::from_secs(1), Duration::from_secs(60));
                        return Err(HandlerError::msg(format!("`{key}` is being handled"))
                            .with_status(StatusCode::SERVICE_UNAVAILABLE)
                            .with_retry_after(Duration::from_secs(retry.as_secs())));
                    }
                    tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
                }
                Err(err) => {
                    tracing::error!(key, error = %err, "idempotency store unavailable");
                    return Err(HandlerError::new(err)
                        .with_status(StatusCode::SERVICE_UNAVAILABLE)
                        .with_retry_after(Duration::from_secs(5)));
                }
            }
        }
    }

    async fn record_done(&self, key: &str, attempt: u32) {
        for try_number in 1..=RECORD_TRIES {
            match self.store.complete(key, attempt).await {
                Ok(()) => return,
                Err(err @ StoreError::LostClaim { .. }) => {
                    tracing::error!(
                        key,
                        attempt,
                        error = %err,
                        "run succeeded after its lease expired; another attempt may have run too"
                    );
                    return;
                }
                Err(err) if try_number == RECORD_TRIES => {
                    tracing::error!(
                        key,
                        attempt,
                        error = %err,
                        "run succeeded but could not be recorded; a retry after the lease will run again"
                    );
                }
                Err(_) => tokio::time::sleep(POLL_INTERVAL * try_number).await,
            }
        }
    }

    async fn release(&self, key: &str, attempt: u32) {
        if let Err(err) = self.store.release(key, attempt).await {
            // The claim then frees itself when its lease runs out.
            tracing::warn!(key, attempt, error = %err, "could not release a failed claim");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, Record, State};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn done_keys_do_not_run_again_and_failed_keys_do() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let runs = AtomicUsize::new(0);
        let failing = idempotency
            .run("k", |attempt| {
                runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(attempt, 1);
                async { Err(HandlerError::msg("no")) }
            })
            .await;
        assert!(failing.is_err());
        let ok = idempotency
            .run("k", |attempt| {
                runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(attempt, 2);
                async { Ok(()) }
            })
            .await
            .unwrap();
        assert_eq!(ok, Outcome::Ran { attempt: 2 });
        let again = idempotency
            .run("k", |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await
            .unwrap();
        assert_eq!(again, Outcome::AlreadyDone);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(
            idempotency.store().record("k").await.unwrap(),
            Some(Record {
                state: State::Done,
                attempt: 2
            })
        );
    }

    #[tokio::test]
    async fn a_held_key_answers_503_after_the_wait() {
        let store = Arc::new(MemoryStore::new());
        assert_eq!(
            store.claim("k", Duration::from_secs(60)).await.unwrap(),
            Claim::Acquired { attempt: 1 }
        );
        let idempotency = Idempotency::new(store).with_wait(Duration::from_millis(20));
        let err = idempotency
            .run("k", |_| async { Ok(()) })
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(err.retry_after().is_some());
    }
}
