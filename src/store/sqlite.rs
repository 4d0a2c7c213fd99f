use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    attempt_from, checked_table, claim_not_acquired, finished, millis, now_millis, unavailable,
    Claim, Record, State, Store, StoreError, DEFAULT_TABLE,
};

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
    finish: String,
}

impl Sql {
    fn new(table: &str) -> Self {
        Self {
            // One statement, so SQLite's write lock makes it atomic: a new key is inserted
            // as attempt 1; an existing one is taken over only if it failed or its lease
            // ran out. `RETURNING` yields a row only when this call acquired the key.
            claim: format!(
                "INSERT INTO {table} (key, state, attempt, lease_until, updated_at) \
                 VALUES (?1, 'running', 1, ?2 + ?3, ?2) \
                 ON CONFLICT (key) DO UPDATE SET state = 'running', \
                   attempt = {table}.attempt + 1, lease_until = excluded.lease_until, \
                   updated_at = excluded.updated_at \
                 WHERE {table}.state = 'failed' \
                   OR ({table}.state = 'running' AND {table}.lease_until <= excluded.updated_at) \
                 RETURNING attempt"
            ),
            lookup: format!("SELECT state, attempt, lease_until FROM {table} WHERE key = ?1"),
            finish: format!(
                "UPDATE {table} SET state = ?3, updated_at = ?4 \
                 WHERE key = ?1 AND attempt = ?2 AND state = 'running'"
            ),
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
               updated_at INTEGER NOT NULL)"
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
        let done = sqlx::query(&self.sql.finish)
            .bind(key)
            .bind(i64::from(attempt))
            .bind(state.as_str())
            .bind(now_millis())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        finished(done.rows_affected(), key, attempt)
    }

    async fn lookup(&self, key: &str) -> Result<Option<(State, u32, i64)>, StoreError> {
        let row: Option<(String, i64, i64)> = sqlx::query_as(&self.sql.lookup)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|(state, attempt, lease_until)| {
            Ok((State::parse(&state)?, attempt_from(attempt)?, lease_until))
        })
        .transpose()
    }
}

impl Store for SqliteStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let now = now_millis();
            let acquired: Option<(i64,)> = sqlx::query_as(&self.sql.claim)
                .bind(key)
                .bind(now)
                .bind(millis(lease))
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
            if let Some((attempt,)) = acquired {
                return Ok(Claim::Acquired {
                    attempt: attempt_from(attempt)?,
                });
            }
            let found = self.lookup(key).await?;
            Ok(claim_not_acquired(found.map(
                |(state, attempt, lease_until)| (state, attempt, lease_until.saturating_sub(now)),
            )))
        })
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Done))
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish(key, attempt, State::Failed))
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .lookup(key)
                .await?
                .map(|(state, attempt, _)| Record { state, attempt }))
        })
    }
}
