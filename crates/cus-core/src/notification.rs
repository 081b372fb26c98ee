//! Messages to people (e-mail, SMS) and logout notices to relying parties, written to the
//! durable outbox (with the change that caused them, where there is one) and delivered
//! afterwards.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    /// An OpenID back-channel logout notice: the recipient is the client id, the subject
    /// the session's `sid`, the body the account's `sub`. The logout token is signed when
    /// it is sent, so a retry never carries an expired one.
    Logout,
}

impl Channel {
    /// Every channel, for a report that must name the empty ones too.
    pub const ALL: [Self; 3] = [Self::Email, Self::Sms, Self::Logout];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Logout => "logout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "logout" => Some(Self::Logout),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// The body is sealed (JWE, a key derived from the KEK) because it carries a secret;
    /// it is opened only to be delivered.
    pub sealed: bool,
    pub created_at: OffsetDateTime,
}

impl Notification {
    /// A back-channel logout notice for `client_id` about session `sid` of `sub`.
    pub fn logout(client_id: &str, sid: &str, sub: &str, now: OffsetDateTime) -> Self {
        Self {
            id: Uuid::now_v7(),
            channel: Channel::Logout,
            recipient: client_id.to_owned(),
            subject: sid.to_owned(),
            body: sub.to_owned(),
            sealed: false,
            created_at: now,
        }
    }
}
