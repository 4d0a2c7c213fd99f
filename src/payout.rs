//! Payouts: ChainVine payment requests, where the receiver is the payout provider.
//!
//! ChainVine marks a payout done when the receiver answers 2xx and retries anything
//! else, with no limit; a 2xx can also be lost on the way back. So one payment request
//! arrives many times: after an error, after a timeout, on two connections at once, after
//! the receiver crashed mid-payout. hookguard runs the payout handler under the
//! [claim protocol](crate::idempotency), keyed by the payment request
//! ([`idempotency_key`]) and fingerprinted by what it pays ([`fingerprint`]), in a
//! [`Store`](crate::idempotency::store::Store), detached from the request:
//!
//! - the handler's `Ok` answers 200 once the key is recorded as paid: every later
//!   duplicate gets 200 at once, with no handler call;
//! - its `Err` answers 503 with `Retry-After` (unless the [`PayoutError`] says
//!   otherwise) and frees the key, so ChainVine's retry runs it again as attempt 2 (a
//!   recovery, if the attempt was one or the error was
//!   [`PayoutError::outcome_unknown`]);
//! - a panic answers 500, and the next attempt is a [recovery](Payout::recovery), as is
//!   the first attempt after a crash: reconcile with the payment system before paying;
//! - a duplicate arriving while the payout runs waits for its outcome, then gets 200, or
//!   a retryable 503 if it is still running; a sender that hangs up never stops a run;
//! - the same key with another amount, currency, wallet, user or reward answers 409;
//!   an unsigned delivery 401, one without a usable id 422: none is claimed or paid;
//! - a store that cannot be reached answers 503: nothing is paid, nothing acknowledged.
//!
//! See [`crate::idempotency`] for the promise and its mechanics.
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use hookguard::idempotency::SqliteStore;
//! use hookguard::{Dispatcher, PayoutError};
//!
//! let dispatcher = Dispatcher::new().on_payment_request(
//!     SqliteStore::open("payouts.db").await?,
//!     |payout| async move {
//!         let amount = payout.request().amount().ok_or_else(|| PayoutError::msg("no amount"))?;
//!         if payout.is_recovery() {
//!             // Look `payout.idempotency_key()` up in the payment system first.
//!         }
//!         println!("paying {amount} under key {} (attempt {})", payout.idempotency_key(), payout.attempt());
//!         Ok(())
//!     },
//! );
//! assert!(dispatcher.handles(hookguard::chainvine::EventKind::PaymentRequest));
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::TryFutureExt;
use http::StatusCode;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::chainvine::{Event, EventKind, PaymentRequest};
use crate::dispatch::{claim_error, Dispatcher};
use crate::error::BoxError;
use crate::handler::{Handler, HandlerError};
use crate::idempotency::Recovery;
use crate::idempotency::{Attempt, Idempotency, Outcome, RunError};
use crate::metrics::{self, PayoutOutcome};
use crate::verified::Verified;

/// The `Retry-After` a failed payout answers with unless told otherwise.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One payment request to execute, with what is needed to execute it only once.
#[derive(Debug, Clone)]
pub struct Payout {
    delivery: Verified<Event>,
    key: String,
    fingerprint: String,
    attempt: Attempt,
}

