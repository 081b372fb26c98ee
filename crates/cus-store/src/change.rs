//! What a write causes besides itself, handed to the store with the write so that both go
//! into one transaction.

use cus_core::audit::AuditEvent;
use cus_core::notification::Notification;
use time::OffsetDateTime;

/// The audit event that records a write, the notices it sends and, for writes that end
/// the person's sessions elsewhere, the moment their refresh tokens stop working. Every
/// write method takes one, so a write cannot leave out its audit event and a caller never
/// writes the event apart from the change (where a crash between the two would leave a
/// change nobody can account for, or an event of a change that did not happen).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Written in the write's transaction (the only way a write reaches the audit trail).
    pub audit: &'a AuditEvent,
    /// Queued in the outbox in the write's transaction: sent only if the write commits.
    pub notices: &'a [Notification],
    /// Revokes the refresh tokens the write concerns at this time (see each write method:
    /// the person's for an account, the client's for a withdrawn consent). Writes that
    /// concern no tokens (creating an account, a client's registration) leave it unused.
    pub revoke_tokens_at: Option<OffsetDateTime>,
    /// For an account write: the `tokens_valid_after` the caller read, when the write
    /// itself moves it (a CUS change). Every account write applies only while the stored
    /// value is still the one read — otherwise another CUS change came in between and
    /// the write is a `StoreError::Conflict` — so a stale copy can neither undo a CUS
    /// change nor race one with another.
    pub read_tokens_valid_after: Option<OffsetDateTime>,
}

impl<'a> Change<'a> {
    /// A change that only needs its audit event recorded.
    pub fn audited(audit: &'a AuditEvent) -> Self {
        Self {
            audit,
            notices: &[],
            revoke_tokens_at: None,
            read_tokens_valid_after: None,
        }
    }

    /// The same change, also queueing `notices`.
    #[must_use]
    pub fn with_notices(self, notices: &'a [Notification]) -> Self {
        Self { notices, ..self }
    }

    /// The same change as a CUS change of an account read with `tokens_valid_after` =
    /// `read`: the person's refresh tokens are revoked at `now`, and the write applies only
    /// if no other CUS change happened since `read`.
    #[must_use]
    pub fn changing_cus(self, read: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self {
            read_tokens_valid_after: Some(read),
            ..self.revoking_tokens_at(now)
        }
    }

    /// The same change, also revoking the refresh tokens it concerns at `at`.
    #[must_use]
    pub fn revoking_tokens_at(self, at: OffsetDateTime) -> Self {
        Self {
            revoke_tokens_at: Some(at),
            ..self
        }
    }
}
