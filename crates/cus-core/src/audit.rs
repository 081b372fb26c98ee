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

/// How it ended. Stored by its snake_case name (the same text the column always held).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// What the kind names happened.
    Ok,
    /// A login or a CUS check with the wrong CUS.
    Failed,
    /// A login refused because the RUT is locked out.
    Locked,
    /// A reused refresh token: its family was revoked.
    Revoked,
    /// A wrong answer to the secret question.
    WrongAnswer,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Locked => "locked",
            Self::Revoked => "revoked",
            Self::WrongAnswer => "wrong_answer",
        }
    }

    /// The outcome stored as `text`, if CUS writes it.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Ok,
            Self::Failed,
            Self::Locked,
            Self::Revoked,
            Self::WrongAnswer,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

impl std::fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outcome equals its stored text, so a reader of the trail (the API tests' audit
/// counts) compares with the column's value as it is.
impl PartialEq<&str> for AuditOutcome {
    fn eq(&self, text: &&str) -> bool {
        self.as_str() == *text
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
    pub outcome: AuditOutcome,
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
            outcome: AuditOutcome::Ok,
            detail: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database column holds these texts: `parse` must read back what `as_str` wrote,
    /// and serde (the CLI's JSON) must say the same.
    #[test]
    fn outcomes_round_trip_through_their_stored_text() {
        for outcome in [
            AuditOutcome::Ok,
            AuditOutcome::Failed,
            AuditOutcome::Locked,
            AuditOutcome::Revoked,
            AuditOutcome::WrongAnswer,
        ] {
            assert_eq!(AuditOutcome::parse(outcome.as_str()), Some(outcome));
            assert_eq!(
                serde_json::to_value(outcome).ok(),
                Some(serde_json::Value::from(outcome.as_str()))
            );
        }
        assert_eq!(AuditOutcome::parse("OK"), None);
        assert!(AuditOutcome::WrongAnswer == "wrong_answer" && AuditOutcome::Ok != "OK");
    }
}
