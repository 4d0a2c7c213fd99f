//! Handlers: the user's async functions that receive verified events.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::verified::Verified;

/// A boxed error, as handlers may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A handler's failure: the sender is answered with an error status and will retry.
///
/// Any error converts into it with `?`; the default status is 500. The error itself is
/// logged, never sent back to the sender.
pub struct HandlerError {
    status: StatusCode,
    retry_after: Option<Duration>,
    source: BoxError,
}

impl HandlerError {
    /// A failure caused by `source`, answered with 500.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None,
            source: source.into(),
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

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler failed ({}): {}", self.status, self.source)
    }
}

/// An async function that handles verified events of type `E`.
///
/// Implemented for every `Fn(Verified<E>) -> impl Future<Output = Result<(), Err>>`
/// where `Err` converts into a [`HandlerError`].
pub trait Handler<E>: Send + Sync + 'static {
    /// Handles one delivery.
    fn call(&self, delivery: Verified<E>) -> BoxFuture<'static, Result<(), HandlerError>>;

    /// Whether the handler runs its own claim protocol (payouts do), so that delivery
    /// dedup must not wrap it in a second one.
    #[doc(hidden)]
    fn guards_itself(&self) -> bool {
        false
    }
}

impl<F, Fut, Err, E> Handler<E> for F
where
    F: Fn(Verified<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Err>> + Send + 'static,
    Err: Into<HandlerError>,
{
    fn call(&self, delivery: Verified<E>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let future = self(delivery);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}
