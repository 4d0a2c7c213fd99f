//! The metrics the layer and the dispatcher record, read from a recorder of each test's
//! own (thread-local, so that tests running side by side do not see each other's).

#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::metrics::{
    DELIVERIES_TOTAL, HANDLER_DURATION_SECONDS, PAYOUTS_TOTAL, REFUSALS_TOTAL,
    VERIFY_DURATION_SECONDS,
};
use hookguard::{chainvine, claimr, ChainVine, Claimr, Dispatcher, PayoutError, WebhookLayer};
use http::{Request, StatusCode};
use http_body_util::Full;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tower::{ServiceBuilder, ServiceExt};

const SECRET: &str = "metrics-test-secret";

/// One snapshot of a debugging recorder (taking it drains the recorder), read by name
/// and labels.
struct Recorded(Vec<Series>);

/// A metric's name, its labels (sorted) and its value.
type Series = (String, Vec<(String, String)>, DebugValue);

impl Recorded {
    fn take(snapshotter: &Snapshotter) -> Self {
        Recorded(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let key = key.key();
                    let mut labels: Vec<(String, String)> = key
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    labels.sort_unstable();
                    (key.name().to_owned(), labels, value)
                })
                .collect(),
        )
    }

    /// The value under `name` with exactly `labels`, in any order.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        wanted.sort_unstable();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, value)| value)
    }

    /// A counter's count, 0 when it was never incremented.
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.get(name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    /// How many values a histogram holds, whatever its labels.
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.get(name, labels) {
            Some(DebugValue::Histogram(values)) => values.len(),
            None => 0,
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    /// Every series under `name`.
    fn series(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _, _)| n == name).count()
    }
}

async fn status<S, B>(service: S, request: Request<Full<Bytes>>) -> StatusCode
where
    S: tower::Service<Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    service.oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn an_accepted_delivery_counts_its_answer_and_its_handler_time() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let service = ServiceBuilder::new()
        .layer(WebhookLayer::new(Claimr::new(SECRET).unwrap()))
        .service(Dispatcher::new().on(claimr::EventKind::UserLogin, |_event| async { Ok(()) }));
    let sample = Claimr::sample(claimr::EventKind::UserLogin);
    let request = Claimr::signer(SECRET)
        .unwrap()
        .sample_request("/", &sample)
        .unwrap();
    assert_eq!(status(service, request).await, StatusCode::OK);

    let recorded = Recorded::take(&snapshotter);
    let answered = [
        ("provider", "claimr"),
        ("event", "user_login"),
        ("status", "200"),
    ];
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered), 1);
    let handled = [
        ("provider", "claimr"),
        ("event", "user_login"),
        ("outcome", "ok"),
    ];
    assert_eq!(recorded.samples(HANDLER_DURATION_SECONDS, &handled), 1);
    assert_eq!(
        recorded.samples(VERIFY_DURATION_SECONDS, &[("provider", "claimr")]),
        1
    );
    assert_eq!(recorded.series(REFUSALS_TOTAL), 0, "nothing was refused");
}

#[tokio::test]
async fn a_refused_delivery_counts_its_reason_and_status_and_runs_no_handler() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let service = ServiceBuilder::new()
        .layer(WebhookLayer::new(Claimr::new(SECRET).unwrap()))
        .service(
            Dispatcher::<claimr::Event>::new()
                .on_any(|_event| async { panic!("no handler runs for a refused delivery") }),
        );
    let sample = Claimr::sample(claimr::EventKind::UserReward);
    let forged = Claimr::signer("another-secret")
        .unwrap()
        .sample_request("/", &sample)
        .unwrap();
    assert_eq!(
        status(service.clone(), forged).await,
        StatusCode::UNAUTHORIZED
    );
    let unsigned = Request::post("/")
        .header("content-type", "application/json")
        .body(Full::new(sample.body()))
        .unwrap();
    assert_eq!(
        status(service.clone(), unsigned).await,
        StatusCode::UNAUTHORIZED
    );
    let not_json = Claimr::signer(SECRET)
        .unwrap()
        .request("/", &b"{\"id\": "[..])
        .unwrap();
    assert_eq!(status(service, not_json).await, StatusCode::BAD_REQUEST);

    let recorded = Recorded::take(&snapshotter);
    let refused = |reason| [("provider", "claimr"), ("reason", reason)];
    assert_eq!(
        recorded.count(REFUSALS_TOTAL, &refused("signature_mismatch")),
        1
    );
    assert_eq!(
        recorded.count(REFUSALS_TOTAL, &refused("missing_signature")),
        1
    );
    assert_eq!(
        recorded.count(REFUSALS_TOTAL, &refused("malformed_json")),
        1
    );
    // Refused before they were parsed: no event name.
    let answered = |status| [("provider", "claimr"), ("event", ""), ("status", status)];
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered("401")), 2);
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered("400")), 1);
    // The unsigned one was refused from its headers, before any verification.
    assert_eq!(
        recorded.samples(VERIFY_DURATION_SECONDS, &[("provider", "claimr")]),
        2
    );
    assert_eq!(recorded.series(HANDLER_DURATION_SECONDS), 0);
}

