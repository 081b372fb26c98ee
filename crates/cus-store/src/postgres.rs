//! The production store: PostgreSQL, shared by every node.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

    pub async fn connect(url: &str, max_connections: u32) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

// Outbox claims skip rows another node has locked (see `claim_notifications`).
crate::sql::impl_store!(PgStore, Postgres, "postgres", " FOR UPDATE SKIP LOCKED");
