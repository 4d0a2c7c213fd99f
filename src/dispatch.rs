//! Dispatch: each verified event to the handler registered for its kind.
//!
//! A handler is an async closure taking the [`Verified`] event and returning
//! `Result<(), HandlerError>`: the event's kind fixes the event type, so neither needs
//! writing down, and `?` works on any error that converts into a [`HandlerError`].
//!
//! ```
//! use hookguard::{claimr, Dispatcher};
//!
//! let dispatcher = Dispatcher::new()
//!     .on(claimr::EventKind::UserReward, |event| async move {
//!         println!("reward for {:?}", event.payload().and_then(|p| p.user_id()));
//!         let _points: u32 = "50".parse()?;
//!         Ok(())
//!     })
//!     .on_any(|_event| async { Ok(()) });
//! assert!(dispatcher.handles(claimr::EventKind::UserReward));
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;
use tracing::Instrument;

use crate::campaign::{self, Campaigns};
use crate::event::{EventKind, WebhookEvent};
use crate::handler::{Handler, HandlerError};
use crate::idempotency::{Idempotency, RunError};
use crate::layer::VerifiedBody;
use crate::metrics::{self, HandlerOutcome, PayoutOutcome};
use crate::rejection::{plain_response, Rejection};
use crate::verified::Verified;

type SharedHandler<E> = Arc<dyn Handler<E>>;

/// How long a handler may run when no timeout is set: 30 seconds.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// Handlers registered per event kind, plus a catch-all; a tower service that answers
/// each delivery the [`WebhookLayer`](crate::WebhookLayer) verified.
///
/// - a handler's `Ok` answers 200; its `Err` answers the error's status (500 by
///   default), so the sender retries;
/// - a handler that panics answers 500, and the server keeps serving;
/// - a handler still running after the handler timeout
///   ([`with_handler_timeout`](Dispatcher::with_handler_timeout), 30 s by default) is
///   dropped and answers 503 with `Retry-After`, so the sender tries again later;
/// - an event with no handler answers 200 (nothing to retry); an unknown event with no
///   catch-all answers [`with_unknown_status`](Dispatcher::with_unknown_status), 200 by
///   default, so that senders do not retry it forever;
/// - a dispatcher that pays ([`on_payment_request`](Dispatcher::on_payment_request))
///   answers unknown events 500 instead, catch-all or not, and logs an error naming
///   the event: a payment request under a name it was not told of must fail loudly,
///   and be retried until the name is configured, not be acknowledged unpaid. Setting
///   [`with_unknown_status`](Dispatcher::with_unknown_status) says you have thought
///   about them: the catch-all, then that status, take them as in any dispatcher.
///
/// A dispatcher serves one provider's events, and only behind that provider's layer:
///
/// ```
/// use hookguard::{chainvine, ChainVine, Dispatcher, WebhookLayer};
///
/// let handlers = Dispatcher::new()
///     .on(chainvine::EventKind::EarningCreated, |_event| async { Ok(()) });
/// let app: axum::Router = axum::Router::new()
///     .route_service("/webhooks/chainvine", WebhookLayer::new(ChainVine::new("s")?).layer(handlers));
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
///
/// The same dispatcher behind a claimr layer does not compile:
///
/// ```compile_fail
/// use hookguard::{chainvine, Claimr, Dispatcher, WebhookLayer};
///
/// let handlers = Dispatcher::new()
///     .on(chainvine::EventKind::EarningCreated, |_event| async { Ok(()) });
/// let app: axum::Router = axum::Router::new()
///     .route_service("/webhooks/claimr", WebhookLayer::new(Claimr::new("s")?).layer(handlers));
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
pub struct Dispatcher<E: WebhookEvent> {
    registry: Arc<Registry<E>>,
}

struct Registry<E: WebhookEvent> {
    handlers: HashMap<E::Kind, SharedHandler<E>>,
    fallback: Option<SharedHandler<E>>,
    unknown_status: Option<StatusCode>,
    pays: bool,
    dedup: Option<Idempotency>,
    handler_timeout: Duration,
    campaigns: Option<Arc<Campaigns>>,
}