#[tokio::test(start_paused = true)]
async fn handler_errors_and_timeouts_are_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let service = ServiceBuilder::new()
        .layer(WebhookLayer::new(Claimr::new(SECRET).unwrap()))
        .service(
            Dispatcher::new()
                .on(claimr::EventKind::UserReward, |_event| async {
                    Err(hookguard::HandlerError::msg("ledger down"))
                })
                .on(claimr::EventKind::Referral, |_event| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                })
                .with_handler_timeout(Duration::from_secs(1)),
        );
    let signer = Claimr::signer(SECRET).unwrap();
    for (kind, expected) in [
        (
            claimr::EventKind::UserReward,
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (claimr::EventKind::Referral, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let request = signer.sample_request("/", &Claimr::sample(kind)).unwrap();
        assert_eq!(status(service.clone(), request).await, expected, "{kind}");
    }

    let recorded = Recorded::take(&snapshotter);
    let handled = |event, outcome| {
        [
            ("provider", "claimr"),
            ("event", event),
            ("outcome", outcome),
        ]
    };
    assert_eq!(
        recorded.samples(HANDLER_DURATION_SECONDS, &handled("user_reward", "error")),
        1
    );
    assert_eq!(
        recorded.samples(HANDLER_DURATION_SECONDS, &handled("referral", "timed_out")),
        1
    );
    let answered = |event, status| [("provider", "claimr"), ("event", event), ("status", status)];
    assert_eq!(
        recorded.count(DELIVERIES_TOTAL, &answered("user_reward", "500")),
        1
    );
    assert_eq!(
        recorded.count(DELIVERIES_TOTAL, &answered("referral", "503")),
        1
    );
}

#[tokio::test]
async fn payouts_are_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let layer = WebhookLayer::new(ChainVine::new(SECRET).unwrap());
    let paying = ServiceBuilder::new().layer(layer.clone()).service(
        Dispatcher::new().on_payment_request(MemoryStore::new(), |_payout| async { Ok(()) }),
    );
    let failing = ServiceBuilder::new().layer(layer).service(
        Dispatcher::new().on_payment_request(MemoryStore::new(), |_payout| async {
            Err(PayoutError::msg("bank down"))
        }),
    );
    let signer = ChainVine::signer(SECRET).unwrap();
    let body = ChainVine::sample(chainvine::EventKind::PaymentRequest).body();
    // Paid, then acknowledged again without paying.
    for _ in 0..2 {
        let request = signer.request("/", body.clone()).unwrap();
        assert_eq!(status(paying.clone(), request).await, StatusCode::OK);
    }
    let request = signer.request("/", body).unwrap();
    assert_eq!(
        status(failing, request).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.count(PAYOUTS_TOTAL, &[("outcome", "paid")]), 1);
    assert_eq!(
        recorded.count(PAYOUTS_TOTAL, &[("outcome", "already_paid")]),
        1
    );
    assert_eq!(recorded.count(PAYOUTS_TOTAL, &[("outcome", "failed")]), 1);
    let answered = |status| {
        [
            ("provider", "chainvine"),
            ("event", "PAYMENT_REQUEST"),
            ("status", status),
        ]
    };
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered("200")), 2);
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered("503")), 1);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_inbox_counts_what_it_stores_retries_and_handles() {
    use hookguard::inbox::{DeliveryState, Inbox};
    use hookguard::metrics::{
        INBOX_DUPLICATES_TOTAL, INBOX_HANDLED_TOTAL, INBOX_RETRIES_TOTAL, INBOX_STORED_TOTAL,
    };
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let path =
        std::env::temp_dir().join(format!("hookguard-metrics-inbox-{}.db", std::process::id()));
    let inbox = Inbox::open(path.to_str().unwrap())
        .await
        .unwrap()
        .with_retry_base(Duration::from_millis(20))
        .with_jitter(0.0)
        .with_poll_interval(Duration::from_millis(20));
    let failures = Arc::new(AtomicU32::new(1));
    let claimr = Claimr::new(SECRET).unwrap();
    let handlers = Dispatcher::new()
        .on(claimr::EventKind::UserLogin, move |_event| {
            let failures = Arc::clone(&failures);
            async move {
                if failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return Err(hookguard::HandlerError::msg("not yet"));
                }
                Ok(())
            }
        })
        .with_inbox(&inbox, claimr.clone())
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(WebhookLayer::new(claimr))
        .service(handlers);
    let sample = Claimr::sample(claimr::EventKind::UserLogin);
    let signer = Claimr::signer(SECRET).unwrap();
    for _ in 0..2 {
        let request = signer.sample_request("/", &sample).unwrap();
        assert_eq!(status(service.clone(), request).await, StatusCode::OK);
    }
    let mut handled = false;
    for _ in 0..500 {
        let record = inbox
            .store()
            .show(None, sample.id())
            .await
            .unwrap()
            .unwrap();
        if record.summary.state == DeliveryState::Handled {
            handled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(handled);
    inbox.shutdown(Duration::from_secs(1)).await;

    let recorded = Recorded::take(&snapshotter);
    let provider = [("provider", "claimr")];
    let event = [("provider", "claimr"), ("event", "user_login")];
    assert_eq!(recorded.count(INBOX_STORED_TOTAL, &provider), 1);
    assert_eq!(recorded.count(INBOX_DUPLICATES_TOTAL, &provider), 1);
    assert_eq!(recorded.count(INBOX_RETRIES_TOTAL, &event), 1);
    assert_eq!(recorded.count(INBOX_HANDLED_TOTAL, &event), 1);
    let ran = |outcome| {
        [
            ("provider", "claimr"),
            ("event", "user_login"),
            ("outcome", outcome),
        ]
    };
    assert_eq!(recorded.samples(HANDLER_DURATION_SECONDS, &ran("error")), 1);
    assert_eq!(recorded.samples(HANDLER_DURATION_SECONDS, &ran("ok")), 1);
    // Both answers were 200 ("stored", then "already stored").
    let answered = [
        ("provider", "claimr"),
        ("event", "user_login"),
        ("status", "200"),
    ];
    assert_eq!(recorded.count(DELIVERIES_TOTAL, &answered), 2);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