impl Payout {
    /// A payout for a signed `delivery`, keyed by [`idempotency_key`].
    ///
    /// # Errors
    ///
    /// [`PayoutRefusal`] when the delivery is unsigned, is not a payment request, or
    /// names no payment: such a delivery is never paid.
    pub fn from_delivery(delivery: Verified<Event>) -> Result<Self, PayoutRefusal> {
        if !delivery.is_signed() {
            return Err(PayoutRefusal::Unsigned);
        }
        let request = delivery
            .payment_request()
            .ok_or(PayoutRefusal::NotAPaymentRequest)?;
        let fingerprint = fingerprint(request);
        let key = idempotency_key(&delivery)?;
        Ok(Self {
            delivery,
            key,
            fingerprint,
            attempt: Attempt::FIRST,
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

    /// The ChainVine event the request came in (campaign, community, event and request
    /// ids).
    pub fn event(&self) -> &Event {
        self.delivery.event()
    }

    /// The key that identifies this payment request across retries; pass it to the
    /// downstream transfer so that it too happens once, and look it up there on a
    /// [recovery](Payout::recovery).
    pub fn idempotency_key(&self) -> &str {
        &self.key
    }

    /// The fingerprint of what this request pays ([`fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// This payout as run by `attempt`.
    pub(crate) fn with_attempt(mut self, attempt: Attempt) -> Self {
        self.attempt = attempt;
        self
    }

    /// Which attempt at this payment request this is, from 1. Above 1 without a
    /// [recovery](Payout::recovery), no earlier attempt's outcome is unknown: each failed
    /// cleanly (returned `Err`), or one whose outcome was unknown was later settled.
    pub fn attempt(&self) -> u32 {
        self.attempt.number()
    }

    /// Set when an earlier attempt's outcome is unknown: its process died, it lost its
    /// claim, it panicked, or it returned [`PayoutError::outcome_unknown`], perhaps after
    /// the transfer left, and no attempt since has succeeded. **Reconcile before paying**:
    /// look [`idempotency_key`](Payout::idempotency_key) up in the payment system, and
    /// return `Ok` without paying if the transfer is there.
    ///
    /// ```
    /// use hookguard::{Payout, PayoutError};
    ///
    /// # struct Ledger;
    /// # impl Ledger {
    /// #     async fn find(&self, _key: &str) -> Result<Option<()>, PayoutError> { Ok(None) }
    /// #     async fn transfer(&self, _key: &str, _payout: &Payout) -> Result<(), PayoutError> { Ok(()) }
    /// # }
    /// async fn pay(ledger: &Ledger, payout: Payout) -> Result<(), PayoutError> {
    ///     if payout.is_recovery() && ledger.find(payout.idempotency_key()).await?.is_some() {
    ///         return Ok(()); // the earlier attempt paid: acknowledge, do not pay again
    ///     }
    ///     ledger.transfer(payout.idempotency_key(), &payout).await
    /// }
    /// ```
    pub fn recovery(&self) -> Option<Recovery> {
        self.attempt.recovery()
    }

    /// Whether this attempt is a [recovery](Payout::recovery).
    pub fn is_recovery(&self) -> bool {
        self.attempt.is_recovery()
    }

    /// The raw delivery body, exactly as signed.
    pub fn body(&self) -> &Bytes {
        self.delivery.body()
    }
}

/// Why a delivery reaching a payout handler is not paid. Each is answered with an error
/// status and nothing is claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayoutRefusal {
    /// The delivery carried no signature (accepted only because
    /// [`accept_unsigned_insecure_requests`](crate::ChainVine::accept_unsigned_insecure_requests)
    /// is on): anyone could have sent it. 401.
    #[error("unauthorized: an unsigned payment request is never paid")]
    Unsigned,
    /// The payment request carries no usable id (no non-blank id in `event.data`, and a
    /// blank `event_id`). 422.
    #[error("unprocessable: the payment request names no id to pay it once under")]
    MissingId,
    /// The delivery is not a payment request (a wiring error). 500.
    #[error("internal error: a payout handler was given a delivery that is not a payment request")]
    NotAPaymentRequest,
}

impl PayoutRefusal {
    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            PayoutRefusal::Unsigned => StatusCode::UNAUTHORIZED,
            PayoutRefusal::MissingId => StatusCode::UNPROCESSABLE_ENTITY,
            PayoutRefusal::NotAPaymentRequest => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// How the refusal is counted in `hookguard_payouts_total`.
    fn outcome(&self) -> PayoutOutcome {
        match self {
            PayoutRefusal::Unsigned => PayoutOutcome::Unsigned,
            PayoutRefusal::MissingId => PayoutOutcome::MissingId,
            PayoutRefusal::NotAPaymentRequest => PayoutOutcome::NotAPaymentRequest,
        }
    }

    fn body(&self) -> &'static str {
        match self {
            PayoutRefusal::Unsigned => "unauthorized: unsigned payment request",
            PayoutRefusal::MissingId => "unprocessable: payment request without an id",
            PayoutRefusal::NotAPaymentRequest => "internal error",
        }
    }
}

/// The idempotency key of a ChainVine payment request, scoped by its community:
/// `chainvine:<community id>:payment:<id>` from the request's own id in `event.data`
/// ([`PaymentRequest::id`]: the first non-blank of `payment_request_id`,
/// `paymentRequestId`, `payout_id`, `payoutId`, `id`, trimmed), else
/// `chainvine:<community id>:event:<event_id>` from the envelope.
///
/// Both name the payment request itself, which stays the same however often it is
/// delivered; the community keeps two communities' ids apart. `request_id` is not used:
/// it names one HTTP request, and nothing promises that a retry carries the same one.
/// (`:` and `%` inside the parts are written `%3A` and `%25`, so that no two requests
/// share a key.)
///
/// # Errors
///
/// [`PayoutRefusal::MissingId`] when neither id is there (or both are blank), or when an
/// id field holds something that is neither a string nor an integer: such a request is
/// refused rather than keyed on a guess.
///
/// ```
/// use hookguard::chainvine::Event;
/// use hookguard::payout::idempotency_key;
///
/// let body = br#"{"source":{"campaign":{"name":"C","created_on":"2024-01-01","id":"c1"},
///   "community":{"name":"Acme","id":"com_1"}},
///   "event":{"name":"PAYMENT_REQUEST","data":{"id":"","payment_request_id":"pr_9","amount":"5"}},
///   "version":"1","secure_request":true,"request_id":"r","event_id":"e","sent_at":"2024-01-01T00:00:00Z"}"#;
/// let envelope = Event::from_slice(body)?;
/// assert_eq!(idempotency_key(&envelope)?, "chainvine:com_1:payment:pr_9");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn idempotency_key(envelope: &Event) -> Result<String, PayoutRefusal> {
    let community = key_part(envelope.source().community().id());
    let data_id = match envelope.payment_request() {
        Some(request) => crate::chainvine::payment_id(request.raw_text())
            .map_err(|_| PayoutRefusal::MissingId)?,
        None => None,
    };
    let event_id = envelope.event_id().trim();
    match data_id {
        Some(id) => Ok(format!("chainvine:{community}:payment:{}", key_part(&id))),
        None if !event_id.is_empty() => Ok(format!(
            "chainvine:{community}:event:{}",
            key_part(event_id)
        )),
        None => Err(PayoutRefusal::MissingId),
    }
}

