//! Security events kept in the append-only audit trail.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What happened. Stored by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    AccountCreated,
    CusChanged,
    CusGenerated,
    DataUpdated,
    EmailVerified,
    ClientCreated,
    ClientChanged,
    ConsentGiven,
    ConsentWithdrawn,
    TokenReuseDetected,
    KeyRotated,
    KeyPruned,
    Logout,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::AccountCreated => "account_created",
            Self::CusChanged => "cus_changed",
            Self::CusGenerated => "cus_generated",
            Self::DataUpdated => "data_updated",
            Self::EmailVerified => "email_verified",
            Self::ClientCreated => "client_created",
            Self::ClientChanged => "client_changed",
            Self::ConsentGiven => "consent_given",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::TokenReuseDetected => "token_reuse_detected",
            Self::KeyRotated => "key_rotated",
            Self::KeyPruned => "key_pruned",
            Self::Logout => "logout",
        }
    }
}

/// One audit record. `subject` is a RUT (compact form) or a client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub kind: String,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, at: OffsetDateTime, subject: Option<String>) -> Self {
        Self {
            at,
            kind: kind.as_str().to_owned(),
            subject,
            ip: None,
            user_agent: None,
            outcome: "ok".to_owned(),
            detail: None,
        }
    }
}
