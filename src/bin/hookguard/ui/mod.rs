//! `listen --ui`: the delivery inspector, a live page served by the listener itself.
//!
//! `GET /` is the inspector; every other request, any method and any path, is a delivery,
//! as without `--ui`. The page's data and buttons are `GET /?…` requests too, so that no
//! path a sender might use is taken:
//!
//! | request | what |
//! |---|---|
//! | `GET /` | the page (HTML, CSS and script built into the binary) |
//! | `GET /?events` | server-sent events: each delivery as it arrives or changes |
//! | `GET /?deliveries` | the history, newest first |
//! | `GET /?delivery=KEY` | one delivery: headers, body, typed event, detect, curl |
//! | `GET /?samples` | what the send-a-sample form offers |
//! | `GET /?replay=KEY` | re-send a delivery to `--forward-to` (an action) |
//! | `GET /?send=PROVIDER&event=NAME` | send a signed sample to the listener (an action) |
//!
//! On a loopback address only requests naming it (`Host: 127.0.0.1:PORT`, `localhost`,
//! `[::1]`) are served, so that a web page cannot read it through a DNS name rebound to
//! 127.0.0.1. Actions also need the `X-Hookguard-Inspector` header, which another site's
//! page cannot send without a preflight the listener never grants, and which a link or
//! an image cannot carry.

mod history;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::ValueEnum;
use hookguard::inbox::ReceivedDelivery;
use hookguard::WebhookEvent;
use hookguard::{chainvine, claimr, standard, HmacSender, ParseError, Provider, SignatureError};
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING, USER_AGENT,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{broadcast, OnceCell, Semaphore};

use crate::detect::Report;
use crate::net::Listener;
use crate::providers::{self, ProviderArg};
use crate::style::pretty_json;

use history::History;

/// The page: one file, its style and script inline.
const PAGE: &str = include_str!("page.html");

/// The body of every response the listener gives.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// `bytes` as a whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// How much of an answer's body is kept, as claimr's Test tool shows the start of it.
const DATA_KEPT: usize = 500;
/// How many deliveries the page is given when it opens.
const HISTORY_SHOWN: u32 = 500;
/// The header an action needs.
const ACTION_HEADER: &str = "x-hookguard-inspector";
/// The verdicts that are a signature's: for these the page shows what `--detect` finds.
const SIGNATURE_VERDICTS: [&str; 5] = [
    "missing signature",
    "malformed signature",
    "signature mismatch",
    "malformed timestamp",
    "timestamp outside the tolerance window",
];

/// `listen.db` in the user's data directory: `$XDG_DATA_HOME/hookguard`, or
/// `~/.local/share/hookguard`.
pub fn default_db() -> Option<PathBuf> {
    data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
        .map(|dir| dir.join("hookguard").join("listen.db"))
}

fn data_dir(xdg: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> Option<PathBuf> {
    // The XDG spec ignores a relative value.
    if let Some(xdg) = xdg.map(PathBuf::from).filter(|dir| dir.is_absolute()) {
        return Some(xdg);
    }
    let home = home.map(PathBuf::from).filter(|dir| dir.is_absolute())?;
    Some(home.join(".local").join("share"))
}

/// Where a listener bound to `bound` is reached from this machine: an unspecified
/// address (`0.0.0.0`) is reached on loopback.
pub fn reachable(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound.port())
        }
        _ => bound,
    }
}

/// What a forward target (or a replay's) answered, as claimr's Test tool shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forwarded {
    /// Where it went.
    target: String,
    /// When it was sent.
    at: String,
    /// Whether an answer came back.
    success: bool,
    /// The answer's status.
    status: Option<u16>,
    /// The start of the answer's body.
    data: String,
    /// Why no answer came back.
    error: Option<String>,
}

