//! Liveness (`/healthz`) and readiness (`/readyz`: store and cache reachable, and the node
//! not draining). The public listener says only ready or not; the management listener
//! (`server.management_listen`) also says why, for operators.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::routes::Routes;
use crate::app::AppState;

/// A backend that does not answer within this is reported unavailable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Routes {
    Routes::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Public readiness: no backend names or errors (they would tell an attacker which
/// dependency to push on).
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    if unready(&app).await.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        let body = json!({ "status": "unavailable" });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}

/// Readiness for operators: what is wrong.
pub async fn readyz_detailed(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let reasons = unready(&app).await;
    if reasons.is_empty() {
        return (StatusCode::OK, Json(json!({ "status": "ready" })));
    }
    tracing::warn!(reasons = ?reasons, "not ready");
    let body = json!({ "status": "unavailable", "reasons": reasons });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

/// Why this node should get no new requests; empty when it is ready.
async fn unready(app: &AppState) -> Vec<String> {
    let store = tokio::time::timeout(PROBE_TIMEOUT, app.store.ping()).await;
    let cache = tokio::time::timeout(PROBE_TIMEOUT, app.cache.ping()).await;
    let mut reasons = Vec::new();
    if app.draining.load(Ordering::SeqCst) {
        reasons.push("shutting down".to_owned());
    }
    match store {
        Ok(Ok(())) => {}
        Ok(Err(e)) => reasons.push(format!("store ({}): {e}", app.store.backend())),
        Err(_) => reasons.push(format!(
            "store ({}): no answer in time",
            app.store.backend()
        )),
    }
    match cache {
        Ok(Ok(())) => {}
        Ok(Err(e)) => reasons.push(format!("cache ({}): {e}", app.cache.backend())),
        Err(_) => reasons.push(format!(
            "cache ({}): no answer in time",
            app.cache.backend()
        )),
    }
    reasons
}
