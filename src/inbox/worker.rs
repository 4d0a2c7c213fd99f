//! The inbox's workers: take a due delivery under a lease, run its handler, record the
//! outcome, and look again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::store::{Claimed, DeliveryStore, Finish};
use super::RetryPolicy;
use crate::dispatch::Dispatcher;
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

/// Keeps the store tidy and reports its depth: prunes handled deliveries past the
/// retention, every minute.
pub(crate) async fn upkeep<P: Provider>(shared: Arc<Shared<P>>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Some(retention) = shared.retention {
            match shared.store.prune(retention).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "inbox: handled deliveries pruned"),
                Err(err) => tracing::warn!(error = %err, "inbox: pruning failed"),
            }
        }
        match shared.store.depth(&shared.name).await {
            Ok((depth, oldest)) => {
                tracing::debug!(provider = &*shared.name, depth, oldest = ?oldest, "inbox depth");
            }
            Err(err) => tracing::warn!(error = %err, "inbox: depth unavailable"),
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
        let outcome =
            tracing::Instrument::instrument(self.handle(&claimed, owner), span.clone()).await;
        let finish = match &outcome {
            Ok(()) => Finish::Handled,
            Err(error) => {
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
    /// The error is the text recorded in the journal.
    async fn handle(&self, claimed: &Claimed, owner: &str) -> Result<(), String> {
        // Stored after it was verified on arrival: it is not verified again (its
        // timestamp may be long past the window by now).
        let event = self
            .provider
            .parse(&claimed.headers, &claimed.body)
            .map_err(|err| format!("the stored body no longer parses: {err}"))?;
        let delivery = Verified::new(
            Arc::clone(&self.name),
            event,
            claimed.body.clone(),
            claimed.signed,
        )
        .with_attempt(Attempt::new(claimed.attempt, None));
        let handling = self.dispatcher.handle(delivery);
        tokio::pin!(handling);
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                outcome = &mut handling => {
                    return outcome.map_err(|err| {
                        let source = err.source().to_string();
                        if source.is_empty() { err.reason().to_owned() } else { source }
                    });
                }
                _ = renew.tick() => {
                    match self.store.renew(&self.name, claimed, owner, self.lease).await {
                        Ok(true) => {}
                        // Another run has it now; this one's outcome will not be written.
                        Ok(false) => tracing::warn!("inbox lease lost while the handler ran"),
                        Err(err) => tracing::warn!(error = %err, "inbox lease renewal failed"),
                    }
                }
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
