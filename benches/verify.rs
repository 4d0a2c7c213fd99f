//! The verify step against a raw HMAC-SHA256 over the same bytes (key built once, no
//! copy of the body), at 1 KiB and across 256 B .. 256 KiB; and Standard Webhooks'
//! symmetric (`v1`, HMAC-SHA256) against its asymmetric (`v1a`, ed25519) verification of
//! the same 1 KiB delivery.

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

/// The Standard Webhooks spec's example secret, and a signing key's seed.
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SEED: [u8; 32] = *b"hookguard-bench-ed25519-seed-001";

fn standard_v1_v1a(c: &mut Criterion) {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    use hookguard::Standard;

    let signing_key = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let public_key = format!(
        "whpk_{}",
        base64::engine::general_purpose::STANDARD.encode(signing_key.verifying_key().as_bytes())
    );
    let v1 = Standard::new(STANDARD_SECRET).expect("a valid secret");
    let v1a = Standard::from_public_keys([public_key]).expect("a valid public key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    let size = 1024;
    let body = support::body(size);

    // Signed outside hookguard: the HMAC by `standardwebhooks`, the ed25519 signature by
    // ed25519-dalek over `{id}.{timestamp}.{body}`.
    let reference = standardwebhooks::Webhook::new(STANDARD_SECRET).expect("a valid secret");
    let v1_headers =
        support::standard_headers(id, now, reference.sign(id, now, &body).expect("signed"));
    let mut message = format!("{id}.{now}.").into_bytes();
    message.extend_from_slice(&body);
    let signature = signing_key.sign(&message).to_bytes();
    let v1a_headers = support::standard_headers(
        id,
        now,
        format!(
            "v1a,{}",
            base64::engine::general_purpose::STANDARD.encode(signature)
        ),
    );
    assert!(v1.verifier().verify(&v1_headers, &body).is_ok());
    assert!(v1a.verifier().verify(&v1a_headers, &body).is_ok());
    assert!(v1a.verifier().verify(&v1a_headers, &body[1..]).is_err());

    let mut group = c.benchmark_group("verify_standard");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_with_input(BenchmarkId::new("v1", size), &body, |b, body| {
        b.iter(|| {
            black_box(
                v1.verifier()
                    .verify(black_box(&v1_headers), black_box(body)),
            )
        })
    });
    group.bench_with_input(BenchmarkId::new("v1a", size), &body, |b, body| {
        b.iter(|| {
            black_box(
                v1a.verifier()
                    .verify(black_box(&v1a_headers), black_box(body)),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, verify, standard_v1_v1a);
criterion_main!(benches);
