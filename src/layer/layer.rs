use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::Webhook;
use crate::error::ConfigError;
use crate::provider::Provider;

/// The body cap when none is set: 1 MiB, far above any documented event.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The time allowed to receive a whole body when none is set: 30 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Puts webhook verification in front of a service. See the [module docs](crate::layer).
#[derive(Debug, Clone)]
#[must_use]
pub struct WebhookLayer<P> {
    // Built once: every verified delivery carries a clone.
    name: Arc<str>,
    // Shared, not cloned, per service and per request: a provider holds its scheme's
    // settings (a `Vec`, `String`s) beside its keys.
    provider: Arc<P>,
    body_limit: usize,
    body_timeout: Duration,
}

impl<P: Provider> WebhookLayer<P> {
    /// Verifies and parses deliveries from `provider`, with a body cap of
    /// [`DEFAULT_BODY_LIMIT`] and a body read timeout of [`DEFAULT_BODY_TIMEOUT`].
    pub fn new(provider: P) -> Self {
        Self {
            name: Arc::from(provider.name()),
            provider: Arc::new(provider),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// Caps bodies at `bytes`: a longer one is refused with 413 before it is buffered.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroBodyLimit`] when `bytes` is zero.
    pub fn with_body_limit(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        self.body_limit = bytes;
        Ok(self)
    }

    /// Allows `timeout` to receive the whole body, from the first poll of the response
    /// future; a body still incomplete then is refused with 408
    /// ([`Rejection::Timeout`](crate::Rejection::Timeout)), so that a sender trickling
    /// bytes cannot hold a connection and its buffer open.
    ///
    /// The timer is tokio's: the layer must run inside a tokio runtime with time enabled,
    /// as axum's server and `#[tokio::main]` are. A zero timeout accepts only a body that
    /// is complete at the first poll.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The time allowed to receive a whole body.
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// The body cap, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The provider checked.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// Wraps `inner`, the service that receives verified deliveries (a
    /// [`Dispatcher`](crate::Dispatcher), an axum route, any tower service): the same as
    /// [`Layer::layer`], without importing the trait.
    pub fn layer<S>(&self, inner: S) -> Webhook<S, P> {
        Webhook::new(
            inner,
            Arc::clone(&self.name),
            Arc::clone(&self.provider),
            self.body_limit,
            self.body_timeout,
        )
    }
}

impl<S, P: Provider> Layer<S> for WebhookLayer<P> {
    type Service = Webhook<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        WebhookLayer::layer(self, inner)
    }
}
