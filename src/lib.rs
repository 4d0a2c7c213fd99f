//! # hookguard
//!
//! Verified, typed webhooks for [claimr], [ChainVine](chainvine), any
//! [Standard Webhooks](standard) sender, and any sender that signs with
//! [HMAC-SHA256](hmac_sender), behind one tower layer.
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
//! use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
//!
//! let handlers = Dispatcher::new()
//!     .on(claimr::EventKind::UserActivity, |event| async move {
//!         println!("activity: {}", event.id());
//!         Ok(())
//!     });
//!
//! let app: Router = Router::new().route_service(
//!     "/webhooks/claimr",
//!     WebhookLayer::new(Claimr::new("claimr-secret")?).layer(handlers),
//! );
//! # Ok::<(), hookguard::ConfigError>(())
//! ```
//!
//! The layer and the dispatcher agree on the event type through the provider: a
//! ChainVine dispatcher behind a claimr layer does not compile.
//!
//! Where things are:
//!
//! | module | what it holds |
//! |---|---|
//! | [`claimr`], [`chainvine`], [`standard`], [`hmac_sender`] | one per sender: its provider, default scheme, events, signer and samples |
//! | [`layer`] | the middleware: body cap and timeout, verification, parsing |
//! | [`dispatch`] | handlers per event kind |
//! | [`campaign`] | a dispatcher limited to some campaigns, or one dispatcher per campaign |
//! | [`payout`] | ChainVine payment requests, paid at most once |
//! | [`idempotency`] | the claim protocol and its stores (memory, SQLite, PostgreSQL) |
//! | [`signature`], [`secret`] | schemes, the constant-time verifier, secrets and their rotation |
//! | [`metrics`] | the metrics recorded (names, labels) and the per-delivery span |
//! | [`event`], [`amount`], [`timestamp`], [`clock`] | value types |
//! | [`testing`] | signed requests and sample events for tests (feature `testing`) |
//!
//! The claimr and ChainVine signing defaults are assumptions, since the providers do
//! not publish their schemes: see [`SignatureScheme`] to change the header, encoding,
//! format, signed content or timestamp. Schemes that sign a timestamp refuse deliveries
//! outside a tolerance window (five minutes either way by default, read from a
//! [`clock::Clock`]). Every provider's secrets can be replaced while the server runs
//! through its [`SecretsHandle`](secret::SecretsHandle).
//!
//! To test a receiver, [`testing`] (feature `testing`) signs requests as each provider
//! does and builds sample events for `tower::ServiceExt::oneshot`; the `hookguard`
//! command (feature `cli`) signs, verifies, sends and receives deliveries from a shell,
//! and finds the signing scheme of a captured delivery.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

// Bottom: value types and JSON helpers.
pub mod amount;
pub mod clock;
mod error;
pub mod event;
mod json;
pub mod timestamp;
// Signatures and secrets.
pub mod secret;
pub mod signature;
// Providers.
mod provider;
pub mod providers;
mod rejection;
mod verified;
// What the layer and dispatch record: metric names and their recording functions.
pub mod metrics;
// Top: the middleware, dispatch, campaigns, payouts and the claim protocol they run under.
pub mod campaign;
pub mod dispatch;
#[cfg(feature = "axum")]
mod extract;
mod handler;
pub mod idempotency;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod inbox;
pub mod layer;
pub mod payout;
#[cfg(feature = "testing")]
pub mod testing;

pub use campaign::CampaignRouter;
pub use dispatch::Dispatcher;
pub use error::{BoxError, ConfigError};
pub use event::{ParseError, WebhookEvent};
pub use handler::HandlerError;
pub use layer::{Webhook, WebhookLayer};
pub use payout::{Payout, PayoutError};
pub use provider::Provider;
pub use providers::chainvine::{self, ChainVine};
pub use providers::claimr::{self, Claimr};
pub use providers::hmac_sender::{self, HmacSender};
pub use providers::standard::{self, Standard};
pub use rejection::Rejection;
pub use secret::Secret;
pub use signature::{SignatureError, SignatureScheme};
pub use verified::Verified;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
