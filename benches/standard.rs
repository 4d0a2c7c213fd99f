//! Standard Webhooks verification: hookguard against the `standardwebhooks` crate (the
//! spec's reference Rust library) on the same deliveries.

mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookguard::Standard;

/// The Standard Webhooks spec's example secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn standard(c: &mut Criterion) {
    let hookguard = Standard::new(SECRET).expect("a valid secret");
    let reference = standardwebhooks::Webhook::new(SECRET).expect("a valid secret");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;

    let mut group = c.benchmark_group("standard");
    for size in [1024, 16 * 1024] {
        let body = support::body(size);
        let id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
        let signature = reference.sign(id, now, &body).expect("signed");
        let headers = support::standard_headers(id, now, signature);
        assert!(hookguard.verifier().verify(&headers, &body).is_ok());
        assert!(reference.verify(&body, &headers).is_ok());

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
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| b.iter(|| black_box(reference.verify(black_box(body), black_box(&headers)))),
        );
    }
    group.finish();
}

criterion_group!(benches, standard);
criterion_main!(benches);
