//! The verified delivery that the layer hands on.

use std::ops::Deref;

use bytes::Bytes;

use crate::event::WebhookEvent;
use crate::idempotency::Attempt;
use crate::store::Recovery;

/// A delivery whose signature checked out, parsed into the provider's typed event.
///
/// The layer puts it in the request's extensions; handlers, the dispatcher and the axum
/// extractor take it from there. It derefs to the event.
#[derive(Debug, Clone)]
pub struct Verified<E> {
    event: E,
    body: Bytes,
    signed: bool,
    attempt: Attempt,
}

impl<E: WebhookEvent> Verified<E> {
    /// A delivery known to be authentic. Used by the layer, and by tests that build
    /// deliveries by hand.
    pub fn new(event: E, body: Bytes) -> Self {
        Self {
            event,
            body,
            signed: true,
            attempt: Attempt::FIRST,
        }
    }

    /// A delivery accepted without a signature because the provider was told to
    /// (see [`ChainVine::accept_unsigned_insecure_requests`](crate::ChainVine::accept_unsigned_insecure_requests)).
    pub(crate) fn unsigned(event: E, body: Bytes) -> Self {
        Self {
            event,
            body,
            signed: false,
            attempt: Attempt::FIRST,
        }
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

    /// False only for a delivery accepted unsigned by explicit opt-in.
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
