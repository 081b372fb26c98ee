//! The append-only audit trail. Every event written is also a structured log event, for
//! log collectors.

use async_trait::async_trait;
use cus_core::audit::AuditEvent;

use super::{Backend, Db};
use crate::Result;
use crate::model::{AuditFilter, AuditRow};

const INSERT: &str = "INSERT INTO audit_events \
     (at, kind, subject, ip, user_agent, outcome, detail, operator) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// `$1` and `$2` are optional: `NULL` reads every subject, or from the beginning.
const SELECT: &str = "SELECT at, kind, subject, ip, user_agent, outcome, detail, operator \
     FROM audit_events WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR at >= $2) \
     ORDER BY id LIMIT $3";

/// How many events a filter without a limit reads.
const DEFAULT_LIMIT: u32 = 1000;

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
        insert(&self.pool, event).await
    }

    async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let limit = if filter.limit == 0 {
            DEFAULT_LIMIT
        } else {
            filter.limit
        };
        sqlx::query_as::<_, AuditRow>(SELECT)
            .bind(&filter.subject)
            .bind(filter.since)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(AuditRow::into_domain)
            .collect()
    }
}
