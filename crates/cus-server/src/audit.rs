//! Writing to the audit trail from a request path. The event that matters is already
//! decided when it is recorded, so a failed write must not undo it: it is logged at
//! `error` (with the event's kind and outcome, never its subject), never dropped silently.

use cus_core::audit::AuditEvent;

use crate::app::AppState;

/// Appends `event`; a store failure is logged, not returned.
pub async fn record(app: &AppState, event: &AuditEvent) {
    if let Err(e) = app.store.append_audit(event).await {
        tracing::error!(
            error = %format!("{e:#}"),
            audit.kind = %event.kind,
            audit.outcome = %event.outcome,
            "cannot write an audit event"
        );
    }
}