impl<E: WebhookEvent> Clone for Registry<E> {
    fn clone(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            fallback: self.fallback.clone(),
            unknown_status: self.unknown_status,
            pays: self.pays,
            dedup: self.dedup.clone(),
            handler_timeout: self.handler_timeout,
            campaigns: self.campaigns.clone(),
        }
    }
}

impl<E: WebhookEvent> Clone for Dispatcher<E> {
    fn clone(&self) -> Self {
        Self {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<E: WebhookEvent> Default for Dispatcher<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: WebhookEvent> fmt::Debug for Dispatcher<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("kinds", &self.registry.handlers.keys().collect::<Vec<_>>())
            .field("catch_all", &self.registry.fallback.is_some())
            .field("unknown_status", &self.unknown_status())
            .field("pays", &self.registry.pays)
            .field("handler_timeout", &self.registry.handler_timeout)
            .field("campaigns", &self.registry.campaigns)
            .finish()
    }
}

impl<E: WebhookEvent> Dispatcher<E> {
    /// A dispatcher with no handlers: every delivery is acknowledged with 200.
    pub fn new() -> Self {
        Self {
            registry: Arc::new(Registry {
                handlers: HashMap::new(),
                fallback: None,
                unknown_status: None,
                pays: false,
                dedup: None,
                handler_timeout: DEFAULT_HANDLER_TIMEOUT,
                campaigns: None,
            }),
        }
    }

    fn registry_mut(&mut self) -> &mut Registry<E> {
        Arc::make_mut(&mut self.registry)
    }

    /// Runs `handler` for events of `kind` (replacing any handler registered before).
    ///
    /// `kind` names the provider's event type, so the handler's argument needs no
    /// annotation: `.on(claimr::EventKind::UserLogin, |event| async move { ...; Ok(()) })`.
    ///
    /// # Panics
    ///
    /// When `kind` is already taken by the payout handler
    /// ([`on_payment_request`](Dispatcher::on_payment_request)): a plain handler in its
    /// place would pay outside the claim protocol, so the mistake stops the program where
    /// the dispatcher is built (as axum's router does with overlapping routes).
    #[must_use]
    pub fn on<K, F, Fut>(self, kind: K, handler: F) -> Self
    where
        K: EventKind<Event = E>,
        E: WebhookEvent<Kind = K>,
        F: Fn(Verified<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.register(Some(kind), Arc::new(handler))
    }

    /// Runs `handler` for every event no other handler takes, unknown events included.
    ///
    /// A dispatcher with no other handler names its event type
    /// (`Dispatcher::<claimr::Event>::new().on_any(...)`): nothing else says which
    /// provider it serves.
    #[must_use]
    pub fn on_any<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Verified<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.registry_mut().fallback = Some(Arc::new(handler));
        self
    }

    /// Registers `handler` (already shared) for `kind`, or as the catch-all.
    ///
    /// # Panics
    ///
    /// When a handler that runs its own claim protocol (the payout handler) would be
    /// replaced by one that does not.
    pub(crate) fn register(mut self, kind: Option<E::Kind>, handler: SharedHandler<E>) -> Self {
        match kind {
            Some(kind) => {
                let guarded = self
                    .registry
                    .handlers
                    .get(&kind)
                    .is_some_and(|existing| existing.guards_itself());
                assert!(
                    !guarded || handler.guards_itself(),
                    "hookguard: a handler for {kind:?} would replace the payout handler \
                     registered with `on_payment_request`, and pay outside its claim protocol"
                );
                self.registry_mut().handlers.insert(kind, handler);
            }
            None => self.registry_mut().fallback = Some(handler),
        }
        self
    }

    /// Answers unknown events that no catch-all takes with `status` (200 by default).
    ///
    /// In a dispatcher that pays, unknown events are refused with 500 (and an error log
    /// naming each) until this is set, catch-all or not: only once it is set do they
    /// reach the catch-all.
    #[must_use]
    pub fn with_unknown_status(mut self, status: StatusCode) -> Self {
        self.registry_mut().unknown_status = Some(status);
        self
    }

