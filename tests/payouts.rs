//! Payouts paid exactly once, on every store: concurrent duplicates, failure then retry,
//! a receiver killed mid-payout, and two receiver processes sharing PostgreSQL.
//!
//! PostgreSQL is reached at `HOOKGUARD_POSTGRES_URL` (default
//! `postgres://hookguard:hookguard@127.0.0.1:5432/hookguard`; `scripts/postgres.sh` starts
//! one). With no server there, these tests fail in CI and say so loudly elsewhere.
#![cfg(all(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookguard::chainvine;
use hookguard::idempotency::store::{Record, State, StoreError};
use hookguard::idempotency::{Idempotency, MemoryStore, PostgresStore, SqliteStore, Store};
use hookguard::{ChainVine, Dispatcher, PayoutError, WebhookLayer};
use http::StatusCode;
use support::*;
use tower::ServiceExt;

const DEFAULT_POSTGRES_URL: &str = "postgres://hookguard:hookguard@127.0.0.1:5432/hookguard";

/// Which store, and where, so that a child process can open the same one.
#[derive(Debug, Clone)]
struct StoreSpec {
    kind: String,
    location: String,
}

impl StoreSpec {
    fn memory() -> Self {
        Self {
            kind: "memory".into(),
            location: String::new(),
        }
    }

    fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("hookguard_payouts")));
        Self {
            kind: "sqlite".into(),
            location: path.display().to_string(),
        }
    }

    /// A fresh table in the test database, or `None` (loudly) when none is reachable
    /// outside CI.
    async fn postgres() -> Option<Self> {
        let url =
            std::env::var("HOOKGUARD_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let table = unique_name("hg_test");
        match tokio::time::timeout(
            Duration::from_secs(10),
            PostgresStore::connect_with_table(&url, &table),
        )
        .await
        {
            Ok(Ok(_)) => Some(Self {
                kind: "postgres".into(),
                location: format!("{url}#{table}"),
            }),
            failure => {
                let why = match failure {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".into(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL at {url} is required in CI: {why}");
                }
                eprintln!(
                    "\n!!!!!!!! PostgreSQL TESTS SKIPPED: no server at {url} ({why}).\n\
                     !!!!!!!! Run scripts/postgres.sh, or set HOOKGUARD_POSTGRES_URL.\n"
                );
                None
            }
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self.kind.as_str() {
            "memory" => Arc::new(MemoryStore::new()),
            "sqlite" => Arc::new(SqliteStore::open(&self.location).await.unwrap()),
            "postgres" => {
                let (url, table) = self.location.split_once('#').unwrap();
                Arc::new(PostgresStore::connect_with_table(url, table).await.unwrap())
            }
            other => panic!("unknown store {other}"),
        }
    }

    fn cleanup(&self) {
        if self.kind == "sqlite" {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.location));
            }
        }
    }
}

type Calls = Arc<Mutex<HashMap<String, Vec<u32>>>>;

/// The fingerprint the claims of [`payment_request_body`] carry (the same for every `n`).
fn payment_fingerprint() -> String {
    let event = chainvine::Event::from_slice(&payment_request_body(0, 0)).unwrap();
    hookguard::payout::fingerprint(event.payment_request().unwrap())
}

/// A ChainVine payout receiver over `idempotency` whose handler records each call's
/// attempt and then runs `outcome`.
fn payout_service(
    idempotency: Idempotency,
    calls: Calls,
    outcome: fn(u32) -> Result<(), PayoutError>,
) -> hookguard::Webhook<Dispatcher<chainvine::Event>, ChainVine> {
    WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(
        Dispatcher::new().on_payment_request(idempotency, move |payout| {
            let calls = calls.clone();
            async move {
                calls
                    .lock()
                    .unwrap()
                    .entry(payout.idempotency_key().to_owned())
                    .or_default()
                    .push(payout.attempt());
                // Long enough for the duplicates to arrive while this run holds the key.
                tokio::time::sleep(Duration::from_millis(100)).await;
                outcome(payout.attempt())
            }
        }),
    )
}

const REQUESTS: usize = 5;
const DUPLICATES: usize = 8;

