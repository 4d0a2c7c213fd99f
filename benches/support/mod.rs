//! Deliveries shared by the benchmarks: claimr `user_activity` bodies of a given size,
//! signed under the default claimr scheme.
#![allow(dead_code)]

use hookguard::{Claimr, Secret};
use http::{header, HeaderMap, HeaderValue};

/// The secret every benchmark signs with.
pub const SECRET: &str = "bench-claimr-secret";

/// The sizes swept, from 256 B to 256 KiB.
pub const SIZES: [usize; 6] = [256, 1024, 4096, 16 * 1024, 64 * 1024, 256 * 1024];

/// The claimr `user_activity` fixture (807 bytes as committed).
pub const FIXTURE: &str = include_str!("../../tests/fixtures/claimr/user_activity.json");

/// A claimr `user_activity` body of exactly `size` bytes: the fixture (or, below its
/// size, a minimal delivery) with a `"pad"` field the parser skips.
///
/// # Panics
///
/// When `size` is below the minimal delivery's length.
pub fn body(size: usize) -> Vec<u8> {
    let minimal = r#"{"id":"a6f1c2e4-3b7d-4c8e-9f10-2d5e8b7a9c31","scope":"user_activity","user_id":"6643219fa2c1b8e5d4f70a12"}"#;
    let base = if size >= FIXTURE.trim_end().len() + 16 {
        FIXTURE.trim_end()
    } else {
        minimal
    };
    let open = base.rfind('}').expect("a JSON object");
    let head = &base[..open];
    let fixed = head.len() + r#","pad":""}"#.len();
    assert!(size >= fixed, "{size} is below the smallest delivery");
    let mut out = String::with_capacity(size);
    out.push_str(head);
    out.push_str(r#","pad":""#);
    out.push_str(&"x".repeat(size - fixed));
    out.push_str("\"}");
    assert_eq!(out.len(), size);
    out.into_bytes()
}

/// The claimr provider the benchmarks verify with.
pub fn provider() -> Claimr {
    Claimr::new(SECRET).expect("a valid secret")
}

/// The headers of a signed JSON delivery of `body`.
pub fn headers(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let scheme = Claimr::default_scheme();
    let secret = Secret::new(SECRET).expect("a valid secret");
    let value = scheme.sign(&secret, &headers, body).expect("signed");
    headers.insert(scheme.header(), value);
    headers
}

/// The headers of a Standard Webhooks delivery: a JSON content type, `webhook-id`,
/// `webhook-timestamp` and the `webhook-signature` value a signer made.
///
/// # Panics
///
/// When `signature` is not a valid header value (signers write ASCII).
pub fn standard_headers(id: &'static str, timestamp: i64, signature: String) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("webhook-id", HeaderValue::from_static(id));
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert(
        "webhook-signature",
        HeaderValue::try_from(signature).expect("ASCII"),
    );
    headers
}
