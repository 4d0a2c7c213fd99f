//! Typed parses of the claimr and ChainVine fixtures.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookguard::{chainvine, claimr};
use std::hint::black_box;

const CLAIMR: [(&str, &str); 5] = [
    (
        "user_activity_realistic",
        include_str!("../tests/fixtures/claimr/user_activity_realistic.json"),
    ),
    (
        "user_activity",
        include_str!("../tests/fixtures/claimr/user_activity.json"),
    ),
    (
        "user_login",
        include_str!("../tests/fixtures/claimr/user_login.json"),
    ),
    (
        "user_reward",
        include_str!("../tests/fixtures/claimr/user_reward.json"),
    ),
    (
        "referral",
        include_str!("../tests/fixtures/claimr/referral.json"),
    ),
];

const CHAINVINE: [(&str, &str); 4] = [
    (
        "payment_request",
        include_str!("../tests/fixtures/chainvine/payment_request.json"),
    ),
    (
        "earning_created",
        include_str!("../tests/fixtures/chainvine/earning_created.json"),
    ),
    (
        "referral_conversion",
        include_str!("../tests/fixtures/chainvine/referral_conversion.json"),
    ),
    (
        "user_joined_campaign",
        include_str!("../tests/fixtures/chainvine/user_joined_campaign.json"),
    ),
];

/// The body as hyper hands it over: a slice of a reference-counted buffer, so that a
/// clone is an atomic increment (a `Bytes::from_static` would make it free).
fn shared(body: &[u8]) -> Bytes {
    let mut buffer = bytes::BytesMut::from(body);
    buffer.split().freeze()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, body) in CLAIMR {
        // As the layer parses: the body is shared (a reference count), not copied.
        let body = shared(body.as_bytes());
        assert!(claimr::Event::from_bytes(body.clone()).is_ok());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("claimr", name), &body, |b, body| {
            b.iter(|| black_box(claimr::Event::from_bytes(black_box(body.clone()))))
        });
    }
    for (name, body) in CHAINVINE {
        let body = shared(body.as_bytes());
        assert!(chainvine::Event::from_bytes(body.clone()).is_ok());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("chainvine", name), &body, |b, body| {
            b.iter(|| black_box(chainvine::Event::from_bytes(black_box(body.clone()))))
        });
    }
    // The floors: a validating scan that keeps nothing (`IgnoredAny`), for every body
    // above, so that each typed parse has its ratio in the same run.
    for (provider, name, body) in CLAIMR
        .iter()
        .map(|(name, body)| ("claimr", name, body))
        .chain(
            CHAINVINE
                .iter()
                .map(|(name, body)| ("chainvine", name, body)),
        )
    {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("scan/{provider}"), name),
            body,
            |b, body| {
                b.iter(|| {
                    black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
                        body.as_bytes(),
                    )))
                })
            },
        );
    }
    // The untyped baseline: what any JSON parse of the same bytes costs.
    let (_, activity) = CLAIMR[1];
    group.throughput(Throughput::Bytes(activity.len() as u64));
    group.bench_function("serde_json_value/user_activity", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(
                activity.as_bytes(),
            )))
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
