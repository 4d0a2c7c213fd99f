//! Payouts under faults, over real loopback HTTP: senders that hang up mid-run or while
//! the success is being recorded, many duplicates hanging up at once, a payout provider
//! killed mid-confirmation and restarted, panics, short leases, and deliveries that must
//! never be paid (unsigned, unnamed, without an id, with changed content).
//!
//! The promise under test: a payment request's handler runs to completion at most once
//! per key, unless a run's outcome is unknown (the process died or the run panicked), and
//! then the next run is told so; no delivery is answered 2xx unless its payment was
//! recorded as done.
//!
//! The tests that run `examples/payout_provider` and `examples/receiver` need those
//! binaries built: a plain `cargo test` builds them, `cargo test --test payout_faults`
//! alone does not (`cargo build --all-features --examples` does). A binary older than
//! its sources is reported loudly, and refused in CI.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use hookguard::chainvine::{self, EventNames};
use hookguard::idempotency::store::{Claim, Record, State, Unresolved};
use hookguard::idempotency::{
    Idempotency, Recovery, RecoveryPolicy, Resolution, SqliteStore, Store, StoreError,
};
use hookguard::{
    ChainVine, ConfigError, Dispatcher, HandlerError, HmacSender, Payout, PayoutError, Verified,
    WebhookLayer,
};
use http::{header, HeaderMap, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use support::*;
use tokio::task::JoinHandle;

/// The longest any single wait in these tests may take before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Harness.

/// A SQLite file of this test's own, removed (with its WAL files) when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("hookguard_faults")));
        Self { path }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).await.unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// One call of a payout handler, as it saw itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    key: String,
    attempt: u32,
    recovery: Option<Recovery>,
}

/// Every payout handler call of a test, in order.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    fn record(&self, payout: &Payout) {
        self.0.lock().unwrap().push(Call {
            key: payout.idempotency_key().to_owned(),
            attempt: payout.attempt(),
            recovery: payout.recovery(),
        });
    }

    fn all(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn attempts(&self, key: &str) -> Vec<u32> {
        self.all()
            .into_iter()
            .filter(|call| call.key == key)
            .map(|call| call.attempt)
            .collect()
    }
}

/// A counter shared between a test and its handlers.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the server side of a loopback test saw of its requests.
#[derive(Clone, Default)]
struct Seen {
    /// Requests that reached the webhook service.
    entered: Counter,
    /// Requests whose answer was being worked out when the server dropped them: the
    /// sender hung up.
    hung_up: Counter,
}

/// Wraps a service so that [`Seen`] counts its requests and the ones dropped unanswered.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    seen: Seen,
}

/// Counts a request as hung up unless it was answered before being dropped.
struct HangUpGuard {
    seen: Seen,
    answered: bool,
}

impl HangUpGuard {
    /// The answer is out: not a hang-up.
    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for HangUpGuard {
    fn drop(&mut self) {
        if !self.answered {
            self.seen.hung_up.bump();
        }
    }
}

impl<S, B> tower::Service<Request<B>> for Tracked<S>
where
    S: tower::Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.seen.entered.bump();
        let guard = HangUpGuard {
            seen: self.seen.clone(),
            answered: false,
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            guard.answered();
            answer
        })
    }
}

/// Serves `dispatcher` behind a ChainVine layer on `POST /webhooks/chainvine`, on an
/// ephemeral loopback port.
async fn serve_chainvine(
    provider: ChainVine,
    dispatcher: Dispatcher<chainvine::Event>,
) -> (String, Seen) {
    let seen = Seen::default();
    let service = Tracked {
        inner: WebhookLayer::new(provider).layer(dispatcher),
        seen: seen.clone(),
    };
    let addr = serve_loopback(Router::new().route_service("/webhooks/chainvine", service)).await;
    (format!("http://{addr}"), seen)
}

fn chainvine() -> ChainVine {
    ChainVine::new(CHAINVINE_SECRET).unwrap()
}

/// An answer: status, headers and body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// Sends `request` (whose URI is a path) to `base`; the client's error when the exchange
/// did not complete.
async fn try_send(
    client: &HttpClient,
    base: &str,
    request: Request<Full<Bytes>>,
) -> Result<Answer, hyper_util::client::legacy::Error> {
    let (mut parts, body) = request.into_parts();
    parts.uri = format!("{base}{}", parts.uri).parse().unwrap();
    let response = client.request(Request::from_parts(parts, body)).await?;
    let status = response.status();
    let headers = response.headers().clone();
    Ok(Answer {
        status,
        headers,
        body: body_text(response.into_body()).await,
    })
}