    /// The status unknown events with no catch-all are answered with.
    pub fn unknown_status(&self) -> StatusCode {
        self.registry
            .unknown_status
            .unwrap_or(if self.registry.pays {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            })
    }

    /// Marks this dispatcher as one that pays.
    pub(crate) fn paying(mut self) -> Self {
        self.registry_mut().pays = true;
        self
    }

    /// Serves only deliveries of `campaigns` ([`for_campaigns`](Dispatcher::for_campaigns)).
    pub(crate) fn limit_campaigns(mut self, campaigns: Campaigns) -> Self {
        self.registry_mut().campaigns = Some(Arc::new(campaigns));
        self
    }

    /// Whether this dispatcher may never acknowledge `delivery` without handling it: a
    /// payment request (its kind is taken by the payout handler), or an unknown event in
    /// a dispatcher that pays and would not acknowledge it
    /// ([`refuses_unknown`](Dispatcher::refuses_unknown)), since it may be a payment
    /// request under a name nobody configured.
    pub(crate) fn never_skips(&self, delivery: &Verified<E>) -> bool {
        self.pays_for(&delivery.kind())
            || delivery.is_unknown() && self.registry.pays && self.refuses_unknown(true).is_some()
    }

    /// The status this dispatcher answers an unknown event with when that status is not
    /// a 2xx; `None` when it acknowledges the event (its catch-all takes it, or the
    /// unknown status is a 2xx). With `may_pay` (the event may be a payment request under
    /// a name nobody configured), an unknown status that was never set refuses it with
    /// 500, catch-all or not, as a dispatcher that pays does.
    pub(crate) fn refuses_unknown(&self, may_pay: bool) -> Option<StatusCode> {
        let status = match self.registry.unknown_status {
            None if may_pay || self.registry.pays => {
                return Some(StatusCode::INTERNAL_SERVER_ERROR)
            }
            _ if self.registry.fallback.is_some() => return None,
            None => StatusCode::OK,
            Some(status) => status,
        };
        (!status.is_success()).then_some(status)
    }

    /// Whether `kind` is taken by a handler that pays (runs its own claim protocol).
    pub(crate) fn pays_for(&self, kind: &E::Kind) -> bool {
        self.registry
            .handlers
            .get(kind)
            .is_some_and(|handler| handler.guards_itself())
    }

    /// Runs each delivery's handler to completion once, however often the delivery
    /// arrives: the [claim protocol](crate::idempotency), detached from the request, keyed
    /// by the provider and the delivery's id, or by the SHA-256 of the signed body when
    /// the id is not signed ([`WebhookEvent::id_is_signed`]: GitHub's header id) or
    /// empty. Off by default. Handlers see [`Verified::attempt`] and
    /// [`Verified::recovery`]. Payout handlers always run their own protocol, keyed by the
    /// payment request, and are not wrapped twice.
    #[must_use]
    pub fn with_dedup(mut self, idempotency: impl Into<Idempotency>) -> Self {
        self.registry_mut().dedup = Some(idempotency.into());
        self
    }

    /// Gives each handler `timeout` to finish (30 s by default). A handler still running
    /// then is dropped at its next `.await` and the delivery answers 503 with
    /// `Retry-After` (the timeout in whole seconds, at least 1), so the sender tries
    /// again. A payout handler (or one under [`with_dedup`](Dispatcher::with_dedup)) is
    /// not dropped: it runs detached from the request, the timeout only ends the wait
    /// for it, and its outcome is recorded for the retry to find.
    ///
    /// The timer is tokio's, so dispatch runs inside a tokio runtime with time enabled. A
    /// handler that blocks its thread instead of awaiting cannot be stopped by any
    /// timeout.
    #[must_use]
    pub fn with_handler_timeout(mut self, timeout: Duration) -> Self {
        self.registry_mut().handler_timeout = timeout;
        self
    }

