//! Payouts: ChainVine payment requests, where the receiver is the payout provider.
//!
//! ChainVine marks a payout done when the receiver answers 2xx and retries anything
//! else, with no limit; a 2xx can also be lost on the way back. So one payment request
//! arrives many times: after an error, after a timeout, on two connections at once, after
//! the receiver crashed mid-payout. hookguard runs the payout handler under the
//! [claim protocol](crate::idempotency), keyed by the payment request
//! ([`idempotency_key`]), in a [`Store`](crate::store::Store):
//!
//! - the handler's `Ok` answers 200 and records the key as paid: every later duplicate
//!   gets 200 at once, with no handler call;
//! - its `Err` answers 503 with `Retry-After` (unless the [`PayoutError`] says
//!   otherwise) and frees the key, so ChainVine's retry runs it again as attempt 2;
//! - a duplicate arriving while the payout runs waits for its outcome, then gets 200, or
//!   a retryable 503 if it is still running;
//! - a store that cannot be reached answers 503: nothing is paid, nothing acknowledged.
//!
//! See [`crate::idempotency`] for what this promises across a crash, and what the handler
//! must do for its part (pass [`Payout::idempotency_key`] to the payment system).
//!
//! ```
//! use hookguard::chainvine::Envelope;
//! use hookguard::store::MemoryStore;
//! use hookguard::{Dispatcher, Payout, PayoutError};
//!
//! let dispatcher = Dispatcher::<Envelope>::new().on_payment_request(
//!     MemoryStore::new(),
//!     |payout: Payout| async move {
//!         let amount = payout.request().amount.as_ref().ok_or_else(|| PayoutError::msg("no amount"))?;
//!         println!("paying {amount} under key {} (attempt {})", payout.idempotency_key(), payout.attempt());
//!         Ok(())
//!     },
//! );
//! assert!(dispatcher.handles(hookguard::chainvine::EventKind::PaymentRequest));
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::TryFutureExt;
use http::StatusCode;

use crate::chainvine::{Envelope, EventKind, PaymentRequest};
use crate::dispatch::Dispatcher;
use crate::handler::{BoxError, Handler, HandlerError};
use crate::idempotency::{Idempotency, Outcome};
use crate::verified::Verified;

/// The `Retry-After` a failed payout answers with unless told otherwise.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One payment request to execute, with what is needed to execute it only once.
#[derive(Debug, Clone)]
pub struct Payout {
    delivery: Verified<Envelope>,
    key: String,
    attempt: u32,
}

impl Payout {
    /// A payout for `delivery`, keyed by [`idempotency_key`]; `None` when the delivery
    /// is not a payment request.
    pub fn from_delivery(delivery: Verified<Envelope>) -> Option<Self> {
        delivery.payment_request()?;
        let key = idempotency_key(&delivery);
        Some(Self {
            delivery,
            key,
            attempt: 1,
        })
    }

    /// The payment request: user, reward, exact amount, identifiers.
    pub fn request(&self) -> &PaymentRequest {
        match self.delivery.payment_request() {
            Some(request) => request,
            // `from_delivery` only builds payouts from payment requests.
            None => unreachable!("a Payout always holds a payment request"),
        }
    }

    /// The envelope the request came in (campaign, community, event and request ids).
    pub fn envelope(&self) -> &Envelope {
        self.delivery.event()
    }

    /// The key that identifies this payment request across retries; pass it to the
    /// downstream transfer so that it too happens once.
    pub fn idempotency_key(&self) -> &str {
        &self.key
    }

    /// This payout as run by `attempt`.
    pub(crate) fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Which attempt at this payment request this is, from 1. Above 1, an earlier
    /// attempt failed, or crashed: check with the payment system, by
    /// [`idempotency_key`](Payout::idempotency_key), whether it moved money.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The raw delivery body, exactly as signed.
    pub fn body(&self) -> &Bytes {
        self.delivery.body()
    }
}

/// The idempotency key of a ChainVine payment request: `payment:<id>` from the request's
/// own id in `event.data` when it carries one, else `event:<event_id>` from the envelope.
///
/// Both name the payment request itself, which stays the same however often it is
/// delivered. `request_id` is not used: it names one HTTP request, and nothing promises
/// that a retry carries the same one, so keying on it could pay a retry twice.
pub fn idempotency_key(envelope: &Envelope) -> String {
    match envelope.payment_request().and_then(|r| r.id.as_deref()) {
        Some(id) if !id.is_empty() => format!("payment:{id}"),
        _ => format!("event:{}", envelope.event_id),
    }
}

