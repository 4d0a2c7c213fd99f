//! What a payout service can take: signed ChainVine payment requests, each a new payment,
//! through the whole receiver in process (the layer, the dispatcher, the claim protocol and
//! its store; the payout handler itself does nothing), as claims per second and latency
//! percentiles, one request at a time and many at once. On SQLite each request is two
//! `synchronous=FULL` transactions (the claim, then `done`), so the figures include the
//! fsyncs; the memory store shows what the rest costs.
//!
//! ```text
//! cargo bench --bench payout_load --features testing
//! PAYOUT_LOAD_REQUESTS=4000 PAYOUT_LOAD_CONCURRENCY="1 8 64" cargo bench --bench payout_load --features testing
//! ```
//!
//! Not a criterion bench: criterion reports means and medians, and sizing a payout service
//! needs the tail (p99) under concurrency, so this one prints its own table.

use std::time::{Duration, Instant};

use hookguard::idempotency::{MemoryStore, SqliteStore, Store};
use hookguard::{chainvine, ChainVine, Dispatcher, WebhookLayer};
use http::StatusCode;
use tower::ServiceExt;

const SECRET: &str = "payout-load-secret";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// `requests` signed payment requests, each with a fresh payment id.
fn deliveries(requests: usize) -> Vec<http::Request<http_body_util::Full<bytes::Bytes>>> {
    let signer = ChainVine::signer(SECRET).expect("a secret");
    (0..requests)
        .map(|_| {
            let sample = ChainVine::sample(chainvine::EventKind::PaymentRequest);
            signer
                .sample_request("/webhooks/chainvine", &sample)
                .expect("a signed request")
        })
        .collect()
}

/// Sends every delivery, `concurrency` at a time, and returns each one's latency and the
/// wall time of the whole run.
async fn run(
    store: impl Store,
    concurrency: usize,
    requests: Vec<http::Request<http_body_util::Full<bytes::Bytes>>>,
) -> (Vec<Duration>, Duration) {
    let receiver = WebhookLayer::new(ChainVine::new(SECRET).expect("a secret"))
        .layer(Dispatcher::new().on_payment_request(store, |_payout| async { Ok(()) }));
    let queue = std::sync::Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = std::sync::Arc::clone(&queue);
            let receiver = receiver.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(request) = queue.lock().expect("the queue").pop() else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let response = receiver.clone().oneshot(request).await.expect("infallible");
                    latencies.push(sent.elapsed());
                    assert_eq!(response.status(), StatusCode::OK, "a new payment is paid");
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a worker"));
    }
    (latencies, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, small.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let requests: usize = setting("PAYOUT_LOAD_REQUESTS", if smoke { "20" } else { "2000" })
        .parse()
        .expect("PAYOUT_LOAD_REQUESTS is a number");
    let levels: Vec<usize> = setting("PAYOUT_LOAD_CONCURRENCY", "1 32")
        .split_whitespace()
        .map(|n| n.parse().expect("PAYOUT_LOAD_CONCURRENCY is numbers"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("hookguard-payout-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    println!("store   concurrency  requests  claims/s      p50      p99      max");
    for store in ["sqlite", "memory"] {
        for &concurrency in &levels {
            let batch = deliveries(requests);
            let (mut latencies, wall) = runtime.block_on(async {
                match store {
                    "sqlite" => {
                        let path = dir.join(format!("claims-{concurrency}.db"));
                        let sqlite = SqliteStore::open(&path).await.expect("a SQLite store");
                        run(sqlite, concurrency, batch).await
                    }
                    _ => run(MemoryStore::new(), concurrency, batch).await,
                }
            });
            latencies.sort();
            println!(
                "{store:<7} {concurrency:>11} {requests:>9} {:>9.0} {:>8.2?} {:>8.2?} {:>8.2?}",
                latencies.len() as f64 / wall.as_secs_f64(),
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or_default(),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