    /// Whether a handler is registered for `kind` itself.
    pub fn handles(&self, kind: E::Kind) -> bool {
        self.registry.handlers.contains_key(&kind)
    }

    /// Whether `delivery`'s campaign is one this dispatcher serves (every one, unless
    /// [`for_campaigns`](Dispatcher::for_campaigns) limits it).
    fn serves_campaign_of(&self, delivery: &Verified<E>) -> bool {
        self.registry
            .campaigns
            .as_ref()
            .map_or(true, |campaigns| campaigns.serves(delivery.campaign()))
    }

    /// The handler registered for `kind`, else the catch-all.
    fn handler_for(&self, kind: E::Kind) -> Option<SharedHandler<E>> {
        self.registry
            .handlers
            .get(&kind)
            .or(self.registry.fallback.as_ref())
            .cloned()
    }

    /// Whether this dispatcher pays ([`on_payment_request`](Dispatcher::on_payment_request)).
    // For the inbox, which refuses a paying dispatcher.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn pays(&self) -> bool {
        self.registry.pays
    }

    /// Runs the handler for a delivery taken from the inbox, as a request would (its
    /// handler, else the catch-all; none is `Ok`), under the handler timeout, with a
    /// panic or a timeout as an error. The claim protocol of
    /// [`with_dedup`](Dispatcher::with_dedup) is not run: the inbox stores a delivery
    /// once and keeps its own attempts.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) async fn handle(&self, delivery: Verified<E>) -> Result<(), HandlerError> {
        // Outside the campaigns served: skipped, as a request would be (payment requests,
        // which a request would refuse, never reach the inbox).
        if !self.serves_campaign_of(&delivery) {
            tracing::debug!(
                provider = delivery.provider(),
                event = delivery.name(),
                id = delivery.id(),
                campaign = delivery.campaign(),
                "inbox delivery of a campaign this dispatcher does not serve: skipped"
            );
            return Ok(());
        }
        let handler = self.handler_for(delivery.kind());
        let Some(handler) = handler else {
            tracing::debug!(
                provider = delivery.provider(),
                event = delivery.name(),
                id = delivery.id(),
                "no handler for this inbox delivery"
            );
            return Ok(());
        };
        let timeout = self.registry.handler_timeout;
        let provider = delivery.shared_provider();
        let name: Arc<str> = Arc::from(delivery.name());
        let started = tokio::time::Instant::now();
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(delivery))) {
            Err(_) => Err((
                HandlerOutcome::Panicked,
                HandlerError::msg("handler panicked"),
            )),
            Ok(call) => {
                match tokio::time::timeout(timeout, AssertUnwindSafe(call).catch_unwind()).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(err))) => Err((HandlerOutcome::Error, err)),
                    Ok(Err(_)) => Err((
                        HandlerOutcome::Panicked,
                        HandlerError::msg("handler panicked"),
                    )),
                    Err(_) => Err((
                        HandlerOutcome::TimedOut,
                        HandlerError::msg(format!("handler timed out after {timeout:?}")),
                    )),
                }
            }
        };
        let label = match &outcome {
            Ok(()) => HandlerOutcome::Ok,
            Err((label, _)) => *label,
        };
        metrics::handler_finished(&provider, &name, label, started.elapsed());
        outcome.map_err(|(_, err)| err)
    }

    /// Runs the handler for one verified delivery and answers as the type docs say.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with time enabled, where the handler timeout has no timer.
    pub async fn dispatch(&self, delivery: Verified<E>) -> Response<Full<Bytes>> {
        match self.route(delivery) {
            Routed::Run(run) => run.await,
            Routed::Answered(response) => response,
        }
    }

    /// Finds the handler for `delivery` and prepares its run, or answers at once when
    /// there is none. Done before any future is built, so that the future of a
    /// delivery holds only what its handler needs.
    pub(crate) fn route(&self, delivery: Verified<E>) -> Routed {
        if !self.serves_campaign_of(&delivery) {
            let refuse = self.never_skips(&delivery);
            let payout = self.pays_for(&delivery.kind());
            return Routed::Answered(campaign::outside(&delivery, refuse, payout));
        }
        let handler = self.handler_for(delivery.kind());
        let unknown = delivery.is_unknown();
        // A dispatcher that pays never acknowledges what it cannot name: it may be a
        // payment request under a name nobody configured.
        let refused = unknown
            && self.registry.pays
            && self.registry.unknown_status.is_none()
            && !self.handles(delivery.kind());
        let handler = handler.filter(|_| !refused);
        let Some(handler) = handler else {
            let span = tracing::Span::current();
            span.record(
                "outcome",
                if unknown {
                    "unknown_event"
                } else {
                    "no_handler"
                },
            );
            return Routed::Answered(if unknown {
                let status = self.unknown_status();
                if refused {
                    tracing::error!(
                        provider = delivery.provider(),
                        event = delivery.name(),
                        id = delivery.id(),
                        status = status.as_u16(),
                        "unknown event refused by a dispatcher that pays: if it is a payment \
                         request, configure its name (chainvine::EventNames)"
                    );
                } else {
                    tracing::info!(
                        provider = delivery.provider(),
                        event = delivery.name(),
                        id = delivery.id(),
                        "unknown webhook event acknowledged"
                    );
                }
                plain_response(status, "unknown event")
            } else {
                plain_response(StatusCode::OK, "no handler")
            });
        };
        let dedup = self
            .registry
            .dedup
            .clone()
            .filter(|_| !handler.guards_itself());
        let timeout = self.registry.handler_timeout;
        let pays = handler.guards_itself();
        // Shared, so that the metrics label it without another copy.
        let (name, id) = (Arc::<str>::from(delivery.name()), delivery.id().to_owned());
        let provider = delivery.shared_provider();
        // The delivery goes to the handler here, before any future of ours exists, so
        // the run's future holds the handler's boxed future and not a copy of the event.
        let call: BoxFuture<'static, Result<(), HandlerError>> = match dedup {
            Some(dedup) => {
                let key = dedup_key(&delivery);
                // The run is detached into a task of its own: it carries the delivery's
                // span there, and the attempt it runs as.
                let span = tracing::Span::current();
                Box::pin(async move {
                    dedup
                        .run(key, String::new(), move |attempt| {
                            span.record("attempt", attempt.number());
                            handler
                                .call(delivery.with_attempt(attempt))
                                .instrument(span)
                        })
                        .await
                        .map(|_| ())
                        .map_err(claim_error)
                })
            }
            // A panic in the call itself, before the handler's future exists, is
            // caught like one inside it.
            None => match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(delivery))) {
                Ok(call) => call,
                Err(_) => {
                    let outcome = HandlerOutcome::Panicked;
                    metrics::handler_finished(&provider, &name, outcome, Duration::ZERO);
                    tracing::Span::current().record("outcome", outcome.as_str());
                    return Routed::Answered(panicked(&provider, &name, &id));
                }
            },
        };
        let run = Run {
            provider,
            name,
            id,
            timeout,
            pays,
        };
        Routed::Run(Box::pin(run.wait(call)))
    }
}

