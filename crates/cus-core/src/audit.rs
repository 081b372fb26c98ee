//! Security events kept in the append-only audit trail.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a type stored as its `as_str` text (every value listed in `ALL`) gets: reading the
/// text back, showing it padded like the text (the CLI's columns line up), and comparing
/// with it, so a reader of the trail (the API tests' audit counts) compares with the
/// column's value as it is.
macro_rules! stored_as_text {
    ($type:ty) => {
        impl $type {
            /// The value stored as `text`, if CUS writes it.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<&str> for $type {
            fn eq(&self, text: &&str) -> bool {
                self.as_str() == *text
            }
        }
    };
}

/// What happened. Stored by its snake_case name (the same text the column always held).
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
    /// Everything CUS holds about a person was handed out (Ley 21.719): to the person at
    /// "Mis datos", or to an operator (`cus account export`).
    PersonalDataExported,
    /// The help desk disabled an account: no login, no lifecycle flow, sessions ended.
    AccountDisabled,
    AccountEnabled,
    /// The help desk cleared a RUT's login lockout.
    AccountUnlocked,
    /// The help desk deleted an account (the trail keeps its RUT and this event).
    AccountDeleted,
    /// The help desk was shown an account's contact data unmasked.
    ContactRevealed,
    /// The help desk searched accounts (by e-mail, mobile or name: `detail` says how and
    /// how many were found).
    AccountsSearched,
    /// The help desk named a company's legal representative.
    RepresentativeChanged,
    /// An account brought over from the previous system by `cus account import`.
    AccountImported,
}

impl AuditKind {
    /// Every kind, so reading one back is a lookup in the list `as_str` writes from and a
    /// new kind is readable as soon as it is listed here.
    pub const ALL: [Self; 25] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::AccountCreated,
        Self::CusChanged,
        Self::CusGenerated,
        Self::DataUpdated,
        Self::EmailVerified,
        Self::ClientCreated,
        Self::ClientChanged,
        Self::ConsentGiven,
        Self::ConsentWithdrawn,
        Self::TokenReuseDetected,
        Self::KeyRotated,
        Self::KeyPruned,
        Self::Logout,
        Self::PersonalDataExported,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::AccountUnlocked,
        Self::AccountDeleted,
        Self::ContactRevealed,
        Self::AccountsSearched,
        Self::RepresentativeChanged,
        Self::AccountImported,
    ];

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
            Self::PersonalDataExported => "personal_data_exported",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::AccountUnlocked => "account_unlocked",
            Self::AccountDeleted => "account_deleted",
            Self::ContactRevealed => "contact_revealed",
            Self::AccountsSearched => "accounts_searched",
            Self::RepresentativeChanged => "representative_changed",
            Self::AccountImported => "account_imported",
        }
    }
}

stored_as_text!(AuditKind);

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
    /// Every outcome: what `parse` reads back.
    pub const ALL: [Self; 5] = [
        Self::Ok,
        Self::Failed,
        Self::Locked,
        Self::Revoked,
        Self::WrongAnswer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Locked => "locked",
            Self::Revoked => "revoked",
            Self::WrongAnswer => "wrong_answer",
        }
    }
}

stored_as_text!(AuditOutcome);

/// One audit record. `subject` is a RUT (compact form) or a client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
    /// Who acted, when it was not the subject: `cli:<name>` for an operator at the `cus`
    /// command, `client:<client id>[/<operator>]` for the admin API, `registration` for
    /// the RFC 7591/7592 endpoints. `None` when the person named by `subject` acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, at: OffsetDateTime, subject: Option<String>) -> Self {
        Self {
            at,
            kind,
            subject,
            ip: None,
            user_agent: None,
            outcome: AuditOutcome::Ok,
            detail: None,
            operator: None,
        }
    }

    /// The same event, recorded as done by `operator` (see [`AuditEvent::operator`]).
    #[must_use]
    pub fn by(mut self, operator: &str) -> Self {
        self.operator = Some(operator.to_owned());
        self
    }
}

/// The longest operator name the trail keeps; longer ones are refused, not cut.
pub const OPERATOR_NAME_MAX: usize = 64;

/// The name of the person at the keyboard as the trail records it (the CLI's `--operator`,
/// the `operator` of a help-desk token): trimmed, 1 to [`OPERATOR_NAME_MAX`] characters,
/// one word without control characters, so it cannot muddle the trail.
pub fn operator_name(text: &str) -> Result<&str, &'static str> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > OPERATOR_NAME_MAX {
        return Err("an operator name has 1 to 64 characters");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err("an operator name is one word, without spaces, slashes or control characters");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The database column holds these texts: `parse` must read back what `as_str` wrote,
    /// and serde (the CLI's JSON) must say the same.
    #[test]
    fn outcomes_round_trip_through_their_stored_text() {
        for outcome in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(outcome.as_str()), Some(outcome));
            assert_eq!(
                serde_json::to_value(outcome).ok(),
                Some(serde_json::Value::from(outcome.as_str()))
            );
        }
        assert_eq!(AuditOutcome::parse("OK"), None);
        assert!(AuditOutcome::WrongAnswer == "wrong_answer" && AuditOutcome::Ok != "OK");
        assert_eq!(format!("{:<8}|", AuditOutcome::Ok), "ok      |");
    }

    #[test]
    fn kinds_have_distinct_texts_and_pad_in_columns() {
        let mut texts: Vec<_> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), AuditKind::ALL.len());
        assert_eq!(format!("{:<8}|", AuditKind::Logout), "logout  |");
        assert!(AuditKind::LoginLocked == "login_locked" && AuditKind::Logout != "Logout");
    }

    proptest! {
        /// Every kind → its stored text → the same kind, and serde (the CLI's JSON) writes
        /// that same text.
        #[test]
        fn kinds_round_trip_through_their_stored_text(
            kind in proptest::sample::select(AuditKind::ALL.to_vec())
        ) {
            prop_assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            prop_assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }

        /// Any text reads as a kind only if it is exactly that kind's stored text: no case
        /// folding, no trimming, so the trail never reads back something CUS did not write.
        #[test]
        fn only_stored_texts_read_as_kinds(text in prop_oneof![
            proptest::sample::select(AuditKind::ALL.map(|k| k.as_str().to_owned()).to_vec()),
            "[a-zA-Z_ ]{0,24}",
        ]) {
            match AuditKind::parse(&text) {
                Some(kind) => prop_assert_eq!(kind.as_str(), text.as_str()),
                None => prop_assert!(AuditKind::ALL.iter().all(|k| k.as_str() != text)),
            }
        }
    }
}
