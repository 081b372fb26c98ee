//! Retention: the worker deletes what CUS no longer needs to keep — audit events older
//! than `audit.keep_days`, delivered or abandoned messages older than `outbox.keep_days`,
//! expired refresh tokens — in bounded batches, so no statement holds a table long.
//!
//! Every node runs it. That is safe: each batch is its own short statement, and on
//! PostgreSQL a batch skips the rows another node is deleting (`FOR UPDATE SKIP LOCKED`)
//! instead of waiting for them or deadlocking with it; SQLite has one writer, one node.

use std::time::Duration;

use time::OffsetDateTime;

use crate::app::AppState;

/// Rows per statement: a few milliseconds of work on a large table.
pub const BATCH: u32 = 1000;
/// Batches per kind and round, at most: a backlog (the first run on a trail of years) is
/// worked off over several rounds instead of in one long burst.
const MAX_BATCHES: u32 = 500;
/// Between rounds.
const PERIOD: Duration = Duration::from_secs(3600);

/// What one round deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub audit_events: u64,
    pub messages: u64,
    pub refresh_tokens: u64,
}

/// One round: every kind purged up to its cutoff (or `MAX_BATCHES` batches).
pub async fn purge_due(app: &AppState) -> anyhow::Result<Purged> {
    let now = app.clock.now();
    let store = app.store.as_ref();
    let mut purged = Purged::default();
    if let Some(cutoff) = cutoff(now, app.config.audit.keep_days) {
        purged.audit_events = batches(|| store.purge_audit(cutoff, BATCH)).await?;
    }
    if let Some(cutoff) = cutoff(now, app.config.outbox.keep_days) {
        purged.messages = batches(|| store.purge_outbox(cutoff, BATCH)).await?;
    }
    purged.refresh_tokens = batches(|| store.purge_expired_refresh_tokens(now, BATCH)).await?;
    if purged != Purged::default() {
        tracing::info!(
            purged.audit_events = purged.audit_events,
            purged.messages = purged.messages,
            purged.refresh_tokens = purged.refresh_tokens,
            "retention purge"
        );
    }
    Ok(purged)
}

/// The oldest time kept, `keep_days` before `now`; `None` for 0 (keep forever).
fn cutoff(now: OffsetDateTime, keep_days: u32) -> Option<OffsetDateTime> {
    (keep_days > 0).then(|| now - time::Duration::days(i64::from(keep_days)))
}

/// Runs `batch` until one deletes less than a full batch; the total deleted.
async fn batches<F, Fut>(mut batch: F) -> anyhow::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = cus_store::Result<u64>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let deleted = batch().await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            break;
        }
        // Let the requests this node serves have the pool between batches.
        tokio::task::yield_now().await;
    }
    Ok(total)
}

/// Background task of `cus serve`, until `stop` says so: a round every hour, the first an
/// hour after start (a rolling restart does not purge on every node at once).
pub async fn run(app: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PERIOD, PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = purge_due(&app).await {
            tracing::warn!(error = %format!("{e:#}"), "retention purge failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cutoff;

    #[test]
    fn zero_days_keeps_everything() {
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(1000);
        assert_eq!(cutoff(now, 0), None);
        assert_eq!(
            cutoff(now, 730),
            Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(270))
        );
    }
}
