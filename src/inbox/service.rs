//! The inbox's side of a request: store the verified delivery, then answer.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::sync::Notify;
use tower_service::Service;

use super::store::NewDelivery;
use super::worker::{self, Shared};
use super::Inbox;
use crate::dispatch::Dispatcher;
use crate::error::ConfigError;
use crate::event::WebhookEvent;
use crate::layer::VerifiedBody;
use crate::provider::Provider;
use crate::rejection::{plain_response, Rejection};
use crate::verified::Verified;

impl<E: WebhookEvent> Dispatcher<E> {
    /// Puts this dispatcher behind `inbox`: each verified delivery is stored and answered
    /// `200 stored` at once, and the inbox's workers run these handlers in the
    /// background, with retries (see [`inbox`](crate::inbox)). `provider` parses the
    /// stored deliveries again when they are run; give the one the layer has.
    ///
    /// Starts the workers on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::PayoutsInInbox`] for a dispatcher that pays: a payment request is
    /// answered 2xx only once it is paid. [`ConfigError::InboxProviderTaken`] when this
    /// inbox already serves a dispatcher under `provider`'s name.
    /// [`ConfigError::NoRuntime`] outside a tokio runtime.
    pub fn with_inbox<P>(self, inbox: &Inbox, provider: P) -> Result<InboxService<P>, ConfigError>
    where
        P: Provider<Event = E>,
    {
        if self.pays() {
            return Err(ConfigError::PayoutsInInbox);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        // Rows are claimed by provider name: two dispatchers under one name would run
        // each other's deliveries (and one without a handler would mark them handled).
        if !inbox.tasks.claim_name(provider.name()) {
            return Err(ConfigError::InboxProviderTaken(provider.name().to_owned()));
        }
        let shared = Arc::new(Shared {
            store: inbox.store.clone(),
            name: Arc::from(provider.name()),
            provider,
            dispatcher: self,
            policy: inbox.policy,
            lease: inbox.lease,
            poll_interval: inbox.poll_interval,
            retention: inbox.retention,
            wake: Notify::new(),
            running: Arc::clone(&inbox.tasks.running),
        });
        let mut handles = inbox
            .tasks
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..inbox.workers {
            let stop = inbox.tasks.stop.subscribe();
            handles.push(runtime.spawn(worker::work(Arc::clone(&shared), stop)));
        }
        handles.push(runtime.spawn(worker::upkeep(
            Arc::clone(&shared),
            inbox.tasks.stop.subscribe(),
        )));
        Ok(InboxService { shared })
    }
}

/// A dispatcher behind an inbox ([`Dispatcher::with_inbox`]): a tower service that stores
/// each delivery the [`WebhookLayer`](crate::WebhookLayer) verified and answers at once.
///
/// - stored (or already stored by an earlier delivery of the same id): `200 stored`;
/// - the store cannot be written: `503` with `Retry-After: 5`, so the sender retries;
/// - a payment request: `500`, not stored (its 2xx would say it was paid); so is an
///   unknown event that may be one (ChainVine's), unless the dispatcher sets
///   [`with_unknown_status`](Dispatcher::with_unknown_status);
/// - a delivery whose provider name is not the inbox's: `500`, not stored (no worker
///   would ever take it).
pub struct InboxService<P: Provider> {
    shared: Arc<Shared<P>>,
}

impl<P: Provider> Clone for InboxService<P> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: Provider> fmt::Debug for InboxService<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxService")
            .field("provider", &&*self.shared.name)
            .field("store", &self.shared.store)
            .finish_non_exhaustive()
    }
}

