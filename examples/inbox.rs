//! An example receiver with a durable inbox: each claimr and ChainVine delivery is stored,
//! answered at once, and handled in the background with retries.
//!
//! ```text
//! cargo run --example inbox
//! ```
//!
//! - listens on `HOOKGUARD_ADDR` (default `127.0.0.1:3000`);
//! - secrets come from `CLAIMR_SECRET` and `CHAINVINE_SECRET`; when one is unset a random
//!   one is generated and printed on stderr at start;
//! - routes `POST /webhooks/claimr` and `POST /webhooks/chainvine`, answered
//!   `200 stored` as soon as the delivery is stored (ChainVine payment requests, and
//!   ChainVine events of unknown names, which may be payment requests under a name
//!   nobody configured, are refused with 500: their 2xx would mean "paid", so they never
//!   go through an inbox);
//! - the inbox is the SQLite file `HOOKGUARD_DB` (default `./inbox.db`; a
//!   `postgres://` URL works too, for several receiver processes sharing the work);
//! - the demo handler fails the first `HOOKGUARD_FAIL_FIRST` attempts of every delivery
//!   (default 0), then prints one JSON line on stdout, flushed at once:
//!   `{"provider":"claimr","event":"user_activity","id":"<delivery id>","attempt":<n>}`;
//! - the first retry waits `HOOKGUARD_RETRY_BASE_MS` milliseconds (default 1000),
//!   doubling after that (no jitter in this demo, so the waits are exactly these);
//! - a run whose process died is run again once its lease of `HOOKGUARD_LEASE_MS`
//!   milliseconds (default 60000, renewed while the handler runs) has expired;
//! - logs go to stderr. Ctrl-C stops taking work and lets running handlers finish
//!   (up to 10 s). See what the inbox holds with `hookguard deliveries list --db ./inbox.db`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hookguard::inbox::Inbox;
use hookguard::{chainvine, claimr, ChainVine, Claimr, Dispatcher, HandlerError, Verified};
use hookguard::{WebhookEvent, WebhookLayer};
use tracing_subscriber::EnvFilter;

/// Prints the handled delivery's JSON line on stdout and flushes it at once.
fn print_handled(provider: &str, event: &str, id: &str, attempt: u32) -> std::io::Result<()> {
    // A struct, not `json!`, so that the keys keep the documented order.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        provider: &'a str,
        event: &'a str,
        id: &'a str,
        attempt: u32,
    }
    let line = serde_json::to_string(&Line {
        provider,
        event,
        id,
        attempt,
    })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// The demo handler: fails the first `fail_first` attempts, then prints the line.
fn demo<E: WebhookEvent>(event: &Verified<E>, fail_first: u32) -> Result<(), HandlerError> {
    if event.attempt() <= fail_first {
        return Err(HandlerError::msg(format!(
            "demo failure {} of {fail_first}",
            event.attempt()
        )));
    }
    print_handled(event.provider(), event.name(), event.id(), event.attempt())?;
    Ok(())
}

/// The secret from `var`, or a random one announced on stderr.
fn secret_from_env(var: &str) -> Result<String, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(secret) => Ok(secret),
        Err(std::env::VarError::NotPresent) => {
            let mut bytes = [0u8; 24];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            let secret = format!(
                "hg_{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            eprintln!("{var} is not set; this session's secret is {secret}");
            Ok(secret)
        }
        Err(err) => Err(format!("{var}: {err}").into()),
    }
}

/// A number from `var`, or `default` when unset.
fn number_from_env(var: &str, default: u64) -> Result<u64, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e| format!("{var}={text:?}: {e}").into()),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(err) => Err(format!("{var}: {err}").into()),
    }
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
    let db = std::env::var("HOOKGUARD_DB").unwrap_or_else(|_| "./inbox.db".to_owned());
    let fail_first = u32::try_from(number_from_env("HOOKGUARD_FAIL_FIRST", 0)?)?;
    let retry_base = Duration::from_millis(number_from_env("HOOKGUARD_RETRY_BASE_MS", 1000)?);
    let lease = Duration::from_millis(number_from_env("HOOKGUARD_LEASE_MS", 60_000)?);

    let inbox = Inbox::open(&db)
        .await?
        .with_retry_base(retry_base)
        .with_jitter(0.0)
        .with_lease(lease);
    let claimr = Claimr::new(secret_from_env("CLAIMR_SECRET")?)?;
    let chainvine = ChainVine::new(secret_from_env("CHAINVINE_SECRET")?)?;
    let claimr_handlers = Dispatcher::<claimr::Event>::new()
        .on_any(move |event| async move { demo(&event, fail_first) })
        .with_inbox(&inbox, claimr.clone())?;
    let chainvine_handlers = Dispatcher::<chainvine::Event>::new()
        .on_any(move |event| async move { demo(&event, fail_first) })
        .with_inbox(&inbox, chainvine.clone())?;
    let app = Router::new()
        .route_service(
            "/webhooks/claimr",
            WebhookLayer::new(claimr).layer(claimr_handlers),
        )
        .route_service(
            "/webhooks/chainvine",
            WebhookLayer::new(chainvine).layer(chainvine_handlers),
        );

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "listening on http://{}: POST /webhooks/claimr, POST /webhooks/chainvine; inbox {}",
        listener.local_addr()?,
        inbox.store()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    inbox.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
