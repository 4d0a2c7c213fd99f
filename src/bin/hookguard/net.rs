//! `send` and `listen`: deliveries over HTTP/1.1 (plain `http://`).

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use hookguard::secret::PublicKey;
use hookguard::signature::Verifier;
use hookguard::testing::Sample;
use hookguard::{SignatureError, Standard};
use http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::providers::{self, ProviderArg};
use crate::style::Style;
use crate::ui::{self, Body, Forwarded, Inspector};

/// How much of a response's body `send` shows, as claimr's Test tool shows the start.
const DATA_SHOWN: usize = 500;
/// The largest delivery `listen` reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn user_agent() -> HeaderValue {
    HeaderValue::from_static(concat!("hookguard/", env!("CARGO_PKG_VERSION")))
}

/// Runs `future` on a new runtime.
pub fn run(future: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(err) => {
            eprintln!("hookguard: cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Args)]
pub struct SendArgs {
    /// Whose scheme to sign with.
    #[arg(long, value_enum)]
    provider: ProviderArg,
    /// The sample event to send, by the name the provider sends (`user_activity`,
    /// `PAYMENT_REQUEST`; any `type` for standard, github and stripe).
    #[arg(long, required_unless_present = "body")]
    event: Option<String>,
    /// The webhook secret.
    #[arg(
        long,
        env = "HOOKGUARD_SECRET",
        hide_env_values = true,
        required_unless_present = "signing_key"
    )]
    secret: Option<String>,
    /// An ed25519 signing key (`whsk_…`, standard only): sign the asymmetric `v1a` entry,
    /// after the `v1` one when --secret is given too.
    #[arg(long, env = "HOOKGUARD_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// The user the sample event is about (claimr's Test tool asks for a User ID).
    #[arg(long)]
    user: Option<String>,
    /// Send this file's bytes instead of a sample.
    #[arg(long)]
    body: Option<PathBuf>,
    /// Give up on the answer after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Where to send: an `http://` URL.
    url: String,
}

pub fn sample(provider: ProviderArg, event: &str) -> Result<Sample, String> {
    let builtin = provider.builtin();
    match builtin.sample(event) {
        Some(sample) => Ok(sample),
        // GitHub and Stripe have no samples of their own: a body of that `type` in the
        // Standard Webhooks shape stands in.
        None if builtin.event_names().is_empty() => Ok(Standard::sample(event)),
        None => Err(format!(
            "{} has no event `{event}`; known: {}",
            provider.name(),
            builtin.event_names().join(", ")
        )),
    }
}

/// Sends a signed delivery and prints what claimr's Test tool shows.
pub async fn send(args: SendArgs) -> ExitCode {
    let signer = args
        .provider
        .signer_with(args.secret.as_deref(), args.signing_key.as_deref());
    let signer = match signer {
        Ok(signer) => signer,
        Err(err) => return crate::usage(err),
    };
    let request = match (&args.body, &args.event) {
        (Some(path), _) => match std::fs::read(path) {
            Ok(body) => signer.request(&args.url, body),
            Err(err) => return crate::usage(format_args!("{}: {err}", path.display())),
        },
        (None, Some(event)) => {
            let mut sample = match sample(args.provider, event) {
                Ok(sample) => sample,
                Err(message) => return crate::usage(message),
            };
            if let Some(user) = &args.user {
                sample = sample.with_user(user);
            }
            signer.sample_request(&args.url, &sample)
        }
        (None, None) => return crate::usage("--event or --body is needed"),
    };
    let mut request = match request {
        Ok(request) => request,
        Err(err) => return crate::usage(err),
    };
    request.headers_mut().insert(USER_AGENT, user_agent());
    if request.uri().scheme_str() != Some("http") {
        return crate::usage("only http:// URLs can be sent to (put a TLS proxy in front)");
    }

    let style = Style::stdout();
    let body = request.body().clone().collect().await.map(|b| b.to_bytes());
    println!("{}", style.bold("Request body:"));
    println!("{}", String::from_utf8_lossy(&body.unwrap_or_default()));
    let answer = tokio::time::timeout(Duration::from_secs(args.timeout), async {
        let response = client().request(request).await?;
        let status = response.status();
        let data = response.into_body().collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, data))
    })
    .await;
    let (status, data) = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => {
            println!("{} false", style.bold("Success:"));
            println!("{} -", style.bold("Status:"));
            println!("{} {}", style.bold("Error:"), error_chain(err.as_ref()));
            return ExitCode::FAILURE;
        }
        Err(_) => {
            println!("{} false", style.bold("Success:"));
            println!("{} -", style.bold("Status:"));
            println!(
                "{} no answer within {} s",
                style.bold("Error:"),
                args.timeout
            );
            return ExitCode::FAILURE;
        }
    };
    let text = String::from_utf8_lossy(&data);
    let shown: String = text.chars().take(DATA_SHOWN).collect();
    let painted = if status.is_success() {
        style.green(status.as_str())
    } else {
        style.red(status.as_str())
    };
    println!("{} true", style.bold("Success:"));
    println!("{} {painted}", style.bold("Status:"));
    println!("{} {shown}", style.bold("Data:"));
    if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Args)]
