//! The server behind `scripts/load.sh` and `scripts/overlimit.py`: one claimr route,
//! served three ways so that a load generator can compare them side by side.
//!
//! ```text
//! cargo run --release --example load_server -- --mode hookguard --addr 127.0.0.1:4001
//! ```
//!
//! - `--mode bare`: an axum handler that only reads the body as `Bytes`;
//! - `--mode hookguard`: `WebhookLayer<Claimr>` in front of a `Dispatcher` whose
//!   `user_activity` handler does nothing;
//! - `--mode naive`: an axum `from_fn` middleware as one might write it by hand: buffer
//!   the body, build the HMAC key from the secret, hex-decode the header, verify, parse
//!   into a `serde_json::Value`, then call the same no-op handler;
//! - `--mode verify`, `--mode scan` and `--mode typed`: floors rather than rivals, for
//!   splitting hookguard's cost over loopback. `verify` is the bare handler plus
//!   hookguard's signature check alone; `scan` adds a pass over the JSON that checks its
//!   syntax and keeps nothing (`serde::de::IgnoredAny`), the least any layer that looks
//!   at the body does; `typed` parses into `claimr::Event` instead. hookguard then adds
//!   the layer and the dispatcher;
//! - `--limit BYTES` sets hookguard's body cap (1 MiB by default).
//!
//! The secret is `LOAD_SECRET` (default `load-secret`); the route is `POST /webhook`.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
use serde::de::IgnoredAny;
use sha2::Sha256;

async fn bare(body: Bytes) -> StatusCode {
    std::hint::black_box(body);
    StatusCode::OK
}

/// Verify-then-parse, written the obvious way.
async fn naive(secret: &'static str, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, hookguard::layer::DEFAULT_BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let signature = parts
        .headers
        .get("x-claimr-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|v| hex::decode(v).ok());
    let Some(signature) = signature else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    mac.update(&body);
    if mac.verify_slice(&signature).is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(event);
    next.run(request).await
}

/// What a floor server does after the bare handler's work.
#[derive(Clone, Copy)]
enum Floor {
    /// Checks the signature.
    Verify,
    /// Checks the signature and the JSON's syntax.
    Scan,
    /// Checks the signature and parses the typed event.
    Typed,
}

/// The bare handler behind hookguard's signature check, then a syntax-only pass or the
/// typed parse.
async fn floor(provider: &Claimr, floor: Floor, headers: HeaderMap, body: Bytes) -> StatusCode {
    if provider.verifier().verify(&headers, &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let parsed = match floor {
        Floor::Verify => true,
        Floor::Scan => serde_json::from_slice::<IgnoredAny>(&body).is_ok(),
        Floor::Typed => std::hint::black_box(claimr::Event::from_slice(&body)).is_ok(),
    };
    if !parsed {
        return StatusCode::BAD_REQUEST;
    }
    std::hint::black_box(body);
    StatusCode::OK
}

fn app(
    mode: &str,
    secret: &'static str,
    limit: usize,
) -> Result<Router, Box<dyn std::error::Error>> {
    Ok(match mode {
        "bare" => Router::new().route("/webhook", post(bare)),
        "naive" => Router::new()
            .route("/webhook", post(|| async { StatusCode::OK }))
            .layer(middleware::from_fn(move |request, next| {
                naive(secret, request, next)
            })),
        "hookguard" => {
            let handlers =
                Dispatcher::new().on(claimr::EventKind::UserActivity, |event| async move {
                    std::hint::black_box(event);
                    Ok(())
                });
            let layer = WebhookLayer::new(Claimr::new(secret)?).with_body_limit(limit)?;
            Router::new().route_service("/webhook", layer.layer(handlers))
        }
        "verify" | "scan" | "typed" => {
            let provider: &'static Claimr = Box::leak(Box::new(Claimr::new(secret)?));
            let kind = match mode {
                "verify" => Floor::Verify,
                "scan" => Floor::Scan,
                _ => Floor::Typed,
            };
            Router::new().route(
                "/webhook",
                post(move |headers: HeaderMap, body: Bytes| floor(provider, kind, headers, body)),
            )
        }
        other => {
            return Err(format!(
                "unknown mode {other}: bare, hookguard, naive, verify, scan or typed"
            )
            .into())
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut mode = "hookguard".to_owned();
    let mut addr: SocketAddr = "127.0.0.1:4000".parse()?;
    let mut limit = hookguard::layer::DEFAULT_BODY_LIMIT;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mode" => mode = value,
            "--addr" => addr = value.parse()?,
            "--limit" => limit = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let secret: &'static str = std::env::var("LOAD_SECRET")
        .unwrap_or_else(|_| "load-secret".to_owned())
        .leak();
    let app = app(&mode, secret, limit)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("{mode} listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
