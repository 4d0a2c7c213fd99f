//! The inbox's tables, in a SQLite file or a PostgreSQL database: the deliveries waiting
//! to be handled, and the history of every attempt (the journal).
//!
//! Every time is the database's clock in milliseconds since the Unix epoch, so that
//! several receiver processes sharing one PostgreSQL database agree on leases and
//! retry times whatever their own clocks say.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use sqlx::Row;
use time::OffsetDateTime;

/// The longest text kept in an indexed column (the id) or a key as it is: PostgreSQL
/// refuses B-tree entries over about 2,700 bytes, so longer ones are cut (the id, which is
/// for people reading the journal) or hashed (the key, which must stay exact).
const MAX_INDEXED_TEXT: usize = 1024;

/// The deliveries table.
const DELIVERIES: &str = "hookguard_inbox";
/// One row per finished attempt.
const ATTEMPTS: &str = "hookguard_inbox_attempts";

#[cfg(feature = "sqlite")]
const SQLITE_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
#[cfg(feature = "postgres")]
const POSTGRES_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Why the inbox's store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxStoreError {
    /// The database could not be reached or refused the statement.
    #[error("inbox store unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The target names no database this build can open.
    #[error("cannot open `{target}` as an inbox: {reason}")]
    Target {
        /// What was given.
        target: String,
        /// Why it cannot be opened.
        reason: &'static str,
    },
    /// An id names more than one delivery (of several providers, or a signed one and one
    /// accepted unsigned): name it by its key, or give the provider.
    #[error("`{0}` names more than one delivery: give its provider, or its key (as `list --json` prints it)")]
    Ambiguous(String),
    /// A row holds something this crate did not write.
    #[error("inbox store holds an unexpected record: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for InboxStoreError {
    fn from(err: sqlx::Error) -> Self {
        InboxStoreError::Unavailable(err)
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Stored, waiting for a worker (first run or a retry).
    Pending,
    /// A worker holds it under a lease.
    Running,
    /// A handler returned `Ok`.
    Handled,
    /// Every attempt failed, or it grew too old: kept for an operator.
    Dead,
}

impl DeliveryState {
    /// The state's name, as stored and as the CLI prints it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Running => "running",
            DeliveryState::Handled => "handled",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => DeliveryState::Pending,
            "running" => DeliveryState::Running,
            "handled" => DeliveryState::Handled,
            "dead" => DeliveryState::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored delivery, as the journal lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliverySummary {
    /// The provider's name (`"claimr"`, `"chainvine"`, ...).
    pub provider: String,
    /// What the delivery is stored once under: `id:<delivery id>`, or the SHA-256 of the
    /// signed body (`sha256:<hex>`) when the id is not signed.
    pub key: String,
    /// The delivery's id, as the provider sent it.
    pub id: String,
    /// The event's name, as the provider sent it.
    pub event: String,
    /// Where it is in its life.
    pub state: DeliveryState,
    /// How many attempts have started.
    pub attempts: u32,
    /// When it was first stored.
    pub received_at: OffsetDateTime,
    /// When it is next due: a pending delivery's next attempt, a running one's lease end
    /// (when it is run again if its run has died).
    pub next_attempt_at: OffsetDateTime,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
}

/// One attempt at a delivery, as the journal shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// Which attempt, from 1.
    pub number: u32,
    /// When its worker took the delivery.
    pub started_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: OffsetDateTime,
    /// `handled`, `failed` (to be retried) or `dead` (the last).
    pub outcome: String,
    /// The handler's error, when it failed.
    pub error: Option<String>,
}

/// A stored delivery with everything needed to look at it or send it again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// What the journal lists of it.
    pub summary: DeliverySummary,
    /// The request's headers, as received.
    pub headers: HeaderMap,
    /// The body, exactly as signed.
    pub body: Bytes,
    /// False for a delivery accepted unsigned by explicit opt-in.
    pub signed: bool,
    /// When its headers and body were pruned ([`DeliveryStore::prune`]), if they were.
    pub pruned_at: Option<OffsetDateTime>,
    /// The attempts that ended, oldest first. An attempt number missing here started
    /// and never ended (its process died, or it lost its lease).
    pub attempts: Vec<AttemptRecord>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DeliveryFilter {
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only this event name.
    pub event: Option<String>,
    /// Only in this state.
    pub state: Option<DeliveryState>,
    /// Only those received at or after this time.
    pub since: Option<OffsetDateTime>,
    /// At most this many, newest first (100 when unset).
    pub limit: Option<u32>,
}