pub struct ListenArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:4000")]
    addr: SocketAddr,
    /// A webhook secret to verify with; repeat for several.
    #[arg(
        long,
        env = "HOOKGUARD_SECRET",
        hide_env_values = true,
        required_unless_present = "public_key"
    )]
    secret: Vec<String>,
    /// An ed25519 public key (`whpk_…`) to verify Standard Webhooks' asymmetric `v1a`
    /// entries with; repeat for several.
    #[arg(long, env = "HOOKGUARD_PUBLIC_KEY", hide_env_values = true)]
    public_key: Vec<String>,
    /// Only these providers' schemes (default: every one hookguard knows).
    #[arg(long, value_enum)]
    provider: Vec<ProviderArg>,
    /// Re-send each delivery (its headers and body as received) to this `http://` URL.
    #[arg(long)]
    forward_to: Option<Uri>,
    /// Also serve the delivery inspector, a live page, at `GET /` (every other request
    /// is a delivery).
    #[arg(long)]
    ui: bool,
    /// The SQLite file the inspector keeps its history in (default: `listen.db` in the
    /// user's data directory, `$XDG_DATA_HOME/hookguard` or `~/.local/share/hookguard`).
    #[arg(long, requires = "ui")]
    db: Option<PathBuf>,
}

/// The listener's configuration and, with `--ui`, its inspector.
pub struct Listener {
    pub verifiers: Vec<(ProviderArg, Verifier)>,
    /// The providers listened for.
    pub providers: Vec<ProviderArg>,
    /// The secrets given, for `--detect` and for signing samples.
    pub secrets: Vec<String>,
    /// The public keys given, for `--detect`.
    pub public_keys: Vec<PublicKey>,
    pub forward_to: Option<Uri>,
    pub client: HttpClient,
    style: Style,
    /// Where the listener can be reached from this machine.
    pub local: SocketAddr,
    /// The address it is bound to.
    pub bound: SocketAddr,
    pub inspector: Option<Inspector>,
}

