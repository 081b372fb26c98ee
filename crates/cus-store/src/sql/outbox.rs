//! The durable notification outbox: queued with the change that causes them, leased to one
//! delivery worker at a time, their bodies dropped once delivered or abandoned.

use async_trait::async_trait;
use cus_core::notification::Notification;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Backend, Db, SKIP_LOCKED};
use crate::Result;
use crate::model::{Backlog, DeliveryStatus, OutboxRow, StoredNotification};

const INSERT: &str = "INSERT INTO outbox \
     (id, channel, recipient, subject, body, sealed, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// `$1` is optional: `NULL` reads every recipient.
const DELIVERIES: &str = "SELECT id, channel, recipient, subject, created_at, sent_at, \
     abandoned_at, attempts, last_error, (body <> '') AS body_kept FROM outbox \
     WHERE ($1 IS NULL OR recipient = $1) ORDER BY created_at DESC LIMIT $2";

const PENDING: &str = "SELECT id, channel, recipient, subject, body, sealed, created_at, \
     attempts FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL \
     ORDER BY created_at LIMIT $1";

/// One statement: rows due and not leased are leased to this node, so two nodes never
/// deliver the same message at once. On PostgreSQL the rows are picked
/// `FOR UPDATE SKIP LOCKED` (`$lock`): a row another node is leasing right now is skipped,
/// not waited for and then leased twice (the subquery's picks are not re-run when the row
/// changes under it). The lease condition is also checked again on the row being updated,
/// as the last word. SQLite has one writer at a time; the statement is its own transaction.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET locked_until = $1 WHERE id IN ( \
               SELECT id FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL \
               AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
               AND (locked_until IS NULL OR locked_until <= $2) \
               ORDER BY created_at LIMIT $3",
            $lock,
            ") AND sent_at IS NULL AND abandoned_at IS NULL \
             AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING id, channel, recipient, subject, body, sealed, created_at, attempts"
        )
    };
}

const CLAIM: &str = if SKIP_LOCKED {
    claim!(" FOR UPDATE SKIP LOCKED")
} else {
    claim!("")
};

/// One bounded batch of the retention purge: delivered or abandoned messages queued
/// before `$1`, at most `$2`, by the `outbox_done` partial index. A waiting message is
/// never purged. PostgreSQL skips rows another node is deleting.
macro_rules! purge {
    ($lock:literal) => {
        concat!(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE (sent_at IS NOT NULL OR abandoned_at IS NOT NULL) AND created_at < $1 \
             LIMIT $2",
            $lock,
            ")"
        )
    };
}

const PURGE: &str = if SKIP_LOCKED {
    purge!(" FOR UPDATE SKIP LOCKED")
} else {
    purge!("")
};

/// The body goes: once delivered it is the recipient's, and the store keeps no copy of a
/// message (nor of a secret in it) longer than delivery needs.
const MARK_SENT: &str = "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, \
     locked_until = NULL, body = '' WHERE id = $2";
const MARK_ABANDONED: &str = "UPDATE outbox SET abandoned_at = $1, last_error = $2, \
     body = '', locked_until = NULL WHERE id = $3";
const MARK_FAILED: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
     next_attempt_at = $2, locked_until = NULL WHERE id = $3";

const BACKLOG: &str = "SELECT channel, COUNT(*) AS pending, MIN(created_at) AS oldest \
     FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL GROUP BY channel \
     ORDER BY channel";

/// Only while the message waits: a delivered or abandoned one has no body left to reseal.
const RESEAL: &str = "UPDATE outbox SET body = $1 \
     WHERE id = $2 AND sealed AND sent_at IS NULL AND abandoned_at IS NULL";

/// Replaces the sealed body of undelivered message `id` (a KEK change), on `executor`.
pub(super) async fn reseal<'c, E>(executor: E, id: Uuid, body: &str) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(RESEAL)
        .bind(body)
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Queues `n` on `executor`, in the transaction of the change that causes it.
pub(super) async fn insert<'c, E>(executor: E, n: &Notification) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    sqlx::query(INSERT)
        .bind(n.id)
        .bind(n.channel.as_str())
        .bind(&n.recipient)
        .bind(&n.subject)
        .bind(&n.body)
        .bind(n.sealed)
        .bind(n.created_at)
        .execute(executor)
        .await?;
    Ok(())
}

#[async_trait]
impl crate::Outbox for Backend {
    async fn queue_notifications(&self, notifications: &[Notification]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for n in notifications {
            insert(&mut *tx, n).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(&self, recipient: Option<&str>, limit: u32) -> Result<Vec<DeliveryStatus>> {
        Ok(sqlx::query_as::<_, DeliveryStatus>(DELIVERIES)
            .bind(recipient)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn outbox_backlog(&self) -> Result<Vec<Backlog>> {
        Ok(sqlx::query_as::<_, Backlog>(BACKLOG)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn pending_notifications(&self, limit: u32) -> Result<Vec<StoredNotification>> {
        sqlx::query_as::<_, OutboxRow>(PENDING)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(OutboxRow::into_domain)
            .collect()
    }

    async fn claim_notifications(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Vec<StoredNotification>> {
        sqlx::query_as::<_, OutboxRow>(CLAIM)
            .bind(now + lease)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?
            .into_iter()
            .map(OutboxRow::into_domain)
            .collect()
    }

    async fn mark_sent(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        sqlx::query(MARK_SENT)
            .bind(at)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn mark_abandoned(&self, id: Uuid, at: OffsetDateTime, reason: &str) -> Result<()> {
        sqlx::query(MARK_ABANDONED)
            .bind(at)
            .bind(reason)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn mark_failed(&self, id: Uuid, error: &str, retry_at: OffsetDateTime) -> Result<()> {
        sqlx::query(MARK_FAILED)
            .bind(error)
            .bind(retry_at)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_outbox(&self, before: OffsetDateTime, batch: u32) -> Result<u64> {
        Ok(sqlx::query(PURGE)
            .bind(before)
            .bind(i64::from(batch))
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
