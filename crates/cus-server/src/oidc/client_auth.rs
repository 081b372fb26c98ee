//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3.1): `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (OpenID Core §9, RFC 7523), or `none` for public clients (which must then prove
//! possession with PKCE).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cus_cache::{Key, Namespace};
use cus_core::oauth::{ErrorCode, OAuthError};
use cus_core::{Client, ClientId, ClientKind, TokenAuthMethod};
use cus_jose::assertion::{ClientKeys, JWT_BEARER, claimed_client};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::limits;

/// Client secrets are 256-bit random values we generate, so a fast hash is enough (a slow
/// one protects low-entropy passwords); a stored hash never reveals the secret.
pub fn hash_client_secret(secret: &str) -> String {
    format!(
        "sha256${}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
    )
}

fn secret_matches(secret: &str, stored: Option<&str>) -> bool {
    let computed = hash_client_secret(secret);
    let stored = stored.unwrap_or("");
    bool::from(computed.as_bytes().ct_eq(stored.as_bytes()))
}

/// The credentials a request presented.
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub client_assertion_type: Option<&'a str>,
    pub client_assertion: Option<&'a str>,
}

/// A failed authentication, and whether the client tried HTTP Basic (then the 401 carries
/// `WWW-Authenticate: Basic`, RFC 6749 §5.2).
pub struct AuthFailure {
    pub error: OAuthError,
    pub basic: bool,
}

fn failure(basic: bool, text: &str) -> AuthFailure {
    AuthFailure {
        error: OAuthError::new(ErrorCode::InvalidClient, text),
        basic,
    }
}

/// The store or cache failed: logged here, once; the client may try again (503).
fn unavailable(basic: bool, error: impl Into<anyhow::Error>) -> AuthFailure {
    crate::metrics::dependency_failed(&error.into().context("client authentication"));
    AuthFailure {
        error: OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later"),
        basic,
    }
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let encoded = cus_core::oauth::credentials(header, "Basic")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_urldecode(id)?;
    let secret = form_urldecode(secret)?;
    Some((id, secret))
}

fn form_urldecode(text: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .into_owned()
        .collect();
    pairs.into_iter().next().map(|(_, v)| v)
}

pub async fn authenticate(app: &AppState, presented: Presented<'_>) -> Result<Client, AuthFailure> {
    if presented.client_assertion_type.is_some() || presented.client_assertion.is_some() {
        return authenticate_assertion(app, &presented).await;
    }
    let basic_header = presented.authorization.filter(|h| {
        h.split(' ')
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
    });
    let (client_id, secret, basic) = match (basic_header, presented.client_secret) {
        (Some(_), Some(_)) => {
            return Err(AuthFailure {
                error: OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "use one client authentication method",
                ),
                basic: true,
            });
        }
        (Some(header), None) => {
            let (id, secret) =
                parse_basic(header).ok_or_else(|| failure(true, "malformed Basic credentials"))?;
            if presented.client_id.is_some_and(|form_id| form_id != id) {
                return Err(failure(true, "client_id does not match the credentials"));
            }
            (id, Some(secret), true)
        }
        (None, secret) => {
            let id = presented
                .client_id
                .filter(|c| !c.is_empty())
                .ok_or_else(|| failure(false, "client authentication is required"))?;
            (id.to_owned(), secret.map(str::to_owned), false)
        }
    };
    let client = app
        .store
        .client(&ClientId(client_id))
        .await
        .map_err(|e| unavailable(basic, e))?
        .filter(|c| c.enabled);
    match (client, secret) {
        (Some(client), Some(secret)) if crate::clients::uses_secret(&client) => {
            // After a rotation the previous secret works until its overlap ends.
            let previous_live = client
                .previous_secret_expires
                .is_some_and(|until| until > app.clock.now());
            let previous = client
                .previous_secret_hash
                .as_deref()
                .filter(|_| previous_live);
            let current = secret_matches(&secret, client.secret_hash.as_deref());
            if current | (previous.is_some() && secret_matches(&secret, previous)) {
                Ok(client)
            } else {
                Err(failure(basic, "client authentication failed"))
            }
        }
        (Some(client), None) if client.kind == ClientKind::Public => Ok(client),
        (Some(_), _) => Err(failure(basic, "client authentication failed")),
        (None, secret) => {
            // Same work as a known client, so timing does not reveal which ids exist.
            let _ = secret_matches(secret.as_deref().unwrap_or(""), None);
            Err(failure(basic, "client authentication failed"))
        }
    }
}

/// How long a client assertion may live: a few minutes, as RFC 7523 §3 advises.
const MAX_ASSERTION_LIFETIME: i64 = 600;

