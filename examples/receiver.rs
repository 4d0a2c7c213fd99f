//! An example webhook receiver for claimr, ChainVine and Standard Webhooks senders.
//!
//! ```text
//! cargo run --example receiver
//! ```
//!
//! - listens on `HOOKGUARD_ADDR` (default `127.0.0.1:3000`);
//! - secrets come from `CLAIMR_SECRET`, `CHAINVINE_SECRET` and `STANDARD_SECRET` (a
//!   `whsec_` base64 secret); when one is unset a random one is generated and printed on
//!   stderr at start;
//! - `STANDARD_PUBLIC_KEY` (a `whpk_` ed25519 public key), when set, also accepts
//!   Standard Webhooks deliveries signed asymmetrically (`v1a`) by its signing key; when
//!   unset, none is configured;
//! - routes `POST /webhooks/claimr`, `POST /webhooks/chainvine` and
//!   `POST /webhooks/standard`;
//! - payout claims are kept in the SQLite file `HOOKGUARD_DB` (default `./receiver.db`),
//!   so a payment request paid before a restart is not paid again after it;
//! - prints one JSON line on stdout per dispatched event (payouts included):
//!   `{"provider":"claimr","event":"user_activity","id":"..."}`; for Standard Webhooks the
//!   event is the body's `type` (empty if it has none) and the id is `webhook-id`:
//!   `{"provider":"standard","event":"invoice.paid","id":"msg_..."}`; logs go to stderr;
//! - serves hookguard's metrics (`hookguard::metrics`) as Prometheus text at
//!   `GET /metrics`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use hookguard::idempotency::{Idempotency, SqliteStore};
use hookguard::{claimr, standard, ChainVine, Claimr, Dispatcher, Standard, WebhookLayer};
use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Prints the event's JSON line on stdout and flushes it at once, so that a script
/// reading the pipe sees each event as it arrives.
fn print_event(provider: &str, event: &str, id: &str) -> std::io::Result<()> {
    // A struct, not `json!`, so that the keys keep the documented order.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        provider: &'a str,
        event: &'a str,
        id: &'a str,
    }
    let line = serde_json::to_string(&Line {
        provider,
        event,
        id,
    })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// The secret from `var`, or a random one (written by `write`) announced on stderr.
fn secret_from_env(
    var: &str,
    write: fn(&[u8]) -> String,
) -> Result<String, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(secret) => Ok(secret),
        Err(std::env::VarError::NotPresent) => {
            let mut bytes = [0u8; 24];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            let secret = write(&bytes);
            eprintln!("{var} is not set; this session's secret is {secret}");
            Ok(secret)
        }
        Err(err) => Err(format!("{var}: {err}").into()),
    }
}

/// A claimr or ChainVine secret: any text.
fn text_secret(bytes: &[u8]) -> String {
    format!("hg_{}", hex_encode(bytes))
}

/// A Standard Webhooks secret: `whsec_` and base64, as senders show it.
fn whsec_secret(bytes: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn app(
    claimr_secret: &str,
    chainvine_secret: &str,
    standard_secret: &str,
    standard_public_key: Option<&str>,
    payout_claims: Idempotency,
) -> Result<Router, hookguard::ConfigError> {
    let claimr_handlers = Dispatcher::<claimr::Event>::new().on_any(|event| async move {
        print_event(event.provider(), event.name(), event.id())?;
        Ok(())
    });
    let chainvine_handlers = Dispatcher::new()
        .on_payment_request(payout_claims, |payout| async move {
            // A demo payout provider: approves every request, once per payment request,
            // with claims kept in SQLite across restarts (examples/payout_provider.rs
            // shows the reconciliation a real one does).
            let event = payout.event();
            print_event("chainvine", event.name(), event.id())?;
            Ok(())
        })
        .on_any(|event| async move {
            print_event(event.provider(), event.name(), event.id())?;
            Ok(())
        })
        // This demo prints every event, unknown ones included. A dispatcher that pays
        // refuses unknown events until told otherwise, since one may be a payment
        // request under a name nobody configured; a real payout provider leaves it so.
        .with_unknown_status(StatusCode::OK);
    let standard_handlers = Dispatcher::<standard::Event>::new().on_any(|event| async move {
        print_event(event.provider(), event.name(), event.id())?;
        Ok(())
    });

    let mut standard = Standard::new(standard_secret)?;
    if let Some(public_key) = standard_public_key {
        standard = standard.with_public_keys([public_key])?;
    }

    Ok(Router::new()
        .route_service(
            "/webhooks/claimr",
            WebhookLayer::new(Claimr::new(claimr_secret)?).layer(claimr_handlers),
        )
        .route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(ChainVine::new(chainvine_secret)?).layer(chainvine_handlers),
        )
        .route_service(
            "/webhooks/standard",
            WebhookLayer::new(standard).layer(standard_handlers),
        ))
}

/// Installs the Prometheus recorder for hookguard's metrics, keeps its histograms
/// drained, and returns the route that renders them.
fn metrics_route() -> Result<Router, Box<dyn std::error::Error>> {
    let handle: PrometheusHandle = PrometheusBuilder::new().install_recorder()?;
    hookguard::metrics::describe();
    // Without the exporter's own HTTP listener, upkeep is ours to run.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Router::new().route("/metrics", get(move || std::future::ready(handle.render()))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let addr: SocketAddr = std::env::var("HOOKGUARD_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let db = std::env::var("HOOKGUARD_DB").unwrap_or_else(|_| "./receiver.db".to_owned());
    let payout_claims = Idempotency::new(SqliteStore::open(&db).await?);
    let standard_public_key = match std::env::var("STANDARD_PUBLIC_KEY") {
        Ok(key) => Some(key),
        Err(std::env::VarError::NotPresent) => None,
        Err(err) => return Err(format!("STANDARD_PUBLIC_KEY: {err}").into()),
    };
    let app = app(
        &secret_from_env("CLAIMR_SECRET", text_secret)?,
        &secret_from_env("CHAINVINE_SECRET", text_secret)?,
        &secret_from_env("STANDARD_SECRET", whsec_secret)?,
        standard_public_key.as_deref(),
        payout_claims.clone(),
    )?
    .merge(metrics_route()?);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "listening on http://{}: POST /webhooks/claimr, POST /webhooks/chainvine, \
         POST /webhooks/standard",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Payouts run detached from their requests: let those under way record their outcome.
    payout_claims
        .drain(std::time::Duration::from_secs(30))
        .await;
    Ok(())
}