impl Forwarded {
    /// `target` answered `status` with `data`.
    pub fn answered(target: &Uri, status: StatusCode, data: &[u8]) -> Self {
        Forwarded {
            target: target.to_string(),
            at: now_text(),
            success: true,
            status: Some(status.as_u16()),
            data: String::from_utf8_lossy(data)
                .chars()
                .take(DATA_KEPT)
                .collect(),
            error: None,
        }
    }

    /// `target` gave no answer, for `error`.
    pub fn failed(target: &Uri, error: String) -> Self {
        Forwarded {
            target: target.to_string(),
            at: now_text(),
            success: false,
            status: None,
            data: String::new(),
            error: Some(error),
        }
    }

    /// The status answered, when one was.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Why no answer came, when none did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// What the inspector keeps of a delivery beside the journal's row (which holds its
/// headers and body): how it arrived and how it was answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: String,
    received_at: String,
    method: String,
    /// The path and query.
    target: String,
    provider: String,
    event: String,
    id: String,
    /// In the words of the README's refusal table, or `verified`.
    verdict: String,
    verified: bool,
    /// What the listener answered.
    status: u16,
    answer: String,
    /// What `--forward-to` answered.
    forward: Option<Forwarded>,
    /// What each replay got.
    replays: Vec<Forwarded>,
    /// Whether the body was kept (a body over the cap is not read).
    body_kept: bool,
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A key no other delivery has: its time, then randomness.
fn new_key() -> String {
    let mut random = [0u8; 6];
    // Without randomness the time alone still orders and nearly always separates them.
    let _ = getrandom::fill(&mut random);
    let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("listen-{millis}-{}", hex::encode(random))
}

/// A key as [`new_key`] makes them: nothing else is looked up.
fn is_key(text: &str) -> bool {
    text.starts_with("listen-")
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The inspector of one listener: its history, the page's live feed, and what
/// `--detect` found for the deliveries shown.
pub struct Inspector {
    history: History,
    events: broadcast::Sender<Bytes>,
    path: PathBuf,
    detections: Detections,
}

/// The detection reports of the deliveries the page showed, worked out once each and
/// one at a time. A delivery and the listener's secrets never change, and the page asks
/// again for the delivery it shows on each event of that delivery and whenever the feed
/// lags: without this, every ask would start a detection (HMACs over a body of up to
/// 1 MiB) of its own, all competing for the machine's two cores.
struct Detections {
    reports: std::sync::Mutex<HashMap<String, Arc<OnceCell<Arc<Report>>>>>,
    /// One detection runs at a time.
    running: Arc<Semaphore>,
    /// At most [`MOST_ASKS`] asks wait or run, each holding its delivery's copy; past
    /// them the page is told to ask again, so that asks cannot pile up behind a long
    /// detection.
    asks: Arc<Semaphore>,
}

/// The most reports kept; past it the cache starts again (a page shows one delivery at
/// a time, so the ones it comes back to are few).
const MOST_REPORTS: usize = 256;

/// The most asks for a report that wait or run at once.
const MOST_ASKS: usize = 4;

/// What the page is told of a delivery's detection.
enum Detected {
    /// The report.
    Report(Arc<Report>),
    /// Other detections are running or waiting: ask again in a moment.
    Busy,
    /// The detection failed (it panicked): no report.
    Failed,
}

impl Detected {
    /// As the page reads it: the report, `{"busy":true}`, or `null`.
    fn to_json(&self) -> serde_json::Value {
        match self {
            Detected::Report(report) => json!(&**report),
            Detected::Busy => json!({ "busy": true }),
            Detected::Failed => serde_json::Value::Null,
        }
    }
}

impl Detections {
    fn new() -> Self {
        Detections {
            reports: std::sync::Mutex::default(),
            running: Arc::new(Semaphore::new(1)),
            asks: Arc::new(Semaphore::new(MOST_ASKS)),
        }
    }

    /// The report for the delivery `key`, worked out by `detect` unless it was already.
    /// The work goes on when the page that asked goes away, and its report is kept for
    /// the next ask.
    async fn report(
        &self,
        key: &str,
        detect: impl FnOnce() -> Report + Send + 'static,
    ) -> Detected {
        let cell = {
            let mut reports = self
                .reports
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if reports.len() >= MOST_REPORTS && !reports.contains_key(key) {
                reports.clear();
            }
            Arc::clone(reports.entry(key.to_owned()).or_default())
        };
        if let Some(report) = cell.get() {
            return Detected::Report(Arc::clone(report));
        }
        let Ok(ask) = Arc::clone(&self.asks).try_acquire_owned() else {
            return Detected::Busy;
        };
        let running = Arc::clone(&self.running);
        let work = tokio::spawn(async move {
            let _asking = ask;
            cell.get_or_try_init(|| async move {
                let permit = running.acquire_owned().await.map_err(|_| ())?;
                tokio::task::spawn_blocking(move || {
                    let _one_at_a_time = permit;
                    Arc::new(detect())
                })
                .await
                .map_err(|_| ())
            })
            .await
            .map(Arc::clone)
        });
        match work.await {
            Ok(Ok(report)) => Detected::Report(report),
            _ => {
                eprintln!("hookguard: inspector: signature detection failed for {key}");
                Detected::Failed
            }
        }
    }
}

impl Inspector {
    /// Opens (or creates) the history at `path`.
    ///
    /// # Errors
    ///
    /// Why the file cannot be used, in words.
    pub async fn open(path: &Path) -> Result<Self, String> {
        let history = History::open(path).await?;
        let (events, _) = broadcast::channel(256);
        Ok(Inspector {
            history,
            events,
            path: path.to_owned(),
            detections: Detections::new(),
        })
    }

    /// The history's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn publish(&self, entry: &Entry) {
        if let Ok(json) = serde_json::to_string(entry) {
            // No page open is no error.
            let _ = self
                .events
                .send(Bytes::from(format!("event: delivery\ndata: {json}\n\n")));
        }
    }

    async fn keep(&self, entry: &Entry, headers: &HeaderMap, body: &[u8]) {
        let mut delivery = ReceivedDelivery::new(&entry.provider, &entry.key, headers, body)
            .with_event(&entry.id, &entry.event);
        if !entry.verified {
            delivery = delivery.refused(&entry.verdict);
        }
        if let Err(err) = self.history.insert(entry, &delivery).await {
            eprintln!("hookguard: inspector: cannot keep a delivery: {err}");
        }
        self.publish(entry);
    }

    /// Records a delivery refused before its body was read.
    pub async fn refused(&self, parts: &Parts, verdict: &str, status: StatusCode, answer: &str) {
        let entry = Entry {
            key: new_key(),
            received_at: now_text(),
            method: parts.method.to_string(),
            target: target_text(&parts.uri),
            provider: "unknown".to_owned(),
            event: String::new(),
            id: String::new(),
            verdict: verdict.to_owned(),
            verified: false,
            status: status.as_u16(),
            answer: answer.to_owned(),
            forward: None,
            replays: Vec::new(),
            body_kept: false,
        };
        self.keep(&entry, &parts.headers, b"").await;
    }

    /// Records a delivery the listener read and answered `status` with `answer`, given
    /// what its verifiers found; the key it is kept under.
    pub async fn received(
        &self,
        listener_providers: &[ProviderArg],
        parts: &Parts,
        body: &Bytes,
        outcome: &Result<ProviderArg, (Option<ProviderArg>, SignatureError)>,
        status: StatusCode,
        answer: &str,
    ) -> String {
        let (provider, signature) = match outcome {
            Ok(provider) => (Some(*provider), None),
            Err((provider, err)) => (*provider, Some(err)),
        };
        // A sender none of the schemes recognised may still be one whose events the
        // listener can read: its event and id help find the delivery in the list.
        let readers = provider.map_or_else(|| listener_providers.to_vec(), |p| vec![p]);
        let (event, id) = readers
            .iter()
            .filter_map(|p| providers::describe(p.name(), &parts.headers, body))
            .find(|(event, id)| !event.is_empty() || !id.is_empty())
            .unwrap_or_default();
        // In the layer's order: the content type, the signature, then the body.
        let verdict = if !is_json(&parts.headers) {
            "unsupported media type".to_owned()
        } else if let Some(err) = signature {
            err.to_string()
        } else {
            match provider.map(|p| typed(p, &parts.headers, body)) {
                Some(Err(ParseError::Syntax { .. })) => "malformed JSON".to_owned(),
                Some(Err(ParseError::Data { path, .. })) => format!("invalid event at `{path}`"),
                Some(Err(err)) => err.to_string(),
                Some(Ok(_)) | None => "verified".to_owned(),
            }
        };
        let entry = Entry {
            key: new_key(),
            received_at: now_text(),
            method: parts.method.to_string(),
            target: target_text(&parts.uri),
            provider: provider.map_or("unknown", ProviderArg::name).to_owned(),
            event,
            id,
            verified: verdict == "verified",
            verdict,
            status: status.as_u16(),
            answer: answer.to_owned(),
            forward: None,
            replays: Vec::new(),
            body_kept: true,
        };
        self.keep(&entry, &parts.headers, body).await;
        entry.key
    }

    /// Records what the forward target answered the delivery kept under `key`.
    pub async fn forwarded(&self, key: &str, forwarded: Forwarded) {
        let changed = self
            .history
            .update(key, |entry| entry.forward = Some(forwarded))
            .await;
        match changed {
            Ok(Some(entry)) => self.publish(&entry),
            Ok(None) => {}
            Err(err) => eprintln!("hookguard: inspector: cannot keep a forward's answer: {err}"),
        }
    }

    /// Answers a `GET /` request: the page, its feed, its data or one of its actions.
    pub async fn serve(
        &self,
        listener: &Arc<Listener>,
        request: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        let (parts, _) = request.into_parts();
        if !host_allowed(listener.bound, &parts.headers) {
            return error(
                StatusCode::MISDIRECTED_REQUEST,
                "the inspector answers only requests to its own loopback address",
            );
        }
        let params = parse_query(parts.uri.query().unwrap_or_default());
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let Some((first, value)) = params.first() else {
            return page();
        };
        match first.as_str() {
            "events" => self.feed(),
            "deliveries" => self.list().await,
            "delivery" => self.detail(listener, value).await,
            "samples" => samples(listener),
            "replay" | "send" => {
                if !action_allowed(&parts.headers) {
                    return error(
                        StatusCode::FORBIDDEN,
                        "an action needs the X-Hookguard-Inspector header, from the page",
                    );
                }
                if first == "replay" {
                    self.replay(listener, value).await
                } else {
                    send_sample(
                        listener,
                        value,
                        param("event").unwrap_or_default(),
                        param("user").filter(|user| !user.is_empty()),
                        param("path")
                            .filter(|path| !path.is_empty())
                            .unwrap_or("/sample"),
                    )
                    .await
                }
            }
            _ => page(),
        }
    }

    /// The live feed: one `delivery` event per delivery received or changed.
    fn feed(&self) -> Response<Body> {
        let receiver = self.events.subscribe();
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            // A comment now and then keeps proxies and the browser from closing it.
            let next = tokio::time::timeout(Duration::from_secs(15), receiver.recv()).await;
            let frame = match next {
                Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                Ok(Ok(event)) => event,
                // Too far behind: the page reloads the history.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    Bytes::from_static(b"event: lagged\ndata: {}\n\n")
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            };
            Some((Ok::<_, Infallible>(Frame::data(frame)), receiver))
        });
        // The first bytes open the stream at once, so the page knows it is live.
        let opening = futures_util::stream::once(async {
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": live\n\n")))
        });
        let body = StreamBody::new(futures_util::StreamExt::chain(opening, stream));
        let mut response = Response::new(BodyExt::boxed_unsync(body));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    async fn list(&self) -> Response<Body> {
        match self.history.recent(HISTORY_SHOWN).await {
            Ok(entries) => json_response(StatusCode::OK, &json!({ "deliveries": entries })),
            Err(err) => error(StatusCode::SERVICE_UNAVAILABLE, &err),
        }
    }

    /// The delivery kept under `key`, or the answer that says why there is none.
    async fn find(&self, key: &str) -> Result<(Entry, Option<(HeaderMap, Bytes)>), Response<Body>> {
        if !is_key(key) {
            return Err(error(StatusCode::BAD_REQUEST, "not a delivery key"));
        }
        match self.history.get(key).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(error(StatusCode::NOT_FOUND, "no such delivery")),
            Err(err) => Err(error(StatusCode::SERVICE_UNAVAILABLE, &err)),
        }
    }

    async fn detail(&self, listener: &Listener, key: &str) -> Response<Body> {
        let (entry, record) = match self.find(key).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        let (headers, body) = record.unwrap_or_default();
        let provider = ProviderArg::from_str(&entry.provider, true).ok();
        let typed = provider.map(|provider| match typed(provider, &headers, &body) {
            Ok(event) => event,
            Err(err) => json!({ "error": err.to_string() }),
        });
        let detect = if SIGNATURE_VERDICTS.contains(&entry.verdict.as_str()) {
            let (secrets, public_keys) = (listener.secrets.clone(), listener.public_keys.clone());
            let (headers, body) = (headers.clone(), body.clone());
            let detected = self
                .detections
                .report(key, move || {
                    crate::detect::report(&secrets, &public_keys, &headers, &body)
                })
                .await;
            detected.to_json()
        } else {
            serde_json::Value::Null
        };
        let header_list: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let curl = curl(listener.local, &entry, &headers, &body);
        json_response(
            StatusCode::OK,
            &json!({
                "entry": entry,
                "headers": header_list,
                "body": String::from_utf8_lossy(&body),
                "body_utf8": std::str::from_utf8(&body).is_ok(),
                "pretty": pretty_json(&body),
                "typed": typed,
                "detect": detect,
                "curl": curl,
                "forward_to": listener.forward_to.as_ref().map(Uri::to_string),
            }),
        )
    }

    async fn replay(&self, listener: &Listener, key: &str) -> Response<Body> {
        let Some(target) = &listener.forward_to else {
            return error(
                StatusCode::CONFLICT,
                "replay re-sends to --forward-to: start the listener with it",
            );
        };
        let (entry, record) = match self.find(key).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        let Some((headers, body)) = record.filter(|_| entry.body_kept) else {
            return error(StatusCode::CONFLICT, "this delivery's body was not kept");
        };
        let forwarded = listener.forward(target, &headers, &body).await;
        let changed = self
            .history
            .update(key, |entry| entry.replays.push(forwarded.clone()))
            .await;
        if let Ok(Some(entry)) = &changed {
            self.publish(entry);
        }
        json_response(StatusCode::OK, &json!({ "replay": forwarded }))
    }
}