/// A part of a key with its separators escaped.
pub(crate) fn key_part(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

/// What a payment request pays, field by field: the part's name and the spellings it
/// may come under in `event.data`, first found wins.
const PAID: [(&str, &[&str]); 7] = [
    ("amount", &["amount"]),
    ("currency", &["currency"]),
    ("token", &["token", "token_address", "tokenAddress"]),
    ("chain", &["chain_id", "chainId"]),
    ("network", &["network", "chain"]),
    ("wallet", &["wallet_address", "walletAddress"]),
    ("user", &["user_id", "userId"]),
];

/// The fingerprint of what a payment request pays: `v2:` and the SHA-256, in hex, of the
/// values it pays with, each canonical (a string unescaped, an object's keys sorted, a
/// number as written): the `amount`; the `currency`; the token (`token`,
/// `token_address`); the chain (`chain_id`) and network (`network`, `chain`); the wallet paid
/// (`wallet_address` or `walletAddress`, the first present; else the `user`'s, which is
/// also taken when the first present is not a string); the user paid (`user_id` or
/// `userId`, else the `user`'s `id`, likewise); and the `reward`'s `name`. Whatever their shape: `"amount": 15` and
/// `"amount": 1500` differ although neither is a typed [`Amount`](crate::amount::Amount).
///
/// The claim keeps the fingerprint of the first delivery of a key; a later delivery of
/// the same key with another fingerprint is refused (409) and never paid. Only what is
/// paid is in it: fields that change from one delivery of a request to the next
/// (`sent_at`, `request_id`, in the envelope), or with the user's profile (name, email,
/// external id, a profile wallet other than the one paid), are not.
pub fn fingerprint(request: &PaymentRequest) -> String {
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;
    type Fields<'a> = BTreeMap<String, &'a RawValue>;
    fn fields(raw: &str) -> Option<Fields<'_>> {
        serde_json::from_str(raw).ok()
    }
    fn first<'a>(fields: &Fields<'a>, names: &[&str]) -> Option<&'a RawValue> {
        names
            .iter()
            .filter_map(|name| fields.get(*name).copied())
            .find(|value| value.get() != "null")
    }
    let mut parts: Vec<(&str, String)> = Vec::new();
    match fields(request.raw_text()) {
        Some(data) => {
            // The `user` and `reward` objects, each read once. One that is not an object
            // (serde reads an array into a struct by position) is paid from as typed: all
            // of it is in the fingerprint.
            let mut object = |name: &'static str| {
                let value = data.get(name).copied().filter(|v| v.get() != "null")?;
                let object = fields(value.get());
                if object.is_none() {
                    parts.push((name, canonical(value.get())));
                }
                object
            };
            let user = object("user");
            let reward = object("reward");
            for (part, names) in PAID {
                let from_user = match part {
                    "wallet" => &["wallet_address", "walletAddress"][..],
                    "user" => &["id"][..],
                    _ => &[][..],
                };
                let profile = || user.as_ref().and_then(|user| first(user, from_user));
                match first(&data, names) {
                    Some(value) => {
                        parts.push((part, canonical(value.get())));
                        // A top-level value a handler cannot pay to (a wallet that is not
                        // a string, a user id that is neither a string nor an integer)
                        // leaves the typed field `None`, and a handler may fall back on
                        // the profile: then the profile is paid, and must be covered.
                        if !from_user.is_empty() && !usable(part, value) {
                            if let Some(fallback) = profile() {
                                parts.push(("profile", canonical(fallback.get())));
                            }
                        }
                    }
                    None => {
                        if let Some(fallback) = profile() {
                            parts.push((part, canonical(fallback.get())));
                        }
                    }
                }
            }
            if let Some(name) = reward.as_ref().and_then(|reward| first(reward, &["name"])) {
                parts.push(("reward", canonical(name.get())));
            }
        }
        // Not an object: all of it is what is paid.
        None => parts.push(("data", canonical(request.raw_text()))),
    }
    let text = serde_json::to_vec(&parts).unwrap_or_default();
    format!("v2:{}", hex::encode(Sha256::digest(&text)))
}

