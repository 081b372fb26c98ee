//! The append-only audit trail. Every event written is also a structured log event, for
//! log collectors.

use async_trait::async_trait;
use cus_core::audit::AuditEvent;
use time::OffsetDateTime;

use super::{Backend, Db, SKIP_LOCKED};
use crate::Result;
use crate::model::{AuditFilter, AuditRecord, AuditRow};

const INSERT: &str = "INSERT INTO audit_events \
     (at, kind, subject, ip, user_agent, outcome, detail, operator) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Read newest first, each condition of the filter added only when given, so every
/// query is one the indexes answer (`audit_events_subject_id`, `audit_events_kind_id`, the
/// primary key backwards) and none is a generic plan of `$1 IS NULL OR …`.
const SELECT: &str = "SELECT id, at, kind, subject, ip, user_agent, outcome, detail, operator \
     FROM audit_events WHERE 1 = 1";

/// How many events a filter without a limit reads.
const DEFAULT_LIMIT: u32 = 1000;

/// One bounded batch of the retention purge: the oldest events before `$1`, at most `$2`
/// (by the `audit_events_at` index). Several nodes may purge at once: PostgreSQL skips the
/// rows another node is deleting instead of waiting for them (or deadlocking with it).
macro_rules! purge {
    ($lock:literal) => {
        concat!(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
             WHERE at < $1 ORDER BY at LIMIT $2",
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

/// Appends `event` on `executor`: the pool for an event of its own, a write's transaction
/// for the event of a change.
pub(super) async fn insert<'c, E>(executor: E, event: &AuditEvent) -> Result<()>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    log(event);
    sqlx::query(INSERT)
        .bind(event.at)
        .bind(event.kind.as_str())
        .bind(&event.subject)
        .bind(&event.ip)
        .bind(&event.user_agent)
        .bind(event.outcome.as_str())
        .bind(&event.detail)
        .bind(&event.operator)
        .execute(executor)
        .await?;
    Ok(())
}

/// Appends `events` in multi-row statements on `tx` (a batch write's transaction).
pub(super) async fn insert_many(tx: &mut super::Transaction, events: &[AuditEvent]) -> Result<()> {
    /// 8 parameters a row: far under both backends' limit on a statement's parameters.
    const ROWS: usize = 500;
    for chunk in events.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO audit_events (at, kind, subject, ip, user_agent, outcome, detail, \
             operator) VALUES {}",
            super::placeholders(chunk.len(), 8)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for event in chunk {
            log(event);
            query = query
                .bind(event.at)
                .bind(event.kind.as_str())
                .bind(&event.subject)
                .bind(&event.ip)
                .bind(&event.user_agent)
                .bind(event.outcome.as_str())
                .bind(&event.detail)
                .bind(&event.operator);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn log(event: &AuditEvent) {
    let subject = event.subject.as_deref().unwrap_or("");
    let ip = event.ip.as_deref().unwrap_or("");
    let operator = event.operator.as_deref().unwrap_or("");
    tracing::info!(
        target: "cus::audit",
        {
            audit.kind = %event.kind,
            audit.subject = subject,
            audit.outcome = %event.outcome,
            audit.ip = ip,
            audit.operator = operator
        },
        "audit event"
    );
}

#[async_trait]
impl crate::Audit for Backend {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        insert(&self.writer, event).await
    }

    async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let limit = if filter.limit == 0 {
            DEFAULT_LIMIT
        } else {
            filter.limit
        };
        let mut query = sqlx::QueryBuilder::<Db>::new(SELECT);
        if let Some(subject) = &filter.subject {
            query.push(" AND subject = ").push_bind(subject.clone());
        }
        if let Some(since) = filter.since {
            query.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            query.push(" AND at < ").push_bind(until);
        }
        if let Some(before) = filter.before_id {
            query.push(" AND id < ").push_bind(before);
        }
        if !filter.kinds.is_empty() {
            query.push(" AND kind IN (");
            let mut kinds = query.separated(", ");
            for kind in &filter.kinds {
                kinds.push_bind(kind.as_str());
            }
            query.push(")");
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        query
            .build_query_as::<AuditRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(AuditRow::into_domain)
            .collect()
    }

    async fn purge_audit(&self, before: OffsetDateTime, batch: u32) -> Result<u64> {
        Ok(sqlx::query(PURGE)
            .bind(before)
            .bind(i64::from(batch))
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
