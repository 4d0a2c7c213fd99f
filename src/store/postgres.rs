use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{
    attempt_from, checked_table, claim_not_acquired, finished, millis, recovery_from, sql,
    unavailable, Claim, Found, Record, Resolution, State, Store, StoreError, DEFAULT_TABLE,
};

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
/// # async fn run() -> Result<(), hookguard::store::StoreError> {
/// use hookguard::store::PostgresStore;
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

impl Store for PostgresStore {
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