impl<P: Provider> InboxService<P> {
    /// Stores one verified delivery and answers as the type docs say.
    async fn store(
        shared: Arc<Shared<P>>,
        delivery: Verified<P::Event>,
        headers: http::HeaderMap,
    ) -> Response<Full<Bytes>> {
        // A payment request's 2xx says it was paid: never stored to be handled later.
        if delivery.may_be_payment_request() && !delivery.is_unknown() {
            tracing::error!(
                provider = delivery.provider(),
                event = delivery.name(),
                id = delivery.id(),
                "payment request refused by an inbox: payouts are answered only once paid; \
                 serve them with on_payment_request on a dispatcher without an inbox"
            );
            return plain_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "payment requests are not stored",
            );
        }
        // An unknown event is answered as the dispatcher answers it: one it would refuse
        // is refused here too, not stored and acknowledged; one that may be a payment
        // request under a name nobody configured is refused (500) unless the dispatcher
        // was told how unknown events are answered.
        if delivery.is_unknown() {
            if let Some(status) = shared
                .dispatcher
                .refuses_unknown(delivery.may_be_payment_request())
            {
                tracing::error!(
                    provider = delivery.provider(),
                    event = delivery.name(),
                    id = delivery.id(),
                    status = status.as_u16(),
                    "unknown event refused by an inbox, as its dispatcher refuses it: if it \
                     is a payment request, configure its name"
                );
                return plain_response(status, "unknown event");
            }
        }
        // Stored under another name than the workers claim, it would never be handled.
        if delivery.provider() != &*shared.name {
            tracing::error!(
                layer = delivery.provider(),
                inbox = &*shared.name,
                "the layer's provider and the inbox's have different names: delivery refused"
            );
            return plain_response(StatusCode::INTERNAL_SERVER_ERROR, "inbox misconfigured");
        }
        let key = delivery.once_key();
        let stored = shared
            .store
            .insert(NewDelivery {
                provider: delivery.provider(),
                key: &key,
                id: delivery.id(),
                event: delivery.name(),
                headers: &headers,
                body: delivery.body(),
                signed: delivery.is_signed(),
            })
            .await;
        match stored {
            Ok(new) => {
                if new {
                    crate::metrics::inbox_stored(delivery.provider());
                    shared.wake.notify_one();
                } else {
                    crate::metrics::inbox_duplicate(delivery.provider());
                }
                tracing::debug!(
                    provider = delivery.provider(),
                    event = delivery.name(),
                    id = delivery.id(),
                    new,
                    "delivery stored in the inbox"
                );
                plain_response(
                    StatusCode::OK,
                    if new { "stored" } else { "already stored" },
                )
            }
            Err(err) => {
                tracing::error!(
                    provider = delivery.provider(),
                    event = delivery.name(),
                    id = delivery.id(),
                    error = %err,
                    "inbox store unavailable: delivery refused with 503"
                );
                let mut response =
                    plain_response(StatusCode::SERVICE_UNAVAILABLE, "inbox unavailable");
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
        }
    }
}

/// The future of an [`InboxService`] call.
pub struct InboxFuture {
    inner: BoxFuture<'static, Response<Full<Bytes>>>,
}

impl Future for InboxFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for InboxFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxFuture").finish_non_exhaustive()
    }
}

/// Behind a [`WebhookLayer`](crate::WebhookLayer) of the same provider, as the
/// dispatcher it wraps.
impl<P: Provider> Service<Request<VerifiedBody<P::Event>>> for InboxService<P> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = InboxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<VerifiedBody<P::Event>>) -> InboxFuture {
        let (mut parts, _body) = request.into_parts();
        let inner: BoxFuture<'static, _> = match parts.extensions.remove::<Verified<P::Event>>() {
            // The write runs in its own task: a sender hanging up mid-write does not
            // cancel it half-way, and the answer it would have got stays true.
            Some(delivery) => {
                let shared = Arc::clone(&self.shared);
                let write = tokio::spawn(Self::store(shared, delivery, parts.headers));
                Box::pin(async move {
                    write.await.unwrap_or_else(|_| {
                        plain_response(StatusCode::INTERNAL_SERVER_ERROR, "inbox write failed")
                    })
                })
            }
            None => {
                tracing::error!("inbox reached without the webhook layer's delivery");
                Box::pin(std::future::ready(Rejection::LayerMissing.to_response()))
            }
        };
        InboxFuture { inner }
    }
}
