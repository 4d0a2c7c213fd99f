//! The inspector's history: the journal's tables (`hookguard_inbox`, through the
//! library's [`DeliveryStore`]) hold each delivery's headers and body, and a table of the
//! listener's own, `hookguard_listen`, how it arrived and how it was answered.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use hookguard::inbox::{DeliveryStore, ReceivedDelivery};
use http::HeaderMap;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use super::Entry;

/// The listener's own table.
const TABLE: &str = "hookguard_listen";

/// The history, in one SQLite file.
pub struct History {
    pool: SqlitePool,
    store: DeliveryStore,
    /// Changes to an entry are read, changed and written under it, so that a forward's
    /// answer and a replay's do not overwrite each other.
    writing: tokio::sync::Mutex<()>,
}

impl History {
    /// Opens (or creates) the file at `path`, and its folder.
    ///
    /// # Errors
    ///
    /// Why it cannot be used: it cannot be made or opened, or it is a receiver's inbox
    /// (whose workers would run what the listener stores).
    pub async fn open(path: &Path) -> Result<Self, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| e.to_string())?;
        let ours: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1")
                .bind(TABLE)
                .fetch_optional(&pool)
                .await
                .map_err(|e| e.to_string())?;
        // A file with a receiver's inbox (even an empty one) is not the listener's: what the
        // listener keeps must never sit beside deliveries a receiver's workers run.
        let inbox: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'hookguard_inbox'",
        )
        .fetch_optional(&pool)
        .await
        .map_err(|e| e.to_string())?;
        if ours.is_none() && inbox.is_some() {
            return Err(
                "this file holds a receiver's inbox; give the listener a file of its own".into(),
            );
        }
        let store = DeliveryStore::sqlite(pool.clone())
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
               key TEXT NOT NULL UNIQUE, entry TEXT NOT NULL)"
        ))
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
        Ok(History {
            pool,
            store,
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// Keeps a new delivery: its row in the journal and its entry.
    pub async fn insert(
        &self,
        entry: &Entry,
        delivery: &ReceivedDelivery<'_>,
    ) -> Result<(), String> {
        self.store
            .record_received(delivery)
            .await
            .map_err(|e| e.to_string())?;
        let text = serde_json::to_string(entry).map_err(|e| e.to_string())?;
        sqlx::query(&format!("INSERT INTO {TABLE} (key, entry) VALUES (?1, ?2)"))
            .bind(&entry.key)
            .bind(text)
            .execute(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn entry(&self, key: &str) -> Result<Option<Entry>, String> {
        let text: Option<String> =
            sqlx::query_scalar(&format!("SELECT entry FROM {TABLE} WHERE key = ?1"))
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| e.to_string())?;
        text.map(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .transpose()
    }

    /// A delivery's entry, and its headers and body from the journal (when they are
    /// still there).
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<Option<(Entry, Option<(HeaderMap, Bytes)>)>, String> {
        let Some(entry) = self.entry(key).await? else {
            return Ok(None);
        };
        let record = self
            .store
            .show(Some(&entry.provider), key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some((entry, record.map(|r| (r.headers, r.body)))))
    }

    /// Changes a delivery's entry with `change`; the entry as changed, `None` when there
    /// is none.
    pub async fn update(
        &self,
        key: &str,
        change: impl FnOnce(&mut Entry),
    ) -> Result<Option<Entry>, String> {
        let _writing = self.writing.lock().await;
        let Some(mut entry) = self.entry(key).await? else {
            return Ok(None);
        };
        change(&mut entry);
        let text = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
        sqlx::query(&format!("UPDATE {TABLE} SET entry = ?2 WHERE key = ?1"))
            .bind(key)
            .bind(text)
            .execute(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(entry))
    }

    /// The newest `limit` entries, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<Entry>, String> {
        let rows = sqlx::query(&format!(
            "SELECT entry FROM {TABLE} ORDER BY seq DESC LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get(0).map_err(|e| e.to_string())?;
                serde_json::from_str(&text).map_err(|e| e.to_string())
            })
            .collect()
    }
}
