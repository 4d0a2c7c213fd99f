//! The inbox's workers: take a due delivery under a lease, run its handler, record the
//! outcome, and look again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::store::{Claimed, DeliveryStore, Finish};
use super::RetryPolicy;
use crate::dispatch::Dispatcher;
use crate::event::WebhookEvent;
use crate::idempotency::Attempt;
use crate::provider::Provider;
use crate::verified::Verified;

/// What one provider's workers share.
pub(crate) struct Shared<P: Provider> {
    pub(crate) store: DeliveryStore,
    pub(crate) provider: P,
    pub(crate) name: Arc<str>,
    pub(crate) dispatcher: Dispatcher<P::Event>,
    pub(crate) policy: RetryPolicy,
    pub(crate) lease: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) retention: Option<Duration>,
    /// Woken when this process stores a new delivery.
    pub(crate) wake: Notify,
    pub(crate) running: Arc<Running>,
}

/// The runs under way, so that shutdown can give back those it had to stop.
#[derive(Debug, Default)]
pub(crate) struct Running {
    next: AtomicU64,
    runs: Mutex<HashMap<u64, Run>>,
}

#[derive(Debug, Clone)]
struct Run {
    provider: Arc<str>,
    key: String,
    owner: String,
    attempt: u32,
}

impl Running {
    fn start(&self, run: Run) -> u64 {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(ticket, run);
        ticket
    }

