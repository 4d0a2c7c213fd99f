//! Faults on the receiving side, over real loopback HTTP: a handler that panics, one that
//! never finishes, and a bounded soak under mixed good and hostile traffic with the
//! process's memory sampled.
//!
//! The soak runs for `HOOKGUARD_SOAK_SECS` seconds (15 by default, at most 60).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::{chainvine, claimr, ChainVine, Claimr, Dispatcher, WebhookLayer};
use http::{header, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::*;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends `request` (whose URI is a path) to `addr`; returns the status and headers.
async fn send(
    client: &HttpClient,
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap) {
    try_send(client, addr, request).await.unwrap()
}

/// [`send`], with the client's error when the exchange did not complete.
async fn try_send(
    client: &HttpClient,
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, http::HeaderMap), hyper_util::client::legacy::Error> {
    let (mut parts, body) = request.into_parts();
    parts.uri = format!("http://{addr}{}", parts.uri).parse().unwrap();
    let response = client.request(Request::from_parts(parts, body)).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let _ = body_text(response.into_body()).await;
    Ok((status, headers))
}

/// Sets a flag when dropped: shows that a timed-out handler's future was dropped rather
/// than left running.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let served = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::new()
        .on(claimr::EventKind::UserActivity, |_event| async {
            let empty: Vec<u8> = Vec::new();
            // An index out of bounds, as a real bug would panic.
            let _ = empty[std::hint::black_box(3)];
            Ok(())
        })
        .on_any({
            let served = served.clone();
            move |_event| {
                let served = served.clone();
                async move {
                    served.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            }
        });
    let app = Router::new().route_service(
        "/webhooks/claimr",
        WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(dispatcher),
    );
    let addr = serve_loopback(app).await;
    let client = client();
    for round in 0..3 {
        let (status, _) = send(
            &client,
            addr,
            claimr_request(fixture("claimr/user_activity.json")),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "round {round}");
        let (status, _) = send(
            &client,
            addr,
            claimr_request(fixture("claimr/referral.json")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "round {round}");
    }
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_hanging_handler_answers_503_with_retry_after_at_the_timeout() {
    assert_eq!(
        hookguard::dispatch::DEFAULT_HANDLER_TIMEOUT,
        Duration::from_secs(30)
    );
    let dropped = Arc::new(AtomicBool::new(false));
    let paid = Arc::new(AtomicUsize::new(0));
    let timeout = Duration::from_millis(300);
    let claimr_handlers = Dispatcher::<claimr::Event>::new()
        .with_handler_timeout(timeout)
        .on_any({
            let dropped = dropped.clone();
            move |_event| {
                let guard = DropFlag(dropped.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    Ok(())
                }
            }
        });
    // A payout that never completes must never be acknowledged as paid.
    let chainvine_handlers = Dispatcher::new()
        .with_handler_timeout(Duration::from_millis(1500))
        .on_payment_request(MemoryStore::new(), {
            let paid = paid.clone();
            move |_payout| {
                let paid = paid.clone();
                async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    paid.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            }
        });
    let app = Router::new()
        .route_service(
            "/webhooks/claimr",
            WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap()).layer(claimr_handlers),
        )
        .route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(chainvine_handlers),
        );
    let addr = serve_loopback(app).await;
    let client = client();

    let started = Instant::now();
    let (status, headers) = send(
        &client,
        addr,
        claimr_request(fixture("claimr/user_login.json")),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        headers[header::RETRY_AFTER],
        "1",
        "rounded up to whole seconds"
    );
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(2),
        "answered after {elapsed:?}"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler was left running"
    );

    let (status, headers) = send(
        &client,
        addr,
        chainvine_request(fixture("chainvine/payment_request.json")),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "2");
    assert_eq!(paid.load(Ordering::SeqCst), 0);
}

