//! Signed requests and sample events, for tests of a receiver (feature `testing`).
//!
//! A [`Signer`] turns raw bytes ([`Signer::request`]) or a typed event
//! ([`Signer::event_request`]) into an `http::Request` signed as a provider signs, for
//! any [`SignatureScheme`](crate::SignatureScheme), timestamped ones included; a
//! [`Sample`] is a realistic body for every event this crate knows, with fresh ids on
//! each call so that repeated sends are distinct deliveries. Together they drive a
//! receiver in your own tests with `tower::ServiceExt::oneshot`, no network needed:
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookguard::testing::{Sample, Signer};
//! use hookguard::{claimr, Claimr, Verified, WebhookLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test();
//! # fn tokio_test() { let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap(); rt.block_on(async {
//! let receiver = ServiceBuilder::new()
//!     .layer(WebhookLayer::new(Claimr::new("my-claimr-secret")?))
//!     .service_fn(|req: Request<Full<Bytes>>| async move {
//!         let event = req.extensions().get::<Verified<claimr::Event>>();
//!         let user = event.and_then(|e| e.payload()).and_then(|p| p.user.clone());
//!         assert_eq!(user.as_deref(), Some("user-42"));
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     });
//!
//! let sample = Sample::claimr(claimr::EventKind::UserReward).with_user("user-42");
//! let request = Signer::claimr("my-claimr-secret")?.sample_request("/webhooks/claimr", &sample)?;
//! let response = receiver.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // The same delivery signed with another secret never reaches the handler.
//! let forged = Signer::claimr("not-the-secret")?.sample_request("/webhooks/claimr", &sample)?;
//! assert_eq!(receiver.oneshot(forged).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) }).unwrap(); }
//! ```

mod request;
mod samples;

pub use request::{SignError, Signer};
pub use samples::Sample;
