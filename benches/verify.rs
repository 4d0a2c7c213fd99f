//! The verify step against a raw HMAC-SHA256 over the same bytes (key built once, no
//! copy of the body), at 1 KiB and across 256 B .. 256 KiB.

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hint::black_box;

fn verify(c: &mut Criterion) {
    let key = Hmac::<Sha256>::new_from_slice(support::SECRET.as_bytes()).expect("any key length");
    let provider = support::provider();
    let mut group = c.benchmark_group("verify");
    for size in support::SIZES {
        let body = support::body(size);
        let headers = support::headers(&body);
        assert!(provider.verifier().verify(&headers, &body).is_ok());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("raw_hmac", size), &body, |b, body| {
            b.iter(|| {
                let mut mac = key.clone();
                mac.update(black_box(body));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_with_input(BenchmarkId::new("hookguard", size), &body, |b, body| {
            b.iter(|| {
                black_box(
                    provider
                        .verifier()
                        .verify(black_box(&headers), black_box(body)),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
