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
/// scanner declines), with the same payout key and fingerprint, and the payment id the event
/// gives must be the one its payout is keyed by. For the fuzz targets and property tests that hold the two to that;
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
    for (fast, slow) in crate::chainvine::both_reads(body) {
        let slow = match slow {
            Ok(slow) if format!("{slow:?}") == format!("{fast:?}") => slow,
            slow => return Err(format!("scanner read {fast:?}, serde {slow:?}")),
        };
        // The payout's key and fingerprint, compared themselves rather than trusted to
        // follow from equal `Debug` output.
        let key = crate::payout::idempotency_key;
        if key(&fast) != key(&slow) {
            return Err(format!("payout keys {:?}, {:?}", key(&fast), key(&slow)));
        }
        let print = |event: &crate::chainvine::Event| {
            event.payment_request().map(crate::payout::fingerprint)
        };
        if print(&fast) != print(&slow) {
            return Err(format!(
                "fingerprints {:?}, {:?}",
                print(&fast),
                print(&slow)
            ));
        }
        // What a payout handler is told it pays, and what its claim is keyed by, name one
        // payment on either read.
        for event in [&fast, &slow] {
            let key = crate::payout::idempotency_key(event);
            let keyed = key
                .as_deref()
                .ok()
                .and_then(|key| key.split_once(":payment:"));
            let id = event.payment_request().and_then(|request| request.id());
            if keyed.map(|(_, keyed)| keyed.to_owned()) != id.map(crate::payout::key_part) {
                return Err(format!("payment id {id:?}, payout key {key:?}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The fixtures, and each with its payment id in another field, spelling or shape,
    /// pass the check on both reads: a payment's id and its payout key agree.
    #[test]
    fn the_fixtures_pass_the_fast_path_check() {
        let payment = include_str!("../../tests/fixtures/chainvine/payment_request.json");
        let mut bodies = vec![payment.to_owned()];
        for (from, to) in [
            ("\"payment_request_id\": \"pr_", "\"payoutId\": \"pr_"),
            (
                "\"payment_request_id\": \"pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0\"",
                "\"id\": 42",
            ),
            (
                "\"payment_request_id\": \"pr_",
                "\"payment_request_id\": \"  a:b%c ",
            ),
            (
                "\"payment_request_id\": \"pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0\"",
                "\"id\": 1.5",
            ),
        ] {
            bodies.push(payment.replacen(from, to, 1));
        }
        for fixture in [
            include_str!("../../tests/fixtures/chainvine/earning_created.json"),
            include_str!("../../tests/fixtures/chainvine/unknown_event.json"),
            include_str!("../../tests/fixtures/claimr/user_activity_realistic.json"),
        ] {
            bodies.push(fixture.to_owned());
        }
        for body in &bodies {
            super::check_fast_path(body.as_bytes()).unwrap();
        }
        // What each payment body is keyed by, on the read the layer makes.
        let community = "chainvine:2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e";
        let keys: Vec<_> = bodies[..5]
            .iter()
            .map(|body| {
                let event = crate::chainvine::Event::from_slice(body.as_bytes()).unwrap();
                crate::payout::idempotency_key(&event)
            })
            .collect();
        assert_eq!(
            keys,
            [
                Ok(format!("{community}:payment:pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0")),
                Ok(format!("{community}:payment:pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0")),
                Ok(format!("{community}:payment:42")),
                Ok(format!(
                    "{community}:payment:a%3Ab%25c 01HY3K9QZ8W7V6T5S4R3Q2P1N0"
                )),
                Err(crate::payout::PayoutRefusal::MissingId),
            ]
        );
        // The replacements all landed.
        assert!(bodies[1..5].iter().all(|body| body != payment));
    }
}
