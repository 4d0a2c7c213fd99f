//! # hookguard
//!
//! Verified, typed webhooks for [claimr], [ChainVine](chainvine), any
//! [Standard Webhooks](standard) sender, and any sender that signs with
//! [HMAC-SHA256](hmac), behind one tower layer.
//!
//! A receiver puts a [`WebhookLayer`] in front of its webhook route. The layer buffers the
//! body under a cap, checks the HMAC-SHA256 signature in constant time, parses the body
//! into the provider's typed event, and hands the [`Verified`] event on: to a
//! [`Dispatcher`] of per-event handlers, to an axum handler through the extractor, or to
//! any tower service. ChainVine payment requests go to a payout handler whose `Ok` or
//! `Err` becomes 200 or a retryable error ([`payout`]).
//!
//! ```
//! use axum::Router;
//! use hookguard::{claimr, Claimr, Dispatcher, HandlerError, Layer, Verified, WebhookLayer};
//!
//! let handlers = Dispatcher::<claimr::Event>::new()
//!     .on(claimr::EventKind::UserActivity, |event: Verified<claimr::Event>| async move {
//!         println!("activity: {}", hookguard::WebhookEvent::id(event.event()));
//!         Ok::<_, HandlerError>(())
//!     });
//!
//! let app: Router = Router::new().route_service(
//!     "/webhooks/claimr",
//!     WebhookLayer::new(Claimr::new("claimr-secret")?).layer(handlers),
//! );
//! # Ok::<(), hookguard::ConfigError>(())
//! ```
//!
//! The claimr and ChainVine signing defaults are assumptions, since the providers do
//! not publish their schemes: see [`SignatureScheme`] to change the header, encoding,
//! format, signed content or timestamp. Schemes that sign a timestamp refuse deliveries
//! outside a tolerance window (five minutes either way by default, read from a
//! [`clock::Clock`]). Every provider's secrets can be replaced while the server runs
//! through its [`SecretsHandle`].
//!
//! To test a receiver, `hookguard::testing` (feature `testing`) signs requests as each
//! provider does and builds sample events for `tower::ServiceExt::oneshot`; the
//! `hookguard` command (feature `cli`) signs, verifies, sends and receives deliveries
//! from a shell, and finds the signing scheme of a captured delivery.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod amount;
pub mod chainvine;
pub mod claimr;
pub mod clock;
pub mod dispatch;
pub mod error;
pub mod event;
#[cfg(feature = "axum")]
pub mod extract;
pub mod handler;
pub mod hmac;
pub mod idempotency;
pub mod layer;
pub mod payout;
pub mod provider;
pub mod rejection;
pub mod secret;
pub mod signature;
pub mod standard;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timestamp;
pub mod verified;

pub use dispatch::Dispatcher;
pub use error::ConfigError;
pub use event::{ParseError, WebhookEvent};
pub use handler::{BoxError, Handler, HandlerError};
pub use layer::{Webhook, WebhookLayer};
pub use payout::{Payout, PayoutError, PayoutHandler};
pub use provider::{ChainVine, Claimr, Provider};
pub use rejection::Rejection;
pub use secret::{Secret, SecretSet, SecretsHandle};
pub use signature::{
    ContentPart, Encoding, SignatureError, SignatureFormat, SignatureScheme, SignedContent,
    TimestampSource, Verifier,
};
pub use standard::Standard;
/// Re-exported so that `WebhookLayer::layer` is at hand without importing tower.
pub use tower_layer::Layer;
pub use verified::Verified;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