impl DeliveryFilter {
    /// Every delivery (the newest 100).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `provider`'s deliveries.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Only deliveries of the event named `event`.
    #[must_use]
    pub fn with_event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// Only deliveries in `state`.
    #[must_use]
    pub fn with_state(mut self, state: DeliveryState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only deliveries received at or after `since`.
    #[must_use]
    pub fn with_since(mut self, since: OffsetDateTime) -> Self {
        self.since = Some(since);
        self
    }

    /// At most `limit` deliveries.
    #[must_use]
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// A delivery to store.
#[derive(Debug)]
pub(crate) struct NewDelivery<'a> {
    pub(crate) provider: &'a str,
    pub(crate) key: &'a str,
    pub(crate) id: &'a str,
    pub(crate) event: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) signed: bool,
}

/// A delivery a worker now holds.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) key: String,
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) signed: bool,
    /// This attempt's number, from 1.
    pub(crate) attempt: u32,
    /// Attempts since it was stored, or since an operator last retried it.
    pub(crate) attempts_in_budget: u32,
    /// How long since it was stored, or since an operator last retried it.
    pub(crate) age: Duration,
    /// When this attempt started, by the database's clock.
    pub(crate) started_ms: i64,
    /// When this process asked for it: the lease began no earlier, by this process's
    /// monotonic clock.
    pub(crate) asked_at: tokio::time::Instant,
}

/// How an attempt ended, as the worker records it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finish<'a> {
    /// The handler returned `Ok`.
    Handled,
    /// It failed; try again after the delay.
    Retry { error: &'a str, delay: Duration },
    /// It failed for the last time.
    Dead { error: &'a str },
}

#[derive(Debug, Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has: the statements are
/// the same text for both, so one body serves both drivers.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($pool) => $body,
        }
    };
}

/// The statements, written once with `$n` parameters and the database's "now".
#[derive(Debug, Clone)]
struct Sql {
    insert: String,
    claim: String,
    renew: String,
    handled: String,
    retry: String,
    dead: String,
    release: String,
    attempt: String,
    list: String,
    show: String,
    attempts_of: String,
    requeue: String,
    prune: String,
    depth: String,
    received: String,
}

