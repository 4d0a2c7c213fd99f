use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{checked_table, sql, unavailable, StoreError, DEFAULT_TABLE};

/// The database's own clock in milliseconds: every receiver process sharing the store
/// measures leases by one clock, whatever their machines' clocks say.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Claims kept in PostgreSQL: the store shared by several receiver processes.
///
/// `INSERT … ON CONFLICT … DO UPDATE … WHERE` takes the row lock, so of any number of
/// processes claiming one key at once, one acquires it. Leases are measured by the
/// database's clock. The table is created if missing.
///
/// ```no_run
/// # async fn run() -> Result<(), hookguard::idempotency::StoreError> {
/// use hookguard::idempotency::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://hookguard@127.0.0.1/hookguard").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
            // As SQLite's (see there); the `c` alias names the old row.
            claim: format!(
                "INSERT INTO {table} AS c \
                   (key, state, attempt, lease_until, updated_at, fingerprint, recovery) \
                 SELECT $1, 'running', 1, now.ms + $2, now.ms, $3, 0 \
                   FROM (SELECT {NOW_MS} AS ms) AS now \
                 ON CONFLICT (key) DO UPDATE SET state = 'running', attempt = c.attempt + 1, \
                   lease_until = excluded.lease_until, updated_at = excluded.updated_at, \
                   recovery = {recovery} \
                 WHERE {take_over} \
                 RETURNING c.attempt, c.recovery",
                recovery = sql::recovery_of_takeover("c"),
                take_over = sql::may_take_over("c", "$4"),
            ),
            lookup: format!(
                "SELECT state, attempt, lease_until - {NOW_MS}, fingerprint, recovery \
                 FROM {table} WHERE key = $1"
            ),
            renew: format!(
                "UPDATE {table} SET lease_until = {NOW_MS} + $3, updated_at = {NOW_MS} \
                 WHERE key = $1 AND attempt = $2 AND state = 'running'"
            ),
            finish: format!(
                "UPDATE {table} SET state = $3, updated_at = {NOW_MS} \
                 WHERE key = $1 AND attempt = $2 AND state = 'running'"
            ),
            release: sql::release(table, NOW_MS, "$1", "$2"),
            resolve: sql::resolve(table, NOW_MS, "$1", "$2"),
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database cannot be reached or the table
    /// created.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_table(url, DEFAULT_TABLE).await
    }

    /// Connects to the database at `url`, keeping claims in `table` (created if missing).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and [`StoreError::Corrupt`] for a table name that is
    /// not a plain identifier.
    pub async fn connect_with_table(url: &str, table: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(unavailable)?;
        Self::with_pool(pool, table).await
    }

    /// Uses an existing pool and `table` (created if missing).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the table cannot be created, or
    /// [`StoreError::Corrupt`] for a table name that is not a plain identifier.
    pub async fn with_pool(pool: PgPool, table: &str) -> Result<Self, StoreError> {
        let table = checked_table(table).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Several processes may start at once; `CREATE TABLE IF NOT EXISTS` alone can then
        // fail on the catalog's unique index, so creation is serialised by an advisory lock.
        let mut tx = pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(&table)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
               key TEXT PRIMARY KEY, \
               state TEXT NOT NULL, \
               attempt BIGINT NOT NULL, \
               lease_until BIGINT NOT NULL, \
               updated_at BIGINT NOT NULL, \
               fingerprint TEXT NOT NULL DEFAULT '', \
               recovery BIGINT NOT NULL DEFAULT 0)"
        ))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Self {
            pool,
            sql: Sql::new(&table),
        })
    }

    /// The connection pool, for closing it or sharing it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

sql_store!(PostgresStore);
