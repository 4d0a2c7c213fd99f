use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{checked_table, sql, unavailable, StoreError, DEFAULT_TABLE};

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
/// # async fn run() -> Result<(), hookguard::idempotency::StoreError> {
/// use hookguard::idempotency::SqliteStore;
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
}
sql_store!(SqliteStore);