impl Sql {
    /// `now` is the dialect's clock; `skip_locked` is PostgreSQL's row-lock clause (SQLite
    /// has one writer at a time, so its claim is atomic without it); `positional` turns
    /// `$n` into SQLite's `?n`.
    fn new(now: &str, skip_locked: &str, positional: fn(String) -> String) -> Self {
        // A running delivery is due again when its lease expires: its `next_attempt_at`
        // is the lease's end, so one index in `next_attempt_at` order finds the next due
        // delivery of either kind without scanning the backlog.
        // `(SELECT now)`: evaluated once, so that PostgreSQL can bound the index scan
        // by it (its clock function is volatile).
        let due = format!("state IN ('pending', 'running') AND next_attempt_at <= (SELECT {now})");
        // A worker's writes are fenced by its lease: the row must still be running under
        // the same owner and attempt, so a run whose lease expired and was taken over
        // cannot overwrite the new run's outcome.
        let fenced =
            "provider = $1 AND key = $2 AND state = 'running' AND lease_owner = $3 AND attempts = $4";
        let s = positional;
        Self {
            insert: s(format!(
                "INSERT INTO {DELIVERIES} (provider, key, delivery_id, event, headers, body, \
                   signed, state, attempts, budget_from, received_at, enqueued_at, \
                   next_attempt_at, lease_owner) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, 0, {now}, {now}, {now}, '') \
                 ON CONFLICT (provider, key) DO NOTHING"
            )),
            claim: s(format!(
                "UPDATE {DELIVERIES} SET state = 'running', attempts = attempts + 1, \
                   next_attempt_at = {now} + $2, lease_owner = $3 \
                 WHERE (provider, key) IN (SELECT provider, key FROM {DELIVERIES} \
                   WHERE provider = $1 AND {due} ORDER BY next_attempt_at LIMIT 1{skip_locked}) \
                 RETURNING key, delivery_id, event, headers, body, signed, attempts, \
                   attempts - budget_from, {now} - enqueued_at, {now}"
            )),
            renew: s(format!(
                "UPDATE {DELIVERIES} SET next_attempt_at = {now} + $5 WHERE {fenced}"
            )),
            handled: s(format!(
                "UPDATE {DELIVERIES} SET state = 'handled', finished_at = {now}, \
                   lease_owner = '', last_error = NULL WHERE {fenced}"
            )),
            retry: s(format!(
                "UPDATE {DELIVERIES} SET state = 'pending', next_attempt_at = {now} + $5, \
                   lease_owner = '', last_error = $6 WHERE {fenced}"
            )),
            dead: s(format!(
                "UPDATE {DELIVERIES} SET state = 'dead', finished_at = {now}, \
                   lease_owner = '', last_error = $5 WHERE {fenced}"
            )),
            release: s(format!(
                "UPDATE {DELIVERIES} SET state = 'pending', next_attempt_at = {now}, \
                   lease_owner = '' WHERE {fenced}"
            )),
            attempt: s(format!(
                "INSERT INTO {ATTEMPTS} (provider, key, attempt, started_at, finished_at, \
                   outcome, error) VALUES ($1, $2, $3, $4, {now}, $5, $6) \
                 ON CONFLICT (provider, key, attempt) DO NOTHING"
            )),
            list: s(format!(
                "SELECT provider, key, delivery_id, event, state, attempts, received_at, \
                   next_attempt_at, last_error FROM {DELIVERIES} \
                 WHERE ($1 IS NULL OR provider = $1) AND ($2 IS NULL OR event = $2) \
                   AND ($3 IS NULL OR state = $3) AND ($4 IS NULL OR received_at >= $4) \
                 ORDER BY received_at DESC, key LIMIT $5"
            )),
            show: s(format!(
                "SELECT provider, key, delivery_id, event, state, attempts, received_at, \
                   next_attempt_at, last_error, headers, body, signed, pruned_at \
                 FROM {DELIVERIES} \
                 WHERE ($1 IS NULL OR provider = $1) AND (key = $2 OR delivery_id = $2) \
                 ORDER BY (key = $2) DESC, received_at DESC LIMIT 2"
            )),
            attempts_of: s(format!(
                "SELECT attempt, started_at, finished_at, outcome, error FROM {ATTEMPTS} \
                 WHERE provider = $1 AND key = $2 ORDER BY attempt"
            )),
            // Due now, with a fresh budget of attempts and age; a delivery being handled
            // is left alone (its worker would overwrite the change).
            requeue: s(format!(
                "UPDATE {DELIVERIES} SET state = 'pending', next_attempt_at = {now}, \
                   enqueued_at = {now}, budget_from = attempts, finished_at = NULL \
                 WHERE provider = $1 AND key = $2 AND state <> 'running' \
                   AND pruned_at IS NULL AND ($3 IS NULL OR state = $3) \
                   AND lease_owner <> '{RECEIVED_OWNER}'"
            )),
            // The row stays, without its headers and body: its key still tells a replay
            // of the same delivery that it was handled (as the payout claims keep theirs).
            prune: s(format!(
                "UPDATE {DELIVERIES} SET body = $2, headers = '[]', pruned_at = {now} \
                 WHERE state = 'handled' AND pruned_at IS NULL AND finished_at < {now} - $1"
            )),
            depth: s(format!(
                "SELECT COUNT(*), COALESCE({now} - MIN(CASE WHEN state = 'pending' \
                   THEN enqueued_at END), 0) FROM {DELIVERIES} \
                 WHERE provider = $1 AND state IN ('pending', 'running')"
            )),
            // Finished on arrival: never due, so no worker takes it; marked by its lease
            // owner (which only a claim of a pending row ever sets) so that `requeue` never
            // makes it due either. Signed only when it was not refused.
            received: s(format!(
                "INSERT INTO {DELIVERIES} (provider, key, delivery_id, event, headers, body, \
                   signed, state, attempts, budget_from, received_at, enqueued_at, \
                   next_attempt_at, lease_owner, finished_at, last_error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $9, $7, 0, 0, {now}, {now}, {now}, \
                   '{RECEIVED_OWNER}', {now}, $8) \
                 ON CONFLICT (provider, key) DO NOTHING"
            )),
        }
    }
}

/// The inbox's durable tables: where deliveries wait, and the journal of what became of
/// them. Cheap to clone (a connection pool).
///
/// Open it on a SQLite file (the embedded default, for one receiver process) or a
/// PostgreSQL URL (for several processes sharing the work):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hookguard::inbox::{DeliveryFilter, DeliveryStore};
///
/// let dir = std::env::temp_dir().join(format!("hookguard-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = DeliveryStore::open(dir.join("inbox.db").to_str().ok_or("path")?).await?;
/// assert!(store.list(&DeliveryFilter::new()).await?.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeliveryStore {
    pool: Pool,
    sql: std::sync::Arc<Sql>,
    /// What it was opened on, without any password: for logs.
    target: std::sync::Arc<str>,
}

impl fmt::Debug for DeliveryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryStore")
            .field("target", &&*self.target)
            .finish_non_exhaustive()
    }
}