/// Receives, verifies and prints deliveries until interrupted.
pub async fn listen(args: ListenArgs) -> ExitCode {
    let providers = if args.provider.is_empty() {
        ProviderArg::ALL.to_vec()
    } else {
        args.provider
    };
    let mut verifiers = Vec::new();
    for &provider in &providers {
        for secret in &args.secret {
            // A secret that is not base64 cannot be a Standard Webhooks secret: skip.
            if let Ok(verifier) = provider.verifier(secret) {
                verifiers.push((provider, verifier));
            }
        }
    }
    if !args.public_key.is_empty() {
        if !providers.contains(&ProviderArg::Standard) {
            return crate::usage(
                "--public-key verifies standard deliveries: add --provider standard",
            );
        }
        match ProviderArg::Standard.verifier_with(None, &args.public_key) {
            Ok(verifier) => verifiers.push((ProviderArg::Standard, verifier)),
            Err(err) => return crate::usage(err),
        }
    }
    if let Some(uri) = &args.forward_to {
        if uri.scheme_str() != Some("http") {
            return crate::usage("--forward-to takes an http:// URL");
        }
    }
    let mut public_keys = Vec::new();
    for key in &args.public_key {
        match PublicKey::from_standard(key) {
            Ok(key) => public_keys.push(key),
            Err(err) => return crate::usage(err),
        }
    }
    let inspector = if args.ui {
        let path = match args.db.clone().or_else(ui::default_db) {
            Some(path) => path,
            None => {
                return crate::usage("no data directory (set HOME or XDG_DATA_HOME), give --db")
            }
        };
        match Inspector::open(&path).await {
            Ok(inspector) => Some(inspector),
            Err(err) => return crate::usage(format_args!("{}: {err}", path.display())),
        }
    } else {
        None
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(err) => return crate::usage(format_args!("cannot listen on {}: {err}", args.addr)),
    };
    let local = listener.local_addr().unwrap_or(args.addr);
    let state = Arc::new(Listener {
        verifiers,
        providers,
        secrets: args.secret,
        public_keys,
        forward_to: args.forward_to,
        client: client(),
        style: Style::stdout(),
        local: ui::reachable(local),
        bound: local,
        inspector,
    });
    println!("listening on http://{local}");
    if let Some(uri) = &state.forward_to {
        println!("forwarding to {uri}");
    }
    if let Some(inspector) = &state.inspector {
        println!("inspector at http://{}/", state.local);
        println!("history in {}", inspector.path().display());
        if !local.ip().is_loopback() {
            eprintln!(
                "hookguard: warning: {local} is not a loopback address: the inspector, with \
                 every delivery's headers and body, and its replay and send buttons, is \
                 reachable from the network; use --addr 127.0.0.1:PORT to keep it on this machine"
            );
        }
    }
    let _ = std::io::stdout().flush();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(state.handle(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn text_response(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(ui::full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// What the listener answers a refused delivery, as the inspector records it.
const NOT_POST: &str = "POST only\n";
const TOO_LARGE: &str = "body too large\n";

impl Listener {
    async fn handle(self: &Arc<Self>, request: Request<hyper::body::Incoming>) -> Response<Body> {
        if let Some(inspector) = &self.inspector {
            if request.method() == Method::GET && request.uri().path() == "/" {
                return inspector.serve(self, request).await;
            }
        }
        if request.method() != Method::POST {
            if let Some(inspector) = &self.inspector {
                let (parts, _) = request.into_parts();
                inspector
                    .refused(
                        &parts,
                        "method not allowed",
                        StatusCode::METHOD_NOT_ALLOWED,
                        NOT_POST,
                    )
                    .await;
            }
            return text_response(StatusCode::METHOD_NOT_ALLOWED, NOT_POST);
        }
        let (parts, body) = request.into_parts();
        // As the layer does: a declared length over the cap is refused before a byte is
        // read, and a streamed body passing it as soon as it does.
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let body = if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
            None
        } else {
            Limited::new(body, BODY_LIMIT)
                .collect()
                .await
                .ok()
                .map(|body| body.to_bytes())
        };
        let Some(body) = body else {
            if let Some(inspector) = &self.inspector {
                inspector
                    .refused(
                        &parts,
                        "payload too large",
                        StatusCode::PAYLOAD_TOO_LARGE,
                        TOO_LARGE,
                    )
                    .await;
            }
            return text_response(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE);
        };
        let style = self.style;

        // The first scheme that verifies names the provider; otherwise the most telling
        // refusal (a wrong signature says more than a missing one).
        let mut outcome: Result<ProviderArg, (Option<ProviderArg>, SignatureError)> =
            Err((None, SignatureError::Missing));
        for (provider, verifier) in &self.verifiers {
            match verifier.verify(&parts.headers, &body) {
                Ok(()) => {
                    outcome = Ok(*provider);
                    break;
                }
                Err(SignatureError::Missing) => {}
                Err(err) => outcome = Err((Some(*provider), err)),
            }
        }

        let mut out = String::new();
        let head = format!("{} {}", parts.method, parts.uri.path());
        match &outcome {
            Ok(provider) => {
                let (event, id) =
                    providers::describe(provider.name(), &parts.headers, &body).unwrap_or_default();
                out.push_str(&format!(
                    "{head} {} provider={} event={event} id={id}\n",
                    style.green("valid"),
                    provider.name()
                ));
            }
            Err((provider, err)) => {
                out.push_str(&format!(
                    "{head} {} provider={} reason=\"{err}\"\n",
                    style.red("invalid"),
                    provider.map_or("unknown", ProviderArg::name)
                ));
            }
        }
        match crate::style::pretty_json(&body) {
            Some(json) => out.push_str(&json),
            None => out.push_str(&String::from_utf8_lossy(&body)),
        }
        out.push('\n');

        let (status, answer) = match outcome {
            Ok(_) => (StatusCode::OK, "OK\n"),
            Err(_) => (StatusCode::UNAUTHORIZED, "invalid signature\n"),
        };
        let recorded = match &self.inspector {
            Some(inspector) => Some(
                inspector
                    .received(&self.providers, &parts, &body, &outcome, status, answer)
                    .await,
            ),
            None => None,
        };

        if let Some(target) = &self.forward_to {
            let forwarded = self.forward(target, &parts.headers, &body).await;
            match (forwarded.status(), forwarded.error()) {
                (Some(status), _) => {
                    out.push_str(&format!("forwarded to {target}: {status}\n"));
                }
                (None, Some(error)) => out.push_str(&format!("forwarded to {target}: {error}\n")),
                (None, None) => {}
            }
            if let (Some(inspector), Some(key)) = (&self.inspector, &recorded) {
                inspector.forwarded(key, forwarded).await;
            }
        }

        {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
        }
        text_response(status, answer)
    }

    /// Re-sends `body` with `headers` (less `Host`) to `target`, and what it answered.
    pub async fn forward(
        &self,
        target: &Uri,
        headers: &http::HeaderMap,
        body: &Bytes,
    ) -> Forwarded {
        let mut forward = Request::post(target.clone())
            .body(Full::new(body.clone()))
            .unwrap_or_default();
        let mut headers = headers.clone();
        headers.remove(HOST);
        *forward.headers_mut() = headers;
        let answer =
            tokio::time::timeout(Duration::from_secs(30), self.client.request(forward)).await;
        match answer {
            Ok(Ok(response)) => {
                let status = response.status();
                // The status is the answer; the start of the body is for people to read, so
                // a target that never finishes it does not hold the delivery up for long.
                let data = tokio::time::timeout(
                    Duration::from_secs(5),
                    Limited::new(response.into_body(), 64 * 1024).collect(),
                )
                .await
                .ok()
                .and_then(Result::ok)
                .map(|body| body.to_bytes())
                .unwrap_or_default();
                Forwarded::answered(target, status, &data)
            }
            Ok(Err(err)) => Forwarded::failed(target, format!("failed: {}", error_chain(&err))),
            Err(_) => Forwarded::failed(target, "no answer in 30 s".to_owned()),
        }
    }
}