/// The key a delivery is deduplicated under: the provider and its
/// [`Verified::once_key`] (the same keys as before that helper existed).
fn dedup_key<E: WebhookEvent>(delivery: &Verified<E>) -> String {
    format!("delivery:{}:{}", delivery.provider(), delivery.once_key())
}

/// How the claim protocol's refusals are answered. None is a 2xx: a run that did not
/// end recorded `done` is never acknowledged.
pub(crate) fn claim_error(err: RunError<HandlerError>) -> HandlerError {
    let retry = |seconds| Duration::from_secs(seconds);
    match err {
        RunError::Handler(err) => err,
        RunError::Panicked => HandlerError::msg("handler panicked").with_reason("handler panicked"),
        RunError::Busy { retry_after, .. } => {
            HandlerError::msg("being handled by another delivery")
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .with_retry_after(Duration::from_secs(retry_after.as_secs()))
                .with_reason("being handled")
        }
        err @ RunError::Held { .. } => HandlerError::msg(err.to_string())
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .with_retry_after(retry(60))
            .with_reason("held for an operator"),
        err @ RunError::Conflict { .. } => HandlerError::msg(err.to_string())
            .with_status(StatusCode::CONFLICT)
            .with_reason("conflict: this id was first seen with other content"),
        err @ (RunError::LostClaim { .. } | RunError::Interrupted) => {
            HandlerError::msg(err.to_string())
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .with_retry_after(retry(5))
                .with_reason("not recorded")
        }
        RunError::Store(err) => HandlerError::new(err)
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .with_retry_after(retry(5))
            .with_reason("store unavailable"),
    }
}