async fn send(client: &HttpClient, base: &str, request: Request<Full<Bytes>>) -> Answer {
    tokio::time::timeout(PATIENCE, try_send(client, base, request))
        .await
        .expect("no answer in time")
        .unwrap()
}

/// Payment request `n` of [`payment_request_body`], as its delivery `delivery`.
async fn send_payment(client: &HttpClient, base: &str, n: usize, delivery: usize) -> Answer {
    send(
        client,
        base,
        chainvine_request(payment_request_body(n, delivery)),
    )
    .await
}

/// A request sent on a connection of its own, which [`HangingUp::hang_up`] closes.
struct HangingUp {
    exchange: JoinHandle<Result<http::Response<hyper::body::Incoming>, hyper::Error>>,
    connection: JoinHandle<Result<(), hyper::Error>>,
}

impl HangingUp {
    /// Opens a TCP connection to `addr` and sends `request` (whose URI is a path) on it.
    async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        let connection = tokio::spawn(connection);
        let exchange = tokio::spawn(async move { sender.send_request(request).await });
        Self {
            exchange,
            connection,
        }
    }

    /// Closes the connection without waiting for the answer, as a sender whose own
    /// timeout passed; fails if the answer had already come.
    async fn hang_up(self) {
        assert!(
            !self.exchange.is_finished(),
            "the answer came before the sender hung up: {:?}",
            self.exchange.await
        );
        self.exchange.abort();
        self.connection.abort();
        // Both tasks are gone, and the socket with them, once they are awaited.
        let _ = self.exchange.await;
        let _ = self.connection.await;
    }
}

fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// Waits up to [`PATIENCE`] for `check` to hold.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits up to [`PATIENCE`] for `key`'s record to reach `state`, and returns it.
async fn wait_for_state(store: &dyn Store, key: &str, state: State) -> Record {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let record = store.record(key).await.unwrap();
        if let Some(record) = record.as_ref().filter(|r| r.state == state) {
            return record.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{key} never reached {state:?}: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fingerprint of [`payment_request_body`] (the same for every `n`).
fn payment_fingerprint() -> String {
    let event = chainvine::Event::from_slice(&payment_request_body(0, 0)).unwrap();
    hookguard::payout::fingerprint(event.payment_request().unwrap())
}

/// The record of a key paid by its first attempt.
fn done_by_first_attempt() -> Option<Record> {
    Some(Record {
        state: State::Done,
        attempt: 1,
        fingerprint: payment_fingerprint(),
    })
}

/// [`payment_request_body`] with `edit` applied to its JSON.
fn edited_payment_body(n: usize, delivery: usize, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut json: Value = serde_json::from_slice(&payment_request_body(n, delivery)).unwrap();
    edit(&mut json);
    serde_json::to_vec(&json).unwrap()
}

fn data(json: &mut Value) -> &mut serde_json::Map<String, Value> {
    json["event"]["data"].as_object_mut().unwrap()
}

/// A payout handler that records each call, then runs `work` on the payout.
fn recording_handler<F, Fut>(
    calls: &Calls,
    work: F,
) -> impl Fn(Payout) -> BoxFuture<'static, Result<(), PayoutError>> + Send + Sync + 'static
where
    F: Fn(Payout) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), PayoutError>> + Send + 'static,
{
    let calls = calls.clone();
    let work = Arc::new(work);
    move |payout: Payout| {
        calls.record(&payout);
        let work = Arc::clone(&work);
        Box::pin(async move { work(payout).await })
    }
}

/// A catch-all that counts the events it is given.
fn counting_catch_all<E: hookguard::WebhookEvent>(
    counter: &Counter,
) -> impl Fn(Verified<E>) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + 'static {
    let counter = counter.clone();
    move |_event: Verified<E>| {
        counter.bump();
        std::future::ready(Ok(()))
    }
}

/// A SQLite store that counts claims and takes `complete_delay` before each `complete`,
/// as a slow disk or a busy database would.
struct Instrumented {
    inner: SqliteStore,
    complete_delay: Duration,
    claims: Counter,
    completes_started: Counter,
}

impl Instrumented {
    fn new(inner: SqliteStore, complete_delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner,
            complete_delay,
            claims: Counter::default(),
            completes_started: Counter::default(),
        })
    }
}

impl Store for Instrumented {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        self.claims.bump();
        self.inner.claim(key, fingerprint, lease, recover)
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.renew(key, attempt, lease)
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.completes_started.bump();
            tokio::time::sleep(self.complete_delay).await;
            self.inner.complete(key, attempt).await
        })
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.release(key, attempt)
    }

    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.abandon(key, attempt)
    }

    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.resolve(key, resolution)
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        self.inner.record(key)
    }
}

// ---------------------------------------------------------------------------------------
// 1-3. Senders that hang up.

