use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    attempt_from, checked_table, claim_not_acquired, finished, millis, recovery_from, sql,
    unavailable, Claim, Found, Record, Resolution, State, Store, StoreError, DEFAULT_TABLE,
};

/// The database's clock in milliseconds since the Unix epoch. SQLite reads `'now'` once
/// per statement, after the statement has its lock, so a lease is measured from when the
/// write happens, not from when the process started waiting for it.
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// Claims kept in a SQLite file: the embedded store for one machine.
///
/// The file is opened in WAL mode with `synchronous=FULL`, so that a claim recorded before
/// a crash or power loss is still there after it. The table is created if missing.
///
/// ```no_run
/// # async fn run() -> Result<(), hookguard::store::StoreError> {
/// use hookguard::store::SqliteStore;
///
/// let store = SqliteStore::open("payouts.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Sql,
}

#[derive(Debug, Clone)]
struct Sql {
    claim: String,
    lookup: String,
    renew: String,
    finish: String,
    release: String,
    resolve: String,
}

impl Sql {
    fn new(table: &str) -> Self {
        Self {
            // One statement, so SQLite's write lock makes it atomic: a new key is inserted
            // as attempt 1; an existing one with the same fingerprint is taken over only if
            // it failed cleanly, or (with ?4 set) if its outcome is unknown. `RETURNING`
            // yields a row only when this call acquired the key.
            claim: format!(
                "INSERT INTO {table} \
                   (key, state, attempt, lease_until, updated_at, fingerprint, recovery) \
                 VALUES (?1, 'running', 1, {NOW_MS} + ?2, {NOW_MS}, ?3, 0) \
                 ON CONFLICT (key) DO UPDATE SET state = 'running', \
                   attempt = {table}.attempt + 1, lease_until = excluded.lease_until, \
                   updated_at = excluded.updated_at, recovery = {recovery} \
                 WHERE {take_over} \
                 RETURNING attempt, recovery",
                recovery = sql::recovery_of_takeover(table),
                take_over = sql::may_take_over(table, "?4"),
            ),
            lookup: format!(
                "SELECT state, attempt, lease_until - {NOW_MS}, fingerprint, recovery \
                 FROM {table} WHERE key = ?1"
            ),
            renew: format!(
                "UPDATE {table} SET lease_until = {NOW_MS} + ?3, updated_at = {NOW_MS} \
                 WHERE key = ?1 AND attempt = ?2 AND state = 'running'"
            ),
            finish: format!(
                "UPDATE {table} SET state = ?3, updated_at = {NOW_MS} \
                 WHERE key = ?1 AND attempt = ?2 AND state = 'running'"
            ),
            release: sql::release(table, NOW_MS, "?1", "?2"),
            resolve: sql::resolve(table, NOW_MS, "?1", "?2"),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the file cannot be opened or the table created.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Self::with_pool(pool, DEFAULT_TABLE).await
    }

    /// Uses an existing pool and `table` (created if missing).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the table cannot be created, or
    /// [`StoreError::Corrupt`] for a table name that is not a plain identifier.
    pub async fn with_pool(pool: SqlitePool, table: &str) -> Result<Self, StoreError> {
        let table = checked_table(table).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
               key TEXT PRIMARY KEY NOT NULL, \
               state TEXT NOT NULL, \
               attempt INTEGER NOT NULL, \
               lease_until INTEGER NOT NULL, \
               updated_at INTEGER NOT NULL, \
               fingerprint TEXT NOT NULL DEFAULT '', \
               recovery INTEGER NOT NULL DEFAULT 0)"
        ))
        .execute(&pool)
        .await
        .map_err(unavailable)?;
        Ok(Self {
            pool,
            sql: Sql::new(&table),
        })
    }

    /// The connection pool, for closing it or sharing it.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn finish(&self, key: &str, attempt: u32, state: State) -> Result<(), StoreError> {
        let statement = match state {
            State::Failed => sqlx::query(&self.sql.release)
                .bind(key)
                .bind(i64::from(attempt)),
            _ => sqlx::query(&self.sql.finish)
                .bind(key)
                .bind(i64::from(attempt))
                .bind(state.as_str()),
        };
        let done = statement.execute(&self.pool).await.map_err(unavailable)?;
        finished(done.rows_affected(), key, attempt)
    }

    async fn lookup(&self, key: &str) -> Result<Option<Found>, StoreError> {
        let row: Option<(String, i64, i64, String, i64)> = sqlx::query_as(&self.sql.lookup)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|(state, attempt, lease_left_ms, fingerprint, recovery)| {
            Ok(Found {
                state: State::parse(&state)?,
                attempt: attempt_from(attempt)?,
                lease_left_ms,
                fingerprint,
                recovery,
            })
        })
        .transpose()
    }
}

impl Store for SqliteStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let acquired: Option<(i64, i64)> = sqlx::query_as(&self.sql.claim)
                .bind(key)
                .bind(millis(lease))
                .bind(fingerprint)
                .bind(recover)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
            if let Some((attempt, recovery)) = acquired {
                let attempt = attempt_from(attempt)?;
                return Ok(Claim::Acquired {
                    attempt,
                    recovery: recovery_from(recovery, attempt),
                });
            }
            let found = self.lookup(key).await?;
            Ok(claim_not_acquired(found, fingerprint, recover))
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let renewed = sqlx::query(&self.sql.renew)
                .bind(key)
                .bind(i64::from(attempt))
                .bind(millis(lease))
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
            finished(renewed.rows_affected(), key, attempt)
        })
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Done))
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Failed))
    }

    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Panicked))
    }

    fn report_unknown<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Unknown))
    }

    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let settled = sqlx::query(&self.sql.resolve)
                .bind(key)
                .bind(resolution.state().as_str())
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
            Ok(settled.rows_affected() == 1)
        })
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            Ok(self.lookup(key).await?.map(|found| Record {
                state: found.state,
                attempt: found.attempt,
                fingerprint: found.fingerprint,
            }))
        })
    }
}
