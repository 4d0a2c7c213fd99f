//! The claim protocol that runs a handler to completion at most once per key, however
//! often its delivery arrives: **claim → run → record**, detached from the request.
//!
//! ## The promise
//!
//! A key's handler runs to completion at most once, **unless a run's outcome is
//! unknown** (its process died, or it panicked); the next run is then a
//! [recovery](Attempt::recovery), told so, so that it can ask its payment system whether
//! the previous attempt paid before paying again. A caller is told
//! [`Outcome::Ran`] or [`Outcome::AlreadyDone`] (answered 2xx by the dispatcher) only once
//! the key is recorded `done`.
//!
//! ## How
//!
//! 1. *Claim* the key in the [`Store`], with a fingerprint of what it pays. If it is
//!    already `done`, report that at once. If a live run holds it, wait (up to
//!    [`with_wait`](Idempotency::with_wait)) for it to finish. If the key was first seen
//!    with another fingerprint, refuse ([`RunError::Conflict`]): the same key now names
//!    other content.
//! 2. *Run* the handler, telling it its [`Attempt`]. While it runs, the attempt renews its
//!    lease every third of [`with_lease`](Idempotency::with_lease), so a long run keeps
//!    its claim and a dead process's claim expires one lease after its last renewal.
//! 3. *Record* the outcome: `Ok` marks the key `done`, tried again and again until it is
//!    written or the claim is provably lost; `Err` marks it `failed` (the next delivery
//!    runs again as a plain attempt), unless the attempt was itself a recovery or the
//!    error says the outcome is unknown ([`Failure::is_outcome_unknown`]); a panic, like
//!    those, leaves the next attempt a recovery.
//!
//! The three steps run in a task of their own, which the caller only waits on: a caller
//! that stops waiting (the sender hung up, the dispatcher's handler timeout passed) never
//! cancels a started run or its record. A store that cannot be reached at step 1 runs
//! nothing ([`RunError::Store`]).
//!
//! A recovery after a crash can be held for an operator instead of run
//! ([`RecoveryPolicy::Hold`]): the key then answers [`RunError::Held`] until
//! [`Idempotency::resolve`] settles it.
//!
//! This module knows nothing of HTTP: the dispatcher turns its errors into statuses.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::FutureExt;
use tokio::sync::{oneshot, watch};

pub mod store;

#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, Recovery, Resolution, Store, StoreError};

use crate::error::ConfigError;
use store::{Claim, State, Unresolved};

/// How long a claim holds its key after the running attempt's last renewal: 1 minute.
/// It is how long a crashed payout waits before its recovery.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The shortest lease accepted: 1 second.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// The longest lease accepted: 1 day.
pub const MAX_LEASE: Duration = crate::idempotency::store::MAX_LEASE;

/// How long a duplicate waits for the run holding its key: 5 seconds.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting duplicate looks at the store again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The first pause between tries at recording an outcome; it doubles up to
/// [`MAX_RECORD_BACKOFF`].
const RECORD_BACKOFF: Duration = Duration::from_millis(50);

/// The longest pause between tries at recording an outcome.
const MAX_RECORD_BACKOFF: Duration = Duration::from_secs(5);

/// How often releasing a failed or panicked claim is tried before its lease is left to
/// free it (a lease that runs out reads as a recovery, which is safe).
const RELEASE_TRIES: u32 = 3;

/// The longest a claim or record call may take before it counts as failed.
const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `call`, failed as unavailable if it takes longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable("store call timed out".into())),
    }
}

/// What the claim protocol asks of a handler's error: whether it means "not done" (the
/// key is free for a plain retry) or "cannot tell" (the next attempt is a recovery).
///
/// Implemented for [`HandlerError`](crate::HandlerError) and
/// [`PayoutError`](crate::PayoutError) (see their `outcome_unknown` constructors), and,
/// as "not done", for plain error types.
pub trait Failure: Send + 'static {
    /// Whether the handler cannot tell if its work (a transfer) happened.
    fn is_outcome_unknown(&self) -> bool {
        false
    }
}

impl Failure for &'static str {}
impl Failure for String {}
impl Failure for std::convert::Infallible {}
impl Failure for std::io::Error {}
impl Failure for crate::error::BoxError {}

/// What to do with a key whose last attempt's outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecoveryPolicy {
    /// Run the handler as a recovery ([`Attempt::recovery`] is set), for it to reconcile
    /// with the payment system. The default.
    #[default]
    Run,
    /// Run nothing: answer [`RunError::Held`] (the dispatcher answers 503 and logs an
    /// error) until an operator settles the key with [`Idempotency::resolve`].
    Hold,
}

/// Which attempt at a key a run is, and whether the previous one's outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempt {
    number: u32,
    recovery: Option<Recovery>,
}

impl Attempt {
    /// The attempt of a handler that runs outside any claim: number 1, no recovery.
    pub const FIRST: Attempt = Attempt {
        number: 1,
        recovery: None,
    };

    pub(crate) fn new(number: u32, recovery: Option<Recovery>) -> Self {
        Self { number, recovery }
    }

    /// Which attempt this is, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Set when an earlier attempt's outcome is unknown (it crashed, lost its lease,
    /// panicked or said so, perhaps after the money left, and no attempt since has
    /// succeeded): look the key up in the payment system before paying.
    pub fn recovery(&self) -> Option<Recovery> {
        self.recovery
    }