#[tokio::test]
async fn a_sender_hanging_up_mid_run_does_not_stop_the_payout_and_its_retry_is_acknowledged() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let ledger: Arc<Mutex<Vec<String>>> = Arc::default();
    let confirmed = Counter::default();
    let handler = recording_handler(&calls, {
        let (ledger, confirmed) = (ledger.clone(), confirmed.clone());
        move |payout| {
            let (ledger, confirmed) = (ledger.clone(), confirmed.clone());
            async move {
                // The transfer leaves, then the payment system takes a while to confirm.
                ledger
                    .lock()
                    .unwrap()
                    .push(payout.idempotency_key().to_owned());
                tokio::time::sleep(Duration::from_millis(500)).await;
                confirmed.bump();
                Ok(())
            }
        }
    });
    let dispatcher = Dispatcher::new().on_payment_request(store.clone(), handler);
    let (base, seen) = serve_chainvine(chainvine(), dispatcher).await;
    let key = payment_key(1);

    let first = HangingUp::send(
        addr_of(&base),
        chainvine_request(payment_request_body(1, 0)),
    )
    .await;
    wait_until("the transfer has left", || {
        ledger.lock().unwrap().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(confirmed.get(), 0, "the sender must hang up mid-run");
    first.hang_up().await;
    wait_until("the server saw the sender hang up", || {
        seen.hung_up.get() == 1
    })
    .await;

    // The run goes on without its sender, and its success is recorded.
    let record = wait_for_state(&store, &key, State::Done).await;
    assert_eq!(Some(record), done_by_first_attempt());
    assert_eq!(confirmed.get(), 1);

    // ChainVine's retry is acknowledged without paying again.
    let retry = send(
        &http_client(),
        &base,
        chainvine_request(payment_request_body(1, 1)),
    )
    .await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(*ledger.lock().unwrap(), [key.as_str()]);
    assert_eq!(seen.hung_up.get(), 1, "the answered retry is no hang-up");
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
}

#[tokio::test]
async fn a_sender_hanging_up_while_the_success_is_recorded_gets_200_on_its_retry() {
    let db = TempDb::new();
    let store = Instrumented::new(db.open().await, Duration::from_secs(1));
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        Arc::clone(&store),
        recording_handler(&calls, |_| async { Ok(()) }),
    );
    let (base, seen) = serve_chainvine(chainvine(), dispatcher).await;
    let key = payment_key(2);

    let first = HangingUp::send(
        addr_of(&base),
        chainvine_request(payment_request_body(2, 0)),
    )
    .await;
    wait_until("the success is being recorded", || {
        store.completes_started.get() == 1
    })
    .await;
    assert_eq!(
        store.record(&key).await.unwrap().map(|r| r.state),
        Some(State::Running),
        "not recorded done yet"
    );
    first.hang_up().await;
    wait_until("the server saw the sender hang up", || {
        seen.hung_up.get() == 1
    })
    .await;

    // Sent while the record is still being written: it waits for it, then gets 200.
    let retry = send(
        &http_client(),
        &base,
        chainvine_request(payment_request_body(2, 1)),
    )
    .await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(store.completes_started.get(), 1, "recorded once");
    assert_eq!(seen.hung_up.get(), 1, "the answered retry is no hang-up");
}

#[tokio::test]
async fn a_handler_timeout_shorter_than_a_slow_record_answers_503_until_the_payment_is_recorded() {
    let db = TempDb::new();
    let store = Instrumented::new(db.open().await, Duration::from_millis(1500));
    let calls = Calls::default();
    let dispatcher = Dispatcher::new()
        .with_handler_timeout(Duration::from_millis(300))
        .on_payment_request(
            Arc::clone(&store),
            recording_handler(&calls, |_| async { Ok(()) }),
        );
    let (base, _seen) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    let key = payment_key(3);

    let first = send_payment(&client, &base, 3, 0).await;
    let record = store.record(&key).await.unwrap();
    assert_eq!(
        first.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never 200 before the payment is recorded: {first:?}, record {record:?}"
    );
    assert!(first.headers.contains_key(header::RETRY_AFTER), "{first:?}");
    assert_eq!(record.map(|r| r.state), Some(State::Running));

    // A retry while the record is still being written: 503 again, nothing runs.
    let early = send_payment(&client, &base, 3, 1).await;
    let record = store.record(&key).await.unwrap();
    assert_eq!(
        early.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{early:?}, record {record:?}"
    );
    assert_eq!(calls.attempts(&key), [1]);

    // Once it is recorded, a retry is acknowledged without running again.
    wait_for_state(&*store, &key, State::Done).await;
    let late = send_payment(&client, &base, 3, 2).await;
    assert_eq!(late.status, StatusCode::OK, "{late:?}");
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
    assert_eq!(store.completes_started.get(), 1);
}

