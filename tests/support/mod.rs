//! Helpers shared by the integration tests: signed requests and fixtures.
#![allow(dead_code)]

use bytes::Bytes;
use hookguard::{Secret, SignatureScheme};
use http::{HeaderMap, Request};
use http_body_util::Full;

pub const CLAIMR_SECRET: &str = "claimr-test-secret";
pub const CHAINVINE_SECRET: &str = "chainvine-test-secret";

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The signature header value for `body` under `scheme` and `secret`.
pub fn signature(scheme: &SignatureScheme, secret: &str, body: &[u8]) -> http::HeaderValue {
    scheme
        .sign(&Secret::new(secret).unwrap(), &HeaderMap::new(), body)
        .unwrap()
}

/// A POST of `body` as JSON to `uri`, signed under `scheme` with `secret`.
pub fn signed_request(
    uri: &str,
    scheme: &SignatureScheme,
    secret: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let body = body.into();
    Request::post(uri)
        .header("content-type", "application/json")
        .header(scheme.header(), signature(scheme, secret, &body))
        .body(Full::new(body))
        .unwrap()
}

pub fn claimr_request(body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    signed_request(
        "/webhooks/claimr",
        &hookguard::Claimr::default_scheme(),
        CLAIMR_SECRET,
        body,
    )
}

pub fn chainvine_request(body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    signed_request(
        "/webhooks/chainvine",
        &hookguard::ChainVine::default_scheme(),
        CHAINVINE_SECRET,
        body,
    )
}

pub async fn body_text<B>(body: B) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    let bytes = body.collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A ChainVine payment request for payout `n`, delivered as HTTP request `delivery`:
/// the payment request id and event id depend on `n` only, the request id on both, as a
/// retry could carry a new one.
pub fn payment_request_body(n: usize, delivery: usize) -> Vec<u8> {
    let body = String::from_utf8(fixture("chainvine/payment_request.json")).unwrap();
    body.replace("pr_01HY3K9QZ8W7V6T5S4R3Q2P1N0", &format!("pr_test_{n}"))
        .replace("1a2b3c4d-5e6f-4a8b-9c0d-e1f2a3b4c5d6", &format!("evt-{n}"))
        .replace(
            "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
            &format!("req-{n}-{delivery}"),
        )
        .into_bytes()
}

/// The idempotency key hookguard gives payout `n` of [`payment_request_body`].
pub fn payment_key(n: usize) -> String {
    format!("chainvine:{PAYMENT_COMMUNITY}:payment:pr_test_{n}")
}

/// The community of `chainvine/payment_request.json`, which scopes its keys.
pub const PAYMENT_COMMUNITY: &str = "2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e";

