//! The axum extractor for verified events.
//!
//! With the [`WebhookLayer`](crate::WebhookLayer) on a route, a handler can take
//! [`Verified<E>`](crate::Verified) as an argument:
//!
//! ```
//! use axum::{routing::post, Router};
//! use hookguard::{claimr, Claimr, Verified, WebhookLayer};
//!
//! async fn on_claimr(event: Verified<claimr::Event>) -> &'static str {
//!     println!("{} {}", event.name(), event.body().len());
//!     "ok"
//! }
//!
//! let app: Router = Router::new().route(
//!     "/webhooks/claimr",
//!     post(on_claimr).layer(WebhookLayer::new(Claimr::new("secret")?)),
//! );
//! # Ok::<(), hookguard::ConfigError>(())
//! ```
//!
//! Without the layer, the extractor refuses with [`Rejection::LayerMissing`] (500).

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::event::WebhookEvent;
use crate::rejection::Rejection;
use crate::verified::Verified;

impl<S, E> FromRequestParts<S> for Verified<E>
where
    S: Send + Sync,
    E: WebhookEvent,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        parts
            .extensions
            .remove::<Verified<E>>()
            .ok_or(Rejection::LayerMissing)
    }
}
