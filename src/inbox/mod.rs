//! The inbox: store each verified delivery durably, answer the sender at once, and run
//! the handlers in the background, with retries.
//!
//! Without it, a handler runs inside the request: if the handler's database is down the
//! delivery gets a 5xx, and whether it ever comes back is up to the sender (claimr
//! documents no retries at all). With it:
//!
//! 1. the [`WebhookLayer`](crate::WebhookLayer) verifies and parses the delivery, as
//!    always;
//! 2. the delivery (headers and body as received) is written to the [`DeliveryStore`],
//!    once however often the sender repeats it (keyed by provider and delivery id, or by
//!    the signed body's SHA-256 when the id is not signed), and only then answered
//!    `200 stored`; a store that cannot be written answers 503, so the sender retries;
//! 3. workers in the same process take due deliveries under a lease and run the
//!    dispatcher's handlers, which see [`Verified::attempt`](crate::Verified::attempt).
//!    A failed run is retried with exponential backoff and jitter; after
//!    [`with_max_attempts`](Inbox::with_max_attempts) attempts, or once older than
//!    [`with_max_age`](Inbox::with_max_age), the delivery is dead: kept, marked, and
//!    logged at error, until an operator retries it
//!    ([`DeliveryStore::requeue`], `hookguard deliveries retry`).
//!
//! **At least once.** A crash loses nothing: a delivery stored but not handled is
//! handled after a restart, and a run that died mid-way is run again once its lease
//! expires. So a handler can run more than once for one delivery; make it idempotent
//! (the attempt number says when it is not the first). On PostgreSQL several processes
//! share the work (`FOR UPDATE SKIP LOCKED`): two never run one delivery at once while
//! the leases hold, and each run's outcome is written only by the run that still holds
//! the lease.
//!
//! **Never for payouts.** A ChainVine payment request's 2xx tells ChainVine the payout
//! was made, so it can never be answered before its handler has run: a dispatcher with
//! [`on_payment_request`](crate::Dispatcher::on_payment_request) is refused at
//! construction ([`ConfigError::PayoutsInInbox`](crate::ConfigError::PayoutsInInbox)),
//! and a payment request reaching an inbox is answered 500 and not stored. So is a
//! ChainVine event of a name this crate does not know (it may be a payment request
//! under a name nobody configured), until the dispatcher says how unknown events are
//! answered ([`with_unknown_status`](crate::Dispatcher::with_unknown_status)), as a
//! dispatcher that pays does. A stored event that parses as a payment request when its
//! worker runs it (the worker's provider names events otherwise) is dead at once, never
//! run.
//!
//! **Leases.** A run holds its delivery under a lease, renewed every quarter of it while the
//! handler runs, each renewal given a quarter of the lease to answer. A run whose lease is
//! lost (the store says another run holds it, after a clock step or an outage; or its
//! renewals failed or hung until the lease might end before the next one lands) is
//! stopped at its next `.await`,
//! and its outcome is not written: the run that holds the lease decides. Attempts that
//! started and never ended (the process died) count against the attempts allowed, so a
//! handler that kills its process is not run for ever.
//!
//! **One dispatcher per provider name.** Workers take the deliveries stored under their
//! provider's [name](crate::Provider::name); one inbox refuses a second dispatcher of the
//! same name ([`ConfigError::InboxProviderTaken`](crate::ConfigError::InboxProviderTaken)),
//! and processes sharing a PostgreSQL inbox must give each sender one name and the same
//! handlers.
//!
//! **Retention** removes the headers and bodies of deliveries handled longer ago than
//! [`with_retention`](Inbox::with_retention) (seven days by default) and keeps their keys
//! and attempts, so that a captured delivery replayed later is still recognised, and not
//! handled twice. Dead deliveries are kept whole.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hookguard::inbox::Inbox;
//! use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
//!
//! # let dir = std::env::temp_dir().join(format!("hookguard-inbox-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("inbox.db");
//! let inbox = Inbox::open(path.to_str().ok_or("path")?).await?
//!     .with_max_attempts(8)
//!     .with_retry_base(Duration::from_secs(2));
//! let claimr = Claimr::new("my-claimr-secret")?;
//! let handlers = Dispatcher::new()
//!     .on(claimr::EventKind::UserReward, |event| async move {
//!         println!("reward {} (attempt {})", event.id(), event.attempt());
//!         Ok(())
//!     })
//!     .with_inbox(&inbox, claimr.clone())?; // the one line
//! let app: axum::Router = axum::Router::new()
//!     .route_service("/webhooks/claimr", WebhookLayer::new(claimr).layer(handlers));
//! // ... serve `app`; when it stops:
//! inbox.shutdown(Duration::from_secs(10)).await;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

mod service;
mod store;
mod worker;

pub use service::{InboxFuture, InboxService};
pub use store::{
    AttemptRecord, DeliveryFilter, DeliveryRecord, DeliveryState, DeliveryStore, DeliverySummary,
    InboxStoreError, ReceivedDelivery,
};

