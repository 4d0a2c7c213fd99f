//! The verified delivery that the layer hands on.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

use crate::event::WebhookEvent;
use crate::idempotency::{Attempt, Recovery};

/// A delivery whose signature checked out, parsed into the provider's typed event.
///
/// Only the [`WebhookLayer`](crate::WebhookLayer) makes one (and, for tests, the
/// [`testing`](crate::testing) helpers, which run the same checks). The layer puts it in
/// the request's extensions; the dispatcher and the axum extractor take it from there.
/// It derefs to the event.
#[derive(Debug, Clone)]
pub struct Verified<E> {
    provider: Arc<str>,
    event: E,
    body: Bytes,
    signed: bool,
    attempt: Attempt,
}

impl<E: WebhookEvent> Verified<E> {
    /// A delivery the layer accepted from `provider`: signed, or accepted unsigned by the
    /// provider's explicit opt-in.
    pub(crate) fn new(provider: Arc<str>, event: E, body: Bytes, signed: bool) -> Self {
        Self {
            provider,
            event,
            body,
            signed,
            attempt: Attempt::FIRST,
        }
    }

    /// The name of the provider that sent it, as [`Provider::name`](crate::Provider::name)
    /// gives it (`"claimr"`, `"github"`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The provider's name, shared.
    pub(crate) fn shared_provider(&self) -> Arc<str> {
        Arc::clone(&self.provider)
    }

    /// The event's identifier, as the provider sent it
    /// ([`WebhookEvent::id`]).
    pub fn id(&self) -> &str {
        self.event.id()
    }

    /// The provider's own name for the event, exactly as sent
    /// ([`WebhookEvent::name`]).
    pub fn name(&self) -> &str {
        self.event.name()
    }

    /// The id of the campaign the event belongs to ([`WebhookEvent::campaign`]): claimr's
    /// `campaign.id`, ChainVine's `source.campaign.id`; `None` for senders without
    /// campaigns.
    pub fn campaign(&self) -> Option<&str> {
        self.event.campaign()
    }

    /// Which kind of event this is ([`WebhookEvent::kind`]).
    pub fn kind(&self) -> E::Kind {
        self.event.kind()
    }

    /// The typed event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The typed event, by value.
    pub fn into_event(self) -> E {
        self.event
    }

    /// The raw body exactly as it was signed and sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// False only for a delivery accepted unsigned by explicit opt-in (see
    /// [`ChainVine::accept_unsigned_insecure_requests`](crate::ChainVine::accept_unsigned_insecure_requests)).
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Which attempt at this delivery's handler this is, under
    /// [`Dispatcher::with_dedup`](crate::Dispatcher::with_dedup); 1 otherwise.
    pub fn attempt(&self) -> u32 {
        self.attempt.number()
    }

    /// Under [`Dispatcher::with_dedup`](crate::Dispatcher::with_dedup), set when an
    /// earlier attempt's outcome is unknown (its process died, it panicked, or it said so
    /// with [`HandlerError::with_outcome_unknown`](crate::HandlerError::with_outcome_unknown)):
    /// check whether its work was done before doing it again.
    pub fn recovery(&self) -> Option<Recovery> {
        self.attempt.recovery()
    }

    /// What this delivery is kept once under, within its provider: its id when the id is
    /// signed (`id:<id>`), else the signed body's SHA-256 (`sha256:<hex>`: an unsigned id
    /// could be chosen by whoever replays it). A delivery accepted unsigned keys apart
    /// (`unsigned:sha256:<hex>`), so that a forgery under a guessed id cannot stand in
    /// for the genuine delivery.
    pub(crate) fn once_key(&self) -> String {
        use sha2::Digest;
        let digest = || hex::encode(sha2::Sha256::digest(self.body()));
        if !self.is_signed() {
            format!("unsigned:sha256:{}", digest())
        } else if self.id_is_signed() && !self.id().is_empty() {
            format!("id:{}", self.id())
        } else {
            format!("sha256:{}", digest())
        }
    }

    /// This delivery as run by `attempt`.
    pub(crate) fn with_attempt(mut self, attempt: Attempt) -> Self {
        self.attempt = attempt;
        self
    }
}

impl<E> Deref for Verified<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.event
    }
}