/// A delivery's way through the dispatcher.
pub(crate) enum Routed {
    /// Its handler's run, as one boxed future.
    Run(BoxFuture<'static, Response<Full<Bytes>>>),
    /// No handler, or a handler that panicked when called: the answer.
    Answered(Response<Full<Bytes>>),
}

/// One handler run to wait for: the delivery's provider, name and id (for the logs and
/// metrics), the handler timeout, and whether the handler pays.
struct Run {
    provider: Arc<str>,
    name: Arc<str>,
    id: String,
    timeout: Duration,
    pays: bool,
}

impl Run {
    /// Runs a handler's future, turning `Err`, a panic and a run past the timeout into
    /// error answers, and records how it ended.
    async fn wait(
        self,
        call: BoxFuture<'static, Result<(), HandlerError>>,
    ) -> Response<Full<Bytes>> {
        let Run {
            provider,
            name,
            id,
            timeout,
            pays,
        } = self;
        let started = Instant::now();
        let ended = tokio::time::timeout(timeout, AssertUnwindSafe(call).catch_unwind()).await;
        let (outcome, response) = match ended {
            Err(_elapsed) => {
                tracing::error!(
                    provider = &*provider,
                    event = %name,
                    id = %id,
                    timeout = ?timeout,
                    "webhook handler timed out"
                );
                if pays {
                    // The payout runs on; this answer (503) is what is counted.
                    metrics::payout_answered(PayoutOutcome::TimedOut);
                }
                (HandlerOutcome::TimedOut, timeout_response(timeout))
            }
            Ok(Ok(Ok(()))) => (HandlerOutcome::Ok, plain_response(StatusCode::OK, "ok")),
            Ok(Ok(Err(err))) => {
                tracing::error!(
                    provider = &*provider,
                    event = %name,
                    id = %id,
                    status = err.status().as_u16(),
                    error = %err.source(),
                    "webhook handler failed"
                );
                (HandlerOutcome::Error, error_response(&err))
            }
            Ok(Err(_panic)) => (HandlerOutcome::Panicked, panicked(&provider, &name, &id)),
        };
        metrics::handler_finished(&provider, &name, outcome, started.elapsed());
        tracing::Span::current().record("outcome", outcome.as_str());
        response
    }
}

/// The answer to a handler that panicked: 500, and the server goes on.
fn panicked(provider: &str, name: &str, id: &str) -> Response<Full<Bytes>> {
    tracing::error!(
        provider,
        event = %name,
        id = %id,
        "webhook handler panicked"
    );
    plain_response(StatusCode::INTERNAL_SERVER_ERROR, "handler panicked")
}

/// The answer to a handler that ran past `timeout`: 503, retry after about as long.
fn timeout_response(timeout: Duration) -> Response<Full<Bytes>> {
    let mut response = plain_response(StatusCode::SERVICE_UNAVAILABLE, "handler timed out");
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The answer to a handler's `Err`: its status and `Retry-After`, never its message.
pub(crate) fn error_response(err: &HandlerError) -> Response<Full<Bytes>> {
    let mut response = plain_response(err.status(), err.reason());
    if let Some(delay) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(delay.as_secs()));
    }
    response
}

