//! Rate limits kept in the shared cache, so they hold across every node: a fixed window
//! counter per (limit, subject). Over the limit the caller gets 429 with `Retry-After`.

use std::time::Duration;

use cus_cache::{Key, Namespace};

use crate::app::AppState;
use crate::config::Limit;

/// Whether a request may go on.
pub enum Verdict {
    Allowed,
    /// Wait this long.
    Limited(Duration),
}

/// Counts one request of `subject` against `limit` named `name`.
pub async fn check(
    app: &AppState,
    name: &str,
    subject: &str,
    limit: Limit,
) -> anyhow::Result<Verdict> {
    let key = Key::new(Namespace::Counter, format!("rl:{name}:{subject}"));
    let (count, left) = app
        .cache
        .incr(&key, Duration::from_secs(limit.window.max(1)))
        .await?;
    if count > limit.max {
        tracing::warn!(limit = name, "rate limit exceeded");
        Ok(Verdict::Limited(left.max(Duration::from_secs(1))))
    } else {
        Ok(Verdict::Allowed)
    }
}

/// The subject of a per-client limit counted per address: the address first (it never
/// contains a space), so no client id and address pair can pose as another.
pub fn client_at(client_id: &str, ip: &str) -> String {
    format!("{ip} {client_id}")
}

/// Whether `subject` already spent its budget of failures under `name`. Reading does not
/// count: [`failed`] does, after the failure.
pub async fn exhausted(
    app: &AppState,
    name: &str,
    subject: &str,
    limit: Limit,
) -> anyhow::Result<Verdict> {
    let count = app.cache.count(&failures_key(name, subject)).await?;
    Ok(if count >= limit.max {
        tracing::warn!(limit = name, "failure limit reached");
        // The counter's window is not read back; its whole length is the safe answer.
        Verdict::Limited(Duration::from_secs(limit.window.max(1)))
    } else {
        Verdict::Allowed
    })
}

/// Counts one failure of `subject` under `name`.
pub async fn failed(app: &AppState, name: &str, subject: &str, limit: Limit) -> anyhow::Result<()> {
    app.cache
        .incr(
            &failures_key(name, subject),
            Duration::from_secs(limit.window.max(1)),
        )
        .await?;
    Ok(())
}

fn failures_key(name: &str, subject: &str) -> Key {
    Key::new(Namespace::Counter, format!("fail:{name}:{subject}"))
}

/// Seconds for a `Retry-After` header, rounded up.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