/// A payout that did not happen: ChainVine is answered with an error and retries.
///
/// The default answer is 503 with `Retry-After: 30`. Any error converts with `?`.
pub struct PayoutError {
    status: StatusCode,
    retry_after: Option<Duration>,
    source: BoxError,
}

impl PayoutError {
    /// A failed payout caused by `source`.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(DEFAULT_RETRY_AFTER),
            source: source.into(),
        }
    }

    /// A failed payout described by `message`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(message.to_string())
    }

    /// Answers with `status` instead of 503. A status below 400 is ignored: a failed
    /// payout is never acknowledged as paid.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        if status.is_client_error() || status.is_server_error() {
            self.status = status;
        }
        self
    }

    /// Sets (`Some`) or removes (`None`) the `Retry-After` header.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Retry-After` delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl<E> From<E> for PayoutError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Self::new(err)
    }
}

impl From<PayoutError> for HandlerError {
    fn from(err: PayoutError) -> Self {
        let handler = HandlerError::new(err.source).with_status(err.status);
        match err.retry_after {
            Some(delay) => handler.with_retry_after(delay),
            None => handler,
        }
    }
}

impl fmt::Debug for PayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayoutError")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for PayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payout failed ({}): {}", self.status, self.source)
    }
}

/// An async function that executes payouts.
///
/// Implemented for every `Fn(Payout) -> impl Future<Output = Result<(), PayoutError>>`.
pub trait PayoutHandler: Send + Sync + 'static {
    /// Executes one payout.
    fn pay(&self, payout: Payout) -> BoxFuture<'static, Result<(), PayoutError>>;
}

impl<F, Fut> PayoutHandler for F
where
    F: Fn(Payout) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), PayoutError>> + Send + 'static,
{
    fn pay(&self, payout: Payout) -> BoxFuture<'static, Result<(), PayoutError>> {
        Box::pin(self(payout))
    }
}

/// Adapts a [`PayoutHandler`] to the dispatcher's [`Handler`], under the claim protocol.
struct PayoutDispatch<H> {
    idempotency: Idempotency,
    handler: Arc<H>,
}

impl<H: PayoutHandler> Handler<Envelope> for PayoutDispatch<H> {
    fn call(&self, delivery: Verified<Envelope>) -> BoxFuture<'static, Result<(), HandlerError>> {
        match Payout::from_delivery(delivery) {
            Some(payout) => {
                let idempotency = self.idempotency.clone();
                let handler = Arc::clone(&self.handler);
                Box::pin(async move {
                    let key = payout.idempotency_key().to_owned();
                    let outcome = idempotency
                        .run(&key, move |attempt| {
                            handler.pay(payout.with_attempt(attempt)).err_into()
                        })
                        .await?;
                    if outcome == Outcome::AlreadyDone {
                        tracing::info!(key, "payment request already paid; acknowledged again");
                    }
                    Ok(())
                })
            }
            // Registered for payment requests only, so this is a wiring error: refuse
            // rather than acknowledge, so nothing is lost.
            None => Box::pin(async {
                Err(HandlerError::msg(
                    "payout handler reached by a non-payment event",
                ))
            }),
        }
    }

    fn guards_itself(&self) -> bool {
        true
    }
}

impl Dispatcher<Envelope> {
    /// Executes ChainVine payment requests with `handler`, once per payment request,
    /// with claims kept in `store` (a [`Store`](crate::store::Store), or an
    /// [`Idempotency`] to set the lease and wait): `Ok` answers 200 (paid), `Err` answers
    /// the [`PayoutError`]'s status (503 by default), so ChainVine retries.
    #[must_use]
    pub fn on_payment_request(
        self,
        store: impl Into<Idempotency>,
        handler: impl PayoutHandler,
    ) -> Self {
        self.on(
            EventKind::PaymentRequest,
            PayoutDispatch {
                idempotency: store.into(),
                handler: Arc::new(handler),
            },
        )
    }
}
