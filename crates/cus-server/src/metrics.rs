//! Prometheus metrics. One recorder per process, rendered by the management listener's
//! `/metrics` (never the public one). Every metric CUS records is named here, so the
//! list an operator alerts on is in one place (docs/operations.md, Metrics).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// HTTP requests, by route template, method and status.
pub const HTTP_REQUESTS: &str = "cus_http_requests_total";
/// HTTP latency in seconds, by route template and method.
pub const HTTP_SECONDS: &str = "cus_http_request_duration_seconds";
/// CUS checks by the form they came from and their outcome.
pub const LOGINS: &str = "cus_logins_total";
/// RUTs locked after too many wrong CUS.
pub const LOCKOUTS: &str = "cus_lockouts_total";
/// Requests refused by a rate limit, by limit.
pub const RATE_LIMITED: &str = "cus_rate_limited_total";
/// Tokens issued at `/token`, by grant.
pub const TOKENS_ISSUED: &str = "cus_tokens_issued_total";
/// Outbox messages by channel and result (sent, retried, abandoned).
pub const OUTBOX: &str = "cus_outbox_messages_total";
/// Messages waiting in the outbox, by channel (read from the store at each scrape).
pub const OUTBOX_PENDING: &str = "cus_outbox_pending_messages";
/// Age in seconds of the oldest message waiting, by channel; 0 when none waits.
pub const OUTBOX_OLDEST_AGE: &str = "cus_outbox_oldest_pending_age_seconds";
/// Database connections of this node's pool, by state (`busy`, `idle`).
pub const DB_POOL_CONNECTIONS: &str = "cus_db_pool_connections";
/// The pool's limit (`database.max_connections`).
pub const DB_POOL_MAX: &str = "cus_db_pool_max_connections";
/// Failures answered with 503, by the dependency that failed (`database`, `cache`,
/// `other`).
pub const INTERNAL_ERRORS: &str = "cus_internal_errors_total";
/// Time to hash or verify one CUS or secret answer with argon2id, in seconds.
pub const ARGON2_SECONDS: &str = "cus_argon2_duration_seconds";
/// Requests admitted to the hashing pool: hashing or waiting for a thread (at most
/// `hash.max_concurrent + hash.max_queue`).
pub const HASH_QUEUE: &str = "cus_hash_queue_requests";
/// Requests refused with 503 because the hashing pool was full.
pub const HASH_REFUSED: &str = "cus_hash_refused_total";
/// Unix time the newest signing key of each algorithm became active; its age is
/// `time() - cus_signing_key_active_from_seconds` (a node has no clock of its own here).
pub const SIGNING_KEY_ACTIVE_FROM: &str = "cus_signing_key_active_from_seconds";

/// Latency buckets: from a cached page (1 ms) to a slow argon2 verification (4 s).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0,
];

/// The process's recorder, installed at first use. In a test process several apps share
/// it, as several handlers of one node do.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows none");
        }
        describe();
        handle
    })
}

/// Keeps the histograms' windows moving (the exporter's housekeeping).
pub async fn keep_up() {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle().run_upkeep();
    }
}

/// Sets the gauges that describe the store's state rather than count events: the outbox
/// backlog (one query on the waiting rows' index, at most `QUERY_BUDGET`) and the pool.
/// Called at each scrape, so the figures are as fresh as the scrape and cost nothing
/// between scrapes. A backlog that cannot be read keeps its last figures.
pub async fn sample(store: &dyn cus_store::Store, now: time::OffsetDateTime) {
    const QUERY_BUDGET: Duration = Duration::from_secs(2);
    let pool = store.pool_usage();
    let busy = pool.open.saturating_sub(pool.idle);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "busy").set(f64::from(busy));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!(DB_POOL_MAX).set(f64::from(pool.max));

    let backlog = match tokio::time::timeout(QUERY_BUDGET, store.outbox_backlog()).await {
        Ok(Ok(backlog)) => backlog,
        Ok(Err(e)) => return dependency_failed(&anyhow::Error::from(e)),
        Err(_) => return tracing::warn!("the outbox backlog took over 2 s to read"),
    };
    for channel in cus_core::notification::Channel::ALL {
        let waiting = backlog.iter().find(|b| b.channel == channel.as_str());
        let (pending, age) = waiting.map_or((0.0, 0.0), |b| {
            #[expect(clippy::cast_precision_loss, reason = "a gauge is an f64")]
            let pending = b.pending as f64;
            (pending, (now - b.oldest).as_seconds_f64().max(0.0))
        });
        let channel = channel.as_str();
        metrics::gauge!(OUTBOX_PENDING, "channel" => channel).set(pending);
        metrics::gauge!(OUTBOX_OLDEST_AGE, "channel" => channel).set(age);
    }
}

/// Counts a failure answered with 503 under the dependency it came from and logs it once.
pub fn dependency_failed(error: &anyhow::Error) {
    let dependency = if error.chain().any(|e| e.is::<cus_store::StoreError>()) {
        "database"
    } else if error.chain().any(|e| e.is::<cus_cache::CacheError>()) {
        "cache"
    } else {
        "other"
    };
    metrics::counter!(INTERNAL_ERRORS, "dependency" => dependency).increment(1);
    tracing::error!(error = %format!("{error:#}"), dependency, "request failed");
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route template, method and status"
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP latency by route template and method"
    );
    describe_counter!(LOGINS, "CUS checks by form and outcome");
    describe_counter!(LOCKOUTS, "RUTs locked after too many wrong CUS");
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit");
    describe_counter!(TOKENS_ISSUED, "Tokens issued at /token, by grant");
    describe_counter!(OUTBOX, "Outbox messages by channel and result");
    describe_counter!(INTERNAL_ERRORS, "Failures answered with 503, by dependency");
    describe_gauge!(OUTBOX_PENDING, "Outbox messages waiting, by channel");
    describe_gauge!(
        OUTBOX_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest outbox message waiting, by channel"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database connections of this node, by state"
    );
    describe_gauge!(DB_POOL_MAX, "Database connection limit of this node");
    describe_histogram!(
        ARGON2_SECONDS,
        Unit::Seconds,
        "argon2id hash or verification time"
    );
    describe_gauge!(
        HASH_QUEUE,
        "Requests admitted to the hashing pool (hashing or waiting for a thread)"
    );
    describe_counter!(
        HASH_REFUSED,
        "Requests refused with 503 because the hashing pool was full"
    );
    describe_gauge!(
        SIGNING_KEY_ACTIVE_FROM,
        Unit::Seconds,
        "Unix time the newest signing key of each algorithm became active"
    );
}
