//! Writing to the audit trail from a request path. The event that matters is already
//! decided when it is recorded, so a failed write must not undo it: it is logged at
//! `error` (with the event's kind and outcome, never its subject), never dropped silently.

use cus_core::audit::{AuditEvent, AuditKind};

use crate::app::AppState;
use crate::request::RequestMeta;

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

/// An event of `kind` about `subject`, at the time of the request that caused it and
/// carrying its address and browser: every audit event a request writes is built here.
pub fn of_request(kind: AuditKind, subject: Option<String>, meta: &RequestMeta) -> AuditEvent {
    let mut event = AuditEvent::new(kind, meta.now, subject);
    event.ip = meta.ip.clone();
    event.user_agent = meta.user_agent.clone();
    event
}