async fn concurrent_duplicates_pay_once(spec: StoreSpec) {
    let store = spec.open().await;
    let calls = Calls::default();
    let service = payout_service(
        Idempotency::new(store.clone()).with_wait(Duration::from_secs(20)),
        calls.clone(),
        |_| Ok(()),
    );
    let mut tasks = Vec::new();
    for delivery in 0..DUPLICATES {
        for n in 0..REQUESTS {
            let request = chainvine_request(payment_request_body(n, delivery));
            tasks.push(tokio::spawn(service.clone().oneshot(request)));
        }
    }
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{}", spec.kind);
    }
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), REQUESTS, "{}: {calls:?}", spec.kind);
    for n in 0..REQUESTS {
        let key = payment_key(n);
        assert_eq!(
            calls[&key],
            [1],
            "{}: {key} ran {:?}",
            spec.kind,
            calls[&key]
        );
        assert_eq!(
            store.record(&key).await.unwrap(),
            Some(Record {
                state: State::Done,
                attempt: 1,
                fingerprint: payment_fingerprint(),
            }),
            "{}: the store's count for {key}",
            spec.kind
        );
    }
    spec.cleanup();
}

async fn failure_then_retry_pays_once(spec: StoreSpec) {
    let store = spec.open().await;
    let calls = Calls::default();
    let service = payout_service(Idempotency::new(store.clone()), calls.clone(), |attempt| {
        if attempt == 1 {
            Err(PayoutError::msg("bank timeout"))
        } else {
            Ok(())
        }
    });
    let key = payment_key(0);

    let failed = service
        .clone()
        .oneshot(chainvine_request(payment_request_body(0, 0)))
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.headers().contains_key(http::header::RETRY_AFTER));
    assert_eq!(
        store.record(&key).await.unwrap().map(|r| r.state),
        Some(State::Failed)
    );

    for delivery in 1..=2 {
        let response = service
            .clone()
            .oneshot(chainvine_request(payment_request_body(0, delivery)))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{} delivery {delivery}",
            spec.kind
        );
    }
    assert_eq!(calls.lock().unwrap()[&key], [1, 2], "{}", spec.kind);
    assert_eq!(
        store.record(&key).await.unwrap(),
        Some(Record {
            state: State::Done,
            attempt: 2,
            fingerprint: payment_fingerprint(),
        })
    );
    spec.cleanup();
}

#[tokio::test]
async fn memory_concurrent_duplicates_pay_once() {
    concurrent_duplicates_pay_once(StoreSpec::memory()).await;
}

#[tokio::test]
async fn memory_failure_then_retry_pays_once() {
    failure_then_retry_pays_once(StoreSpec::memory()).await;
}

#[tokio::test]
async fn sqlite_concurrent_duplicates_pay_once() {
    concurrent_duplicates_pay_once(StoreSpec::sqlite()).await;
}

#[tokio::test]
async fn sqlite_failure_then_retry_pays_once() {
    failure_then_retry_pays_once(StoreSpec::sqlite()).await;
}

#[tokio::test]
async fn postgres_concurrent_duplicates_pay_once() {
    if let Some(spec) = StoreSpec::postgres().await {
        concurrent_duplicates_pay_once(spec).await;
    }
}

#[tokio::test]
async fn postgres_failure_then_retry_pays_once() {
    if let Some(spec) = StoreSpec::postgres().await {
        failure_then_retry_pays_once(spec).await;
    }
}