/// Whether a top-level wallet or user id is one the typed payment request keeps (a string;
/// for a user id, an integer too), as `chainvine::PaymentRequest` reads them.
fn usable(part: &str, value: &serde_json::value::RawValue) -> bool {
    // Read by the very functions the typed fields use, so that the two cannot disagree
    // (serde_json reads `-0` as a float, an integer past 64 bits too: neither is an id).
    if part == "user" {
        let mut id = serde_json::Deserializer::from_str(value.get());
        return crate::json::lenient_id::<_, String>(&mut id)
            .ok()
            .flatten()
            .is_some();
    }
    serde_json::from_str::<String>(value.get()).is_ok()
}

/// A JSON value written one way: strings unescaped then written again, objects and
/// arrays with sorted keys; a number as written (parsing could round a large one).
fn canonical(value: &str) -> String {
    let text = value.trim();
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return text.to_owned();
    }
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// A payout that did not happen: ChainVine is answered with an error and retries.
///
/// The default answer is 503 with `Retry-After: 30`. Any error converts with `?`.
pub struct PayoutError {
    status: StatusCode,
    retry_after: Option<Duration>,
    source: BoxError,
    outcome_unknown: bool,
}

impl PayoutError {
    /// A failed payout caused by `source`.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(DEFAULT_RETRY_AFTER),
            source: source.into(),
            outcome_unknown: false,
        }
    }

    /// A payout that may or may not have happened: the payment system could not say (it
    /// timed out after the transfer was sent, say). Answered as a failure (503), but the
    /// key is left unresolved, not failed: the next attempt is a
    /// [recovery](Payout::recovery), which looks the transfer up before paying. Return
    /// this, never [`PayoutError::new`], once the money may have left.
    pub fn outcome_unknown(source: impl Into<BoxError>) -> Self {
        Self {
            outcome_unknown: true,
            ..Self::new(source)
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

    /// Answers with `Retry-After: delay` (30 seconds unless set).
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Answers without `Retry-After`: ChainVine retries on its own schedule.
    #[must_use]
    pub fn without_retry_after(mut self) -> Self {
        self.retry_after = None;
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
        let mut handler = HandlerError::new(err.source).with_status(err.status);
        if err.outcome_unknown {
            handler = handler.with_outcome_unknown();
        }
        match err.retry_after {
            Some(delay) => handler.with_retry_after(delay),
            None => handler,
        }
    }
}

impl crate::idempotency::Failure for PayoutError {
    fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }
}

