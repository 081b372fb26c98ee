//! The production store: PostgreSQL, shared by every node.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Writes go to the same pool: PostgreSQL has many writers at once (the name is the
    /// shared SQL's, which SQLite routes to one connection).
    writer: PgPool,
    /// The clients this node has read (`crate::client_cache`).
    client_cache: std::sync::Arc<crate::client_cache::ClientCache>,
}

impl PgStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

    pub async fn connect(url: &str, max_connections: u32) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self {
            writer: pool.clone(),
            pool,
            client_cache: std::sync::Arc::default(),
        })
    }
}

// What the shared SQL needs to know of this backend (see `sql/mod.rs`).
type Db = Postgres;
type Backend = PgStore;
const NAME: &str = "postgres";
/// Nodes claim outbox rows concurrently: each skips the rows another is leasing (see
/// `sql/outbox.rs`).
const SKIP_LOCKED: bool = true;
/// Text compares by the database's collation: a name prefix is a range only in `COLLATE "C"`
/// (the help desk indexes are built so; see `sql/accounts.rs`).
const BINARY_ORDER: bool = false;

#[expect(
    clippy::duplicate_mod,
    reason = "the shared SQL is compiled once per backend, on purpose"
)]
#[path = "sql/mod.rs"]
mod sql;