/// The path and query of `uri`.
fn target_text(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string)
}

/// As the layer reads a content type: `application/json` or `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || (subtype.len() > 5 && subtype.ends_with("+json")))
}

/// The typed event as the provider's parser reads it: its name, id, fields (`Debug`)
/// and what it serializes to.
fn typed(
    provider: ProviderArg,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ParseError> {
    fn view<E: WebhookEvent + Serialize>(event: &E) -> serde_json::Value {
        json!({
            "name": event.name(),
            "id": event.id(),
            "unknown": event.is_unknown(),
            "fields": format!("{event:#?}"),
            "json": serde_json::to_value(event).ok(),
        })
    }
    match provider {
        ProviderArg::Claimr => claimr::Event::from_slice(body).map(|e| view(&e)),
        ProviderArg::Chainvine => chainvine::Event::from_slice(body).map(|e| view(&e)),
        ProviderArg::Standard => {
            let id = headers
                .get("webhook-id")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            standard::Event::from_parts(id, body).map(|e| view(&e))
        }
        ProviderArg::Github | ProviderArg::Stripe => {
            let preset = if provider == ProviderArg::Github {
                HmacSender::github()
            } else {
                HmacSender::stripe()
            };
            // The secret is not used: only the preset's parser is.
            match preset.with_secret("-").build() {
                Ok(sender) => sender
                    .parse(headers, &bytes::Bytes::copy_from_slice(body))
                    .map(|e| view(&e)),
                Err(err) => Ok(json!({ "error": err.to_string() })),
            }
        }
    }
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The delivery as a `curl` command that sends it again to the listener.
fn curl(local: SocketAddr, entry: &Entry, headers: &HeaderMap, body: &[u8]) -> String {
    let mut parts = vec![format!(
        // `--globoff`: a sender's path with `[1-9]` or `{a,b}` is one URL, not many.
        "curl -i --globoff {}",
        shell_quote(&format!("http://{local}{}", entry.target))
    )];
    if entry.method != "POST" {
        parts.push(format!("-X {}", shell_quote(&entry.method)));
    }
    for (name, value) in headers {
        // curl writes these itself, from the URL and the body.
        if name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if !body.is_empty() || entry.method == "POST" {
        parts.push(format!(
            // `--data-raw`: a body starting with `@` is sent as it is, not read from the
            // file it names.
            "--data-raw {}",
            shell_quote(&String::from_utf8_lossy(body))
        ));
    }
    parts.join(" \\\n  ")
}

/// Whether `headers` name the listener itself: on loopback, only its own address does.
fn host_allowed(bound: SocketAddr, headers: &HeaderMap) -> bool {
    if !bound.ip().is_loopback() {
        // Reachable from the network by choice (and warned about): by any name.
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let port = bound.port();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
    .iter()
    .any(|name| name.eq_ignore_ascii_case(host))
}

/// Whether a request may act: it carries the page's header, and comes from the page's
/// origin when it says where it comes from.
fn action_allowed(headers: &HeaderMap) -> bool {
    if headers.get(ACTION_HEADER).is_none() {
        return false;
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(HOST)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            origin.as_bytes().strip_prefix(b"http://") == Some(host)
        }
    }
}

/// `a=1&b=two+words` as pairs, percent-decoded.
fn parse_query(query: &str) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        percent_decode(&text.replace('+', " "))
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// `%XX` sequences as the bytes they stand for (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            });
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn security_headers(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
}

fn page() -> Response<Body> {
    let mut nonce = [0u8; 16];
    let _ = getrandom::fill(&mut nonce);
    let nonce = hex::encode(nonce);
    let mut response = Response::new(full(PAGE.replace("{{nonce}}", &nonce)));
    security_headers(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nothing but the page's own script and style, and requests to the listener.
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert("content-security-policy", policy);
    }
    response
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    security_headers(&mut response);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": message }))
}

/// The secret the listener signs `provider`'s samples with: the first given that is one.
fn signing_secret(listener: &Listener, provider: ProviderArg) -> Option<&str> {
    listener
        .secrets
        .iter()
        .map(String::as_str)
        .find(|secret| provider.signer(secret).is_ok())
}

/// The providers the form offers (those the listener has a secret for) and their events.
fn samples(listener: &Listener) -> Response<Body> {
    let providers: Vec<serde_json::Value> = listener
        .providers
        .iter()
        .filter(|provider| signing_secret(listener, **provider).is_some())
        .map(|provider| {
            let events = provider.builtin().event_names();
            json!({
                "name": provider.name(),
                // Any name is a Standard Webhooks `type` (GitHub and Stripe sample
                // bodies are in that shape).
                "free": events.is_empty(),
                "events": if events.is_empty() { vec!["invoice.paid"] } else { events },
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "providers": providers,
            "address": listener.local.to_string(),
            "forward_to": listener.forward_to.as_ref().map(Uri::to_string),
        }),
    )
}

/// Signs a sample of `event` as `provider` does and sends it to the listener at `path`,
/// as the providers' "Test" buttons do; what it answered.
async fn send_sample(
    listener: &Listener,
    provider: &str,
    event: &str,
    user: Option<&str>,
    path: &str,
) -> Response<Body> {
    let Some(provider) = ProviderArg::from_str(provider, true)
        .ok()
        .filter(|p| listener.providers.contains(p))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "not a provider this listener serves",
        );
    };
    let Some(secret) = signing_secret(listener, provider) else {
        return error(
            StatusCode::BAD_REQUEST,
            "no --secret given to the listener signs for this provider",
        );
    };
    if event.is_empty() {
        return error(StatusCode::BAD_REQUEST, "name the event to send");
    }
    let mut sample = match crate::net::sample(provider, event) {
        Ok(sample) => sample,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(user) = user {
        sample = sample.with_user(user);
    }
    if !path.starts_with('/') || path.parse::<http::uri::PathAndQuery>().is_err() {
        return error(StatusCode::BAD_REQUEST, "the path is not a URL path");
    }
    let url = format!("http://{}{path}", listener.local);
    let request = provider
        .signer(secret)
        .map_err(|e| e.to_string())
        .and_then(|signer| {
            signer
                .sample_request(&url, &sample)
                .map_err(|e| e.to_string())
        });
    let mut request = match request {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    request
        .headers_mut()
        .insert(USER_AGENT, crate::net::user_agent());
    let sent = String::from_utf8_lossy(&sample.body()).into_owned();
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let response = listener.client.request(request).await?;
        let status = response.status();
        let data = response.into_body().collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, data))
    })
    .await;
    let target: Uri = url.parse().unwrap_or_default();
    let result = match answer {
        Ok(Ok((status, data))) => Forwarded::answered(&target, status, &data),
        Ok(Err(err)) => Forwarded::failed(&target, crate::net::error_chain(err.as_ref())),
        Err(_) => Forwarded::failed(&target, "no answer in 30 s".to_owned()),
    };
    json_response(
        StatusCode::OK,
        &json!({ "sent": result, "provider": provider.name(), "event": event, "body": sent }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_matches() -> Report {
        Report {
            matches: Vec::new(),
            headers_tried: 0,
            notes: Vec::new(),
        }
    }

    /// `ask` within ten seconds: a permit that leaked fails the test, not hangs it.
    async fn within<T>(ask: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), ask)
            .await
            .expect("a detection stuck")
    }

    fn is_report(detected: &Detected) -> bool {
        matches!(detected, Detected::Report(_))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_delivery_is_detected_once_and_one_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let detections = Arc::new(Detections::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let mut asks = Vec::new();
        for i in 0..MOST_ASKS {
            let (detections, runs) = (Arc::clone(&detections), Arc::clone(&runs));
            let (running, most_running) = (Arc::clone(&running), Arc::clone(&most_running));
            // Two asks for each of two deliveries, at once.
            let key = format!("listen-{}", i % 2);
            asks.push(tokio::spawn(async move {
                detections
                    .report(&key, move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most_running.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                        no_matches()
                    })
                    .await
            }));
        }
        // Once those are waiting or running, one more is told to ask again.
        within(async {
            while detections.asks.available_permits() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let busy = detections.report("listen-9", || panic!("not run")).await;
        assert!(matches!(busy, Detected::Busy));
        for ask in asks {
            assert!(is_report(&within(ask).await.unwrap()));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(most_running.load(Ordering::SeqCst), 1);
        // Asked again, the report is the one kept, with no ask of its own.
        let again = within(detections.report("listen-0", || panic!("detected twice"))).await;
        assert!(is_report(&again));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_detection_goes_on_when_its_page_goes_away() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let detections = Arc::new(Detections::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (started, begun) = tokio::sync::oneshot::channel();
        let first = {
            let (detections, runs) = (Arc::clone(&detections), Arc::clone(&runs));
            tokio::spawn(async move {
                detections
                    .report("listen-1", move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let _ = started.send(());
                        std::thread::sleep(Duration::from_millis(100));
                        no_matches()
                    })
                    .await
            })
        };
        within(begun).await.unwrap();
        first.abort();
        let again = within(detections.report("listen-1", || panic!("detected twice"))).await;
        assert!(is_report(&again));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_detection_that_panics_is_no_report_and_is_tried_again() {
        let detections = Detections::new();
        let failed = within(detections.report("listen-x", || panic!("a bug in detection"))).await;
        assert!(matches!(failed, Detected::Failed));
        assert!(is_report(
            &within(detections.report("listen-x", no_matches)).await
        ));
        assert_eq!(detections.asks.available_permits(), MOST_ASKS);
    }

    #[test]
    fn the_data_directory_follows_xdg_then_home() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            data_dir(xdg.map(Into::into), home.map(Into::into))
        };
        assert_eq!(
            dir(Some("/x/data"), Some("/home/u")),
            Some(PathBuf::from("/x/data"))
        );
        assert_eq!(
            dir(Some("relative"), Some("/home/u")),
            Some(PathBuf::from("/home/u/.local/share"))
        );
        assert_eq!(dir(None, None), None);
    }

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            parse_query("send=claimr&event=user_login&user=a+b%2Fc&path=%2Fx%zz"),
            [
                ("send".to_owned(), "claimr".to_owned()),
                ("event".to_owned(), "user_login".to_owned()),
                ("user".to_owned(), "a b/c".to_owned()),
                ("path".to_owned(), "/x%zz".to_owned()),
            ]
        );
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn only_the_listeners_own_names_are_served_on_loopback() {
        let bound: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_str(host).unwrap());
            headers
        };
        assert!(host_allowed(bound, &with_host("127.0.0.1:4000")));
        assert!(host_allowed(bound, &with_host("localhost:4000")));
        assert!(!host_allowed(bound, &with_host("rebound.example:4000")));
        assert!(!host_allowed(bound, &HeaderMap::new()));
        let open: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert!(host_allowed(open, &with_host("box.lan:4000")));
    }

    #[test]
    fn actions_need_the_header_and_the_pages_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:4000"));
        assert!(!action_allowed(&headers));
        headers.insert(ACTION_HEADER, HeaderValue::from_static("1"));
        assert!(action_allowed(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:4000"));
        assert!(action_allowed(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!action_allowed(&headers));
    }

    #[test]
    fn curl_quotes_what_it_sends() {
        let entry = Entry {
            key: "listen-1-aa".to_owned(),
            received_at: String::new(),
            method: "POST".to_owned(),
            target: "/hook?x=1".to_owned(),
            provider: "claimr".to_owned(),
            event: String::new(),
            id: String::new(),
            verdict: "verified".to_owned(),
            verified: true,
            status: 200,
            answer: String::new(),
            forward: None,
            replays: Vec::new(),
            body_kept: true,
        };
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:4000"));
        headers.insert("x-sig", HeaderValue::from_static("it's"));
        let text = curl(
            "127.0.0.1:4000".parse().unwrap(),
            &entry,
            &headers,
            br#"{"a":"b'c"}"#,
        );
        assert_eq!(
            text,
            "curl -i --globoff 'http://127.0.0.1:4000/hook?x=1' \\\n  -H 'x-sig: it'\\''s' \\\n  \
             --data-raw '{\"a\":\"b'\\''c\"}'"
        );
        let file = curl(
            "127.0.0.1:4000".parse().unwrap(),
            &entry,
            &HeaderMap::new(),
            b"@/home/dev/.aws/credentials",
        );
        assert!(
            file.ends_with("--data-raw '@/home/dev/.aws/credentials'"),
            "{file}"
        );
    }

    #[test]
    fn keys_are_looked_up_only_in_their_own_shape() {
        assert!(is_key(&new_key()));
        assert!(!is_key("listen-1'--"));
        assert!(!is_key("id:msg_1"));
    }

    #[test]
    fn json_is_recognised_as_the_layer_does() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            is_json(&headers)
        };
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/cloudevents+json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
