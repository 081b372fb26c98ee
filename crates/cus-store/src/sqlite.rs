//! The embedded store: one SQLite file, WAL mode, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

/// SQLite store: the zero-set-up default.
#[derive(Clone)]
pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Every write, on one connection: SQLite lets one writer in at a time, and writers
    /// queued here wait their turn in order, where writers on many connections would meet
    /// `SQLITE_BUSY` and poll the lock (most of the CPU and all of the tail latency of a
    /// write-heavy load such as refresh-token rotation).
    writer: SqlitePool,
    /// The clients this node has read (`crate::client_cache`).
    client_cache: std::sync::Arc<crate::client_cache::ClientCache>,
}

impl SqliteStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

    /// Opens (creating if missing, with its folder) the database a `sqlite://` URL names.
    pub async fn connect(url: &str, max_connections: u32) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| crate::StoreError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                crate::StoreError::Config(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer,
            client_cache: std::sync::Arc::default(),
        })
    }
}

/// The file a `sqlite://` URL names, when it does not exist yet: a caller that must not
/// create a database by accident (a mistyped path would otherwise get an empty one) checks
/// it before connecting, since [`SqliteStore::connect`] creates what is missing.
pub(crate) fn missing_file(url: &str) -> Option<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (path != std::path::Path::new(":memory:") && !path.exists()).then(|| path.to_owned())
}

// What the shared SQL needs to know of this backend (see `sql/mod.rs`).
type Db = Sqlite;
type Backend = SqliteStore;
const NAME: &str = "sqlite";
/// One writer at a time: an outbox claim is its own transaction, no row lock to skip.
const SKIP_LOCKED: bool = false;
/// Text compares byte by byte (`BINARY`): a name prefix is a range of a plain index.
const BINARY_ORDER: bool = true;

#[expect(
    clippy::duplicate_mod,
    reason = "the shared SQL is compiled once per backend, on purpose"
)]
#[path = "sql/mod.rs"]
mod sql;
