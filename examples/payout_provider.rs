//! A ChainVine payout provider on SQLite: each payment request is paid once, however
//! often ChainVine delivers it, across restarts.
//!
//! ```text
//! cargo run --example payout_provider
//! ```
//!
//! - listens on `HOOKGUARD_ADDR` (default `127.0.0.1:3000`);
//! - the secret comes from `CHAINVINE_SECRET` (random and printed on stderr when unset);
//! - claims are kept in the SQLite file `HOOKGUARD_DB` (default `./payouts.db`);
//! - `HOOKGUARD_LEASE_SECS` sets the claim lease (default 300 s);
//! - route `POST /webhooks/chainvine`;
//! - for every payout it actually executes, one JSON line on stdout, flushed at once:
//!   `{"paid":"<idempotency key>","event_id":"<event_id>","attempt":1}`; logs go to stderr.
//!
//! Replace `execute_transfer` with the call to your payment system, passing it the
//! idempotency key.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use hookguard::chainvine::Envelope;
use hookguard::idempotency::Idempotency;
use hookguard::store::SqliteStore;
use hookguard::{ChainVine, Dispatcher, Layer, Payout, PayoutError, WebhookLayer};
use tracing_subscriber::EnvFilter;

/// Where the money would move. A real provider calls its payment system here, passing
/// `payout.idempotency_key()` so that the transfer itself happens once.
async fn execute_transfer(payout: &Payout) -> Result<(), PayoutError> {
    // A struct, not `json!`, so that the keys keep the documented order.
    #[derive(serde::Serialize)]
    struct Paid<'a> {
        paid: &'a str,
        event_id: &'a str,
        attempt: u32,
    }
    let line = serde_json::to_string(&Paid {
        paid: payout.idempotency_key(),
        event_id: &payout.envelope().event_id,
        attempt: payout.attempt(),
    })
    .map_err(PayoutError::new)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

fn secret_from_env(var: &str) -> Result<String, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(secret) => Ok(secret),
        Err(std::env::VarError::NotPresent) => {
            let mut bytes = [0u8; 24];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let secret = format!("hg_{secret}");
            eprintln!("{var} is not set; this session's secret is {secret}");
            Ok(secret)
        }
        Err(err) => Err(format!("{var}: {err}").into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let addr: SocketAddr = std::env::var("HOOKGUARD_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let db = std::env::var("HOOKGUARD_DB").unwrap_or_else(|_| "./payouts.db".to_owned());
    let mut idempotency = Idempotency::new(SqliteStore::open(&db).await?);
    if let Some(lease) = std::env::var("HOOKGUARD_LEASE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        idempotency = idempotency.with_lease(std::time::Duration::from_secs(lease));
    }

    let payouts = Dispatcher::<Envelope>::new()
        .on_payment_request(idempotency, |payout: Payout| async move {
            execute_transfer(&payout).await
        });
    let app = Router::new().route_service(
        "/webhooks/chainvine",
        WebhookLayer::new(ChainVine::new(secret_from_env("CHAINVINE_SECRET")?)?).layer(payouts),
    );

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "payout provider on http://{}: POST /webhooks/chainvine, claims in {db}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