/// The process's resident set size, in KiB, from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What the soak sends, in turn: good deliveries of both providers and payouts, and the
/// hostile ones the layer must refuse cheaply.
fn soak_request(i: usize, oversize: &Bytes) -> (Request<Full<Bytes>>, StatusCode) {
    match i % 8 {
        0 => (
            claimr_request(fixture("claimr/user_activity.json")),
            StatusCode::OK,
        ),
        // A new payment request each time: each must be paid once (a repeated one would be
        // acknowledged without a payout, by design).
        1 => (
            chainvine_request(payment_request_body(i, 0)),
            StatusCode::OK,
        ),
        2 => (
            chainvine_request(fixture("chainvine/earning_created.json")),
            StatusCode::OK,
        ),
        3 => {
            // Tampered after signing.
            let mut request = claimr_request(fixture("claimr/user_login.json"));
            *request.body_mut() =
                Full::new(Bytes::from_static(br#"{"id":"x","scope":"user_login"}"#));
            (request, StatusCode::UNAUTHORIZED)
        }
        4 => (
            Request::post("/webhooks/claimr")
                .header("content-type", "application/json")
                .header("x-claimr-signature", "v1,")
                .body(Full::new(Bytes::from(fixture("claimr/referral.json"))))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        5 => (
            // Over the 64 KiB cap, validly signed: refused from its Content-Length, and
            // the server closes the connection rather than read the rest, so the client
            // may see its upload cut off instead of the 413.
            claimr_request(oversize.clone()),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        6 => (
            claimr_request(format!("{}{}", "[".repeat(3000), "]".repeat(3000))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        _ => (
            Request::get("/webhooks/chainvine")
                .body(Full::new(Bytes::new()))
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_memory_stays_flat_under_mixed_traffic() {
    let seconds: u64 = std::env::var("HOOKGUARD_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15)
        .clamp(5, 60);
    const CONCURRENCY: usize = 16;
    const WARM_UP: usize = 3;
    const MAX_GROWTH_KIB: u64 = 20 * 1024;

    let handled = Arc::new(AtomicUsize::new(0));
    let paid = Arc::new(AtomicUsize::new(0));
    let claimr_handlers = Dispatcher::<claimr::Event>::new().on_any({
        let handled = handled.clone();
        move |_event| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    });
    let chainvine_handlers = Dispatcher::<chainvine::Event>::new()
        .on_any({
            let handled = handled.clone();
            move |_event| {
                let handled = handled.clone();
                async move {
                    handled.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            }
        })
        .on_payment_request(MemoryStore::new(), {
            let paid = paid.clone();
            move |_payout| {
                let paid = paid.clone();
                async move {
                    paid.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            }
        });
    let app = Router::new()
        .route_service(
            "/webhooks/claimr",
            WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
                .with_body_limit(64 * 1024)
                .unwrap()
                .layer(claimr_handlers),
        )
        .route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap())
                .with_body_limit(64 * 1024)
                .unwrap()
                .layer(chainvine_handlers),
        );
    let addr = serve_loopback(app).await;

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let oversize = Bytes::from(vec![b' '; 64 * 1024 + 1]);
    let tally = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let wrong = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let (tally, wrong, oversize) = (tally.clone(), wrong.clone(), oversize.clone());
        workers.push(tokio::spawn(async move {
            let client = client();
            let mut i = worker;
            // Bounded in time and in count.
            while Instant::now() < deadline && i < 10_000_000 {
                let (request, expected) = soak_request(i, &oversize);
                let outcome = match try_send(&client, addr, request).await {
                    Ok((status, _)) if status == expected => Ok(status.as_u16()),
                    Ok((status, _)) => Err(format!("{status}")),
                    // Status 0 in the tally: cut off while uploading past the cap.
                    Err(err) if expected == StatusCode::PAYLOAD_TOO_LARGE => {
                        let _ = err;
                        Ok(0)
                    }
                    Err(err) => Err(format!("{err:?}")),
                };
                match outcome {
                    Ok(code) => *tally.lock().unwrap().entry(code).or_default() += 1,
                    Err(got) => wrong
                        .lock()
                        .unwrap()
                        .push(format!("kind {}: {got}, expected {expected}", i % 8)),
                }
                i += CONCURRENCY;
            }
        }));
    }

    let mut samples = Vec::new();
    let mut next = Instant::now();
    while next < deadline {
        samples.push(rss_kib().expect("VmRSS in /proc/self/status"));
        next += Duration::from_secs(1);
        tokio::time::sleep_until(next.into()).await;
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let total: usize = tally.lock().unwrap().values().sum();
    let samples_mib: Vec<String> = samples
        .iter()
        .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
        .collect();
    println!(
        "soak: {seconds} s, {CONCURRENCY} connections, {total} requests ({:.0}/s), statuses {:?}",
        total as f64 / seconds as f64,
        tally.lock().unwrap()
    );
    println!(
        "soak: VmRSS MiB, one sample a second: {}",
        samples_mib.join(" ")
    );

    let wrong = wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "{} wrong answers, first: {:?}",
        wrong.len(),
        wrong.first()
    );
    assert!(total > 0);
    assert_eq!(
        handled.load(Ordering::Relaxed) + paid.load(Ordering::Relaxed),
        tally.lock().unwrap().get(&200).copied().unwrap_or(0),
        "a handler ran for a refused delivery, or missed a good one"
    );
    assert!(samples.len() > WARM_UP + 1, "too few samples: {samples:?}");
    let baseline = samples[WARM_UP];
    let peak_after = samples[WARM_UP..].iter().copied().max().unwrap();
    assert!(
        peak_after.saturating_sub(baseline) < MAX_GROWTH_KIB,
        "memory grew by {} KiB after warm-up: {samples:?}",
        peak_after - baseline
    );
}
