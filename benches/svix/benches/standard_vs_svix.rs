//! Standard Webhooks verification: hookguard's `Standard` provider against the `svix`
//! crate's `svix::webhooks::Webhook::verify`, on the same signed deliveries, side by side
//! in one criterion group (`standard_vs_svix`, ids `hookguard/<size>` and
//! `svix/<size>`).
//!
//! The deliveries mirror `benches/standard.rs` of the library: the spec's example secret
//! (`whsec_…`), claimr-shaped JSON bodies of 1 KiB and 16 KiB from `benches/support`, and
//! the headers `webhook-id`, `webhook-timestamp` (now, so that both five-minute windows
//! pass) and `webhook-signature`. Before timing, both libraries must accept each delivery
//! and reject it with one body byte changed.
//!
//! This is a package of its own (its own workspace and Cargo.lock), so that svix and its
//! HTTP client stack stay out of the library's dependency graph. From the repository's
//! root:
//!
//! ```text
//! cargo bench --manifest-path benches/svix/Cargo.toml
//! ```

#[path = "../../support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookguard::{Secret, Standard};
use http::HeaderMap;

/// The Standard Webhooks spec's example secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The message id of every delivery.
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

/// The body sizes compared: 1 KiB and 16 KiB, as in `benches/standard.rs`.
const SIZES: [usize; 2] = [1024, 16 * 1024];

/// Unix seconds now.
fn now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("before 2262")
}

/// The headers of `body` signed (by svix) at unix second `timestamp`.
fn headers(svix: &svix::webhooks::Webhook, timestamp: i64, body: &[u8]) -> HeaderMap {
    let signature = svix.sign(ID, timestamp, body).expect("signed");
    support::standard_headers(ID, timestamp, signature)
}

fn standard_vs_svix(c: &mut Criterion) {
    let hookguard = Standard::new(SECRET).expect("a valid secret");
    let svix = svix::webhooks::Webhook::new(SECRET).expect("a valid secret");

    let mut group = c.benchmark_group("standard_vs_svix");
    for size in SIZES {
        let body = support::body(size);
        // Signed afresh for each size: the whole group takes well under svix's fixed
        // five-minute window (hookguard's default window is the same).
        let headers = headers(&svix, now(), &body);

        // Both sign alike...
        let ours = Standard::default_scheme()
            .sign(
                &Secret::from_standard(SECRET).expect("a valid secret"),
                &headers,
                &body,
            )
            .expect("signed");
        assert_eq!(ours, headers["webhook-signature"]);
        // ...both accept the delivery...
        assert!(hookguard.verifier().verify(&headers, &body).is_ok());
        assert!(svix.verify(&body, &headers).is_ok());
        // ...and both reject it with one body byte changed.
        let mut tampered = body.clone();
        let last_pad = tampered.len() - 3;
        assert_eq!(tampered[last_pad], b'x');
        tampered[last_pad] = b'y';
        assert!(hookguard.verifier().verify(&headers, &tampered).is_err());
        assert!(svix.verify(&tampered, &headers).is_err());

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("hookguard", size), &body, |b, body| {
            b.iter(|| {
                black_box(
                    hookguard
                        .verifier()
                        .verify(black_box(&headers), black_box(body)),
                )
            })
        });
        group.bench_with_input(BenchmarkId::new("svix", size), &body, |b, body| {
            b.iter(|| black_box(svix.verify(black_box(body), black_box(&headers))))
        });
    }
    group.finish();
}

criterion_group!(benches, standard_vs_svix);
criterion_main!(benches);