/// The Standard Webhooks secret of the tests (the reference libraries' test secret).
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A POST of `body` as JSON to `/webhooks/standard`, signed as Standard Webhooks
/// senders sign, with message id `id` and timestamp `timestamp` (unix seconds).
pub fn standard_request(id: &str, timestamp: i64, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let body = body.into();
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", http::HeaderValue::from_str(id).unwrap());
    headers.insert("webhook-timestamp", http::HeaderValue::from(timestamp));
    let signature = hookguard::Standard::default_scheme()
        .sign(
            &Secret::from_standard(STANDARD_SECRET).unwrap(),
            &headers,
            &body,
        )
        .unwrap();
    let mut request = Request::post("/webhooks/standard")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    headers.insert("webhook-signature", signature);
    request.headers_mut().extend(headers);
    request
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The example receiver, run as a user runs it; killed and waited for when dropped.
pub struct Receiver {
    child: std::process::Child,
    /// Its stdout, line by line.
    pub lines: std::sync::mpsc::Receiver<String>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Receiver {
    /// Kills the process (SIGKILL on Unix: no cleanup, as in a crash) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An example's binary: integration tests live in target/<profile>/deps, and cargo
/// builds examples beside it.
pub fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `examples/receiver` with the tests' secrets and waits until it accepts
/// connections.
pub fn start_example_receiver() -> Receiver {
    start_example_receiver_with(&[])
}

/// As [`start_example_receiver`], with further environment variables (such as
/// `STANDARD_PUBLIC_KEY`).
pub fn start_example_receiver_with(env: &[(&str, &str)]) -> Receiver {
    let path = example_path("receiver");
    assert!(path.exists(), "{} is not built", path.display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = std::process::Command::new(path);
    command
        .env("HOOKGUARD_ADDR", &addr)
        .env("CLAIMR_SECRET", CLAIMR_SECRET)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("STANDARD_SECRET", STANDARD_SECRET)
        // Payout claims of its own, so that each run pays its payment requests afresh.
        .env(
            "HOOKGUARD_DB",
            std::env::temp_dir().join(format!("{}.db", unique_name("hookguard_receiver"))),
        )
        .env("RUST_LOG", "warn");
    command.envs(env.iter().copied());
    start_process(command, &addr, |line| Some(line.to_owned()))
}

/// Starts `command` (a server that will listen on `addr`), keeps the stdout lines that
/// `keep` maps to `Some`, and waits until it accepts connections.
pub fn start_process(
    mut command: std::process::Command,
    addr: &str,
    keep: fn(&str) -> Option<String>,
) -> Receiver {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    // Owned by `Receiver` from here on, so that it is killed and waited for on any exit.
    let receiver = Receiver {
        child,
        lines,
        base: format!("http://{addr}"),
    };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(line) = keep(&line) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    });
    assert!(
        wait_for_listener(addr),
        "{command:?} did not start on {addr}"
    );
    receiver
}

/// An HTTP/1 client for loopback tests.
pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A new [`HttpClient`].
pub fn http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// Sends `request` (whose URI is a path) to `base` and returns the status and body.
pub async fn send_to(
    client: &HttpClient,
    base: &str,
    request: Request<Full<Bytes>>,
) -> (http::StatusCode, String) {
    let (mut parts, body) = request.into_parts();
    parts.uri = format!("{base}{}", parts.uri).parse().unwrap();
    let response = client
        .request(Request::from_parts(parts, body))
        .await
        .unwrap();
    let status = response.status();
    (status, body_text(response.into_body()).await)
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_listener(addr: &str) -> bool {
    for _ in 0..400 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    false
}

/// A unique name for this test run's files and tables.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A request body of any kind, boxed, for tests that mix full, streamed and stalled
/// bodies in one table.
pub type TestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, hookguard::BoxError>;

/// A body holding `bytes` in one frame.
pub fn full_body(bytes: impl Into<Bytes>) -> TestBody {
    use http_body_util::BodyExt;
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body sent as `chunks`, one frame each (as a chunked upload arrives), that then
/// ends, fails with an I/O error, or never sends another frame.
pub fn chunked_body(chunks: Vec<Bytes>, end: BodyEnd) -> TestBody {
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};
    let frames = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| Ok::<_, hookguard::BoxError>(http_body::Frame::data(chunk))),
    );
    match end {
        BodyEnd::Ends => StreamBody::new(frames).boxed_unsync(),
        BodyEnd::Fails => StreamBody::new(frames.chain(futures_util::stream::once(async {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into())
        })))
        .boxed_unsync(),
        BodyEnd::Stalls => {
            StreamBody::new(frames.chain(futures_util::stream::pending())).boxed_unsync()
        }
    }
}

/// How a [`chunked_body`] finishes.
#[derive(Clone, Copy, Debug)]
pub enum BodyEnd {
    /// After its last chunk, like a complete upload.
    Ends,
    /// With an I/O error, like a dropped connection.
    Fails,
    /// Never: the sender stops sending and keeps the connection open.
    Stalls,
}

/// Serves `app` on an ephemeral loopback port until the test's runtime ends.
pub async fn serve_loopback(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Writes `bytes` to `addr` as they are (a hand-made HTTP/1.1 request, lies included),
/// leaves the connection open for writing, and returns the response's status code, or
/// `None` if the server closed the connection without one within `wait`.
pub async fn raw_http_status(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    wait: std::time::Duration,
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut head = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok()?;
    let line = String::from_utf8_lossy(&head);
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The test PostgreSQL server's URL with a fresh schema of its own as the search path
/// (so that a test's tables start empty and meet no other run's), or `None`, loudly, when
/// no server is reachable outside CI.
#[cfg(feature = "postgres")]
pub async fn postgres_schema_url(prefix: &str) -> Option<String> {
    use sqlx::Executor;
    let url = std::env::var("HOOKGUARD_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://hookguard:hookguard@127.0.0.1:5432/hookguard".into());
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sqlx::PgPool::connect(&url),
    )
    .await;
    let pool = match connected {
        Ok(Ok(pool)) => pool,
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
            return None;
        }
    };
    let schema = unique_name(prefix);
    pool.execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}
