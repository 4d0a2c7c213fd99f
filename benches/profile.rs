//! A fixed loop over one step of a 1 KiB claimr delivery, for instruction counts under
//! callgrind (not a timing benchmark):
//!
//! ```text
//! cargo bench --bench profile --no-run
//! valgrind --tool=callgrind target/release/deps/profile-* verify 10000
//! ```
//!
//! Steps: `hmac` (the raw HMAC-SHA256), `verify`, `parse`, `parse-realistic` (the
//! 1,079-byte `user_activity_realistic` fixture), `scan-realistic` (an `IgnoredAny` scan of
//! the same bytes, the floor), `parse-payment` and `parse-earning` (ChainVine's payment
//! request and EARNING_CREATED fixtures) with their floors `scan-payment` and
//! `scan-earning`, `static-payment` (the payment request from a static buffer, whose
//! slices cost no reference count), `layer` (the whole layer and dispatcher in process).

mod support;

use std::hint::black_box;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use hookguard::{chainvine, claimr, Dispatcher, WebhookLayer};
use http::{Method, Request};
use http_body_util::Full;
use sha2::Sha256;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let step = args.next().unwrap_or_else(|| "layer".to_owned());
    let iterations: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let body = Bytes::from(support::body(1024));
    let headers = support::headers(&body);
    let provider = support::provider();
    match step.as_str() {
        "hmac" => {
            let key =
                Hmac::<Sha256>::new_from_slice(support::SECRET.as_bytes()).expect("any key length");
            for _ in 0..iterations {
                let mut mac = key.clone();
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes());
            }
        }
        "verify" => {
            for _ in 0..iterations {
                black_box(
                    provider
                        .verifier()
                        .verify(black_box(&headers), black_box(&body)),
                )
                .ok();
            }
        }
        "parse" => {
            for _ in 0..iterations {
                black_box(claimr::Event::from_bytes(black_box(body.clone()))).ok();
            }
        }
        // The 1,079-byte delivery with free-form text in `meta` and an unknown field.
        "parse-realistic" => {
            // As the layer parses: the body is shared, not copied.
            let body = Bytes::from_static(include_bytes!(
                "../tests/fixtures/claimr/user_activity_realistic.json"
            ));
            for _ in 0..iterations {
                black_box(claimr::Event::from_bytes(black_box(body.clone()))).ok();
            }
        }
        // The floor for the step above: a scan of the same bytes that keeps nothing.
        "scan-realistic" => {
            let body = include_bytes!("../tests/fixtures/claimr/user_activity_realistic.json");
            for _ in 0..iterations {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
                    body,
                )))
                .ok();
            }
        }
        // ChainVine's payment request and EARNING_CREATED fixtures, and their floors. The
        // body is a reference-counted buffer, as hyper's is: each string the event shares
        // costs a count.
        "parse-payment" | "parse-earning" => {
            let body = bytes::BytesMut::from(chainvine_fixture(&step)).freeze();
            for _ in 0..iterations {
                black_box(chainvine::Event::from_bytes(black_box(body.clone()))).ok();
            }
        }
        // What the reference counts cost: the same parse with none.
        "static-payment" => {
            let body = Bytes::from_static(chainvine_fixture("payment"));
            for _ in 0..iterations {
                black_box(chainvine::Event::from_bytes(black_box(body.clone()))).ok();
            }
        }
        "scan-payment" | "scan-earning" => {
            let body = chainvine_fixture(&step);
            for _ in 0..iterations {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
                    body,
                )))
                .ok();
            }
        }
        "layer" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime");
            let service = WebhookLayer::new(provider).layer(Dispatcher::new().on(
                claimr::EventKind::UserActivity,
                |event| async move {
                    black_box(event);
                    Ok(())
                },
            ));
            for _ in 0..iterations {
                let mut request = Request::new(Full::new(body.clone()));
                *request.method_mut() = Method::POST;
                *request.headers_mut() = headers.clone();
                let response = runtime.block_on(service.clone().oneshot(request));
                black_box(response).ok();
            }
        }
        other => {
            eprintln!("unknown step {other}: hmac, verify, parse or layer");
            std::process::exit(2);
        }
    }
}

/// The ChainVine fixture a `*-payment` or `*-earning` step reads.
fn chainvine_fixture(step: &str) -> &'static [u8] {
    if step.ends_with("payment") {
        include_bytes!("../tests/fixtures/chainvine/payment_request.json")
    } else {
        include_bytes!("../tests/fixtures/chainvine/earning_created.json")
    }
}