/// How many attempts a delivery gets by default before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// How long a delivery is retried by default before it is dead: three days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);
/// The wait before the first retry by default (doubling after that): one second.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(1);
/// The longest wait between retries by default: one hour.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// How long handled deliveries are kept by default: seven days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A durable inbox: a [`DeliveryStore`], the retry policy, and the workers of every
/// dispatcher attached with [`Dispatcher::with_inbox`](crate::Dispatcher::with_inbox).
/// Cheap to clone; clones share the workers.
///
/// See the [module docs](self) for what it guarantees.
#[derive(Debug, Clone)]
pub struct Inbox {
    store: DeliveryStore,
    policy: RetryPolicy,
    workers: usize,
    lease: Duration,
    poll_interval: Duration,
    retention: Option<Duration>,
    tasks: Arc<Tasks>,
}

/// When a failed delivery is tried again, and when it is given up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) max_age: Duration,
    pub(crate) base: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: f64,
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure in a row: the base, doubled for each
    /// failure before it, at most the longest delay, plus up to `jitter` of itself at
    /// random (never less, so the documented waits are lower bounds), so that deliveries
    /// that failed together do not all come back at once.
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(40);
        let nominal = self
            .base
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max_delay);
        let spread = nominal.mul_f64(self.jitter * random_unit());
        nominal
            .saturating_add(spread)
            .min(self.max_delay.max(nominal))
    }
}

/// A number in `[0, 1)` that differs from call to call; for jitter only.
fn random_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bits = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The inbox's running workers, and the signal that stops them.
#[derive(Debug)]
struct Tasks {
    stop: watch::Sender<bool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    running: Arc<worker::Running>,
    names: Mutex<std::collections::HashSet<String>>,
}

impl Tasks {
    /// Takes `name` for one attached dispatcher: false when it is taken.
    fn claim_name(&self, name: &str) -> bool {
        self.names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned())
    }
}

/// What [`Inbox::shutdown`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shutdown {
    /// Runs that had not finished within the grace period and were stopped; their
    /// deliveries were made due again (or, if that write failed, are run again once
    /// their leases expire).
    pub interrupted: usize,
}

impl Inbox {
    /// An inbox on `store`, with the default policy: 10 attempts, at most three days,
    /// retries from one second doubling to one hour, four workers per dispatcher, a
    /// 60-second lease, handled deliveries kept seven days.
    pub fn new(store: DeliveryStore) -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            store,
            policy: RetryPolicy {
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                max_age: DEFAULT_MAX_AGE,
                base: DEFAULT_RETRY_BASE,
                max_delay: DEFAULT_MAX_RETRY_DELAY,
                jitter: 0.2,
            },
            workers: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            retention: Some(DEFAULT_RETENTION),
            tasks: Arc::new(Tasks {
                stop,
                handles: Mutex::new(Vec::new()),
                running: Arc::default(),
                names: Mutex::default(),
            }),
        }
    }

    /// Opens the store at `target` (a SQLite path, or a `postgres://` URL; see
    /// [`DeliveryStore::open`]) and makes an inbox on it.
    ///
    /// # Errors
    ///
    /// As [`DeliveryStore::open`].
    pub async fn open(target: &str) -> Result<Self, InboxStoreError> {
        Ok(Self::new(DeliveryStore::open(target).await?))
    }

    /// The store, for the journal: list, show, requeue, prune.
    pub fn store(&self) -> &DeliveryStore {
        &self.store
    }

    /// Gives each delivery `attempts` attempts (at least 1) before it is dead.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = attempts.max(1);
        self
    }

    /// Retries a delivery for at most `age` after it was stored (or last requeued);
    /// a run failing after that makes it dead.
    #[must_use]
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.policy.max_age = age;
        self
    }

    /// Waits `base` before the first retry, doubling after each failure.
    #[must_use]
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.policy.base = base;
        self
    }

    /// Waits at most `delay` between retries.
    #[must_use]
    pub fn with_max_retry_delay(mut self, delay: Duration) -> Self {
        self.policy.max_delay = delay;
        self
    }

    /// Adds up to `fraction` (0 to 1, 0.2 by default) of each retry's wait at random.
    #[must_use]
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.policy.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Runs up to `workers` deliveries at once per attached dispatcher (4 by default).
    /// With 0 this process only stores deliveries: for receivers that share a PostgreSQL
    /// inbox with other processes that handle them.
    #[must_use]
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Holds a running delivery for `lease` (at least one second), renewed while its
    /// handler runs: a run whose process died is run again once its lease expires.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// Looks for due deliveries at least every `interval` (a delivery stored by this
    /// process wakes a worker at once; one stored by another process, or a retry coming
    /// due, waits for the next look).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Deletes handled deliveries once handled longer ago than `retention`; dead ones
    /// are kept.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Keeps handled deliveries for ever.
    #[must_use]
    pub fn without_retention(mut self) -> Self {
        self.retention = None;
        self
    }

    /// Stops taking work, lets running handlers finish for up to `grace`, then stops
    /// those still running (their deliveries are made due again: they run again at the
    /// next start). Deliveries still stored and not handled are handled at the next
    /// start.
    pub async fn shutdown(&self, grace: Duration) -> Shutdown {
        self.tasks.stop.send_replace(true);
        let handles = std::mem::take(
            &mut *self
                .tasks
                .handles
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let deadline = tokio::time::Instant::now() + grace;
        let mut stopped = Vec::new();
        for mut handle in handles {
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
                stopped.push(handle);
            }
        }
        for handle in stopped {
            let _ = handle.await;
        }
        let interrupted = self.tasks.running.release_all(&self.store).await;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "inbox stopped with handlers still running: their deliveries run again at the next start"
            );
        }
        Shutdown { interrupted }
    }
}
