//! The webhook middleware: buffer under a cap, verify, parse, hand on.
//!
//! [`WebhookLayer`] holds the configuration and builds [`Webhook`], the service, whose
//! calls return a [`ResponseFuture`]. A delivery that passes reaches the inner service as
//! a `Request<VerifiedBody<E>>` carrying a [`Verified<E>`](crate::Verified) event in its
//! extensions; one that fails gets the [`Rejection`](crate::Rejection)'s response and
//! the inner service is never called.
//!
//! The body is read under a cap and a timeout
//! ([`with_body_timeout`](WebhookLayer::with_body_timeout), tokio's timer): the layer
//! runs inside a tokio runtime with time enabled, as axum's server does.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hookguard::layer::VerifiedBody;
//! use hookguard::{claimr, Claimr, Verified, WebhookLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test();
//! # fn tokio_test() { let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap(); rt.block_on(async {
//! let claimr = Claimr::new("secret")?;
//! let service = ServiceBuilder::new()
//!     .layer(WebhookLayer::new(claimr))
//!     .service_fn(|req: Request<VerifiedBody<claimr::Event>>| async move {
//!         let event = req.extensions().get::<Verified<claimr::Event>>().cloned();
//!         assert!(event.is_some());
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
//!     });
//!
//! // An unsigned delivery never reaches the service.
//! let request = Request::post("/webhooks/claimr")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(b"{}")))?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) }).unwrap(); }
//! ```

mod body;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use body::{ResponseBody, VerifiedBody};
pub use future::ResponseFuture;
pub use layer::{WebhookLayer, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT};
pub use service::Webhook;
