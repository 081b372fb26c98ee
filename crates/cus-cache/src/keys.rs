//! Every cache key is built here, from a namespace with an explicit prefix and an id.

use std::fmt;

/// What a key holds. Prefixes are explicit strings: reordering variants changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Single sign-on session, by its cookie id's hash.
    Session,
    /// CSRF/flow state of a pending authorization request.
    Authorization,
    /// Authorization codes: taken once.
    AuthCode,
    /// Captcha answers: taken once.
    Captcha,
    /// Rate-limit and failure counters.
    Counter,
    /// Record that a code was redeemed, to revoke its tokens on replay.
    CodeUsed,
    /// Short grace window after a refresh-token rotation.
    RefreshGrace,
    /// Revoked access-token ids (until they expire).
    RevokedJti,
    /// Reset tickets and other one-time challenges.
    Ticket,
    /// `jti`s of client assertions already used (until they expire).
    AssertionJti,
    /// The clients a session (by `sid`) signed in to, for back-channel logout.
    SessionClients,
    /// The `sid`s of an account's sessions, to log them all out when its CUS changes.
    AccountSessions,
    /// Every live SSO session of an account (their cache ids), read without taking: what
    /// "Mis datos" and "Mis sesiones" list. The one home of that index.
    SessionsOfAccount,
}

impl Namespace {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Session => "ses",
            Self::Authorization => "authz",
            Self::AuthCode => "code",
            Self::Captcha => "cap",
            Self::Counter => "cnt",
            Self::CodeUsed => "cused",
            Self::RefreshGrace => "rgrace",
            Self::RevokedJti => "rjti",
            Self::Ticket => "tkt",
            Self::AssertionJti => "ajti",
            Self::SessionClients => "sesrp",
            Self::AccountSessions => "acses",
            Self::SessionsOfAccount => "sesacc",
        }
    }
}

/// A key inside a namespace. The backend adds its configured global prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    pub fn new(namespace: Namespace, id: impl fmt::Display) -> Self {
        Self(format!("{}:{id}", namespace.prefix()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
