//! Liveness (`/healthz`) and readiness (`/readyz`: store and cache reachable).

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

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = tokio::time::timeout(PROBE_TIMEOUT, app.store.ping()).await;
    let cache = tokio::time::timeout(PROBE_TIMEOUT, app.cache.ping()).await;
    let mut reasons = Vec::new();
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
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        tracing::warn!(reasons = ?reasons, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reasons": reasons })),
        )
    }
}
