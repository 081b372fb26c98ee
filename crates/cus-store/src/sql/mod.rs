//! The SQL both backends share: one module per aggregate, each holding its statements as
//! constants, one bind helper per row it writes, and its trait's implementation.
//!
//! This folder is compiled once per backend, as plain Rust that rustfmt and clippy see:
//! `sqlite.rs` and `postgres.rs` each load it as their own `sql` module, after naming
//! what differs between them — `Db` (the sqlx database), `Backend` (their store type),
//! `NAME` (for logs), `BINARY_ORDER` (whether text compares byte by byte without
//! `COLLATE "C"`, for the help desk's name prefixes) and `SKIP_LOCKED` (PostgreSQL claims outbox rows
//! `FOR UPDATE SKIP LOCKED`, which SQLite, one writer at a time, has no need of). The same
//! `$n` placeholders, `RETURNING` and `ON CONFLICT` run on both; the rest of the dialect
//! lives in the migrations.
//!
//! Every write takes a [`Change`] and writes its notices and audit event in the write's own
//! transaction (`record`).

mod account_import;
mod accounts;
mod audit;
mod clients;
mod consents;
mod keys;
mod outbox;
mod refresh_tokens;

use async_trait::async_trait;

use super::{BINARY_ORDER, Backend, Db, NAME, SKIP_LOCKED};
use crate::{Change, Result};

/// A statement on this backend, being bound.
type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

/// A write's transaction on this backend.
type Transaction = sqlx::Transaction<'static, Db>;

/// Writes what `change` causes besides the write itself, its notices and audit event, in
/// the write's transaction. Token revocations stay with each write: what they revoke is
/// the aggregate's business.
async fn record(tx: &mut Transaction, change: Change<'_>) -> Result<()> {
    for notice in change.notices {
        outbox::insert(&mut **tx, notice).await?;
    }
    audit::insert(&mut **tx, change.audit).await
}

/// `($1, …, $width), ($width+1, …), …` for a multi-row `VALUES` of `rows` rows.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=width)
                .map(|i| format!("${}", row * width + i))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl crate::Store for Backend {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<()> {
        let mut migrator = Self::MIGRATOR;
        migrator.set_ignore_missing(true);
        migrator.run(&self.writer).await?;
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<Vec<String>> {
        // No table yet: nothing applied (a new database).
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
        Ok(Self::MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect())
    }

    fn backend(&self) -> &'static str {
        NAME
    }

    fn pool_usage(&self) -> crate::PoolUsage {
        crate::PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}
