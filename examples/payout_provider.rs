//! A ChainVine payout provider on SQLite: each payment request is paid once, however
//! often ChainVine delivers it, across hang-ups, crashes and restarts.
//!
//! ```text
//! cargo run --example payout_provider
//! ```
//!
//! - listens on `HOOKGUARD_ADDR` (default `127.0.0.1:3000`);
//! - the secret comes from `CHAINVINE_SECRET` (random and printed on stderr when unset);
//! - claims are kept in the SQLite file `HOOKGUARD_DB` (default `./payouts.db`), beside
//!   the demo payment system's own ledger (table `demo_ledger`);
//! - `HOOKGUARD_LEASE_SECS` sets the claim lease (default 60 s; 1 s and up);
//! - `PAYOUT_DELAY_MS` (default 0): how long the demo payment system takes to confirm a
//!   transfer it has already sent, before the handler returns `Ok`;
//! - route `POST /webhooks/chainvine`;
//! - one JSON line on stdout per transfer actually sent, flushed at once:
//!   `{"paid":"<idempotency key>","event_id":"<event_id>","attempt":1}`; and on a
//!   recovery attempt that finds its transfer already in the ledger, instead of paying
//!   again: `{"reconciled":"<idempotency key>","event_id":"<event_id>","attempt":2}`;
//!   logs go to stderr.
//!
//! Replace `DemoPayments` with your payment system, passing it the idempotency key.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hookguard::idempotency::{Idempotency, SqliteStore};
use hookguard::{ChainVine, Dispatcher, Payout, PayoutError, WebhookLayer};
use sqlx::SqlitePool;
use tracing_subscriber::EnvFilter;

/// A stand-in payment system with a ledger keyed by the idempotency key, as real ones
/// keep: a transfer is "sent" by writing it there, and can be looked up later.
#[derive(Clone)]
struct DemoPayments {
    ledger: SqlitePool,
    confirmation: Duration,
}

impl DemoPayments {
    async fn open(ledger: SqlitePool, confirmation: Duration) -> Result<Self, sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS demo_ledger \
             (key TEXT PRIMARY KEY NOT NULL, event_id TEXT NOT NULL, attempt INTEGER NOT NULL)",
        )
        .execute(&ledger)
        .await?;
        Ok(Self {
            ledger,
            confirmation,
        })
    }

    /// Whether a transfer under `key` was already sent.
    async fn find(&self, key: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT attempt FROM demo_ledger WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.ledger)
            .await?;
        Ok(row.is_some())
    }

    /// Sends the transfer (records it in the ledger); false when the ledger already holds
    /// one under `key`, which it then refuses to send twice.
    async fn send(&self, payout: &Payout) -> Result<bool, sqlx::Error> {
        let sent = sqlx::query(
            "INSERT INTO demo_ledger (key, event_id, attempt) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(payout.idempotency_key())
        .bind(payout.event().id())
        .bind(i64::from(payout.attempt()))
        .execute(&self.ledger)
        .await?;
        Ok(sent.rows_affected() == 1)
    }

    /// Executes one payout: reconcile on a recovery, else send, then wait for the
    /// confirmation.
    async fn pay(&self, payout: Payout) -> Result<(), PayoutError> {
        if payout.is_recovery() && self.find(payout.idempotency_key()).await? {
            // The attempt whose outcome was unknown did send it: acknowledge, do not pay.
            print_line("reconciled", &payout);
            return Ok(());
        }
        // A send that errs may have gone through or not: say so, so the next attempt is
        // a recovery that looks in the ledger, never a plain attempt that sends again.
        if self
            .send(&payout)
            .await
            .map_err(PayoutError::outcome_unknown)?
        {
            // From here the money has left: nothing below may turn this into an `Err`
            // ("not paid"), or the next attempt would be a plain one.
            print_line("paid", &payout);
        } else {
            tracing::error!(
                key = payout.idempotency_key(),
                "the ledger already holds this transfer; not sent again"
            );
        }
        tokio::time::sleep(self.confirmation).await;
        Ok(())
    }
}

/// One stdout line: `{"<what>":"<key>","event_id":"…","attempt":n}`, flushed at once. A
/// line that cannot be written is logged, never an error of the payout.
fn print_line(what: &str, payout: &Payout) {
    if let Err(err) = write_line(what, payout) {
        tracing::error!(key = payout.idempotency_key(), error = %err, "could not print the {what} line");
    }
}

fn write_line(what: &str, payout: &Payout) -> Result<(), PayoutError> {
    // Written by hand so that the keys keep the documented order.
    let text = format!(
        "{{{}:{},\"event_id\":{},\"attempt\":{}}}",
        serde_json::to_string(what).map_err(PayoutError::new)?,
        serde_json::to_string(payout.idempotency_key()).map_err(PayoutError::new)?,
        serde_json::to_string(payout.event().event_id()).map_err(PayoutError::new)?,
        payout.attempt()
    );
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
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

fn number_from_env(var: &str) -> Result<Option<u64>, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(text) => Ok(Some(
            text.trim()
                .parse()
                .map_err(|e| format!("{var}={text}: {e}"))?,
        )),
        Err(std::env::VarError::NotPresent) => Ok(None),
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
    let db = std::env::var("HOOKGUARD_DB").unwrap_or_else(|_| "./payouts.db".to_owned());
    let store = SqliteStore::open(&db).await?;
    let confirmation = Duration::from_millis(number_from_env("PAYOUT_DELAY_MS")?.unwrap_or(0));
    let payments = DemoPayments::open(store.pool().clone(), confirmation).await?;
    let mut idempotency = Idempotency::new(store);
    if let Some(lease) = number_from_env("HOOKGUARD_LEASE_SECS")? {
        idempotency = idempotency.with_lease(Duration::from_secs(lease))?;
    }

    let payouts = Dispatcher::new().on_payment_request(idempotency.clone(), move |payout| {
        let payments = payments.clone();
        async move { payments.pay(payout).await }
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
    // Payouts run detached from their requests: let those under way finish and record
    // their outcome before the process exits (one cut short is recovered on restart).
    if !idempotency.drain(Duration::from_secs(30)).await {
        tracing::warn!("payouts still running at exit; they are recovered on restart");
    }
    Ok(())
}