impl fmt::Debug for PayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayoutError")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .field("outcome_unknown", &self.outcome_unknown)
            .finish()
    }
}

impl fmt::Display for PayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payout failed ({}): {}", self.status, self.source)
    }
}

/// An async function that executes payouts: every
/// `Fn(Payout) -> impl Future<Output = Result<(), PayoutError>>`.
trait PayoutHandler: Send + Sync + 'static {
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

impl<H: PayoutHandler> Handler<Event> for PayoutDispatch<H> {
    fn call(&self, delivery: Verified<Event>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let payout = match Payout::from_delivery(delivery) {
            Ok(payout) => payout,
            Err(refusal) => {
                tracing::error!(reason = %refusal, "payment request refused; nothing claimed, nothing paid");
                metrics::payout_answered(refusal.outcome());
                let err = HandlerError::msg(refusal.to_string())
                    .with_status(refusal.status())
                    .with_reason(refusal.body());
                return Box::pin(std::future::ready(Err(err)));
            }
        };
        let idempotency = self.idempotency.clone();
        let handler = Arc::clone(&self.handler);
        // The run is detached into a task of its own: it carries the delivery's span
        // there, and the attempt it runs as.
        let span = tracing::Span::current();
        Box::pin(async move {
            let key = payout.idempotency_key().to_owned();
            let fingerprint = payout.fingerprint().to_owned();
            let run = idempotency.run(key.clone(), fingerprint, move |attempt| {
                span.record("attempt", attempt.number());
                handler
                    .pay(payout.with_attempt(attempt))
                    .err_into::<HandlerError>()
                    .instrument(span)
            });
            let ran = run.await;
            metrics::payout_answered(outcome_of(&ran));
            match ran {
                Ok(Outcome::AlreadyDone { attempt }) => {
                    tracing::info!(
                        key,
                        attempt,
                        "payment request already paid; acknowledged again"
                    );
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(err) => Err(claim_error(err)),
            }
        })
    }

    fn guards_itself(&self) -> bool {
        true
    }
}

/// How a payout run is counted in `hookguard_payouts_total`.
fn outcome_of(ran: &Result<Outcome, RunError<HandlerError>>) -> PayoutOutcome {
    match ran {
        Ok(Outcome::Ran { .. }) => PayoutOutcome::Paid,
        Ok(Outcome::AlreadyDone { .. }) => PayoutOutcome::AlreadyPaid,
        Err(RunError::Handler(err)) if err.is_outcome_unknown() => PayoutOutcome::OutcomeUnknown,
        Err(RunError::Handler(_)) => PayoutOutcome::Failed,
        Err(RunError::Panicked) => PayoutOutcome::Panicked,
        Err(RunError::Busy { .. }) => PayoutOutcome::Busy,
        Err(RunError::Held { .. }) => PayoutOutcome::Held,
        Err(RunError::Conflict { .. }) => PayoutOutcome::Conflict,
        Err(RunError::LostClaim { .. }) => PayoutOutcome::LostClaim,
        Err(RunError::Interrupted) => PayoutOutcome::Interrupted,
        Err(RunError::Store(_)) => PayoutOutcome::StoreUnavailable,
    }
}

impl Dispatcher<Event> {
    /// Executes ChainVine payment requests with `handler`, once per payment request,
    /// with claims kept in `store` (a [`Store`](crate::idempotency::store::Store), or an
    /// [`Idempotency`] to set the lease, the wait and the recovery policy): `Ok` answers
    /// 200 (paid) once the payment is recorded done, `Err` answers the [`PayoutError`]'s
    /// status (503 by default), so ChainVine retries.
    ///
    /// A dispatcher that pays also refuses events it cannot name (see
    /// [`with_unknown_status`](Dispatcher::with_unknown_status)): a payment request
    /// under a name it was not told of must fail loudly, not be acknowledged unpaid.
    ///
    /// The handler is an async closure taking the [`Payout`]; `?` works on any error
    /// that converts into a [`PayoutError`].
    #[must_use]
    pub fn on_payment_request<F, Fut>(self, store: impl Into<Idempotency>, handler: F) -> Self
    where
        F: Fn(Payout) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), PayoutError>> + Send + 'static,
    {
        let handler = PayoutDispatch {
            idempotency: store.into(),
            handler: Arc::new(handler),
        };
        self.register(Some(EventKind::PaymentRequest), Arc::new(handler))
            .paying()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bodies the scanner declines (a key written with an escape) are read by serde; each
    /// reads to the event the scanner reads from the body written plainly, field by field,
    /// with the same payout key and fingerprint, and its strings are shared, not copied
    /// per call.
    #[test]
    fn a_payment_request_read_by_serde_is_paid_as_the_scanned_one() {
        let plain = include_str!("../tests/fixtures/chainvine/payment_request.json");
        let (scanned, _) = crate::chainvine::both_reads(plain.as_bytes())
            .into_iter()
            .next()
            .expect("the scanner reads the fixture");
        for (from, to) in [
            ("\"request_id\"", "\"\\u0072equest_id\""),
            ("\"amount\"", "\"\\u0061mount\""),
            ("\"user_id\"", "\"user\\u005fid\""),
            ("\"payment_request_id\"", "\"payment\\u005frequest_id\""),
        ] {
            let body = plain.replacen(from, to, 1);
            assert!(
                crate::chainvine::both_reads(body.as_bytes()).is_empty(),
                "{to}"
            );
            let read = Event::from_slice(body.as_bytes()).unwrap();
            assert_eq!(idempotency_key(&read), idempotency_key(&scanned));
            assert_eq!(read.event_id(), scanned.event_id());
            assert_eq!(read.request_id(), scanned.request_id());
            assert_eq!(read.sent_at(), scanned.sent_at());
            assert_eq!(read.source(), scanned.source());
            let (a, b) = (
                read.payment_request().unwrap(),
                scanned.payment_request().unwrap(),
            );
            assert_eq!(fingerprint(a), fingerprint(b), "{to}");
            assert_eq!(a.id(), b.id());
            assert_eq!(a.user_id(), b.user_id());
            assert_eq!(a.user(), b.user());
            assert_eq!(a.reward(), b.reward());
            assert_eq!(a.amount(), b.amount());
            assert_eq!(a.currency(), b.currency());
            assert_eq!(a.wallet_address(), b.wallet_address());
            assert_eq!(a.event_name(), b.event_name());
            let raw = a.raw().get().replacen(to, from, 1);
            assert_eq!(raw, b.raw().get());
            // Two reads of a field are the one string, on either path.
            for request in [a, b] {
                assert_eq!(request.raw().get().as_ptr(), request.raw().get().as_ptr());
                let amount = |r: &PaymentRequest| r.amount().unwrap().as_str().as_ptr();
                assert_eq!(amount(request), amount(request));
            }
        }
    }

    fn envelope(data: &str, event_id: &str) -> Event {
        let body = format!(
            r#"{{"source":{{"campaign":{{"name":"C","created_on":"2024-01-01","id":"c1"}},
            "community":{{"name":"Acme","id":"com:1"}}}},
            "event":{{"name":"PAYMENT_REQUEST","data":{data}}},
            "version":"1","secure_request":true,"request_id":"r","event_id":"{event_id}",
            "sent_at":"2024-01-01T00:00:00Z"}}"#
        );
        Event::from_slice(body.as_bytes()).expect("a payment request")
    }

    fn key(data: &str, event_id: &str) -> Result<String, PayoutRefusal> {
        idempotency_key(&envelope(data, event_id))
    }

    fn print(data: &str) -> String {
        fingerprint(
            envelope(data, "e")
                .payment_request()
                .expect("a payment request"),
        )
    }

    #[test]
    fn the_key_is_the_most_specific_usable_id_scoped_by_community() {
        let scoped = |id: &str| Ok(format!("chainvine:com%3A1:payment:{id}"));
        assert_eq!(
            key(r#"{"id":"x","payment_request_id":"pr_1"}"#, "e"),
            scoped("pr_1")
        );
        assert_eq!(key(r#"{"id":"","payout_id":"po_1"}"#, "e"), scoped("po_1"));
        assert_eq!(key(r#"{"id":" pr_2 "}"#, "e"), scoped("pr_2"));
        assert_eq!(key(r#"{"id":7}"#, "e"), scoped("7"));
        assert_eq!(
            key(r#"{"id":123456789012345678901234567890}"#, "e"),
            scoped("123456789012345678901234567890"),
            "an integer too large for u64 keeps its digits"
        );
        assert_eq!(key(r#"{"id":"a:b%c"}"#, "e"), scoped("a%3Ab%25c"));
        assert_eq!(
            key(r#"{"amount":"1"}"#, " evt_1 "),
            Ok("chainvine:com%3A1:event:evt_1".to_owned())
        );
    }

    #[test]
    fn no_usable_id_is_refused_rather_than_guessed() {
        for (data, event_id) in [
            (r#"{"amount":"1"}"#, ""),
            (r#"{"id":"","amount":"1"}"#, "  "),
            (r#"{"payment_request_id":1.5}"#, "e"),
            (r#"{"payment_request_id":true}"#, "e"),
            (r#"{"id":{"nested":"x"}}"#, "e"),
        ] {
            assert_eq!(key(data, event_id), Err(PayoutRefusal::MissingId), "{data}");
        }
    }

    #[test]
    fn the_fingerprint_sees_every_paid_field_whatever_its_shape() {
        let base = r#"{"id":"p","amount":"15","currency":"USDC","chain_id":137,
            "wallet_address":"0xA","user_id":"u","user":{"id":"u","email":"a@b",
            "wallet_address":"0xProfile"},"reward":{"name":"USDC"}}"#;
        let same = print(base);
        // What is not paid may change: the profile, fields nobody pays on, escaping.
        for unchanged in [
            base.replace("a@b", "c@d"),
            base.replace("0xProfile", "0xOther"),
            base.replace(
                r#""email":"a@b","#,
                r#""email":"a@b","external_identifier":"x","#,
            ),
            base.replace(r#""id":"p","#, r#""id":"p","note":"x","#),
            base.replace(r#""15""#, r#""1\u0035""#),
        ] {
            assert_eq!(print(&unchanged), same, "{unchanged}");
        }
        for changed in [
            base.replace(r#""15""#, r#""1500""#),
            base.replace(r#""15""#, "15"),
            base.replace("137", "1"),
            base.replace("0xA", "0xB"),
            base.replace(r#""user_id":"u""#, r#""user_id":"v""#),
            base.replace(r#""reward":{"name":"USDC"}"#, r#""reward":{"name":"ETH"}"#),
            base.replace(r#""currency":"USDC","#, ""),
            base.replace(
                r#""currency":"USDC","#,
                r#""currency":"USDC","network":"base","#,
            ),
        ] {
            assert_ne!(print(&changed), same, "{changed}");
        }
        // Amounts sent as numbers are told apart too, though neither is a typed amount.
        assert_ne!(print(r#"{"amount":15}"#), print(r#"{"amount":1500}"#));
        // The wallet paid is the user's when the request names none.
        assert_ne!(
            print(r#"{"amount":"1","user":{"wallet_address":"0xA"}}"#),
            print(r#"{"amount":"1","user":{"wallet_address":"0xB"}}"#)
        );
        // Key order inside a token object does not matter.
        assert_eq!(
            print(r#"{"amount":"1","token":{"a":1,"b":2}}"#),
            print(r#"{"amount":"1","token":{"b":2,"a":1}}"#)
        );
    }

    /// Whatever a handler reads to pay (the typed `wallet_address` and `user_id`, or the
    /// profile when they are `None`), two deliveries with one fingerprint pay the same.
    #[test]
    fn what_a_handler_pays_is_covered_by_the_fingerprint_whatever_the_spellings() {
        let paid = |data: &str| {
            let event = envelope(data, "e");
            let request = event.payment_request().expect("a payment request").clone();
            let profile = request.user();
            (
                request
                    .wallet_address()
                    .or_else(|| profile?.wallet_address())
                    .map(str::to_owned),
                request
                    .user_id()
                    .or_else(|| profile?.id())
                    .map(str::to_owned),
                fingerprint(&request),
            )
        };
        let pairs = [
            // The first spelling present decides, whatever it holds: a number there
            // leaves the wallet to the profile, never to the camel-case spelling.
            (
                r#"{"id":"p","amount":"1","wallet_address":5,"walletAddress":"0xA"}"#,
                r#"{"id":"p","amount":"1","wallet_address":5,"walletAddress":"0xB"}"#,
            ),
            (
                r#"{"id":"p","amount":"1","user_id":true,"userId":"u1"}"#,
                r#"{"id":"p","amount":"1","user_id":true,"userId":"u2"}"#,
            ),
            // An unusable top-level value brings the profile into the fingerprint.
            (
                r#"{"id":"p","amount":"1","wallet_address":5,"user":{"id":"u","wallet_address":"0xA"}}"#,
                r#"{"id":"p","amount":"1","wallet_address":5,"user":{"id":"u","wallet_address":"0xB"}}"#,
            ),
            (
                r#"{"id":"p","amount":"1","user_id":1e3,"user":{"id":"u1"}}"#,
                r#"{"id":"p","amount":"1","user_id":1e3,"user":{"id":"u2"}}"#,
            ),
            (
                r#"{"id":"p","amount":"1","user_id":123456789012345678901234567890,"user":{"id":"u1"}}"#,
                r#"{"id":"p","amount":"1","user_id":123456789012345678901234567890,"user":{"id":"u2"}}"#,
            ),
            // `-0` is a float to serde_json: no user id, so the profile decides.
            (
                r#"{"id":"p","amount":"1","user_id":-0,"user":{"id":"u1"}}"#,
                r#"{"id":"p","amount":"1","user_id":-0,"user":{"id":"u2"}}"#,
            ),
            // A profile (or a reward) sent as an array is read by position.
            (
                r#"{"id":"p","amount":"1","user":["u1",null,null,null,"0xA"]}"#,
                r#"{"id":"p","amount":"1","user":["u2",null,null,null,"0xB"]}"#,
            ),
            // `null` is absent: the next spelling decides, and is fingerprinted.
            (
                r#"{"id":"p","amount":"1","wallet_address":null,"walletAddress":"0xA"}"#,
                r#"{"id":"p","amount":"1","wallet_address":null,"walletAddress":"0xB"}"#,
            ),
        ];
        for (a, b) in pairs {
            let (wallet_a, user_a, print_a) = paid(a);
            let (wallet_b, user_b, print_b) = paid(b);
            assert!(
                (wallet_a, user_a) == (wallet_b, user_b) || print_a != print_b,
                "one fingerprint, two payments:\n{a}\n{b}"
            );
        }
        let reward = |data: &str| {
            let event = envelope(data, "e");
            let request = event.payment_request().expect("a payment request").clone();
            {
                let print = fingerprint(&request);
                (request.reward().map(|r| r.name().to_owned()), print)
            }
        };
        let (a, b) = (
            reward(r#"{"id":"p","amount":"1","reward":["USDC"]}"#),
            reward(r#"{"id":"p","amount":"1","reward":["DAI"]}"#),
        );
        assert!(a.0 == b.0 || a.1 != b.1, "one fingerprint, two rewards");
        // The typed fields read the first spelling present, as the fingerprint does.
        let (wallet, user, _) =
            paid(r#"{"amount":"1","wallet_address":5,"walletAddress":"0xA","user_id":7}"#);
        assert_eq!((wallet, user.as_deref()), (None, Some("7")));
        let (wallet, _, _) = paid(r#"{"amount":"1","wallet_address":null,"walletAddress":"0xA"}"#);
        assert_eq!(wallet.as_deref(), Some("0xA"));
        // A well-formed request's fingerprint is what it was: the profile stays out.
        assert_eq!(
            print(r#"{"amount":"1","wallet_address":"0xA","user":{"wallet_address":"0xP"}}"#),
            print(r#"{"amount":"1","wallet_address":"0xA","user":{"wallet_address":"0xQ"}}"#)
        );
    }
}
