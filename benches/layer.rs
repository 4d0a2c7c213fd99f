//! The whole layer and dispatcher, in process (no network), against a bare service that
//! only reads the body: one `oneshot` per delivery on a current-thread runtime.
//!
//! The `split` group takes the 1 KiB delivery apart, to show where the layer's time goes:
//! `verify`, `verify_and_parse` (what the layer does between buffering the body and
//! calling the inner service), the layer in front of a service that only takes the
//! event out of the request (`layer_only`), and the whole layer with the dispatcher.

mod support;

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookguard::layer::VerifiedBody;
use hookguard::{claimr, Dispatcher, Provider, Verified, WebhookLayer};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, ServiceExt};

fn request(body: &Bytes, headers: &http::HeaderMap) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static("/webhooks/claimr");
    *request.headers_mut() = headers.clone();
    request
}

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let bare = service_fn(|request: Request<Full<Bytes>>| async move {
        let body = request.into_body().collect().await?.to_bytes();
        black_box(body);
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let handlers = Dispatcher::new().on(claimr::EventKind::UserActivity, |event| async move {
        black_box(event);
        Ok(())
    });
    let hookguard = WebhookLayer::new(support::provider()).layer(handlers);

    let mut group = c.benchmark_group("layer");
    for size in [1024, 16 * 1024] {
        let body = Bytes::from(support::body(size));
        let headers = support::headers(&body);
        let status = runtime
            .block_on(hookguard.clone().oneshot(request(&body, &headers)))
            .map(|r| r.status());
        assert_eq!(status.ok(), Some(StatusCode::OK));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("bare", size), &body, |b, body| {
            b.iter(|| runtime.block_on(bare.oneshot(request(body, &headers))))
        });
        group.bench_with_input(BenchmarkId::new("hookguard", size), &body, |b, body| {
            b.iter(|| runtime.block_on(hookguard.clone().oneshot(request(body, &headers))))
        });
    }
    group.finish();
}

fn split(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let provider = support::provider();
    let body = Bytes::from(support::body(1024));
    let headers = support::headers(&body);
    let take_event = service_fn(
        |mut request: Request<VerifiedBody<claimr::Event>>| async move {
            let event = request.extensions_mut().remove::<Verified<claimr::Event>>();
            assert!(event.is_some(), "the layer hands over the event");
            black_box(event);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        },
    );
    let layer_only = WebhookLayer::new(support::provider()).layer(take_event);
    let whole = WebhookLayer::new(support::provider()).layer(Dispatcher::new().on(
        claimr::EventKind::UserActivity,
        |event| async move {
            black_box(event);
            Ok(())
        },
    ));

    let mut group = c.benchmark_group("split");
    group.bench_function("verify/1024", |b| {
        b.iter(|| {
            provider
                .verifier()
                .verify(black_box(&headers), black_box(&body))
        })
    });
    group.bench_function("verify_and_parse/1024", |b| {
        b.iter(|| {
            let verified = provider
                .verifier()
                .verify(black_box(&headers), black_box(&body));
            verified
                .ok()
                .and_then(|()| provider.parse(&headers, &body).ok())
        })
    });
    group.bench_function("layer_only/1024", |b| {
        b.iter(|| runtime.block_on(layer_only.clone().oneshot(request(&body, &headers))))
    });
    group.bench_function("layer/1024", |b| {
        b.iter(|| runtime.block_on(whole.clone().oneshot(request(&body, &headers))))
    });
    group.finish();
}

criterion_group!(benches, layer, split);
criterion_main!(benches);