    /// Whether this attempt is a [recovery](Attempt::recovery).
    pub fn is_recovery(&self) -> bool {
        self.recovery.is_some()
    }
}

/// What [`Idempotency::run`] did: in both cases the key is recorded `done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler ran, as this attempt, succeeded, and the success was recorded.
    Ran {
        /// The attempt number it ran as.
        attempt: u32,
    },
    /// The key was already done: the handler did not run.
    AlreadyDone {
        /// The attempt that succeeded.
        attempt: u32,
    },
}

/// Why [`Idempotency::run`] did not end with the key recorded `done`. Never an
/// acknowledgement: each is answered with an error status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError<E> {
    /// The handler ran and returned this error; the key is free for a retry (a plain one,
    /// unless the attempt was a recovery or the error says the outcome is unknown).
    #[error("the handler failed: {0}")]
    Handler(E),
    /// The handler panicked; the next attempt is a recovery.
    #[error("the handler panicked; its outcome is unknown")]
    Panicked,
    /// Another run holds the key and did not finish within the wait.
    #[error("`{key}` is being handled by attempt {attempt}")]
    Busy {
        /// The key.
        key: String,
        /// The attempt under way.
        attempt: u32,
        /// About when the holder's lease runs out.
        retry_after: Duration,
    },
    /// The last attempt's outcome is unknown and [`RecoveryPolicy::Hold`] is set: nothing
    /// runs until an operator settles the key.
    #[error(
        "`{key}` is held for an operator: the outcome of attempt {attempt} is unknown ({reason:?})"
    )]
    Held {
        /// The key.
        key: String,
        /// The attempt whose outcome is unknown.
        attempt: u32,
        /// Why.
        reason: Unresolved,
    },
    /// The key was first claimed with another fingerprint: nothing ran.
    #[error("`{key}` was first seen with other content (another fingerprint); refused")]
    Conflict {
        /// The key.
        key: String,
    },
    /// The handler succeeded, but another attempt took the claim over before the success
    /// was recorded (this attempt's lease ran out): that attempt runs as a recovery.
    #[error("`{key}`: attempt {attempt} succeeded after losing its claim")]
    LostClaim {
        /// The key.
        key: String,
        /// The attempt that lost it.
        attempt: u32,
    },
    /// The store could not be reached to claim the key: nothing ran.
    #[error(transparent)]
    Store(StoreError),
    /// The run's task ended without an outcome: the runtime is shutting down.
    #[error("the run ended without an outcome (runtime shutting down)")]
    Interrupted,
}

/// The claim protocol over a [`Store`]. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use hookguard::idempotency::{Idempotency, RecoveryPolicy};
/// use hookguard::idempotency::MemoryStore;
///
/// let idempotency = Idempotency::new(MemoryStore::new())
///     .with_lease(Duration::from_secs(120))?
///     .with_wait(Duration::from_secs(2))
///     .with_recovery_policy(RecoveryPolicy::Hold);
/// assert_eq!(idempotency.lease(), Duration::from_secs(120));
/// assert!(Idempotency::new(MemoryStore::new()).with_lease(Duration::ZERO).is_err());
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn Store>,
    lease: Duration,
    wait: Duration,
    recovery: RecoveryPolicy,
    max_run: Option<Duration>,
    /// How many runs are under way, shared by every clone, for [`Idempotency::drain`].
    in_flight: Arc<watch::Sender<usize>>,
}

/// Counts one run as under way for as long as it lives, however its task ends.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn start(counter: &Arc<watch::Sender<usize>>) -> Self {
        counter.send_modify(|n| *n += 1);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("lease", &self.lease)
            .field("wait", &self.wait)
            .field("recovery", &self.recovery)
            .field("max_run", &self.max_run)
            .finish_non_exhaustive()
    }
}

impl<S: Store> From<S> for Idempotency {
    fn from(store: S) -> Self {
        Self::new(store)
    }
}

/// What a claim came to, for the run.
enum Acquired {
    /// Run as this attempt; the claim was sent at this instant, so its lease runs out no
    /// earlier than a lease after it.
    Run(Attempt, tokio::time::Instant),
    Done(u32),
}

impl Idempotency {
    /// The protocol over `store`, with [`DEFAULT_LEASE`], [`DEFAULT_WAIT`] and
    /// [`RecoveryPolicy::Run`].
    pub fn new(store: impl Store) -> Self {
        Self {
            store: Arc::new(store),
            lease: DEFAULT_LEASE,
            wait: DEFAULT_WAIT,
            recovery: RecoveryPolicy::Run,
            max_run: None,
            in_flight: Arc::new(watch::channel(0).0),
        }
    }

    /// Holds each claim for `lease` after the running attempt's last renewal (renewals
    /// come every third of it). A crashed run's key is free again, as a recovery, one
    /// lease after its last renewal.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidLease`] outside [`MIN_LEASE`]..=[`MAX_LEASE`].
    pub fn with_lease(mut self, lease: Duration) -> Result<Self, ConfigError> {
        if !(MIN_LEASE..=MAX_LEASE).contains(&lease) {
            return Err(ConfigError::InvalidLease {
                given: lease,
                min: MIN_LEASE,
                max: MAX_LEASE,
            });
        }
        self.lease = lease;
        Ok(self)
    }

