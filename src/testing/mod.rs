//! Signed requests, sample events and verified deliveries, for tests of a receiver
//! (feature `testing`).
//!
//! A [`Signer`] turns raw bytes ([`Signer::request`]) or a typed event
//! ([`Signer::event_request`]) into an `http::Request` signed as a provider signs, for
//! any [`SignatureScheme`](crate::SignatureScheme), timestamped ones included; each
//! provider offers its own (`Claimr::signer`, `ChainVine::signer`, `Standard::signer`,
//! `HmacSender::github_signer`, `HmacSender::stripe_signer`). A [`Sample`] is a
//! realistic body for every event this crate knows (`Claimr::sample`,
//! `ChainVine::sample`, `Standard::sample`), with fresh ids on each call so that
//! repeated sends are distinct deliveries. Together they drive a receiver in your own
//! tests with `tower::ServiceExt::oneshot`, no network needed:
//!
//! ```
//! use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
//! use http::StatusCode;
//! use tower::ServiceExt;
//!
//! # tokio_test();
//! # fn tokio_test() { let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap(); rt.block_on(async {
//! let receiver = WebhookLayer::new(Claimr::new("my-claimr-secret")?).layer(
//!     Dispatcher::new().on(claimr::EventKind::UserReward, |event| async move {
//!         let user = event.payload().and_then(|p| p.user());
//!         assert_eq!(user, Some("user-42"));
//!         Ok(())
//!     }),
//! );
//!
//! let sample = Claimr::sample(claimr::EventKind::UserReward).with_user("user-42");
//! let request = Claimr::signer("my-claimr-secret")?.sample_request("/webhooks/claimr", &sample)?;
//! let response = receiver.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // The same delivery signed with another secret never reaches the handler.
//! let forged = Claimr::signer("not-the-secret")?.sample_request("/webhooks/claimr", &sample)?;
//! assert_eq!(receiver.oneshot(forged).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) }).unwrap(); }
//! ```
//!
//! To call a handler or a dispatcher without the layer, [`verify`] makes the
//! [`Verified`] delivery the layer would, by the same checks.

mod request;
pub(crate) mod samples;

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

pub use request::{SignError, Signer};
pub use samples::Sample;

use crate::provider::{accept, Provider};
use crate::rejection::Rejection;
use crate::verified::Verified;

/// The delivery the layer would hand on for `body` with `headers` from `provider`: its
/// signature checked, its body parsed, the provider's own checks made.
///
/// ```
/// use hookguard::{claimr, testing, Claimr, Dispatcher};
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap(); rt.block_on(async {
/// let claimr = Claimr::new("s")?;
/// let request = Claimr::signer("s")?
///     .sample_request("/", &Claimr::sample(claimr::EventKind::UserLogin))?;
/// let (parts, body) = request.into_parts();
/// let body = http_body_util::BodyExt::collect(body).await?.to_bytes();
/// let delivery = testing::verify(&claimr, &parts.headers, body)?;
/// assert_eq!(delivery.name(), "user_login");
///
/// let handlers = Dispatcher::new().on(claimr::EventKind::UserLogin, |_event| async { Ok(()) });
/// assert_eq!(handlers.dispatch(delivery).await.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
///
/// # Errors
///
/// The [`Rejection`] the layer would answer with: a bad or missing signature, a body
/// that does not parse.
pub fn verify<P: Provider>(
    provider: &P,
    headers: &HeaderMap,
    body: impl Into<Bytes>,
) -> Result<Verified<P::Event>, Rejection> {
    accept(provider, &Arc::from(provider.name()), headers, body.into())
}

/// Checks the typed parsers' fast path (claimr's and ChainVine's) against their serde path on `body`: wherever the
/// scanner reads an event, serde must read the same one (or the body must be one the
/// scanner declines), with the same payout key and fingerprint. For the fuzz targets and property tests that hold the two to that;
/// `Err` describes a disagreement.
///
/// ```
/// hookguard::testing::check_fast_path(br#"{"id":"1","scope":"user_login"}"#)?;
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
///
/// A description of the first disagreement found.
pub fn check_fast_path(body: &[u8]) -> Result<(), String> {
    crate::claimr::fast_path_agrees(body)?;
    crate::chainvine::fast_path_agrees(body)?;
    // What a payout is keyed and checked by, computed from each read: equal events must
    // give equal keys, but these read the raw data too, so they are compared themselves.
    for (fast, slow) in crate::chainvine::both_reads(body) {
        let Ok(slow) = slow else { continue };
        let key = crate::payout::idempotency_key;
        if key(&fast) != key(&slow) {
            return Err(format!(
                "payout keys differ: {:?}, {:?}",
                key(&fast),
                key(&slow)
            ));
        }
        let print = |event: &crate::chainvine::Event| {
            event.payment_request().map(crate::payout::fingerprint)
        };
        if print(&fast) != print(&slow) {
            return Err(format!(
                "fingerprints differ: {:?}, {:?}",
                print(&fast),
                print(&slow)
            ));
        }
    }
    Ok(())
}