/// `private_key_jwt`: the client signed a short-lived JWT with a key it registered. Each
/// assertion is accepted once (its `jti` is kept until it expires).
async fn authenticate_assertion(
    app: &AppState,
    presented: &Presented<'_>,
) -> Result<Client, AuthFailure> {
    let refuse = |why: &str| {
        tracing::info!(reason = why, "client assertion refused");
        failure(false, "client authentication failed")
    };
    if presented.authorization.is_some() || presented.client_secret.is_some() {
        return Err(AuthFailure {
            error: OAuthError::new(
                ErrorCode::InvalidRequest,
                "use one client authentication method",
            ),
            basic: false,
        });
    }
    if presented.client_assertion_type != Some(JWT_BEARER) {
        return Err(failure(false, "client_assertion_type must be jwt-bearer"));
    }
    let assertion = presented
        .client_assertion
        .ok_or_else(|| failure(false, "client_assertion is required"))?;
    let claimed = claimed_client(assertion).ok_or_else(|| refuse("no sub"))?;
    if presented.client_id.is_some_and(|id| id != claimed) {
        return Err(refuse("client_id differs from the assertion's sub"));
    }
    let client = app
        .store
        .client(&ClientId(claimed.clone()))
        .await
        .map_err(|e| unavailable(false, e))?
        .filter(|c| c.enabled && c.token_endpoint_auth_method == TokenAuthMethod::PrivateKeyJwt)
        .ok_or_else(|| refuse("unknown client, disabled, or not private_key_jwt"))?;
    let jwks = client
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| refuse("no jwks"))?;
    let keys = ClientKeys::from_jwks(&jwks).map_err(|_| refuse("unusable jwks"))?;
    let issuer = app.issuer.trim_end_matches('/');
    let endpoints = [
        issuer.to_owned(),
        format!("{issuer}/"),
        format!("{issuer}/token"),
        format!("{issuer}/revoke"),
        format!("{issuer}/introspect"),
    ];
    let audiences: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let now = app.clock.now().unix_timestamp();
    let verified = keys
        .verify(assertion, &claimed, &audiences, now, MAX_ASSERTION_LIFETIME)
        .map_err(|e| refuse(&e.to_string()))?;
    let ttl = std::time::Duration::from_secs(u64::try_from(verified.exp - now).unwrap_or(1));
    let first_use = app
        .cache
        .put_new(
            &Key::new(
                Namespace::AssertionJti,
                format!("{claimed}:{}", verified.jti),
            ),
            b"1",
            ttl,
        )
        .await
        .map_err(|e| unavailable(false, e))?;
    if !first_use {
        return Err(refuse("assertion replayed (jti already used)"));
    }
    Ok(client)
}

/// Why a protocol request's client was not admitted.
pub enum Rejected {
    /// The credentials failed (RFC 6749 §5.2 `invalid_client`, or a malformed request).
    Failed(AuthFailure),
    /// The address or the client is over its budget, or the cache cannot tell.
    Refused(limits::Refused),
}

impl From<limits::Refused> for Rejected {
    fn from(refused: limits::Refused) -> Self {
        Self::Refused(refused)
    }
}

/// The client a request to `/token`, `/introspect` or `/revoke` authenticates as, from
/// address `ip`. An address that failed too often is not heard, whoever it claims to be;
/// each failure counts. An authenticated client is then counted per client *and* address:
/// anyone can name a public client, so a budget of the whole client could be spent by one
/// address for every person using the portal (docs/security.md, "Sizing the limits").
pub async fn admit(app: &AppState, presented: Presented<'_>, ip: &str) -> Result<Client, Rejected> {
    let failures = app.config.limits.client_auth_failures_per_ip;
    limits::exhausted(app, "client-auth-ip", ip, failures).await?;
    let client = match authenticate(app, presented).await {
        Ok(client) => client,
        Err(failure) => {
            tracing::info!(
                error = failure.error.code.as_str(),
                "client authentication failed"
            );
            if failure.error.code == ErrorCode::InvalidClient
                && let Err(e) = limits::failed(app, "client-auth-ip", ip, failures).await
            {
                tracing::error!(error = %format!("{e:#}"), "counting a failure failed");
            }
            return Err(Rejected::Failed(failure));
        }
    };
    let subject = limits::client_at(&client.client_id.0, ip);
    limits::check(
        app,
        "token-client-ip",
        &subject,
        app.config.limits.token_per_client,
    )
    .await?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:a%2Bb%3D%26c"));
        assert_eq!(
            parse_basic(&header),
            Some(("my client".into(), "a+b=&c".into()))
        );
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Bearer x"), None);
    }

    #[test]
    fn secrets_compare_by_hash() {
        let stored = hash_client_secret("s3cret");
        assert!(secret_matches("s3cret", Some(&stored)));
        assert!(!secret_matches("s3cret!", Some(&stored)));
        assert!(!secret_matches("s3cret", None));
    }
}