    /// Lets a duplicate wait up to `wait` (at most [`MAX_LEASE`]) for the run holding its
    /// key; zero reports [`RunError::Busy`] at once. The dispatcher's handler timeout
    /// bounds it too.
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait.min(MAX_LEASE);
        self
    }

    /// Stops renewing a run's claim once it has run for `max_run` (never less than the
    /// lease), so that a handler hung for good does not hold its key forever: the lease then runs out, and the next
    /// delivery is a recovery (or is held, under [`RecoveryPolicy::Hold`]). Unbounded by
    /// default, since a payout may legitimately wait long for its confirmation; if you set
    /// it, set it well above your slowest payout, because the recovery may then run while
    /// the hung attempt is still alive.
    #[must_use]
    pub fn with_max_run(mut self, max_run: Duration) -> Self {
        self.max_run = Some(max_run);
        self
    }

    /// What to do with a key whose last attempt's outcome is unknown
    /// ([`RecoveryPolicy::Run`] by default).
    #[must_use]
    pub fn with_recovery_policy(mut self, policy: RecoveryPolicy) -> Self {
        self.recovery = policy;
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

    /// How many runs (of this protocol and its clones) are under way.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits up to `timeout` for every run under way to finish and record its outcome,
    /// for a graceful shutdown: stop taking requests, then drain, then exit. Returns
    /// whether none is left. A run still going when the process exits is a crash: its
    /// key's next attempt is a recovery.
    ///
    /// ```
    /// # async fn run() {
    /// use std::time::Duration;
    /// use hookguard::idempotency::Idempotency;
    /// use hookguard::idempotency::MemoryStore;
    ///
    /// let claims = Idempotency::new(MemoryStore::new());
    /// // ... serve with a dispatcher built from `claims.clone()`, until shutdown ...
    /// assert!(claims.drain(Duration::from_secs(30)).await);
    /// # }
    /// ```
    pub async fn drain(&self, timeout: Duration) -> bool {
        let mut count = self.in_flight.subscribe();
        let idle = async move { count.wait_for(|&n| n == 0).await.is_ok() };
        tokio::time::timeout(timeout, idle).await.unwrap_or(false)
    }

    /// Settles a key whose last attempt's outcome is unknown, once an operator has looked
    /// it up in the payment system: [`Resolution::Paid`] records it `done`,
    /// [`Resolution::NotPaid`] lets the next delivery run as a plain attempt. Returns
    /// whether the key was in that state.
    ///
    /// # Errors
    ///
    /// The store's, when it cannot be reached.
    pub async fn resolve(&self, key: &str, resolution: Resolution) -> Result<bool, StoreError> {
        let settled = self.bounded(self.store.resolve(key, resolution)).await?;
        tracing::warn!(
            key,
            ?resolution,
            settled,
            "unresolved claim settled by hand"
        );
        Ok(settled)
    }

    /// Runs `handler` for `key` unless it already succeeded, as the module docs say;
    /// `fingerprint` names what the key pays (empty when nothing need match). A handler
    /// error whose [`Failure::is_outcome_unknown`] is true leaves the key unresolved, as a
    /// panic does, instead of failed.
    ///
    /// The claim, the run and the record happen in a task of their own (spawned on the
    /// current tokio runtime): dropping this future stops only the waiting.
    ///
    /// # Errors
    ///
    /// A [`RunError`]: the handler's own error, a panic, a key held by another run or
    /// for an operator, a fingerprint conflict, a lost claim, or an unreachable store.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with time enabled.
    pub async fn run<F, Fut, E>(
        &self,
        key: impl Into<String>,
        fingerprint: impl Into<String>,
        handler: F,
    ) -> Result<Outcome, RunError<E>>
    where
        F: FnOnce(Attempt) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Failure,
    {
        let (key, fingerprint) = (key.into(), fingerprint.into());
        let (report, outcome) = oneshot::channel();
        let this = self.clone();
        let in_flight = InFlight::start(&self.in_flight);
        tokio::spawn(async move {
            let _in_flight = in_flight;
            let result = this.drive(&key, &fingerprint, handler, &report).await;
            // The caller may have stopped waiting; the outcome is in the store either way.
            let _ = report.send(result);
        });
        outcome.await.unwrap_or(Err(RunError::Interrupted))
    }

    /// Claim, run, record: the spawned task's body.
    async fn drive<F, Fut, E, T>(
        &self,
        key: &str,
        fingerprint: &str,
        handler: F,
        waiter: &oneshot::Sender<T>,
    ) -> Result<Outcome, RunError<E>>
    where
        F: FnOnce(Attempt) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Failure,
    {
        let (attempt, claimed_at) = match self.acquire(key, fingerprint, waiter).await? {
            Acquired::Run(attempt, claimed_at) => (attempt, claimed_at),
            Acquired::Done(attempt) => return Ok(Outcome::AlreadyDone { attempt }),
        };
        if let Some(recovery) = attempt.recovery {
            tracing::warn!(
                key,
                attempt = attempt.number,
                previous_attempt = recovery.previous_attempt,
                reason = ?recovery.reason,
                "recovery: the previous attempt's outcome is unknown"
            );
        }
        // From here the claim is ours: every path below records an outcome or leaves the
        // lease to run out (which the next claim reads as a recovery).
        let number = attempt.number;
        // A claim answered late may be older than it looks: if a good part of its lease
        // has gone, renew it before running, so the handler never starts on a claim a
        // duplicate may already have taken over.
        let mut claimed_at = claimed_at;
        if claimed_at.elapsed() >= self.lease / 4 {
            let sent = tokio::time::Instant::now();
            match bounded(self.lease / 4, self.store.renew(key, number, self.lease)).await {
                Ok(()) => claimed_at = sent,
                Err(err) => {
                    tracing::warn!(key, attempt = number, error = %err, "claim answered too late to run on; nothing ran");
                    return Err(match err {
                        StoreError::LostClaim { .. } => RunError::LostClaim {
                            key: key.to_owned(),
                            attempt: number,
                        },
                        other => {
                            // Nothing ran: free the key (a no-op if it was taken over).
                            self.finish_unsuccessful(key, number, State::Failed).await;
                            RunError::Store(other)
                        }
                    });
                }
            }
        }
        let work = async move {
            // `handler(attempt)` is called inside the caught future, so a panic in the
            // call itself is caught like one in its future.
            let result = AssertUnwindSafe(async move { handler(attempt).await })
                .catch_unwind()
                .await;
            match result {
                Ok(Ok(())) => self
                    .record_done(key, number)
                    .await
                    .map(|()| Outcome::Ran { attempt: number }),
                Ok(Err(err)) => {
                    // A handler error that says it cannot tell whether its work happened
                    // leaves the outcome unknown, as a panic does.
                    let state = if err.is_outcome_unknown() {
                        State::Unknown
                    } else {
                        State::Failed
                    };
                    self.finish_unsuccessful(key, number, state).await;
                    Err(RunError::Handler(err))
                }
                Err(_panic) => {
                    tracing::error!(
                        key,
                        attempt = number,
                        "handler panicked; the next attempt is a recovery"
                    );
                    self.finish_unsuccessful(key, number, State::Panicked).await;
                    Err(RunError::Panicked)
                }
            }
        };
        let work = pin!(work);
        let renewals = pin!(self.keep_claim(key, number, claimed_at));
        match select(work, renewals).await {
            Either::Left((result, _)) => result,
            // No longer renewed: the run goes on (money may be in flight) and its record
            // will say whether the claim was really lost (a renewal can also race the
            // run's own record, which is no loss).
            Either::Right((why, work)) => {
                let result = work.await;
                if result.is_err() {
                    tracing::error!(
                        key,
                        attempt = number,
                        why,
                        "claim no longer renewed while the run went on; the next attempt is a recovery"
                    );
                }
                result
            }
        }
    }

    /// Claims `key`, waiting for a live holder while the caller still waits.
    async fn acquire<E, T>(
        &self,
        key: &str,
        fingerprint: &str,
        waiter: &oneshot::Sender<T>,
    ) -> Result<Acquired, RunError<E>> {
        let recover = self.recovery == RecoveryPolicy::Run;
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let sent = tokio::time::Instant::now();
            let claim = self.bounded(self.store.claim(key, fingerprint, self.lease, recover));
            match claim.await {
                Ok(Claim::Acquired { attempt, recovery }) => {
                    return Ok(Acquired::Run(Attempt::new(attempt, recovery), sent))
                }
                Ok(Claim::Done { attempt }) => return Ok(Acquired::Done(attempt)),
                Ok(Claim::Running {
                    attempt,
                    lease_left,
                }) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline || waiter.is_closed() {
                        return Err(RunError::Busy {
                            key: key.to_owned(),
                            attempt,
                            retry_after: lease_left
                                .clamp(Duration::from_secs(1), Duration::from_secs(60)),
                        });
                    }
                    tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
                }
                Ok(Claim::Unresolved { attempt, reason }) => {
                    tracing::error!(
                        key,
                        attempt,
                        ?reason,
                        "held for an operator: the outcome of the last attempt is unknown; \
                         look the key up in the payment system, then settle it with Idempotency::resolve"
                    );
                    return Err(RunError::Held {
                        key: key.to_owned(),
                        attempt,
                        reason,
                    });
                }
                Ok(Claim::Conflict { attempt }) => {
                    tracing::error!(
                        key,
                        attempt,
                        "refused: this key was first seen with other content (amount, currency, \
                         wallet, user or reward); nothing runs for it"
                    );
                    return Err(RunError::Conflict {
                        key: key.to_owned(),
                    });
                }
                Err(err) => {
                    tracing::error!(key, error = %err, "idempotency store unavailable");
                    return Err(RunError::Store(err));
                }
            }
        }
    }

    /// A store call, bounded so that a hung store cannot hold a run forever. A call cut
    /// short may still have been applied: every caller reads such a timeout as "unknown"
    /// and stays safe (a claim it may hold runs out into a recovery; a record is retried
    /// and checked).
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        bounded(STORE_CALL_TIMEOUT, call).await
    }

    /// Renews `attempt`'s lease every quarter of it, for as long as the claim is held;
    /// returns (why) only when the claim is provably lost, or the run has outlived
    /// [`with_max_run`](Idempotency::with_max_run).
    ///
    /// Renewals are timed from when the last one that succeeded was *sent* (`claimed_at`
    /// for the claim itself): the store applied it no earlier, so the lease runs out no
    /// earlier than a lease after that, however late its answer came. Each call is cut
    /// short after a twelfth of the lease, and one that fails or is cut short is tried
    /// again a twelfth later, so a hung call never holds up the next: the claim lapses only
    /// if the store cannot be reached for about three quarters of the lease.
    async fn keep_claim(
        &self,
        key: &str,
        attempt: u32,
        claimed_at: tokio::time::Instant,
    ) -> &'static str {
        let every = self.lease / 4;
        let soon = (self.lease / 12).max(Duration::from_millis(50));
        let max_run = self.max_run.map(|max| max.max(self.lease));
        let mut renewed = claimed_at;
        let mut next = claimed_at + every;
        loop {
            tokio::time::sleep_until(next).await;
            if max_run.is_some_and(|max| claimed_at.elapsed() >= max) {
                tracing::error!(
                    key,
                    attempt,
                    max_run = ?max_run,
                    "run outlived its maximum; its claim is no longer renewed"
                );
                return "the run outlived its maximum";
            }
            let sent = tokio::time::Instant::now();
            match bounded(soon, self.store.renew(key, attempt, self.lease)).await {
                Ok(()) => {
                    renewed = sent;
                    next = sent + every;
                }
                Err(StoreError::LostClaim { .. }) => return "the claim was lost",
                Err(err) => {
                    let unrenewed = renewed.elapsed();
                    if unrenewed >= self.lease {
                        tracing::error!(
                            key,
                            attempt,
                            error = %err,
                            ?unrenewed,
                            "claim not renewed for a whole lease: a recovery may run beside this attempt"
                        );
                    } else {
                        tracing::warn!(key, attempt, error = %err, "could not renew a claim; trying again soon");
                    }
                    next = tokio::time::Instant::now() + soon;
                }
            }
        }
    }

    /// Records `attempt`'s success, trying until it is written or the claim is lost.
    async fn record_done<E>(&self, key: &str, attempt: u32) -> Result<(), RunError<E>> {
        let mut pause = RECORD_BACKOFF;
        loop {
            match self.bounded(self.store.complete(key, attempt)).await {
                Ok(()) => return Ok(()),
                Err(StoreError::LostClaim { .. }) => {
                    // An earlier try may have been written with its answer lost: then the
                    // record says so. A record that cannot be read is no proof either way.
                    match self.bounded(self.store.record(key)).await {
                        Ok(Some(record))
                            if record.state == State::Done && record.attempt == attempt =>
                        {
                            return Ok(())
                        }
                        Ok(_) => {}
                        Err(_) => {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(MAX_RECORD_BACKOFF);
                            continue;
                        }
                    }
                    tracing::error!(
                        key,
                        attempt,
                        "run succeeded after its claim was taken over; that attempt runs as a recovery"
                    );
                    return Err(RunError::LostClaim {
                        key: key.to_owned(),
                        attempt,
                    });
                }
                Err(err) => {
                    tracing::error!(
                        key,
                        attempt,
                        error = %err,
                        "run succeeded but is not recorded yet; trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RECORD_BACKOFF);
                }
            }
        }
    }

    /// Records a failed (`State::Failed`) or unknown (`State::Panicked`,
    /// `State::Unknown`) outcome. When
    /// that cannot be written, the lease runs out instead and the next claim is a
    /// recovery: safe either way.
    async fn finish_unsuccessful(&self, key: &str, attempt: u32, state: State) {
        for try_number in 1..=RELEASE_TRIES {
            let call = match state {
                State::Failed => self.store.release(key, attempt),
                State::Unknown => self.store.report_unknown(key, attempt),
                _ => self.store.abandon(key, attempt),
            };
            match self.bounded(call).await {
                Ok(()) | Err(StoreError::LostClaim { .. }) => return,
                Err(err) if try_number == RELEASE_TRIES => {
                    tracing::warn!(key, attempt, error = %err, "could not record a failed run; its lease will free it, as a recovery");
                }
                Err(_) => tokio::time::sleep(RECORD_BACKOFF * try_number).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::store::{MemoryStore, Record};
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Run = Result<Outcome, RunError<&'static str>>;

    #[tokio::test]
    async fn done_keys_do_not_run_again_and_failed_keys_do() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let failing: Run = idempotency
            .run("k", "f", move |attempt| {
                counted.fetch_add(1, Ordering::SeqCst);
                assert_eq!(attempt, Attempt::FIRST);
                async { Err("no") }
            })
            .await;
        assert!(matches!(failing, Err(RunError::Handler("no"))));
        let counted = Arc::clone(&runs);
        let ok: Run = idempotency
            .run("k", "f", move |attempt| {
                counted.fetch_add(1, Ordering::SeqCst);
                // A clean failure before: a plain attempt, not a recovery.
                assert_eq!(attempt, Attempt::new(2, None));
                async { Ok(()) }
            })
            .await;
        assert_eq!(ok.unwrap(), Outcome::Ran { attempt: 2 });
        let counted = Arc::clone(&runs);
        let again: Run = idempotency
            .run("k", "f", move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await;
        assert_eq!(again.unwrap(), Outcome::AlreadyDone { attempt: 2 });
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(
            idempotency.store().record("k").await.unwrap(),
            Some(Record {
                state: State::Done,
                attempt: 2,
                fingerprint: "f".into(),
            })
        );
    }

    #[tokio::test]
    async fn a_held_key_is_busy_after_the_wait() {
        let store = Arc::new(MemoryStore::new());
        assert!(matches!(
            store
                .claim("k", "", Duration::from_secs(60), true)
                .await
                .unwrap(),
            Claim::Acquired { attempt: 1, .. }
        ));
        let idempotency = Idempotency::new(store).with_wait(Duration::from_millis(20));
        let busy: Run = idempotency.run("k", "", |_| async { Ok(()) }).await;
        match busy {
            Err(RunError::Busy { retry_after, .. }) => assert!(retry_after >= MIN_LEASE),
            other => panic!("expected busy, got {other:?}"),
        }
    }

    #[test]
    fn leases_are_checked_at_construction() {
        let idempotency = || Idempotency::new(MemoryStore::new());
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            MAX_LEASE + Duration::from_secs(1),
            Duration::MAX,
        ] {
            assert!(
                matches!(
                    idempotency().with_lease(bad),
                    Err(ConfigError::InvalidLease { .. })
                ),
                "{bad:?}"
            );
        }
        for good in [MIN_LEASE, DEFAULT_LEASE, MAX_LEASE] {
            assert_eq!(idempotency().with_lease(good).unwrap().lease(), good);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_longer_than_its_lease_keeps_its_claim() {
        let idempotency = Idempotency::new(MemoryStore::new())
            .with_lease(Duration::from_secs(1))
            .unwrap()
            .with_wait(Duration::ZERO);
        let (started, started_rx) = oneshot::channel::<()>();
        let slow = tokio::spawn({
            let idempotency = idempotency.clone();
            async move {
                let run: Run = idempotency
                    .run("k", "", move |_| async move {
                        let _ = started.send(());
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(())
                    })
                    .await;
                run
            }
        });
        started_rx.await.unwrap();
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let duplicate: Run = idempotency
                .run("k", "", |_| async {
                    panic!("a duplicate ran beside a live run")
                })
                .await;
            assert!(
                matches!(duplicate, Err(RunError::Busy { .. })),
                "{duplicate:?}"
            );
        }
        assert_eq!(slow.await.unwrap().unwrap(), Outcome::Ran { attempt: 1 });
    }

    #[tokio::test]
    async fn a_panic_makes_the_next_attempt_a_recovery_or_holds_it() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = Idempotency::new(Arc::clone(&store));
        let panicked: Run = idempotency
            .run("k", "", |_| async { panic!("after the transfer left") })
            .await;
        assert!(matches!(panicked, Err(RunError::Panicked)));

        let held: Run = idempotency
            .clone()
            .with_recovery_policy(RecoveryPolicy::Hold)
            .run("k", "", |_| async { panic!("a held key ran") })
            .await;
        assert!(matches!(
            held,
            Err(RunError::Held {
                attempt: 1,
                reason: Unresolved::Panicked,
                ..
            })
        ));

        let (seen, seen_rx) = oneshot::channel();
        let recovered: Run = idempotency
            .run("k", "", move |attempt| {
                let _ = seen.send(attempt);
                async { Ok(()) }
            })
            .await;
        assert_eq!(recovered.unwrap(), Outcome::Ran { attempt: 2 });
        let attempt = seen_rx.await.unwrap();
        assert_eq!(
            attempt.recovery(),
            Some(Recovery {
                previous_attempt: 1,
                reason: Unresolved::Panicked,
            })
        );
    }

    #[tokio::test]
    async fn an_operator_settles_a_held_key() {
        let idempotency =
            Idempotency::new(MemoryStore::new()).with_recovery_policy(RecoveryPolicy::Hold);
        let _: Run = idempotency.run("k", "", |_| async { panic!("boom") }).await;
        assert!(idempotency.resolve("k", Resolution::Paid).await.unwrap());
        let again: Run = idempotency
            .run("k", "", |_| async { panic!("a settled key ran") })
            .await;
        assert_eq!(again.unwrap(), Outcome::AlreadyDone { attempt: 1 });
        // A done key is not settled again.
        assert!(!idempotency.resolve("k", Resolution::NotPaid).await.unwrap());
    }

    #[tokio::test]
    async fn another_fingerprint_under_a_done_key_is_a_conflict() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let first: Run = idempotency
            .run("k", "10 USDC to 0xA", |_| async { Ok(()) })
            .await;
        assert!(first.is_ok());
        let changed: Run = idempotency
            .run("k", "10 USDC to 0xB", |_| async {
                panic!("a changed payment ran")
            })
            .await;
        assert!(matches!(changed, Err(RunError::Conflict { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_stops_waiting_does_not_cancel_the_run() {
        let store = Arc::new(MemoryStore::new());
        let idempotency = Idempotency::new(Arc::clone(&store));
        let finished = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&finished);
        let waiting = idempotency.run("k", "", move |_| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &'static str>(())
        });
        // The caller gives up after a second, as a sender hanging up would.
        assert!(tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .is_err());
        assert_eq!(idempotency.in_flight(), 1);
        assert!(!idempotency.drain(Duration::from_secs(1)).await);
        assert!(idempotency.drain(Duration::from_secs(10)).await);
        assert_eq!(idempotency.in_flight(), 0);
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        assert_eq!(
            store.record("k").await.unwrap().map(|r| r.state),
            Some(State::Done)
        );
    }

    /// How a [`ScriptedStore`] treats a call.
    #[derive(Clone, Copy)]
    enum Fault {
        Pass,
        /// Applied at once, answered this much later.
        LateAnswer(Duration),
        /// Held this long before it reaches the store (cut short by the caller's bound).
        Hang(Duration),
    }

    /// A memory store whose claims and renewals misbehave as a script says: by the
    /// call's number and the time since the store was made (paused time).
    struct ScriptedStore {
        inner: MemoryStore,
        start: tokio::time::Instant,
        claims: AtomicUsize,
        renewals: AtomicUsize,
        claim: fn(usize) -> Fault,
        renew: fn(usize, Duration) -> Fault,
    }

    impl ScriptedStore {
        fn new(claim: fn(usize) -> Fault, renew: fn(usize, Duration) -> Fault) -> Self {
            Self {
                inner: MemoryStore::new(),
                start: tokio::time::Instant::now(),
                claims: AtomicUsize::new(0),
                renewals: AtomicUsize::new(0),
                claim,
                renew,
            }
        }

        async fn apply<T>(
            fault: Fault,
            call: futures_util::future::BoxFuture<'_, Result<T, StoreError>>,
        ) -> Result<T, StoreError> {
            match fault {
                Fault::Pass => call.await,
                Fault::LateAnswer(late) => {
                    let result = call.await;
                    tokio::time::sleep(late).await;
                    result
                }
                Fault::Hang(hang) => {
                    tokio::time::sleep(hang).await;
                    call.await
                }
            }
        }
    }

    impl Store for ScriptedStore {
        fn claim<'a>(
            &'a self,
            key: &'a str,
            fingerprint: &'a str,
            lease: Duration,
            recover: bool,
        ) -> futures_util::future::BoxFuture<'a, Result<Claim, StoreError>> {
            let fault = (self.claim)(self.claims.fetch_add(1, Ordering::SeqCst));
            Box::pin(Self::apply(
                fault,
                self.inner.claim(key, fingerprint, lease, recover),
            ))
        }
        fn renew<'a>(
            &'a self,
            key: &'a str,
            attempt: u32,
            lease: Duration,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            let n = self.renewals.fetch_add(1, Ordering::SeqCst);
            let fault = (self.renew)(n, self.start.elapsed());
            Box::pin(async move {
                if let Fault::Hang(hang) = fault {
                    tokio::time::sleep(hang).await;
                }
                let applied = self.inner.renew(key, attempt, lease).await;
                if let Fault::LateAnswer(late) = fault {
                    tokio::time::sleep(late).await;
                }
                applied
            })
        }
        fn complete<'a>(
            &'a self,
            key: &'a str,
            attempt: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            self.inner.complete(key, attempt)
        }
        fn release<'a>(
            &'a self,
            key: &'a str,
            attempt: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            self.inner.release(key, attempt)
        }
        fn abandon<'a>(
            &'a self,
            key: &'a str,
            attempt: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            self.inner.abandon(key, attempt)
        }
        fn resolve<'a>(
            &'a self,
            key: &'a str,
            resolution: Resolution,
        ) -> futures_util::future::BoxFuture<'a, Result<bool, StoreError>> {
            self.inner.resolve(key, resolution)
        }
        fn record<'a>(
            &'a self,
            key: &'a str,
        ) -> futures_util::future::BoxFuture<'a, Result<Option<Record>, StoreError>> {
            self.inner.record(key)
        }
    }

    /// Runs a slow payer on `idempotency` and, `at` later, a duplicate; returns how many
    /// transfers both made and what the duplicate got.
    async fn live_run_and_duplicate(
        idempotency: Idempotency,
        run_for: Duration,
        at: Duration,
    ) -> (usize, Run, Run) {
        let paid = Arc::new(AtomicUsize::new(0));
        let first = tokio::spawn({
            let (idempotency, paid) = (idempotency.clone(), Arc::clone(&paid));
            async move {
                let run: Run = idempotency
                    .run("k", "", move |_| async move {
                        tokio::time::sleep(run_for).await;
                        paid.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await;
                run
            }
        });
        tokio::time::sleep(at).await;
        let paid_again = Arc::clone(&paid);
        let duplicate: Run = idempotency
            .run("k", "", move |_| async move {
                paid_again.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        let first = first.await.expect("the first run's task");
        (paid.load(Ordering::SeqCst), first, duplicate)
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_and_a_hung_renewal_do_not_let_a_duplicate_run_beside_a_live_run() {
        // Lease 3 s: renewal 1 is applied but answered 0.9 s late, renewal 2 hangs 1.1 s.
        let store = ScriptedStore::new(
            |_| Fault::Pass,
            |n, _| match n {
                0 => Fault::LateAnswer(Duration::from_millis(900)),
                1 => Fault::Hang(Duration::from_millis(1100)),
                _ => Fault::Pass,
            },
        );
        let idempotency = Idempotency::new(store)
            .with_lease(Duration::from_secs(3))
            .unwrap()
            .with_wait(Duration::ZERO);
        let (paid, first, duplicate) = live_run_and_duplicate(
            idempotency,
            Duration::from_secs(8),
            Duration::from_millis(4300),
        )
        .await;
        assert!(
            matches!(duplicate, Err(RunError::Busy { .. })),
            "{duplicate:?}"
        );
        assert_eq!(first.unwrap(), Outcome::Ran { attempt: 1 });
        assert_eq!(paid, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_outage_shorter_than_most_of_the_lease_keeps_the_claim() {
        // Lease 60 s; every renewal sent between 19 s and 46 s hangs for good.
        let store = ScriptedStore::new(
            |_| Fault::Pass,
            |_, at| {
                if (Duration::from_secs(19)..Duration::from_secs(46)).contains(&at) {
                    Fault::Hang(Duration::from_secs(3600))
                } else {
                    Fault::Pass
                }
            },
        );
        let idempotency = Idempotency::new(store)
            .with_lease(Duration::from_secs(60))
            .unwrap()
            .with_wait(Duration::ZERO);
        let (paid, first, duplicate) = live_run_and_duplicate(
            idempotency,
            Duration::from_secs(90),
            Duration::from_secs(61),
        )
        .await;
        assert!(
            matches!(duplicate, Err(RunError::Busy { .. })),
            "{duplicate:?}"
        );
        assert_eq!(first.unwrap(), Outcome::Ran { attempt: 1 });
        assert_eq!(paid, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_answered_after_its_lease_does_not_run() {
        // Lease 1 s; the first claim is applied at once and answered 1.5 s later, when a
        // duplicate has taken the key over as a recovery.
        let store = ScriptedStore::new(
            |n| match n {
                0 => Fault::LateAnswer(Duration::from_millis(1500)),
                _ => Fault::Pass,
            },
            |_, _| Fault::Pass,
        );
        let idempotency = Idempotency::new(store)
            .with_lease(Duration::from_secs(1))
            .unwrap()
            .with_wait(Duration::ZERO);
        let (paid, first, duplicate) =
            live_run_and_duplicate(idempotency, Duration::ZERO, Duration::from_millis(1200)).await;
        assert_eq!(duplicate.unwrap(), Outcome::Ran { attempt: 2 });
        assert!(
            matches!(first, Err(RunError::LostClaim { .. })),
            "{first:?}"
        );
        assert_eq!(paid, 1, "the late claim's handler must not run");
    }

    #[tokio::test]
    async fn a_payout_error_that_cannot_tell_leaves_the_next_attempt_a_recovery() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let unsure: Result<Outcome, RunError<crate::PayoutError>> = idempotency
            .run("k", "", |_| async {
                Err(crate::PayoutError::outcome_unknown(
                    "timed out after the send",
                ))
            })
            .await;
        assert!(matches!(unsure, Err(RunError::Handler(_))));
        assert_eq!(
            idempotency
                .store()
                .record("k")
                .await
                .unwrap()
                .map(|r| r.state),
            Some(State::Unknown)
        );
    }

    #[tokio::test]
    async fn a_recovery_that_fails_leaves_the_next_attempt_a_recovery() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let _: Run = idempotency
            .run("k", "", |_| async { panic!("after the transfer") })
            .await;
        let (seen, seen_rx) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let seen = seen.clone();
            let _: Run = idempotency
                .run("k", "", move |attempt| {
                    let _ = seen.send(attempt);
                    // The payment system could not be asked: not a clean "not paid".
                    async { Err("ledger unreachable") }
                })
                .await;
        }
        let attempts: Vec<Attempt> = seen_rx.try_iter().collect();
        assert_eq!(attempts.len(), 2);
        for (attempt, number) in attempts.iter().zip([2, 3]) {
            assert_eq!(attempt.number(), number);
            assert_eq!(
                attempt.recovery().map(|r| r.reason),
                Some(Unresolved::Panicked),
                "{attempt:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_wait_of_any_length_is_accepted() {
        let idempotency = Idempotency::new(MemoryStore::new()).with_wait(Duration::MAX);
        let run: Run = idempotency.run("k", "", |_| async { Ok(()) }).await;
        assert_eq!(run.unwrap(), Outcome::Ran { attempt: 1 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_past_its_maximum_lets_its_key_recover() {
        let idempotency = Idempotency::new(MemoryStore::new())
            .with_lease(Duration::from_secs(1))
            .unwrap()
            .with_wait(Duration::ZERO)
            .with_max_run(Duration::from_secs(2));
        let hung = tokio::spawn({
            let idempotency = idempotency.clone();
            async move {
                let run: Run = idempotency.run("k", "", |_| std::future::pending()).await;
                run
            }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let early: Run = idempotency.run("k", "", |_| async { Ok(()) }).await;
        assert!(matches!(early, Err(RunError::Busy { .. })), "{early:?}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (seen, seen_rx) = oneshot::channel();
        let late: Run = idempotency
            .run("k", "", move |attempt| {
                let _ = seen.send(attempt);
                async { Ok(()) }
            })
            .await;
        assert_eq!(late.unwrap(), Outcome::Ran { attempt: 2 });
        assert_eq!(
            seen_rx.await.unwrap().recovery().map(|r| r.reason),
            Some(Unresolved::LeaseExpired)
        );
        hung.abort();
    }

    #[tokio::test]
    async fn a_handler_that_cannot_tell_leaves_the_next_attempt_a_recovery() {
        let idempotency = Idempotency::new(MemoryStore::new());
        let unsure: Result<Outcome, RunError<crate::HandlerError>> = idempotency
            .run("k", "", |_| async {
                Err(crate::HandlerError::msg("bank timed out after the send")
                    .with_outcome_unknown())
            })
            .await;
        assert!(matches!(unsure, Err(RunError::Handler(_))));
        let (seen, seen_rx) = oneshot::channel();
        let next: Result<Outcome, RunError<crate::HandlerError>> = idempotency
            .run("k", "", move |attempt| {
                let _ = seen.send(attempt);
                async { Ok(()) }
            })
            .await;
        assert_eq!(next.unwrap(), Outcome::Ran { attempt: 2 });
        assert_eq!(
            seen_rx.await.unwrap().recovery(),
            Some(Recovery {
                previous_attempt: 1,
                reason: Unresolved::Reported
            })
        );
    }
}