    fn end(&self, ticket: u64) {
        self.lock().remove(&ticket);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Run>> {
        self.runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every run still listed due again; how many there were.
    pub(crate) async fn release_all(&self, store: &DeliveryStore) -> usize {
        let runs: Vec<Run> = self.lock().drain().map(|(_, run)| run).collect();
        for run in &runs {
            if let Err(err) = store
                .release(&run.provider, &run.key, &run.owner, run.attempt)
                .await
            {
                tracing::warn!(
                    provider = &*run.provider,
                    key = %run.key,
                    error = %err,
                    "could not give back an interrupted delivery: it runs again when its lease expires"
                );
            }
        }
        runs.len()
    }
}

/// A name for this worker's leases, distinct across processes and restarts: the fence
/// that keeps a run whose lease was taken over from writing its outcome.
fn owner_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why a run did not succeed.
enum Failure {
    /// The handler failed: retried, until out of attempts or age.
    Retry(String),
    /// It can never succeed: dead at once.
    Permanent(String),
    /// The lease was lost mid-run: another run owns the outcome.
    LeaseLost,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One worker: until told to stop, takes the next due delivery and runs it.
pub(crate) async fn work<P: Provider>(shared: Arc<Shared<P>>, mut stop: watch::Receiver<bool>) {
    let owner = owner_name();
    loop {
        if *stop.borrow() {
            return;
        }
        match shared.store.claim(&shared.name, shared.lease, &owner).await {
            Ok(Some(claimed)) => {
                // A retry due before the next poll wakes a worker when it is due.
                if let Some(delay) = shared.run(claimed, &owner).await {
                    if delay < shared.poll_interval {
                        let shared = Arc::clone(&shared);
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            shared.wake.notify_one();
                        });
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(shared.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(err) => {
                tracing::error!(provider = &*shared.name, error = %err, "inbox store unavailable");
                tokio::select! {
                    () = tokio::time::sleep(shared.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Reports the inbox's depth and the age of its oldest pending delivery every five
/// seconds, and prunes handled deliveries past the retention every minute.
pub(crate) async fn upkeep<P: Provider>(shared: Arc<Shared<P>>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        ticks += 1;
        match shared.store.depth(&shared.name).await {
            Ok((depth, oldest)) => {
                crate::metrics::inbox_depth(&shared.name, depth);
                crate::metrics::inbox_oldest_pending(&shared.name, oldest);
            }
            Err(err) => tracing::warn!(error = %err, "inbox: depth unavailable"),
        }
        // Pruning once a minute is plenty for a retention measured in days.
        if ticks % 12 != 1 {
            continue;
        }
        if let Some(retention) = shared.retention {
            match shared.store.prune(retention).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "inbox: handled deliveries pruned"),
                Err(err) => tracing::warn!(error = %err, "inbox: pruning failed"),
            }
        }
    }
}

impl<P: Provider> Shared<P> {
    /// Runs one claimed delivery's handler and records the outcome; the wait before its
    /// retry, if it is to be retried.
    async fn run(&self, claimed: Claimed, owner: &str) -> Option<Duration> {
        let ticket = self.running.start(Run {
            provider: Arc::clone(&self.name),
            key: claimed.key.clone(),
            owner: owner.to_owned(),
            attempt: claimed.attempt,
        });
        let span = tracing::info_span!(
            "webhook",
            provider = &*self.name,
            event = %claimed.event,
            id = %claimed.id,
            attempt = claimed.attempt,
            outcome = tracing::field::Empty,
        );
        // Attempts that started and never ended (the process died, or the outcome could
        // not be written) count: once none are left the delivery is dead without another
        // run, so that a handler that kills its process is not run for ever.
        let outcome = if claimed.attempts_in_budget > self.policy.max_attempts {
            Err(Failure::Permanent(format!(
                "no attempts left: attempt {} ended without an outcome (its process stopped, \
                 or its outcome could not be written)",
                claimed.attempt - 1
            )))
        } else {
            tracing::Instrument::instrument(self.handle(&claimed, owner), span.clone()).await
        };
        let finish = match &outcome {
            Ok(()) => Finish::Handled,
            Err(Failure::LeaseLost) => {
                span.record("outcome", "lease lost");
                self.running.end(ticket);
                return None;
            }
            Err(Failure::Permanent(error)) => Finish::Dead { error },
            Err(Failure::Retry(error)) => {
                let exhausted = claimed.attempts_in_budget >= self.policy.max_attempts
                    || claimed.age >= self.policy.max_age;
                if exhausted {
                    Finish::Dead { error }
                } else {
                    Finish::Retry {
                        error,
                        delay: self.policy.delay(claimed.attempts_in_budget),
                    }
                }
            }
        };
        let label = match &finish {
            Finish::Handled => "handled",
            Finish::Retry { .. } => "failed",
            Finish::Dead { .. } => "dead",
        };
        span.record("outcome", label);
        match &finish {
            Finish::Handled => crate::metrics::inbox_handled(&self.name, &claimed.event),
            Finish::Retry { .. } => crate::metrics::inbox_retried(&self.name, &claimed.event),
            Finish::Dead { .. } => crate::metrics::inbox_dead(&self.name, &claimed.event),
        }
        match &finish {
            Finish::Handled => tracing::debug!(parent: &span, "inbox delivery handled"),
            Finish::Retry { error, delay } => {
                tracing::warn!(parent: &span, error = %error, retry_in = ?delay, "inbox delivery failed; retrying");
            }
            Finish::Dead { error } => tracing::error!(
                parent: &span,
                error = %error,
                "inbox delivery is dead: no attempts left (retry it with `hookguard deliveries retry`)"
            ),
        }
        self.record(&claimed, owner, finish).await;
        self.running.end(ticket);
        match finish {
            Finish::Retry { delay, .. } => Some(delay),
            _ => None,
        }
    }

    /// Parses the stored delivery and runs its handler, renewing the lease meanwhile.
    async fn handle(&self, claimed: &Claimed, owner: &str) -> Result<(), Failure> {
        // Stored after it was verified on arrival: it is not verified again (its
        // timestamp may be long past the window by now).
        let event = self
            .provider
            .parse(&claimed.headers, &claimed.body)
            .map_err(|err| {
                Failure::Permanent(format!("the stored body no longer parses: {err}"))
            })?;
        // Refused on arrival; this one was stored under other event names (a provider
        // configured otherwise then). Its handler never runs from the inbox.
        if event.may_be_payment_request() && !event.is_unknown() {
            return Err(Failure::Permanent(
                "a payment request is never handled from the inbox".to_owned(),
            ));
        }
        let delivery = Verified::new(
            Arc::clone(&self.name),
            event,
            claimed.body.clone(),
            claimed.signed,
        )
        .with_attempt(Attempt::new(claimed.attempt, None));
        let lost = self.keep_lease(claimed, owner);
        let handling = self.dispatcher.handle(delivery);
        tokio::select! {
            outcome = handling => outcome.map_err(|err| {
                let source = err.source().to_string();
                Failure::Retry(if source.is_empty() { err.reason().to_owned() } else { source })
            }),
            // Another run may have it now: stop this one at its next await rather than
            // run the delivery twice at once.
            () = lost => Err(Failure::LeaseLost),
        }
    }

    /// Renews the lease every quarter of it, in a task of its own (so that a slow store
    /// does not hold up the handler); the future resolves when the lease is lost: the
    /// store says another run holds it, or the lease may end before the next renewal
    /// could land. Each renewal is given a quarter of the lease, so a store that hangs
    /// cannot keep a run going past its lease.
    fn keep_lease(&self, claimed: &Claimed, owner: &str) -> impl Future<Output = ()> + 'static {
        let (store, name, lease) = (self.store.clone(), Arc::clone(&self.name), self.lease);
        let (key, owner, attempt) = (claimed.key.clone(), owner.to_owned(), claimed.attempt);
        // The lease in the store began after this instant, and each renewal after the
        // instant it was sent: measured from these, the run stops before the store's
        // lease ends.
        let mut renewed = claimed.asked_at;
        let (lost, on_lost) = tokio::sync::oneshot::channel::<()>();
        let renewal = tokio::spawn(async move {
            // A quarter: one failed renewal can be followed by another before the end.
            let step = lease / 4;
            loop {
                tokio::time::sleep(step).await;
                let sent = tokio::time::Instant::now();
                match tokio::time::timeout(step, store.renew(&name, &key, &owner, attempt, lease))
                    .await
                {
                    Ok(Ok(true)) => renewed = sent,
                    Ok(Ok(false)) => break,
                    failed => {
                        let why = match failed {
                            Ok(Err(err)) => err.to_string(),
                            _ => "no answer within a quarter of the lease".to_owned(),
                        };
                        // The next renewal lands at the latest a sleep and a timeout from
                        // now: past the lease's end, the delivery may be another run's.
                        if renewed.elapsed() + 2 * step >= lease {
                            tracing::error!(error = %why, "inbox lease not renewed in time");
                            break;
                        }
                        tracing::warn!(error = %why, "inbox lease renewal failed");
                    }
                }
            }
            tracing::warn!(provider = &*name, key = %key, "inbox lease lost: the run is stopped");
            let _ = lost.send(());
        });
        let guard = AbortOnDrop(renewal);
        async move {
            let _guard = guard;
            // The sender is dropped only when the renewal task ends, which it does only
            // by sending; an aborted task (the guard, at the end of the run) never wakes.
            if on_lost.await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Writes the outcome, trying a few times: a handled delivery whose outcome is not
    /// written runs again when its lease expires.
    async fn record(&self, claimed: &Claimed, owner: &str, finish: Finish<'_>) {
        let mut wait = Duration::from_millis(100);
        for _ in 0..4 {
            match self.store.finish(&self.name, claimed, owner, finish).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        provider = &*self.name,
                        id = %claimed.id,
                        "inbox: the lease was taken over before the outcome was written; the other run's stands"
                    );
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "inbox: could not write the outcome; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
        tracing::error!(
            provider = &*self.name,
            id = %claimed.id,
            "inbox: outcome not written; the delivery runs again when its lease expires"
        );
    }
}