/// The future of a [`Dispatcher`] (or [`CampaignRouter`](crate::CampaignRouter)) call.
pub struct DispatchFuture {
    inner: BoxFuture<'static, Response<Full<Bytes>>>,
}

impl DispatchFuture {
    /// The future of a delivery routed as `routed`.
    pub(crate) fn routed(routed: Routed) -> Self {
        let inner = match routed {
            Routed::Run(run) => run,
            Routed::Answered(response) => Box::pin(std::future::ready(response)),
        };
        DispatchFuture { inner }
    }

    /// The future of a request that reached the service without the layer's delivery.
    pub(crate) fn layer_missing() -> Self {
        tracing::error!("dispatcher reached without the webhook layer's delivery");
        DispatchFuture {
            inner: Box::pin(std::future::ready(Rejection::LayerMissing.to_response())),
        }
    }
}

impl Future for DispatchFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for DispatchFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchFuture").finish_non_exhaustive()
    }
}

/// Behind a [`WebhookLayer`](crate::WebhookLayer) of the same provider, whose requests'
/// body type names the event: a dispatcher for another provider's events does not
/// compile there.
impl<E: WebhookEvent> Service<Request<VerifiedBody<E>>> for Dispatcher<E> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = DispatchFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<VerifiedBody<E>>) -> DispatchFuture {
        match request.extensions_mut().remove::<Verified<E>>() {
            Some(delivery) => DispatchFuture::routed(self.route(delivery)),
            None => DispatchFuture::layer_missing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::chainvine;
    use crate::idempotency::store::MemoryStore;

    #[tokio::test]
    async fn an_unsigned_delivery_cannot_mark_a_signed_one_done() {
        let body = Bytes::from_static(
            br#"{"source":{"campaign":{"name":"C","created_on":"2024-01-01","id":"c1"},
            "community":{"name":"Acme","id":"com_1"}},
            "event":{"name":"REFERRAL_CONVERSION","data":{"claimer":"u"}},
            "version":"1","secure_request":false,"request_id":"r","event_id":"evt_1",
            "sent_at":"2024-01-01T00:00:00Z"}"#,
        );
        let event = chainvine::Event::from_slice(&body).expect("a ChainVine event");
        let signed_runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&signed_runs);
        let dispatcher = Dispatcher::<chainvine::Event>::new()
            .with_dedup(MemoryStore::new())
            .on_any(move |delivery| {
                if delivery.is_signed() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                async { Ok(()) }
            });
        // A forgery under the genuine delivery's event id arrives first...
        let forged = Verified::new("chainvine".into(), event.clone(), body.clone(), false);
        assert_eq!(dispatcher.dispatch(forged).await.status(), StatusCode::OK);
        // ...and the genuine, signed delivery still runs its handler.
        let genuine = Verified::new("chainvine".into(), event.clone(), body.clone(), true);
        assert_eq!(dispatcher.dispatch(genuine).await.status(), StatusCode::OK);
        assert_eq!(signed_runs.load(Ordering::SeqCst), 1);
        // Once, however often it comes again.
        let again = Verified::new("chainvine".into(), event, body, true);
        assert_eq!(dispatcher.dispatch(again).await.status(), StatusCode::OK);
        assert_eq!(signed_runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    #[should_panic(expected = "would replace the payout handler")]
    fn a_plain_handler_cannot_replace_the_payout_handler() {
        let _ = Dispatcher::new()
            .on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) })
            .on(chainvine::EventKind::PaymentRequest, |_event| async {
                Ok(())
            });
    }

    #[test]
    fn the_payout_handler_replaces_a_plain_one() {
        let dispatcher = Dispatcher::new()
            .on(chainvine::EventKind::PaymentRequest, |_event| async {
                Ok(())
            })
            .on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) });
        assert!(dispatcher.handles(chainvine::EventKind::PaymentRequest));
        assert!(
            dispatcher.registry.handlers[&chainvine::EventKind::PaymentRequest].guards_itself()
        );
    }
}