/// Where the store is, without any password: `./inbox.db`,
/// `postgres://hookguard@127.0.0.1:5432/hookguard`.
impl fmt::Display for DeliveryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target)
    }
}

/// `target` without what may be secret: a URL's password and its query (which may
/// carry `password=`).
fn redacted(target: &str) -> String {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

impl DeliveryStore {
    /// Opens `target`: a `postgres://` (or `postgresql://`) URL, or else the path of a
    /// SQLite file (created if missing). The tables are created if missing.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Target`] when the build lacks the database's feature
    /// (`sqlite`, `postgres`); [`InboxStoreError::Unavailable`] when it cannot be opened.
    pub async fn open(target: &str) -> Result<Self, InboxStoreError> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(target)
                    .await?;
                return Self::postgres_at(pool, redacted(target)).await;
            }
            #[cfg(not(feature = "postgres"))]
            return Err(InboxStoreError::Target {
                target: redacted(target),
                reason: "this build has no `postgres` feature",
            });
        }
        #[cfg(feature = "sqlite")]
        {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            // WAL with synchronous=FULL: a delivery answered 2xx is on disk, power loss
            // or not.
            let options = SqliteConnectOptions::new()
                .filename(target)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            Self::sqlite_at(pool, target.to_owned()).await
        }
        #[cfg(not(feature = "sqlite"))]
        Err(InboxStoreError::Target {
            target: redacted(target),
            reason: "this build has no `sqlite` feature",
        })
    }

    /// Uses an existing SQLite pool (the tables are created if missing).
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the tables cannot be created.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(pool: sqlx::SqlitePool) -> Result<Self, InboxStoreError> {
        Self::sqlite_at(pool, "sqlite (a pool given)".to_owned()).await
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite_at(pool: sqlx::SqlitePool, target: String) -> Result<Self, InboxStoreError> {
        // 2 is FULL: with less, a delivery answered 2xx can be lost to a power cut.
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&pool)
            .await?;
        if synchronous < 2 {
            tracing::warn!(
                target = %target,
                synchronous,
                "inbox on SQLite without synchronous=FULL: deliveries answered 2xx can be lost to a power cut"
            );
        }
        let store = Self {
            pool: Pool::Sqlite(pool),
            sql: std::sync::Arc::new(Sql::new(SQLITE_NOW_MS, "", |sql| sql.replace('$', "?"))),
            target: target.into(),
        };
        store.create_tables("BLOB").await?;
        Ok(store)
    }

    /// Uses an existing PostgreSQL pool (the tables are created if missing).
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the tables cannot be created.
    #[cfg(feature = "postgres")]
    pub async fn postgres(pool: sqlx::PgPool) -> Result<Self, InboxStoreError> {
        Self::postgres_at(pool, "postgres (a pool given)".to_owned()).await
    }

    #[cfg(feature = "postgres")]
    async fn postgres_at(pool: sqlx::PgPool, target: String) -> Result<Self, InboxStoreError> {
        let commit: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&pool)
            .await?;
        if commit == "off" {
            tracing::warn!(
                target = %target,
                "inbox on PostgreSQL with synchronous_commit=off: deliveries answered 2xx can be lost to a crash"
            );
        }
        let store = Self {
            target: target.into(),
            pool: Pool::Postgres(pool),
            sql: std::sync::Arc::new(Sql::new(
                POSTGRES_NOW_MS,
                " FOR UPDATE SKIP LOCKED",
                |sql| sql,
            )),
        };
        store.create_tables("BYTEA").await?;
        Ok(store)
    }

    async fn create_tables(&self, bytes: &str) -> Result<(), InboxStoreError> {
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS {DELIVERIES} (\
                   provider TEXT NOT NULL, key TEXT NOT NULL, delivery_id TEXT NOT NULL, \
                   event TEXT NOT NULL, headers TEXT NOT NULL, body {bytes} NOT NULL, \
                   signed BIGINT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL, \
                   budget_from BIGINT NOT NULL, received_at BIGINT NOT NULL, \
                   enqueued_at BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL, \
                   lease_owner TEXT NOT NULL, \
                   finished_at BIGINT, last_error TEXT, pruned_at BIGINT, \
                   PRIMARY KEY (provider, key))"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {DELIVERIES}_due_at ON {DELIVERIES} \
                 (provider, next_attempt_at) WHERE state IN ('pending', 'running')"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {DELIVERIES}_finished ON {DELIVERIES} \
                 (finished_at) WHERE state = 'handled' AND pruned_at IS NULL"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {DELIVERIES}_received ON {DELIVERIES} (received_at)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {DELIVERIES}_id ON {DELIVERIES} (delivery_id)"),
            format!(
                "CREATE TABLE IF NOT EXISTS {ATTEMPTS} (\
                   provider TEXT NOT NULL, key TEXT NOT NULL, attempt BIGINT NOT NULL, \
                   started_at BIGINT NOT NULL, finished_at BIGINT NOT NULL, \
                   outcome TEXT NOT NULL, error TEXT, PRIMARY KEY (provider, key, attempt))"
            ),
        ];
        for statement in statements {
            // Two processes starting at once on PostgreSQL can race inside `IF NOT EXISTS`
            // (one of them gets a unique violation on the catalog); the second try finds
            // the table made.
            let first =
                on_pool!(self, pool => sqlx::query(&statement).execute(pool).await.map(|_| ()));
            if first.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                on_pool!(self, pool => sqlx::query(&statement).execute(pool).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// Stores a delivery, once: true when it is new, false when it was already stored.
    pub(crate) async fn insert(&self, delivery: NewDelivery<'_>) -> Result<bool, InboxStoreError> {
        let headers = encode_headers(delivery.headers);
        // The key must stay exact: one holding NUL, or too long for PostgreSQL's index
        // entries (about 2.7 KB), is kept as its SHA-256 instead.
        let key = if delivery.key.contains('\0') || delivery.key.len() > MAX_INDEXED_TEXT {
            use sha2::Digest;
            format!(
                "key-sha256:{}",
                hex::encode(sha2::Sha256::digest(delivery.key))
            )
        } else {
            delivery.key.to_owned()
        };
        let done = on_pool!(self, pool => sqlx::query(&self.sql.insert)
            .bind(delivery.provider)
            .bind(&key)
            .bind(column_text(delivery.id, MAX_INDEXED_TEXT))
            .bind(column_text(delivery.event, MAX_INDEXED_TEXT))
            .bind(&headers)
            .bind(delivery.body)
            .bind(i64::from(delivery.signed))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Takes the next due delivery of `provider` for `lease`, marking it held by `owner`.
    pub(crate) async fn claim(
        &self,
        provider: &str,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claimed>, InboxStoreError> {
        let lease = millis(lease);
        let asked_at = tokio::time::Instant::now();
        on_pool!(self, pool => {
            let row = sqlx::query(&self.sql.claim)
                .bind(provider)
                .bind(lease)
                .bind(owner)
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                Ok(Claimed {
                    key: row.try_get(0)?,
                    id: row.try_get(1)?,
                    event: row.try_get(2)?,
                    headers: decode_headers(&row.try_get::<String, _>(3)?)?,
                    body: Bytes::from(row.try_get::<Vec<u8>, _>(4)?),
                    signed: row.try_get::<i64, _>(5)? != 0,
                    attempt: count(row.try_get(6)?)?,
                    attempts_in_budget: count(row.try_get(7)?)?,
                    age: Duration::from_millis(u64::try_from(row.try_get::<i64, _>(8)?).unwrap_or(0)),
                    started_ms: row.try_get(9)?,
                    asked_at,
                })
            })
            .transpose()
        })
    }

    /// Extends the lease of a run still holding its delivery; false when it lost it.
    pub(crate) async fn renew(
        &self,
        provider: &str,
        key: &str,
        owner: &str,
        attempt: u32,
        lease: Duration,
    ) -> Result<bool, InboxStoreError> {
        let done = on_pool!(self, pool => sqlx::query(&self.sql.renew)
            .bind(provider)
            .bind(key)
            .bind(owner)
            .bind(i64::from(attempt))
            .bind(millis(lease))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records how a run ended; false when the run no longer held its delivery (its
    /// lease expired and another run took it), in which case nothing is written.
    pub(crate) async fn finish(
        &self,
        provider: &str,
        claimed: &Claimed,
        owner: &str,
        finish: Finish<'_>,
    ) -> Result<bool, InboxStoreError> {
        let attempt = i64::from(claimed.attempt);
        let (outcome, error) = match &finish {
            Finish::Handled => ("handled", None),
            Finish::Retry { error, .. } => ("failed", Some(column_text(error, 4096))),
            Finish::Dead { error } => ("dead", Some(column_text(error, 4096))),
        };
        on_pool!(self, pool => {
            // The row's change and the attempt's record commit together.
            let mut tx = pool.begin().await?;
            let query = sqlx::query(match &finish {
                Finish::Handled => &self.sql.handled,
                Finish::Retry { .. } => &self.sql.retry,
                Finish::Dead { .. } => &self.sql.dead,
            })
            .bind(provider)
            .bind(&claimed.key)
            .bind(owner)
            .bind(attempt);
            let query = match &finish {
                Finish::Handled => query,
                Finish::Retry { delay, .. } => query.bind(millis(*delay)).bind(error.as_deref()),
                Finish::Dead { .. } => query.bind(error.as_deref()),
            };
            if query.execute(&mut *tx).await?.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(&self.sql.attempt)
                .bind(provider)
                .bind(&claimed.key)
                .bind(attempt)
                .bind(claimed.started_ms)
                .bind(outcome)
                .bind(error.as_deref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Gives back a delivery whose run was stopped (at shutdown): due again at once.
    pub(crate) async fn release(
        &self,
        provider: &str,
        key: &str,
        owner: &str,
        attempt: u32,
    ) -> Result<bool, InboxStoreError> {
        let done = on_pool!(self, pool => sqlx::query(&self.sql.release)
            .bind(provider)
            .bind(key)
            .bind(owner)
            .bind(i64::from(attempt))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The deliveries `filter` selects, newest first.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the database cannot be read.
    pub async fn list(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliverySummary>, InboxStoreError> {
        let since = filter
            .since
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX));
        let limit = i64::from(filter.limit.unwrap_or(100));
        on_pool!(self, pool => {
            let rows = sqlx::query(&self.sql.list)
                .bind(filter.provider.as_deref())
                .bind(filter.event.as_deref())
                .bind(filter.state.map(DeliveryState::as_str))
                .bind(since)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(summary).collect()
        })
    }

    /// The delivery whose key or id is `id` (of `provider`, when given), with its headers,
    /// body and attempts; `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Ambiguous`] when `id` is the id of several deliveries and not
    /// the key of one; [`InboxStoreError::Unavailable`] when the database cannot be
    /// read.
    pub async fn show(
        &self,
        provider: Option<&str>,
        id: &str,
    ) -> Result<Option<DeliveryRecord>, InboxStoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(&self.sql.show)
                .bind(provider)
                .bind(id)
                .fetch_all(pool)
                .await?;
            let Some(row) = rows.first() else { return Ok(None) };
            // An exact key names one delivery, whatever shares its id.
            let exact = row.try_get::<String, _>(1)? == id;
            if rows.len() > 1 && !exact {
                return Err(InboxStoreError::Ambiguous(id.to_owned()));
            }
            let summary = summary(row)?;
            let attempts = sqlx::query(&self.sql.attempts_of)
                .bind(&summary.provider)
                .bind(&summary.key)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(AttemptRecord {
                        number: count(row.try_get(0)?)?,
                        started_at: at(row.try_get(1)?),
                        finished_at: at(row.try_get(2)?),
                        outcome: row.try_get(3)?,
                        error: row.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, InboxStoreError>>()?;
            Ok(Some(DeliveryRecord {
                headers: decode_headers(&row.try_get::<String, _>(9)?)?,
                body: Bytes::from(row.try_get::<Vec<u8>, _>(10)?),
                signed: row.try_get::<i64, _>(11)? != 0,
                pruned_at: row.try_get::<Option<i64>, _>(12)?.map(at),
                summary,
                attempts,
            }))
        })
    }

    /// Makes a stored delivery due again at once, with a fresh budget of attempts and age
    /// (the receiver's workers then run its handlers again): true when it was requeued,
    /// false when it is being handled right now, or was kept by
    /// [`record_received`](DeliveryStore::record_received) (never run by workers: it was
    /// not received by an inbox, and may have been forged). With `only`, only a delivery
    /// in that state is requeued.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the database cannot be written.
    pub async fn requeue(
        &self,
        provider: &str,
        key: &str,
        only: Option<DeliveryState>,
    ) -> Result<bool, InboxStoreError> {
        let done = on_pool!(self, pool => sqlx::query(&self.sql.requeue)
            .bind(provider)
            .bind(key)
            .bind(only.map(DeliveryState::as_str))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Deletes the headers and bodies of deliveries handled more than `older_than` ago;
    /// their keys and attempts are kept, so that a replay of one of them (a signed
    /// delivery captured and sent again) is still recognised and not handled twice.
    /// Dead and pending deliveries are kept whole. Returns how many were pruned.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the database cannot be written.
    pub async fn prune(&self, older_than: Duration) -> Result<u64, InboxStoreError> {
        let age = millis(older_than);
        let pruned = on_pool!(self, pool => sqlx::query(&self.sql.prune)
            .bind(age)
            .bind(Vec::<u8>::new())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(pruned)
    }

    /// How many of `provider`'s deliveries wait or run, and the age of the oldest waiting.
    pub(crate) async fn depth(&self, provider: &str) -> Result<(u64, Duration), InboxStoreError> {
        on_pool!(self, pool => {
            let row = sqlx::query(&self.sql.depth).bind(provider).fetch_one(pool).await?;
            let depth: i64 = row.try_get(0)?;
            let oldest: i64 = row.try_get(1)?;
            Ok((
                u64::try_from(depth).unwrap_or(0),
                Duration::from_millis(u64::try_from(oldest).unwrap_or(0)),
            ))
        })
    }
}

// ---- Deliveries received outside an inbox ---------------------------------------------

/// The lease owner of a delivery kept by [`DeliveryStore::record_received`]: no worker's
/// (a worker's owner is a random token), and refused by `requeue`, so that neither a
/// retry nor a replay can hand such a delivery, which may have been forged, to workers.
const RECEIVED_OWNER: &str = "received-outside-an-inbox";
// `hookguard listen --ui` keeps what it receives in these same tables, so that the
// journal's readers (`hookguard deliveries`) show it too.

/// A delivery that was received and answered outside an inbox (by a local listener such
/// as `hookguard listen --ui`), to keep in the journal as it ended: handled when it was
/// accepted, dead with the refusal's words when it was refused. It is stored finished,
/// never pending, and [`DeliveryStore::requeue`] refuses it (so neither
/// `hookguard deliveries retry` nor `replay` makes it due): no worker runs it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hookguard::inbox::{DeliveryFilter, DeliveryState, DeliveryStore, ReceivedDelivery};
///
/// # let dir = std::env::temp_dir().join(format!("hookguard-received-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let store = DeliveryStore::open(dir.join("listen.db").to_str().ok_or("path")?).await?;
/// let headers = http::HeaderMap::new();
/// let refused = ReceivedDelivery::new("claimr", "listen-1", &headers, b"{}")
///     .with_event("msg_1", "user_login")
///     .refused("signature mismatch");
/// assert!(store.record_received(&refused).await?);
/// let listed = store.list(&DeliveryFilter::new()).await?;
/// assert_eq!(listed[0].state, DeliveryState::Dead);
/// assert_eq!(listed[0].last_error.as_deref(), Some("signature mismatch"));
/// // Never made due: a retry would hand a forged delivery to a receiver's workers.
/// assert!(!store.requeue("claimr", "listen-1", None).await?);
/// assert_eq!(store.list(&DeliveryFilter::new()).await?[0].state, DeliveryState::Dead);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceivedDelivery<'a> {
    /// The provider's name, or what the receiver calls a sender it did not recognise.
    pub provider: &'a str,
    /// What the delivery is stored once under (unique per provider).
    pub key: &'a str,
    /// The delivery's id, as the provider sent it (empty when unknown).
    pub id: &'a str,
    /// The event's name, as the provider sent it (empty when unknown).
    pub event: &'a str,
    /// The request's headers, as received.
    pub headers: &'a HeaderMap,
    /// The body, as received.
    pub body: &'a [u8],
    /// Why it was refused, when it was: kept as the journal's last error.
    pub refusal: Option<&'a str>,
}

impl<'a> ReceivedDelivery<'a> {
    /// An accepted delivery of `provider` stored under `key`, with no id or event name.
    pub fn new(provider: &'a str, key: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Self {
            provider,
            key,
            id: "",
            event: "",
            headers,
            body,
            refusal: None,
        }
    }

    /// With the delivery's id and event name.
    #[must_use]
    pub fn with_event(mut self, id: &'a str, event: &'a str) -> Self {
        self.id = id;
        self.event = event;
        self
    }

    /// Refused, for `reason` (such as `signature mismatch`).
    #[must_use]
    pub fn refused(mut self, reason: &'a str) -> Self {
        self.refusal = Some(reason);
        self
    }
}

impl DeliveryStore {
    /// Keeps a delivery received outside an inbox in the journal, finished as it ended
    /// ([`DeliveryState::Handled`], or [`DeliveryState::Dead`] with the refusal as its
    /// last error): true when it is new, false when its key was already stored.
    ///
    /// # Errors
    ///
    /// [`InboxStoreError::Unavailable`] when the database cannot be written.
    pub async fn record_received(
        &self,
        delivery: &ReceivedDelivery<'_>,
    ) -> Result<bool, InboxStoreError> {
        let state = match delivery.refusal {
            None => DeliveryState::Handled,
            Some(_) => DeliveryState::Dead,
        };
        let done = on_pool!(self, pool => sqlx::query(&self.sql.received)
            .bind(delivery.provider)
            .bind(column_text(delivery.key, MAX_INDEXED_TEXT))
            .bind(column_text(delivery.id, MAX_INDEXED_TEXT))
            .bind(column_text(delivery.event, MAX_INDEXED_TEXT))
            .bind(encode_headers(delivery.headers))
            .bind(delivery.body)
            .bind(state.as_str())
            .bind(delivery.refusal.map(|reason| column_text(reason, 4096)))
            .bind(delivery.refusal.is_none())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }
}
// ---- end of deliveries received outside an inbox --------------------------------------

fn summary<R: Row>(row: &R) -> Result<DeliverySummary, InboxStoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = row.try_get(4)?;
    Ok(DeliverySummary {
        provider: row.try_get(0)?,
        key: row.try_get(1)?,
        id: row.try_get(2)?,
        event: row.try_get(3)?,
        state: DeliveryState::from_name(&state)
            .ok_or_else(|| InboxStoreError::Corrupt(format!("unknown state `{state}`")))?,
        attempts: count(row.try_get(5)?)?,
        received_at: at(row.try_get(6)?),
        next_attempt_at: at(row.try_get(7)?),
        last_error: row.try_get(8)?,
    })
}

fn count(value: i64) -> Result<u32, InboxStoreError> {
    u32::try_from(value).map_err(|_| InboxStoreError::Corrupt(format!("count {value}")))
}

/// A duration in milliseconds, at most a century: added to the database's "now", it
/// cannot overflow.
fn millis(duration: Duration) -> i64 {
    const CENTURY_MS: u128 = 100 * 365 * 24 * 3600 * 1000;
    i64::try_from(duration.as_millis().min(CENTURY_MS)).unwrap_or(i64::MAX)
}

/// Text as a TEXT column takes it: PostgreSQL refuses NUL, so it becomes U+FFFD; and an
/// error message is cut to 4 KiB.
pub(crate) fn column_text(text: &str, limit: usize) -> String {
    let mut text: String = text.replace('\0', "\u{fffd}");
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// A time from the database's milliseconds (the epoch if out of range).
fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Headers as a JSON array of `[name, value]` pairs, in order; a value that is not
/// UTF-8 is written `[name, base64, "base64"]`, so that every byte comes back.
fn encode_headers(headers: &HeaderMap) -> String {
    use base64::Engine as _;
    let pairs: Vec<Vec<String>> = headers
        .iter()
        .map(
            |(name, value)| match std::str::from_utf8(value.as_bytes()) {
                Ok(text) => vec![name.as_str().to_owned(), text.to_owned()],
                Err(_) => vec![
                    name.as_str().to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(value.as_bytes()),
                    "base64".to_owned(),
                ],
            },
        )
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

fn decode_headers(text: &str) -> Result<HeaderMap, InboxStoreError> {
    use base64::Engine as _;
    let corrupt = |what: String| InboxStoreError::Corrupt(format!("headers: {what}"));
    let pairs: Vec<Vec<String>> =
        serde_json::from_str(text).map_err(|err| corrupt(err.to_string()))?;
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for pair in pairs {
        let (name, value) = match pair.as_slice() {
            [name, value] => (name, value.as_bytes().to_vec()),
            [name, value, encoding] if encoding == "base64" => (
                name,
                base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(|err| corrupt(format!("`{name}`: {err}")))?,
            ),
            _ => return Err(corrupt(format!("unexpected entry {pair:?}"))),
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|err| corrupt(format!("`{name}`: {err}")))?;
        let value =
            HeaderValue::from_bytes(&value).map_err(|err| corrupt(format!("`{name}`: {err}")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_shown_without_its_password() {
        assert_eq!(
            redacted("postgres://op:s3cr3t@db.internal:5432/hookguard?sslmode=require&password=x"),
            "postgres://op@db.internal:5432/hookguard"
        );
        assert_eq!(
            redacted("postgres://db/hookguard"),
            "postgres://db/hookguard"
        );
        assert_eq!(redacted("./inbox.db"), "./inbox.db");
    }

    #[test]
    fn column_text_has_no_nul_and_respects_its_limit() {
        assert_eq!(column_text("a\0b", 100), "a\u{fffd}b");
        assert_eq!(column_text("ééé", 3), "é");
    }

    #[test]
    fn headers_round_trip_every_byte() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("one"));
        headers.append("x-a", HeaderValue::from_static("two"));
        headers.insert("x-bin", HeaderValue::from_bytes(b"\xff\xfe ok").unwrap());
        let back = decode_headers(&encode_headers(&headers)).unwrap();
        assert_eq!(back, headers);
    }
}
