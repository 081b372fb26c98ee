//! OAuth 2.0 / OpenID Connect error codes, named after the specs.

/// An error code of RFC 6749 §4.1.2.1 / §5.2, RFC 7009, or OpenID Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §5.2: missing or malformed parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (401).
    InvalidClient,
    /// RFC 6749 §5.2: code or refresh token invalid, expired, revoked, or issued to another
    /// client or redirect URI; or a wrong PKCE verifier (RFC 7636 §4.6).
    InvalidGrant,
    /// RFC 6749 §5.2: this client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the person or the server refused.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    ServerError,
    /// RFC 6749 §4.1.2.1: try again later (rate limits, backend down).
    TemporarilyUnavailable,
    /// OpenID Core §3.1.2.6: `prompt=none` and nobody is logged in.
    LoginRequired,
    /// OpenID Core §3.1.2.6: `prompt=none` and consent is needed.
    ConsentRequired,
    /// OpenID Core §3.1.2.6: `prompt=none` and an interaction is needed.
    InteractionRequired,
    /// OpenID Core §3.1.2.6: `request` objects are not supported.
    RequestNotSupported,
    /// OpenID Core §3.1.2.6.
    RequestUriNotSupported,
    /// OpenID Core §3.1.2.6.
    RegistrationNotSupported,
    /// RFC 6750 §3.1: bearer token invalid at userinfo.
    InvalidToken,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 7591 §3.2.2: a redirect URI the registration rules refuse.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: other client metadata the registration rules refuse.
    InvalidClientMetadata,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// An error with its human description (English, for developers; never secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// Scopes as a space-separated list (RFC 6749 §3.3) → their distinct items, in order.
pub fn split_scopes(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// The credentials of an `Authorization` header value in `scheme` (`Basic`, `Bearer`), if it
/// is that scheme: the scheme name is case-insensitive (RFC 9110 §11.1), the credentials
/// are taken as sent, trimmed, and empty ones are none. The one reader of both schemes.
pub fn credentials<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, credentials) = header.split_once(' ')?;
    let credentials = credentials.trim();
    (name.eq_ignore_ascii_case(scheme) && !credentials.is_empty()).then_some(credentials)
}

#[cfg(test)]
mod credentials_tests {
    use super::credentials;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_credentials_required() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc "] {
            assert_eq!(credentials(header, "Bearer"), Some("abc"), "{header}");
        }
        assert_eq!(credentials("BASIC eA==", "Basic"), Some("eA=="));
        assert_eq!(credentials("Bearer ", "Bearer"), None);
        assert_eq!(credentials("Basic abc", "Bearer"), None);
        assert_eq!(credentials("Bearerabc", "Bearer"), None);
    }
}
