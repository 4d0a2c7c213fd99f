//! The whole layer and dispatcher, in process (no network), against a bare service that
//! only reads the body: one `oneshot` per delivery on a current-thread runtime.

mod support;

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookguard::{claimr, Dispatcher, HandlerError, Layer, Verified, WebhookLayer};
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
    let handlers = Dispatcher::<claimr::Event>::new().on(
        claimr::EventKind::UserActivity,
        |event: Verified<claimr::Event>| async move {
            black_box(event);
            Ok::<_, HandlerError>(())
        },
    );
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

criterion_group!(benches, layer);
criterion_main!(benches);
