//! Handlers: the user's async functions that receive verified events.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::error::BoxError;
use crate::verified::Verified;

/// A handler's failure: the sender is answered with an error status and will retry.
///
/// Any error converts into it with `?`; the default status is 500. The error itself is
/// logged, never sent back to the sender.
pub struct HandlerError {
    status: StatusCode,
    retry_after: Option<Duration>,
    source: BoxError,
    /// The short answer body, for refusals this crate makes itself.
    reason: Option<&'static str>,
    /// Whether the handler cannot tell if its work (a transfer) happened.
    outcome_unknown: bool,
}

impl HandlerError {
    /// A failure caused by `source`, answered with 500.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None,
            source: source.into(),
            reason: None,
            outcome_unknown: false,
        }
    }

    /// A failure described by `message`, answered with 500.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(message.to_string())
    }

    /// Answers with `status` instead. A status that is not an error (below 400) is kept
    /// at 500, so that a failure is never acknowledged as a success.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        if status.is_client_error() || status.is_server_error() {
            self.status = status;
        }
        self
    }

    /// Adds a `Retry-After` header to the answer.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Says that the handler cannot tell whether its work happened (its payment system
    /// timed out after the transfer was sent, say). Under the claim protocol
    /// ([`Dispatcher::with_dedup`](crate::Dispatcher::with_dedup), payouts) the key is
    /// then left unresolved instead of failed, so the next attempt is a recovery.
    #[must_use]
    pub fn with_outcome_unknown(mut self) -> Self {
        self.outcome_unknown = true;
        self
    }

    /// Whether [`with_outcome_unknown`](HandlerError::with_outcome_unknown) was set.
    pub fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }

    /// Answers with `reason` as the body instead of `handler failed`.
    #[must_use]
    pub(crate) fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The short answer body.
    pub(crate) fn reason(&self) -> &'static str {
        self.reason.unwrap_or("handler failed")
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Retry-After` delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What went wrong.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl<E> From<E> for HandlerError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Self::new(err)
    }
}

impl crate::idempotency::Failure for HandlerError {
    fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .field("outcome_unknown", &self.outcome_unknown)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler failed ({}): {}", self.status, self.source)
    }
}

/// An async function that handles verified events of type `E`, type-erased for the
/// dispatcher's table: every `Fn(Verified<E>) -> impl Future<Output = Result<(),
/// HandlerError>>`, and the payout handler.
pub(crate) trait Handler<E>: Send + Sync + 'static {
    /// Handles one delivery.
    fn call(&self, delivery: Verified<E>) -> BoxFuture<'static, Result<(), HandlerError>>;

    /// Whether the handler runs its own claim protocol (payouts do), so that delivery
    /// dedup must not wrap it in a second one.
    fn guards_itself(&self) -> bool {
        false
    }
}

impl<F, Fut, E> Handler<E> for F
where
    F: Fn(Verified<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    fn call(&self, delivery: Verified<E>) -> BoxFuture<'static, Result<(), HandlerError>> {
        // The handler's future itself, not an `async` block around it: the block would
        // hold the future twice (as its capture and as the awaited local), which for a
        // handler that holds the event comes to over 1 KiB per delivery, past the
        // allocator's per-thread cache (1,048 bytes against 520, for a claimr event).
        Box::pin(self(delivery))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::claimr;

    fn delivery() -> Verified<claimr::Event> {
        let body = Bytes::from_static(br#"{"id":"1","scope":"user_login","user_id":"u1"}"#);
        let event = claimr::Event::from_slice(&body).expect("a claimr body");
        Verified::new("claimr".into(), event, body, true)
    }

    #[tokio::test]
    async fn a_closure_handler_is_boxed_around_its_future_once_and_maps_its_error() {
        let handler = |delivery: Verified<claimr::Event>| async move {
            if delivery.id() == "1" {
                Err(HandlerError::msg("refused").with_status(StatusCode::CONFLICT))
            } else {
                Ok(())
            }
        };
        let alone = std::mem::size_of_val(&handler(delivery()));
        let boxed = Handler::call(&handler, delivery());
        // The delivery lives in the handler's future; the box must not hold it twice.
        assert!(
            std::mem::size_of_val(&*boxed) < alone + 64,
            "boxed {} bytes around a future of {alone}",
            std::mem::size_of_val(&*boxed)
        );
        let err = boxed.await.expect_err("the handler refused");
        assert_eq!(err.status(), StatusCode::CONFLICT);
    }
}