#[tokio::test]
async fn sqlite_claims_survive_a_restart() {
    let spec = StoreSpec::sqlite();
    let calls = Calls::default();
    let first = payout_service(Idempotency::new(spec.open().await), calls.clone(), |_| {
        Ok(())
    });
    let response = first
        .oneshot(chainvine_request(payment_request_body(0, 0)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A new store over the same file, as after a restart.
    let second = payout_service(Idempotency::new(spec.open().await), calls.clone(), |_| {
        Ok(())
    });
    let response = second
        .oneshot(chainvine_request(payment_request_body(0, 1)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.lock().unwrap()[&payment_key(0)], [1]);
    spec.cleanup();
}

#[tokio::test]
async fn an_unreachable_store_never_answers_200() {
    // A PostgreSQL store whose server is gone: the pool is built, then the port closed.
    let port = free_port();
    let url = format!("postgres://nobody:nothing@127.0.0.1:{port}/none");
    assert!(PostgresStore::connect(&url).await.is_err());

    /// A store whose every call fails, as a database that went down after start-up.
    struct DownStore;
    impl Store for DownStore {
        fn claim<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Duration,
            _: bool,
        ) -> futures_util::future::BoxFuture<
            'a,
            Result<hookguard::idempotency::store::Claim, StoreError>,
        > {
            Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) })
        }
        fn renew<'a>(
            &'a self,
            _: &'a str,
            _: u32,
            _: Duration,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn complete<'a>(
            &'a self,
            _: &'a str,
            _: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn abandon<'a>(
            &'a self,
            _: &'a str,
            _: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn resolve<'a>(
            &'a self,
            _: &'a str,
            _: hookguard::idempotency::Resolution,
        ) -> futures_util::future::BoxFuture<'a, Result<bool, StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn release<'a>(
            &'a self,
            _: &'a str,
            _: u32,
        ) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
        fn record<'a>(
            &'a self,
            _: &'a str,
        ) -> futures_util::future::BoxFuture<'a, Result<Option<Record>, StoreError>> {
            Box::pin(async { Err(StoreError::Unavailable("down".into())) })
        }
    }

    let calls = Calls::default();
    let service = payout_service(Idempotency::new(DownStore), calls.clone(), |_| Ok(()));
    let response = service
        .oneshot(chainvine_request(payment_request_body(0, 0)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(http::header::RETRY_AFTER));
    assert!(
        calls.lock().unwrap().is_empty(),
        "nothing is paid without a claim"
    );
}

// ---------------------------------------------------------------------------------------
// Receiver processes: this test binary run again as a child, serving one store.

const CHILD_MODE: &str = "HOOKGUARD_CHILD_MODE";

/// Not a test: the body of a child receiver process, run by the tests below with
/// `--ignored --exact child_receiver`. Mode `hang` claims and then never finishes (to be
/// killed); mode `pay` pays and prints `PAID <key> <attempt>`.
#[test]
#[ignore = "run as a child process by the crash and multi-process tests"]
fn child_receiver() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let spec = StoreSpec {
        kind: std::env::var("HOOKGUARD_CHILD_STORE").unwrap(),
        location: std::env::var("HOOKGUARD_CHILD_LOCATION").unwrap(),
    };
    let addr = std::env::var("HOOKGUARD_CHILD_ADDR").unwrap();
    let lease = Duration::from_millis(
        std::env::var("HOOKGUARD_CHILD_LEASE_MS")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let idempotency = Idempotency::new(spec.open().await)
            .with_lease(lease)
            .unwrap()
            .with_wait(Duration::from_secs(20));
        let hang = mode == "hang";
        let payouts = Dispatcher::new().on_payment_request(idempotency, move |payout| async move {
            if hang {
                println!("CLAIMED {} {}", payout.idempotency_key(), payout.attempt());
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("PAID {} {}", payout.idempotency_key(), payout.attempt());
            Ok(())
        });
        let app = axum::Router::new().route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(payouts),
        );
        let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// This test binary run again as a receiver process (see `child_receiver`).
fn start_child_receiver(mode: &str, spec: &StoreSpec, lease: Duration) -> Receiver {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_receiver",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env("HOOKGUARD_CHILD_STORE", &spec.kind)
        .env("HOOKGUARD_CHILD_LOCATION", &spec.location)
        .env("HOOKGUARD_CHILD_ADDR", &addr)
        .env("HOOKGUARD_CHILD_LEASE_MS", lease.as_millis().to_string());
    start_process(command, &addr, |line| {
        // The test harness prints `test child_receiver ... ` with no newline, so the
        // first marker may share its line: keep what follows the marker.
        let start = ["PAID ", "CLAIMED "]
            .iter()
            .filter_map(|marker| line.find(marker))
            .min()?;
        Some(line[start..].to_owned())
    })
}

/// The next line of `receiver` starting with `prefix`, within `timeout`.
fn next_line(receiver: &Receiver, prefix: &str, timeout: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = receiver.lines.recv_timeout(left).ok()?;
        if line.starts_with(prefix) {
            return Some(line);
        }
    }
}