#[tokio::test]
async fn duplicates_all_hanging_up_at_once_pay_once() {
    const DUPLICATES: usize = 8;
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    // The confirmation comes when the test says, after every sender has hung up.
    let (confirm, confirmation) = tokio::sync::watch::channel(false);
    let dispatcher = Dispatcher::new().on_payment_request(
        store.clone(),
        recording_handler(&calls, move |_| {
            let mut confirmation = confirmation.clone();
            async move {
                let _ = confirmation.wait_for(|&confirmed| confirmed).await;
                Ok(())
            }
        }),
    );
    let (base, seen) = serve_chainvine(chainvine(), dispatcher).await;
    let key = payment_key(4);

    let mut senders = Vec::new();
    for delivery in 0..DUPLICATES {
        let request = chainvine_request(payment_request_body(4, delivery));
        senders.push(HangingUp::send(addr_of(&base), request).await);
    }
    wait_until("every duplicate reached the server", || {
        seen.entered.get() == DUPLICATES
    })
    .await;
    wait_until("the payout runs", || calls.len() == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    futures_util::future::join_all(senders.into_iter().map(HangingUp::hang_up)).await;
    wait_until("the server saw every sender hang up", || {
        seen.hung_up.get() == DUPLICATES
    })
    .await;
    assert_eq!(
        store
            .record(&key)
            .await
            .unwrap()
            .map(|r| (r.state, r.attempt)),
        Some((State::Running, 1))
    );

    confirm.send(true).unwrap();
    assert_eq!(
        Some(wait_for_state(&store, &key, State::Done).await),
        done_by_first_attempt()
    );
    let retry = send(
        &http_client(),
        &base,
        chainvine_request(payment_request_body(4, DUPLICATES)),
    )
    .await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
    assert_eq!(calls.attempts(&key), [1], "{:?}", calls.all());
    assert_eq!(
        seen.hung_up.get(),
        DUPLICATES,
        "the answered retry is no hang-up"
    );
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
}

// ---------------------------------------------------------------------------------------
// 4. The payout provider example killed mid-confirmation, then restarted.

/// `examples/<name>`'s binary, which must exist; one older than its sources is reported
/// loudly (refused in CI), since it would test code that is no longer there.
fn built_example(name: &str) -> PathBuf {
    let path = example_path(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --all-features --examples` (or the whole \
         `cargo test`); `cargo test --test payout_faults` alone does not build examples",
        path.display()
    );
    let built = modified(&path);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("examples").join(format!("{name}.rs"))];
    collect_rust_files(&root.join("src"), &mut sources);
    let newer: Vec<_> = sources
        .iter()
        .filter(|source| modified(source) > built)
        .map(|source| source.strip_prefix(root).unwrap_or(source).display())
        .collect();
    if !newer.is_empty() {
        let message = format!(
            "{} is older than {newer:?}: this test runs the old build. Run \
             `cargo build --all-features --examples` first.",
            path.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("\n!!!!!!!! STALE EXAMPLE: {message}\n");
    }
    path
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn collect_rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // The command's sources (src/bin) are not linked into the examples.
        if path.is_dir() && !path.ends_with("bin") {
            collect_rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

fn start_payout_provider(db: &TempDb, delay_ms: u64, lease_secs: u64) -> Receiver {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(built_example("payout_provider"));
    command
        .env("HOOKGUARD_ADDR", &addr)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("HOOKGUARD_DB", db.location())
        .env("HOOKGUARD_LEASE_SECS", lease_secs.to_string())
        .env("PAYOUT_DELAY_MS", delay_ms.to_string())
        .env("RUST_LOG", "warn");
    start_process(command, &addr, |line| Some(line.to_owned()))
}

/// The next stdout line of `process` within `wait`, without blocking the runtime.
async fn next_line(process: &Receiver, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        match process.lines.try_recv() {
            Ok(line) => return Some(line),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) if Instant::now() >= deadline => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn the_payout_provider_killed_mid_confirmation_reconciles_after_a_restart_and_pays_once() {
    let db = TempDb::new();
    let client = http_client();
    let key = payment_key(5);
    let line = |what: &str, attempt: u32| {
        format!("{{\"{what}\":\"{key}\",\"event_id\":\"evt-5\",\"attempt\":{attempt}}}")
    };

    let mut provider = start_payout_provider(&db, 5_000, 1);
    let first = tokio::spawn({
        let (client, base) = (client.clone(), provider.base.clone());
        async move {
            try_send(
                &client,
                &base,
                chainvine_request(payment_request_body(5, 0)),
            )
            .await
        }
    });
    let paid = next_line(&provider, PATIENCE).await;
    assert_eq!(paid.as_deref(), Some(line("paid", 1).as_str()));
    // The transfer has left; the confirmation is 5 s away. A crash now.
    provider.kill();
    let killed_at = Instant::now();
    match first.await.unwrap() {
        Ok(answer) => panic!("answered before the confirmation: {answer:?}"),
        Err(_hung_up) => {}
    }

    let provider = start_payout_provider(&db, 0, 1);
    // ChainVine retries until it is acknowledged; the dead run's lease must run out first.
    let mut statuses = Vec::new();
    loop {
        let answer = send(
            &client,
            &provider.base,
            chainvine_request(payment_request_body(5, statuses.len() + 1)),
        )
        .await;
        statuses.push(answer.status);
        if answer.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "while the lease runs: {answer:?}"
        );
        assert!(killed_at.elapsed() < PATIENCE, "never paid: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "acknowledged {:?} after the kill, answers {statuses:?}",
        killed_at.elapsed()
    );
    let reconciled = next_line(&provider, PATIENCE).await;
    assert_eq!(reconciled.as_deref(), Some(line("reconciled", 2).as_str()));
    assert_eq!(
        next_line(&provider, Duration::from_millis(500)).await,
        None,
        "nothing else is printed: no second transfer"
    );
    let store = db.open().await;
    assert_eq!(
        store.record(&key).await.unwrap(),
        Some(Record {
            state: State::Done,
            attempt: 2,
            fingerprint: payment_fingerprint(),
        })
    );

    // A further duplicate is acknowledged and prints nothing.
    let late = send(
        &client,
        &provider.base,
        chainvine_request(payment_request_body(5, 99)),
    )
    .await;
    assert_eq!(late.status, StatusCode::OK, "{late:?}");
    assert_eq!(next_line(&provider, Duration::from_millis(500)).await, None);
    assert_eq!(
        store
            .record(&key)
            .await
            .unwrap()
            .map(|r| (r.state, r.attempt)),
        Some((State::Done, 2))
    );
}

// ---------------------------------------------------------------------------------------
// 5-7. Deliveries that are never paid, and keys.

#[tokio::test]
async fn an_unsigned_insecure_payment_request_is_never_paid() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let others = Counter::default();
    let dispatcher = Dispatcher::<chainvine::Event>::new()
        .on_any(counting_catch_all(&others))
        .on_payment_request(
            store.clone(),
            recording_handler(&calls, |_| async { Ok(()) }),
        );
    let (base, _seen) =
        serve_chainvine(chainvine().accept_unsigned_insecure_requests(), dispatcher).await;
    let client = http_client();
    let unsigned = |body: Vec<u8>| {
        Request::post("/webhooks/chainvine")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };

    let payment = edited_payment_body(6, 0, |json| json["secure_request"] = false.into());
    let answer = send(&client, &base, unsigned(payment)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert!(
        answer.body.contains("unsigned payment request"),
        "{answer:?}"
    );
    assert!(calls.all().is_empty(), "{:?}", calls.all());
    assert_eq!(others.get(), 0);
    assert_eq!(store.record(&payment_key(6)).await.unwrap(), None);

    // The opt-in itself works: an unsigned insecure event that pays nothing is taken.
    let mut joined: Value =
        serde_json::from_slice(&fixture("chainvine/user_joined_campaign.json")).unwrap();
    joined["secure_request"] = false.into();
    let answer = send(
        &client,
        &base,
        unsigned(serde_json::to_vec(&joined).unwrap()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(others.get(), 1);
    assert!(calls.all().is_empty());
}

#[tokio::test]
async fn a_payment_request_under_an_unconfigured_name_is_refused_then_paid_once_configured() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let others = Counter::default();
    let dispatcher = || {
        Dispatcher::<chainvine::Event>::new()
            .on_any(counting_catch_all(&others))
            .on_payment_request(
                store.clone(),
                recording_handler(&calls, |_| async { Ok(()) }),
            )
    };
    let client = http_client();
    let key = payment_key(7);
    let renamed = |delivery| {
        edited_payment_body(7, delivery, |json| {
            json["event"]["name"] = "PAYOUT_REQUESTED".into();
        })
    };

    let (default_names, _) = serve_chainvine(chainvine(), dispatcher()).await;
    let refused = send(&client, &default_names, chainvine_request(renamed(0))).await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{refused:?}"
    );
    assert!(calls.all().is_empty());
    assert_eq!(others.get(), 0, "not acknowledged by the catch-all either");
    assert_eq!(store.record(&key).await.unwrap(), None);

    let names = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
    let (configured, _) = serve_chainvine(chainvine().with_event_names(names), dispatcher()).await;
    let paid = send(&client, &configured, chainvine_request(renamed(1))).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(others.get(), 0);
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
}

#[tokio::test]
async fn a_payment_request_without_a_usable_id_is_refused_and_nothing_is_claimed() {
    let db = TempDb::new();
    let store = Instrumented::new(db.open().await, Duration::ZERO);
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        Arc::clone(&store),
        recording_handler(&calls, |_| async { Ok(()) }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();

    let no_ids = edited_payment_body(8, 0, |json| {
        data(json).remove("payment_request_id");
        json["event_id"] = "".into();
    });
    let blank_ids = edited_payment_body(8, 1, |json| {
        data(json).insert("id".into(), "".into());
        data(json).insert("payment_request_id".into(), "  ".into());
        json["event_id"] = " ".into();
    });
    for body in [no_ids, blank_ids] {
        let answer = send(&client, &base, chainvine_request(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answer:?}"
        );
        assert!(answer.body.contains("without an id"), "{answer:?}");
    }
    assert!(calls.all().is_empty(), "{:?}", calls.all());
    assert_eq!(store.claims.get(), 0, "nothing claimed");
    for key in [
        payment_key(8),
        format!("chainvine:{PAYMENT_COMMUNITY}:event:"),
    ] {
        assert_eq!(store.record(&key).await.unwrap(), None, "{key}");
    }
}

#[tokio::test]
async fn a_blank_data_id_beside_a_payment_request_id_keys_on_the_payment_request_id() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        store.clone(),
        recording_handler(&calls, |_| async { Ok(()) }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    let body = |delivery| {
        edited_payment_body(9, delivery, |json| {
            data(json).insert("id".into(), "".into());
        })
    };

    for delivery in 0..2 {
        let answer = send(&client, &base, chainvine_request(body(delivery))).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    assert_eq!(
        calls.all(),
        [Call {
            key: payment_key(9),
            attempt: 1,
            recovery: None
        }]
    );
    assert_eq!(
        store.record(&payment_key(9)).await.unwrap(),
        done_by_first_attempt()
    );
    assert_eq!(
        store
            .record(&format!("chainvine:{PAYMENT_COMMUNITY}:event:evt-9"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_paid_key_redelivered_with_another_amount_or_wallet_is_refused_with_409() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        store.clone(),
        recording_handler(&calls, |_| async { Ok(()) }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    let key = payment_key(10);

    let paid = send_payment(&client, &base, 10, 0).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");

    let more = edited_payment_body(10, 1, |json| {
        data(json).insert("amount".into(), "1500.000".into());
    });
    let elsewhere = edited_payment_body(10, 2, |json| {
        data(json).insert(
            "wallet_address".into(),
            "0x000000000000000000000000000000000000dEaD".into(),
        );
    });
    for (what, body) in [("another amount", more), ("another wallet", elsewhere)] {
        let answer = send(&client, &base, chainvine_request(body)).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{what}: {answer:?}");
        assert!(answer.body.starts_with("conflict"), "{what}: {answer:?}");
        assert_eq!(calls.attempts(&key), [1], "{what}");
        assert_eq!(
            store.record(&key).await.unwrap(),
            done_by_first_attempt(),
            "{what}"
        );
    }
    // The original content is still acknowledged.
    let again = send_payment(&client, &base, 10, 3).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(calls.attempts(&key), [1]);
}

#[tokio::test]
async fn the_same_payment_id_in_two_communities_is_two_payouts() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        store.clone(),
        recording_handler(&calls, |_| async { Ok(()) }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    const OTHER: &str = "7c1d2e3f-0a9b-4c8d-8e7f-6a5b4c3d2e1f";

    let first = send_payment(&client, &base, 11, 0).await;
    let other = edited_payment_body(11, 1, |json| {
        json["source"]["community"]["id"] = OTHER.into();
    });
    let second = send(&client, &base, chainvine_request(other)).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::OK, StatusCode::OK),
        "{first:?} {second:?}"
    );
    let other_key = format!("chainvine:{OTHER}:payment:pr_test_11");
    assert_eq!(calls.attempts(&payment_key(11)), [1]);
    assert_eq!(calls.attempts(&other_key), [1]);
    for key in [payment_key(11), other_key] {
        assert_eq!(
            store.record(&key).await.unwrap(),
            done_by_first_attempt(),
            "{key}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 8. Panics.

#[tokio::test]
async fn after_a_panic_the_next_delivery_runs_as_a_recovery() {
    let db = TempDb::new();
    let store = db.open().await;
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        store.clone(),
        recording_handler(&calls, |payout| async move {
            if payout.attempt() == 1 {
                panic!("the transfer left, then the handler panicked");
            }
            Ok(())
        }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    let key = payment_key(12);

    let panicked = send_payment(&client, &base, 12, 0).await;
    assert_eq!(
        panicked.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{panicked:?}"
    );
    assert_eq!(
        store
            .record(&key)
            .await
            .unwrap()
            .map(|r| (r.state, r.attempt)),
        Some((State::Panicked, 1))
    );

    let recovered = send_payment(&client, &base, 12, 1).await;
    assert_eq!(recovered.status, StatusCode::OK, "{recovered:?}");
    let recovery = Recovery {
        previous_attempt: 1,
        reason: Unresolved::Panicked,
    };
    assert_eq!(
        calls.all(),
        [
            Call {
                key: key.clone(),
                attempt: 1,
                recovery: None
            },
            Call {
                key: key.clone(),
                attempt: 2,
                recovery: Some(recovery)
            },
        ]
    );
    assert_eq!(
        store.record(&key).await.unwrap(),
        Some(Record {
            state: State::Done,
            attempt: 2,
            fingerprint: payment_fingerprint(),
        })
    );
}

#[tokio::test]
async fn after_a_panic_a_held_key_runs_nothing_until_an_operator_settles_it() {
    let db = TempDb::new();
    let store = db.open().await;
    let claims = Idempotency::new(store.clone()).with_recovery_policy(RecoveryPolicy::Hold);
    let calls = Calls::default();
    let dispatcher = Dispatcher::new().on_payment_request(
        claims.clone(),
        recording_handler(&calls, |_| async {
            panic!("the transfer left, then the handler panicked")
        }),
    );
    let (base, _) = serve_chainvine(chainvine(), dispatcher).await;
    let client = http_client();
    let key = payment_key(13);

    let panicked = send_payment(&client, &base, 13, 0).await;
    assert_eq!(
        panicked.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{panicked:?}"
    );
    for delivery in 1..=2 {
        let held = send_payment(&client, &base, 13, delivery).await;
        assert_eq!(held.status, StatusCode::SERVICE_UNAVAILABLE, "{held:?}");
        assert!(held.headers.contains_key(header::RETRY_AFTER), "{held:?}");
    }
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(
        store
            .record(&key)
            .await
            .unwrap()
            .map(|r| (r.state, r.attempt)),
        Some((State::Panicked, 1))
    );

    // The operator finds the transfer in the payment system.
    assert!(claims.resolve(&key, Resolution::Paid).await.unwrap());
    let settled = send_payment(&client, &base, 13, 3).await;
    assert_eq!(settled.status, StatusCode::OK, "{settled:?}");
    assert_eq!(calls.attempts(&key), [1]);
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
}

// ---------------------------------------------------------------------------------------
// 9. Leases.

#[tokio::test]
async fn a_run_longer_than_its_lease_keeps_its_key_from_duplicates() {
    let db = TempDb::new();
    let store = db.open().await;
    let lease = Duration::from_secs(1);
    let calls = Calls::default();
    let handler = || {
        recording_handler(&calls, |_| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        })
    };
    let claims = Idempotency::new(store.clone()).with_lease(lease).unwrap();
    // Two receivers on one store: one whose duplicates wait for the run, one whose
    // duplicates are told at once to come back later.
    let (waiting, _) = serve_chainvine(
        chainvine(),
        Dispatcher::new().on_payment_request(claims.clone(), handler()),
    )
    .await;
    let (impatient, _) = serve_chainvine(
        chainvine(),
        Dispatcher::new().on_payment_request(claims.with_wait(Duration::ZERO), handler()),
    )
    .await;
    let client = http_client();
    let key = payment_key(14);

    let first = tokio::spawn({
        let (client, base) = (client.clone(), waiting.clone());
        async move { send_payment(&client, &base, 14, 0).await }
    });
    wait_until("the payout runs", || calls.len() == 1).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Two leases after the run started: it still holds the key.
    let busy = send(
        &client,
        &impatient,
        chainvine_request(payment_request_body(14, 1)),
    )
    .await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{busy:?}");
    assert!(busy.headers.contains_key(header::RETRY_AFTER), "{busy:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "asked while the run was going"
    );
    let waited = send(
        &client,
        &waiting,
        chainvine_request(payment_request_body(14, 2)),
    )
    .await;
    assert_eq!(waited.status, StatusCode::OK, "{waited:?}");
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(calls.attempts(&key), [1], "{:?}", calls.all());
    assert_eq!(store.record(&key).await.unwrap(), done_by_first_attempt());
}

#[tokio::test]
async fn leases_outside_the_accepted_range_are_configuration_errors() {
    let db = TempDb::new();
    let store = db.open().await;
    for lease in [Duration::ZERO, Duration::MAX] {
        match Idempotency::new(store.clone()).with_lease(lease) {
            Err(ConfigError::InvalidLease { given, .. }) => assert_eq!(given, lease),
            other => panic!("{lease:?}: {other:?}"),
        }
    }
    assert_eq!(
        Idempotency::new(store)
            .with_lease(Duration::from_secs(1))
            .unwrap()
            .lease(),
        Duration::from_secs(1)
    );
}

// ---------------------------------------------------------------------------------------
// 10. The example receiver keeps its payout claims across a restart.

fn start_receiver_on(db: &TempDb) -> Receiver {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(built_example("receiver"));
    command
        .env("HOOKGUARD_ADDR", &addr)
        .env("CLAIMR_SECRET", CLAIMR_SECRET)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("STANDARD_SECRET", STANDARD_SECRET)
        .env("HOOKGUARD_DB", db.location())
        .env("RUST_LOG", "warn");
    start_process(command, &addr, |line| Some(line.to_owned()))
}

#[tokio::test]
async fn the_example_receiver_does_not_pay_again_after_a_restart() {
    let db = TempDb::new();
    let client = http_client();
    let fixture_body = fixture("chainvine/payment_request.json");
    let event = chainvine::Event::from_slice(&fixture_body).unwrap();
    let key = hookguard::payout::idempotency_key(&event).unwrap();

    let mut receiver = start_receiver_on(&db);
    let answer = send(
        &client,
        &receiver.base,
        chainvine_request(fixture_body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let line = next_line(&receiver, PATIENCE).await.unwrap();
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        line,
        serde_json::json!({
            "provider": "chainvine",
            "event": "PAYMENT_REQUEST",
            "id": event.event_id(),
        })
    );
    assert_eq!(next_line(&receiver, Duration::from_millis(300)).await, None);
    receiver.kill();

    let receiver = start_receiver_on(&db);
    let answer = send(&client, &receiver.base, chainvine_request(fixture_body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        next_line(&receiver, Duration::from_millis(500)).await,
        None,
        "paid again after the restart"
    );
    let record = db.open().await.record(&key).await.unwrap();
    assert_eq!(
        record.map(|r| (r.state, r.attempt)),
        Some((State::Done, 1)),
        "{key}"
    );
}

// ---------------------------------------------------------------------------------------
// 11. Dedup for a generic HMAC sender keys on what is signed.

#[tokio::test]
async fn dedup_of_a_github_delivery_keys_on_the_signed_body_not_the_unsigned_delivery_id() {
    const SECRET: &str = "github-test-secret";
    let db = TempDb::new();
    let store = db.open().await;
    let runs = Counter::default();
    let github = HmacSender::github().with_secret(SECRET).build().unwrap();
    let dispatcher = Dispatcher::<hookguard::hmac_sender::Event>::new()
        .with_dedup(store.clone())
        .on_any(counting_catch_all(&runs));
    let app = Router::new().route_service(
        "/webhooks/github",
        WebhookLayer::new(github).layer(dispatcher),
    );
    let base = format!("http://{}", serve_loopback(app).await);
    let client = http_client();
    let delivery = |body: &'static str, id: &str| {
        Request::post("/webhooks/github")
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", id)
            .header(
                "X-Hub-Signature-256",
                signature(&HmacSender::github_scheme(), SECRET, body.as_bytes()),
            )
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let key = |body: &str| {
        use sha2::Digest;
        format!(
            "delivery:github:sha256:{}",
            hex::encode(sha2::Sha256::digest(body.as_bytes()))
        )
    };
    const PUSH: &str = r#"{"ref":"refs/heads/main","after":"aaaa"}"#;
    const OTHER_PUSH: &str = r#"{"ref":"refs/heads/main","after":"bbbb"}"#;
    const THIRD_PUSH: &str = r#"{"ref":"refs/heads/main","after":"cccc"}"#;

    // One body under two delivery ids (a replay with a fresh, unsigned id): once.
    for id in ["d-1", "d-2"] {
        let answer = send(&client, &base, delivery(PUSH, id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    assert_eq!(runs.get(), 1);

    // Two bodies under one delivery id: two events, both handled.
    for body in [OTHER_PUSH, THIRD_PUSH] {
        let answer = send(&client, &base, delivery(body, "d-3")).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    assert_eq!(runs.get(), 3);
    for body in [PUSH, OTHER_PUSH, THIRD_PUSH] {
        assert_eq!(
            store
                .record(&key(body))
                .await
                .unwrap()
                .map(|r| (r.state, r.attempt)),
            Some((State::Done, 1)),
            "{body}"
        );
    }
    for id in ["d-1", "d-2", "d-3"] {
        let by_id = format!("delivery:github:id:{id}");
        assert_eq!(store.record(&by_id).await.unwrap(), None, "{by_id}");
    }
}
