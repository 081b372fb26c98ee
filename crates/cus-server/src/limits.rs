//! Rate limits kept in the shared cache, so they hold across every node: a fixed window
//! counter per (limit, subject). Over the limit the caller gets 429 with `Retry-After`.

use std::time::Duration;

use cus_cache::{Key, Namespace};

use crate::app::AppState;
use crate::config::Limit;

/// Why a request may not go on. Each rendering of errors converts it once
/// (`http::errors`): 429 with `Retry-After`, or 503 when the cache cannot tell.
#[derive(Debug)]
pub enum Refused {
    /// Over the limit: wait this long.
    Limited(Duration),
    /// The shared cache did not answer: no budget can be checked, so nothing goes on.
    Unavailable(anyhow::Error),
}

impl From<cus_cache::CacheError> for Refused {
    fn from(e: cus_cache::CacheError) -> Self {
        Self::Unavailable(e.into())
    }
}

/// Counts one request of `subject` against `limit` named `name`.
pub async fn check(app: &AppState, name: &str, subject: &str, limit: Limit) -> Result<(), Refused> {
    let key = Key::new(Namespace::Counter, format!("rl:{name}:{subject}"));
    let (count, left) = app
        .cache
        .incr(&key, Duration::from_secs(limit.window.max(1)))
        .await?;
    if count > limit.max {
        tracing::warn!(limit = name, "rate limit exceeded");
        limited(name);
        Err(Refused::Limited(left.max(Duration::from_secs(1))))
    } else {
        Ok(())
    }
}

fn limited(name: &str) {
    metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => name.to_owned()).increment(1);
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
) -> Result<(), Refused> {
    let count = app.cache.count(&failures_key(name, subject)).await?;
    if count >= limit.max {
        tracing::warn!(limit = name, "failure limit reached");
        limited(name);
        // The counter's window is not read back; its whole length is the safe answer.
        return Err(Refused::Limited(Duration::from_secs(limit.window.max(1))));
    }
    Ok(())
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