/// Every `PAID` line `receiver` printed so far.
fn paid_lines(receiver: &Receiver) -> Vec<String> {
    receiver
        .lines
        .try_iter()
        .filter(|line| line.starts_with("PAID "))
        .collect()
}

async fn killed_mid_payout_runs_again_after_the_lease(spec: StoreSpec) {
    let lease = Duration::from_secs(3);
    let mut crashed = start_child_receiver("hang", &spec, lease);
    let client = http_client();
    let base = crashed.base.clone();
    let pending = tokio::spawn({
        let client = client.clone();
        let (mut parts, body) = chainvine_request(payment_request_body(0, 0)).into_parts();
        parts.uri = format!("{base}{}", parts.uri).parse().unwrap();
        // Never answered: the child is killed while it holds the claim.
        async move {
            client
                .request(http::Request::from_parts(parts, body))
                .await
                .is_ok()
        }
    });
    // The request is sent on another worker while this one waits for the child's line.
    let claimed =
        tokio::task::block_in_place(|| next_line(&crashed, "CLAIMED ", Duration::from_secs(30)))
            .expect("the child claimed the payout");
    assert_eq!(claimed, format!("CLAIMED {} 1", payment_key(0)));
    crashed.kill();
    let killed_at = std::time::Instant::now();
    pending.abort();

    let calls = Calls::default();
    let service = payout_service(
        Idempotency::new(spec.open().await)
            .with_lease(lease)
            .unwrap()
            .with_wait(Duration::ZERO),
        calls.clone(),
        |_| Ok(()),
    );
    // Within the lease the claim still stands: a retryable answer, nothing runs.
    let response = service
        .clone()
        .oneshot(chainvine_request(payment_request_body(0, 1)))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        spec.kind
    );
    assert!(calls.lock().unwrap().is_empty());

    tokio::time::sleep((lease + Duration::from_millis(300)).saturating_sub(killed_at.elapsed()))
        .await;
    let response = service
        .oneshot(chainvine_request(payment_request_body(0, 2)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", spec.kind);
    assert_eq!(
        calls.lock().unwrap()[&payment_key(0)],
        [2],
        "the retry is attempt 2"
    );
    spec.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_mid_payout_runs_again_after_the_lease() {
    killed_mid_payout_runs_again_after_the_lease(StoreSpec::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_payout_runs_again_after_the_lease() {
    if let Some(spec) = StoreSpec::postgres().await {
        killed_mid_payout_runs_again_after_the_lease(spec).await;
    }
}

#[tokio::test]
async fn postgres_two_receiver_processes_pay_each_request_once() {
    let Some(spec) = StoreSpec::postgres().await else {
        return;
    };
    let receivers = [
        start_child_receiver("pay", &spec, Duration::from_secs(60)),
        start_child_receiver("pay", &spec, Duration::from_secs(60)),
    ];
    let client = http_client();
    let mut tasks = Vec::new();
    for delivery in 0..DUPLICATES {
        for n in 0..REQUESTS {
            // Duplicates alternate between the two processes.
            let base = receivers[(delivery + n) % 2].base.clone();
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                send_to(
                    &client,
                    &base,
                    chainvine_request(payment_request_body(n, delivery)),
                )
                .await
            }));
        }
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Lines are printed before the answer, so all are there; give the pipes a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut paid: HashMap<String, usize> = HashMap::new();
    let mut per_process = Vec::new();
    for receiver in &receivers {
        let lines = paid_lines(receiver);
        per_process.push(lines.len());
        for line in lines {
            let key = line.split(' ').nth(1).unwrap().to_owned();
            *paid.entry(key).or_default() += 1;
        }
    }
    eprintln!("payouts executed per process: {per_process:?}");
    assert_eq!(paid.len(), REQUESTS, "{paid:?}");
    assert!(paid.values().all(|&count| count == 1), "{paid:?}");
    let store = spec.open().await;
    for n in 0..REQUESTS {
        assert_eq!(
            store.record(&payment_key(n)).await.unwrap(),
            Some(Record {
                state: State::Done,
                attempt: 1,
                fingerprint: payment_fingerprint(),
            })
        );
    }
}

// ---------------------------------------------------------------------------------------
// The payout provider example, run as a user runs it.

fn start_payout_provider(db: &str) -> Receiver {
    let path = example_path("payout_provider");
    assert!(path.exists(), "{} is not built", path.display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(path);
    command
        .env("HOOKGUARD_ADDR", &addr)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("HOOKGUARD_DB", db)
        .env("RUST_LOG", "warn");
    start_process(command, &addr, |line| Some(line.to_owned()))
}

#[tokio::test]
async fn the_payout_provider_example_pays_once_across_duplicates_and_restarts() {
    let spec = StoreSpec::sqlite();
    let client = http_client();
    let provider = start_payout_provider(&spec.location);
    let mut tasks = Vec::new();
    for delivery in 0..4 {
        for n in 0..2 {
            let client = client.clone();
            let base = provider.base.clone();
            tasks.push(tokio::spawn(async move {
                send_to(
                    &client,
                    &base,
                    chainvine_request(payment_request_body(n, delivery)),
                )
                .await
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().0, StatusCode::OK);
    }
    let mut lines: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let line = provider
                .lines
                .recv_timeout(Duration::from_secs(10))
                .unwrap();
            // Scripts may match the line as text: the keys come in the documented order.
            assert!(line.starts_with("{\"paid\":\"chainvine:"), "{line}");
            assert!(line.contains("\",\"event_id\":\"evt-"), "{line}");
            serde_json::from_str(&line).unwrap()
        })
        .collect();
    lines.sort_by_key(|line| line["paid"].as_str().unwrap().to_owned());
    assert_eq!(
        lines,
        [
            serde_json::json!({"paid": payment_key(0), "event_id": "evt-0", "attempt": 1}),
            serde_json::json!({"paid": payment_key(1), "event_id": "evt-1", "attempt": 1}),
        ]
    );
    assert!(provider
        .lines
        .recv_timeout(Duration::from_millis(300))
        .is_err());
    drop(provider);

    // Restarted on the same database: a late duplicate is acknowledged, not paid.
    let provider = start_payout_provider(&spec.location);
    let (status, _) = send_to(
        &client,
        &provider.base,
        chainvine_request(payment_request_body(0, 9)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(provider
        .lines
        .recv_timeout(Duration::from_millis(500))
        .is_err());
    drop(provider);
    spec.cleanup();
}

// ---------------------------------------------------------------------------------------
// The same protocol as plain delivery dedup, for any event.

async fn a_delivery_seen_twice_runs_its_handler_once(spec: StoreSpec) {
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let dispatcher = Dispatcher::<hookguard::claimr::Event>::new()
        .with_dedup(spec.open().await)
        .on_any({
            let runs = runs.clone();
            move |_event| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
            }
        });
    let service =
        WebhookLayer::new(hookguard::Claimr::new(CLAIMR_SECRET).unwrap()).layer(dispatcher);
    let activity = fixture("claimr/user_activity.json");
    let login = fixture("claimr/user_login.json");
    for body in [&activity, &activity, &login, &activity, &login] {
        let response = service
            .clone()
            .oneshot(claimr_request(body.clone()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "{}",
        spec.kind
    );
    spec.cleanup();
}

#[tokio::test]
async fn memory_a_delivery_seen_twice_runs_its_handler_once() {
    a_delivery_seen_twice_runs_its_handler_once(StoreSpec::memory()).await;
}

#[tokio::test]
async fn sqlite_a_delivery_seen_twice_runs_its_handler_once() {
    a_delivery_seen_twice_runs_its_handler_once(StoreSpec::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_delivery_seen_twice_runs_its_handler_once() {
    if let Some(spec) = StoreSpec::postgres().await {
        a_delivery_seen_twice_runs_its_handler_once(spec).await;
    }
}

#[tokio::test]
async fn a_payout_past_the_handler_timeout_keeps_running_and_keeps_its_claim_past_the_lease() {
    let calls = Calls::default();
    let lease = Duration::from_secs(1);
    let dispatcher = Dispatcher::new()
        .with_handler_timeout(Duration::from_millis(200))
        .on_payment_request(
            Idempotency::new(MemoryStore::new())
                .with_lease(lease)
                .unwrap()
                .with_wait(Duration::ZERO),
            {
                let calls = calls.clone();
                move |payout| {
                    let calls = calls.clone();
                    async move {
                        calls
                            .lock()
                            .unwrap()
                            .entry(payout.idempotency_key().to_owned())
                            .or_default()
                            .push(payout.attempt());
                        if payout.attempt() == 1 {
                            // The transfer hangs: nobody knows whether money moved.
                            std::future::pending::<()>().await;
                        }
                        Ok(())
                    }
                }
            },
        );
    let service = WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap()).layer(dispatcher);
    let started = std::time::Instant::now();
    let send = |delivery| {
        service
            .clone()
            .oneshot(chainvine_request(payment_request_body(0, delivery)))
    };
    assert_eq!(
        send(0).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Within the lease the timed-out run still holds the key: nothing runs again.
    assert_eq!(
        send(1).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(calls.lock().unwrap()[&payment_key(0)], [1]);
    // Long past the lease the run, still going, has renewed its claim: a retry still
    // does not run beside it (nobody knows whether the hung transfer moved money).
    tokio::time::sleep((lease * 3).saturating_sub(started.elapsed())).await;
    assert_eq!(
        send(2).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(calls.lock().unwrap()[&payment_key(0)], [1]);
}

// ---------------------------------------------------------------------------------------
// Every store answers the claim protocol's calls alike.

async fn stores_agree_on_every_transition(spec: StoreSpec) {
    use hookguard::idempotency::store::{Claim, Unresolved};
    use hookguard::idempotency::{Recovery, Resolution};
    let store = spec.open().await;
    let kind = spec.kind.clone();
    let lease = Duration::from_secs(60);
    let key = unique_name("conformance");

    let claim = |fingerprint: &'static str, lease: Duration, recover: bool| {
        let store = store.clone();
        let key = key.clone();
        async move {
            store
                .claim(&key, fingerprint, lease, recover)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Acquired {
            attempt: 1,
            recovery: None
        },
        "{kind}"
    );
    match claim("f", lease, true).await {
        Claim::Running {
            attempt: 1,
            lease_left,
        } => assert!(
            lease_left > Duration::from_secs(50),
            "{kind}: {lease_left:?}"
        ),
        other => panic!("{kind}: a held key is running, got {other:?}"),
    }
    assert_eq!(
        claim("other", lease, true).await,
        Claim::Conflict { attempt: 1 },
        "{kind}"
    );
    store.renew(&key, 1, lease).await.unwrap();
    assert!(matches!(
        store.renew(&key, 7, lease).await,
        Err(StoreError::LostClaim { attempt: 7, .. })
    ));

    // A panic: the outcome is unknown, so the next attempt is a recovery, or held.
    store.abandon(&key, 1).await.unwrap();
    assert_eq!(
        claim("f", lease, false).await,
        Claim::Unresolved {
            attempt: 1,
            reason: Unresolved::Panicked
        },
        "{kind}"
    );
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Acquired {
            attempt: 2,
            recovery: Some(Recovery {
                previous_attempt: 1,
                reason: Unresolved::Panicked
            })
        },
        "{kind}"
    );

    // A recovery that fails cleanly leaves the panic's outcome unknown: the next attempt
    // is a recovery too, with the same reason.
    store.release(&key, 2).await.unwrap();
    assert_eq!(
        store.record(&key).await.unwrap().map(|r| r.state),
        Some(State::RecoveryFailed),
        "{kind}"
    );
    assert_eq!(
        claim("f", lease, false).await,
        Claim::Unresolved {
            attempt: 2,
            reason: Unresolved::Panicked
        },
        "{kind}"
    );
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Acquired {
            attempt: 3,
            recovery: Some(Recovery {
                previous_attempt: 2,
                reason: Unresolved::Panicked
            })
        },
        "{kind}"
    );
    // An operator who finds nothing paid settles it; a clean failure then is plain.
    store.abandon(&key, 3).await.unwrap();
    assert!(store.resolve(&key, Resolution::NotPaid).await.unwrap());
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Acquired {
            attempt: 4,
            recovery: None
        },
        "{kind}"
    );
    store.release(&key, 4).await.unwrap();
    assert_eq!(
        store.record(&key).await.unwrap().map(|r| r.state),
        Some(State::Failed),
        "{kind}"
    );
    // A lease of a second: the checks below must land inside its grace (a second more)
    // even on a loaded machine.
    assert_eq!(
        claim("f", Duration::from_millis(1_000), true).await,
        Claim::Acquired {
            attempt: 5,
            recovery: None
        },
        "{kind}"
    );

    // A lease that ran out: held unless recovering. An operator may settle it only a
    // whole lease later, in case the run is alive and its renewals merely late.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        claim("f", lease, false).await,
        Claim::Unresolved {
            attempt: 5,
            reason: Unresolved::LeaseExpired
        },
        "{kind}"
    );
    assert!(
        !store.resolve(&key, Resolution::NotPaid).await.unwrap(),
        "{kind}: settled within the grace"
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(store.resolve(&key, Resolution::NotPaid).await.unwrap());
    assert_eq!(
        claim("f", Duration::from_millis(300), true).await,
        Claim::Acquired {
            attempt: 6,
            recovery: None
        },
        "{kind}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Acquired {
            attempt: 7,
            recovery: Some(Recovery {
                previous_attempt: 6,
                reason: Unresolved::LeaseExpired
            })
        },
        "{kind}"
    );
    // The attempt that lost its claim can no longer record anything.
    assert!(matches!(
        store.complete(&key, 6).await,
        Err(StoreError::LostClaim { attempt: 6, .. })
    ));
    // A live claim is not an operator's to settle.
    assert!(!store.resolve(&key, Resolution::Paid).await.unwrap());

    store.complete(&key, 7).await.unwrap();
    assert_eq!(
        claim("f", lease, true).await,
        Claim::Done { attempt: 7 },
        "{kind}"
    );
    assert_eq!(
        claim("other", lease, true).await,
        Claim::Conflict { attempt: 7 },
        "{kind}: a done key with other content is a conflict, not done"
    );
    assert!(!store.resolve(&key, Resolution::NotPaid).await.unwrap());
    assert_eq!(
        store.record(&key).await.unwrap(),
        Some(Record {
            state: State::Done,
            attempt: 7,
            fingerprint: "f".into()
        })
    );

    // A handler that says it cannot tell whether the money moved: a recovery, "reported".
    let reported = unique_name("reported");
    assert!(matches!(
        store.claim(&reported, "", lease, true).await.unwrap(),
        Claim::Acquired { attempt: 1, .. }
    ));
    store.report_unknown(&reported, 1).await.unwrap();
    assert_eq!(
        store.claim(&reported, "", lease, false).await.unwrap(),
        Claim::Unresolved {
            attempt: 1,
            reason: Unresolved::Reported
        },
        "{kind}"
    );
    assert_eq!(
        store.claim(&reported, "", lease, true).await.unwrap(),
        Claim::Acquired {
            attempt: 2,
            recovery: Some(Recovery {
                previous_attempt: 1,
                reason: Unresolved::Reported
            })
        },
        "{kind}"
    );
    spec.cleanup();
}

#[tokio::test]
async fn memory_store_agrees_on_every_transition() {
    stores_agree_on_every_transition(StoreSpec::memory()).await;
}

#[tokio::test]
async fn sqlite_store_agrees_on_every_transition() {
    stores_agree_on_every_transition(StoreSpec::sqlite()).await;
}

#[tokio::test]
async fn postgres_store_agrees_on_every_transition() {
    if let Some(spec) = StoreSpec::postgres().await {
        stores_agree_on_every_transition(spec).await;
    }
}
