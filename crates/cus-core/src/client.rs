//! OAuth clients (relying parties) and the validation of their redirect URIs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub String);

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Holds a secret (a server-side portal).
    Confidential,
    /// Cannot keep a secret (a native or browser app): PKCE is mandatory.
    Public,
}

/// RFC 7591 §2 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// OpenID Core §9: a JWT signed with a key in the client's `jwks`.
    PrivateKeyJwt,
    None,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// A registered relying party. Secrets are argon2id hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: ClientId,
    pub name: String,
    pub kind: ClientKind,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// `RS256` unless registered otherwise (OpenID Core's default).
    pub id_token_signed_response_alg: String,
    /// SENCE's own portals: consent is not asked.
    pub first_party: bool,
    pub enabled: bool,
    /// After a secret rotation, the previous secret keeps working until this instant.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires: Option<OffsetDateTime>,
    pub backchannel_logout_uri: Option<String>,
    /// E-mail addresses of the people responsible for the client (RFC 7591 `contacts`).
    pub contacts: Vec<String>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    /// Hash of the RFC 7592 registration access token, for dynamically registered clients.
    pub registration_token_hash: Option<String>,
    /// `private_key_jwt` clients: their public keys, a JWK Set as JSON text.
    pub jwks: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI is not an absolute URL: {0}")]
    NotAbsolute(String),
    #[error("redirect URI must use https (http only for localhost): {0}")]
    NotHttps(String),
    #[error("redirect URI must not contain a fragment: {0}")]
    Fragment(String),
    #[error("redirect URI must not contain wildcards: {0}")]
    Wildcard(String),
}

/// Checks a redirect URI for registration (RFC 9700 §2.1: exact, https, no fragment).
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    if uri.contains('*') {
        return Err(RedirectUriError::Wildcard(uri.to_owned()));
    }
    let parsed = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(uri.to_owned()))?;
    if parsed.fragment().is_some() {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    let local = is_loopback(&parsed);
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        "http" => Err(RedirectUriError::NotHttps(uri.to_owned())),
        // Private-use schemes for native apps (RFC 8252 §7.1) contain a dot.
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(RedirectUriError::NotHttps(uri.to_owned())),
    }
}

/// Whether a URL names the loopback interface: a development set-up.
fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutUriError {
    /// Back-Channel Logout 1.0 §2.2: an absolute URI.
    #[error("backchannel_logout_uri is not an absolute URL")]
    NotAbsolute,
    /// Back-Channel Logout 1.0 §2.2: no fragment.
    #[error("backchannel_logout_uri must not contain a fragment")]
    Fragment,
    #[error(
        "backchannel_logout_uri must use https (http only to a loopback host, for a client whose redirect URIs are all loopback)"
    )]
    NotHttps,
}

/// Checks a back-channel logout URI, which CUS itself will POST to: https, or http to a
/// loopback host for a client in development (it has redirect URIs, all of them loopback),
/// so a portal cannot point CUS at a plain-text or non-web service (SSRF; the outbox
/// worker also checks the address it connects to).
pub fn validate_backchannel_logout_uri(
    uri: &str,
    redirect_uris: &[String],
) -> Result<(), LogoutUriError> {
    let parsed = Url::parse(uri).map_err(|_| LogoutUriError::NotAbsolute)?;
    if parsed.fragment().is_some() {
        return Err(LogoutUriError::Fragment);
    }
    let development = !redirect_uris.is_empty()
        && redirect_uris.iter().all(|r| {
            Url::parse(r).is_ok_and(|r| matches!(r.scheme(), "http" | "https") && is_loopback(&r))
        });
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => Ok(()),
        "http" if development && is_loopback(&parsed) => Ok(()),
        _ => Err(LogoutUriError::NotHttps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannel_logout_uri_rules() {
        let web = ["https://portal.sence.cl/cb".to_owned()];
        let dev = ["http://127.0.0.1:8765/cb".to_owned()];
        let check = validate_backchannel_logout_uri;
        assert_eq!(check("https://portal.sence.cl/bcl?x=1", &web), Ok(()));
        assert_eq!(check("http://localhost:9/bcl", &dev), Ok(()));
        assert_eq!(check("http://[::1]:9/bcl", &dev), Ok(()));
        assert_eq!(
            check("http://example.com/bcl", &dev),
            Err(LogoutUriError::NotHttps)
        );
        assert_eq!(
            check("http://127.0.0.1/bcl", &web),
            Err(LogoutUriError::NotHttps)
        );
        assert_eq!(
            check("http://127.0.0.1/bcl", &[]),
            Err(LogoutUriError::NotHttps)
        );
        assert_eq!(
            check("gopher://localhost/_", &dev),
            Err(LogoutUriError::NotHttps)
        );
        assert_eq!(
            check("https://p.sence.cl/b#x", &web),
            Err(LogoutUriError::Fragment)
        );
        assert_eq!(check("/bcl", &web), Err(LogoutUriError::NotAbsolute));
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://portal.sence.cl/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8765/authz_cb").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert!(matches!(
            validate_redirect_uri("http://portal.sence.cl/cb"),
            Err(RedirectUriError::NotHttps(_))
        ));
        assert!(matches!(
            validate_redirect_uri("https://portal.sence.cl/cb#x"),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            validate_redirect_uri("https://*.sence.cl/cb"),
            Err(RedirectUriError::Wildcard(_))
        ));
        assert!(matches!(
            validate_redirect_uri("/cb"),
            Err(RedirectUriError::NotAbsolute(_))
        ));
    }
}
