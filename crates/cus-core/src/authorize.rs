//! The authorization endpoint's request rules (OpenID Core §3.1.2, RFC 6749 §4.1,
//! RFC 7636, RFC 9700): everything that can be decided from the request and its registered
//! client alone. Looking the client up, sessions and codes are the server's.

use serde::Deserialize;
use serde_json::Value;

use crate::oauth::{ErrorCode, OAuthError, split_scopes};
use crate::{Client, ClientKind, pkce};

/// The raw query or form of `/authorize`. Everything optional: validation says what is
/// missing.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub claims: Option<String>,
    pub acr_values: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub registration: Option<String>,
}

/// A request that passed every rule, with what the later steps need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub redirect_uri: String,
    /// The requested scopes CUS knows and the client may have, in the order asked.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Unverified: the server checks its signature before trusting its `sub`.
    pub id_token_hint: Option<String>,
    /// Claims asked by name (`claims` parameter): for the id_token, for userinfo.
    pub id_token_claims: Vec<String>,
    pub userinfo_claims: Vec<String>,
}

/// What went wrong, and whether it may be sent back to the relying party.
#[derive(Debug)]
pub enum AuthorizeError {
    /// No trustworthy redirect URI: shown to the person, never redirected (RFC 6749
    /// §4.1.2.1, first paragraph).
    NoRedirect(String),
    /// Sent back to the verified redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// The longest value accepted for each parameter of `/authorize`, in bytes. A pending
/// request is kept in the shared cache for minutes before anyone has logged in, so what it
/// holds must be small; each bound is far above any legitimate value.
pub mod max_len {
    pub const CLIENT_ID: usize = 256;
    pub const REDIRECT_URI: usize = 2048;
    pub const SCOPE: usize = 1024;
    pub const STATE: usize = 2048;
    pub const NONCE: usize = 512;
    /// RFC 7636 §4.2: 43 to 128 characters (S256 challenges are exactly 43).
    pub const CODE_CHALLENGE: usize = 128;
    pub const PROMPT: usize = 64;
    pub const MAX_AGE: usize = 10;
    pub const LOGIN_HINT: usize = 256;
    /// One of our ID tokens: a few hundred bytes of claims and a signature.
    pub const ID_TOKEN_HINT: usize = 8192;
    pub const UI_LOCALES: usize = 128;
    pub const CLAIMS: usize = 4096;
    pub const ACR_VALUES: usize = 256;
    /// Every other parameter (`response_type`, `response_mode`, `code_challenge_method`).
    pub const OTHER: usize = 64;
}

/// The first parameter longer than its bound, if any.
fn oversized(p: &AuthorizeParams) -> Option<&'static str> {
    let values = [
        ("scope", &p.scope, max_len::SCOPE),
        ("state", &p.state, max_len::STATE),
        ("nonce", &p.nonce, max_len::NONCE),
        ("code_challenge", &p.code_challenge, max_len::CODE_CHALLENGE),
        ("prompt", &p.prompt, max_len::PROMPT),
        ("max_age", &p.max_age, max_len::MAX_AGE),
        ("login_hint", &p.login_hint, max_len::LOGIN_HINT),
        ("id_token_hint", &p.id_token_hint, max_len::ID_TOKEN_HINT),
        ("ui_locales", &p.ui_locales, max_len::UI_LOCALES),
        ("claims", &p.claims, max_len::CLAIMS),
        ("acr_values", &p.acr_values, max_len::ACR_VALUES),
        ("response_type", &p.response_type, max_len::OTHER),
        ("response_mode", &p.response_mode, max_len::OTHER),
        (
            "code_challenge_method",
            &p.code_challenge_method,
            max_len::OTHER,
        ),
    ];
    values
        .into_iter()
        .find(|(_, value, max)| value.as_deref().is_some_and(|v| v.len() > *max))
        .map(|(name, _, _)| name)
}

fn invalid(code: ErrorCode, text: &str) -> OAuthError {
    OAuthError::new(code, text)
}

fn no_redirect(text: &str) -> AuthorizeError {
    AuthorizeError::NoRedirect(text.to_owned())
}

/// The `client_id` the request names: the first thing looked at, since the client decides
/// where errors may be sent.
pub fn client_id(p: &AuthorizeParams) -> Result<&str, AuthorizeError> {
    let client_id = p
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| no_redirect("Falta el parámetro client_id."))?;
    if client_id.len() > max_len::CLIENT_ID {
        return Err(no_redirect("El parámetro client_id no es válido."));
    }
    Ok(client_id)
}

/// Checks a request against its (enabled) client. Errors before the redirect URI is known
/// to be registered are shown to the person; later ones go back to the relying party.
pub fn check(p: AuthorizeParams, client: &Client) -> Result<AuthorizationRequest, AuthorizeError> {
    let redirect_uri = p
        .redirect_uri
        .clone()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| no_redirect("Falta el parámetro redirect_uri."))?;
    if redirect_uri.len() > max_len::REDIRECT_URI {
        return Err(no_redirect(
            "La dirección de retorno (redirect_uri) no está registrada para esta aplicación.",
        ));
    }
    // Exact string comparison (RFC 9700 §4.1.3): no normalisation, no prefixes.
    if !client.redirect_uris.iter().any(|r| r == &redirect_uri) {
        return Err(no_redirect(
            "La dirección de retorno (redirect_uri) no está registrada para esta aplicación.",
        ));
    }
    // An oversized state is not echoed back: the error goes without it.
    let state = p.state.clone().filter(|s| s.len() <= max_len::STATE);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    // Bounded before anything is kept (RFC 6749 §4.1.2.1 invalid_request).
    if let Some(name) = oversized(&p) {
        return Err(redirect(invalid(
            ErrorCode::InvalidRequest,
            &format!("{name} is too long"),
        )));
    }
    if p.request.is_some() {
        return Err(redirect(invalid(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if p.request_uri.is_some() {
        return Err(redirect(invalid(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    if p.registration.is_some() {
        return Err(redirect(invalid(
            ErrorCode::RegistrationNotSupported,
            "registration parameter is not supported",
        )));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None | Some("") => {
            return Err(redirect(invalid(
                ErrorCode::InvalidRequest,
                "response_type is required",
            )));
        }
        Some(_) => {
            return Err(redirect(invalid(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    if let Some(mode) = p.response_mode.as_deref().filter(|m| *m != "query") {
        return Err(redirect(invalid(
            ErrorCode::InvalidRequest,
            &format!("response_mode {mode} is not supported"),
        )));
    }
    let requested = split_scopes(p.scope.as_deref().unwrap_or(""));
    if !requested.iter().any(|s| s == "openid") {
        return Err(redirect(invalid(
            ErrorCode::InvalidScope,
            "scope must include openid",
        )));
    }
    // Scopes the client may not have, or that CUS does not know, are left out (RFC 6749 §3.3).
    let scopes: Vec<String> = requested
        .into_iter()
        .filter(|s| {
            crate::claims::SCOPES.contains(&s.as_str())
                && (s == "openid" || client.scopes.is_empty() || client.scopes.contains(s))
        })
        .collect();
    match p.code_challenge_method.as_deref() {
        None | Some("S256") => {}
        Some("plain") => {
            return Err(redirect(invalid(
                ErrorCode::InvalidRequest,
                "code_challenge_method plain is not allowed; use S256",
            )));
        }
        Some(_) => {
            return Err(redirect(invalid(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            )));
        }
    }
    let code_challenge = p.code_challenge.clone().filter(|c| !c.is_empty());
    if let Some(challenge) = &code_challenge {
        if p.code_challenge_method.is_none() {
            // RFC 7636 §4.3 would default to plain, which we refuse.
            return Err(redirect(invalid(
                ErrorCode::InvalidRequest,
                "code_challenge_method=S256 is required",
            )));
        }
        if !pkce::is_valid_challenge(challenge) {
            return Err(redirect(invalid(
                ErrorCode::InvalidRequest,
                "code_challenge is not a valid S256 challenge",
            )));
        }
    } else if client.kind == ClientKind::Public {
        return Err(redirect(invalid(
            ErrorCode::InvalidRequest,
            "PKCE (code_challenge with S256) is required for public clients",
        )));
    }
    let prompt = split_scopes(p.prompt.as_deref().unwrap_or(""));
    if prompt
        .iter()
        .any(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(redirect(invalid(
            ErrorCode::InvalidRequest,
            "unknown prompt value",
        )));
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(redirect(invalid(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined",
        )));
    }
    let max_age = match p.max_age.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|m| *m >= 0)
                .ok_or_else(|| {
                    redirect(invalid(
                        ErrorCode::InvalidRequest,
                        "max_age must be a non-negative integer",
                    ))
                })?,
        ),
    };
    let (id_token_claims, userinfo_claims) = match p.claims.as_deref() {
        None | Some("") => (Vec::new(), Vec::new()),
        Some(text) => parse_claims_parameter(text).ok_or_else(|| {
            redirect(invalid(
                ErrorCode::InvalidRequest,
                "claims is not a valid JSON claims request",
            ))
        })?,
    };
    Ok(AuthorizationRequest {
        redirect_uri,
        scopes,
        state: p.state,
        nonce: p.nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: p.login_hint,
        id_token_hint: p.id_token_hint,
        id_token_claims,
        userinfo_claims,
    })
}

/// The `sub` of a verified `id_token_hint`, if we issued it.
pub fn hinted_subject(claims: &Value, issuer: &str) -> Option<String> {
    (claims["iss"] == issuer)
        .then(|| claims["sub"].as_str().map(str::to_owned))
        .flatten()
}

/// OpenID Core §5.5: `{"id_token": {"acr": null, …}, "userinfo": {"email": {"essential": true}}}`.
fn parse_claims_parameter(text: &str) -> Option<(Vec<String>, Vec<String>)> {
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    let names = |member: &str| -> Option<Vec<String>> {
        match object.get(member) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Object(map)) => Some(map.keys().cloned().collect()),
            Some(_) => None,
        }
    };
    Some((names("id_token")?, names("userinfo")?))
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::{ClientId, GrantType, TokenAuthMethod};

    const REDIRECT: &str = "https://portal.sence.cl/callback";

    fn client() -> Client {
        Client {
            client_id: ClientId("portal".to_owned()),
            name: "Portal".to_owned(),
            kind: ClientKind::Confidential,
            secret_hash: None,
            redirect_uris: vec![REDIRECT.to_owned()],
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["openid".to_owned()],
            token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
            id_token_signed_response_alg: "RS256".to_owned(),
            first_party: false,
            enabled: true,
            previous_secret_hash: None,
            previous_secret_expires: None,
            backchannel_logout_uri: None,
            contacts: Vec::new(),
            logo_uri: None,
            client_uri: None,
            registration_token_hash: None,
            jwks: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".to_owned()),
            client_id: Some("portal".to_owned()),
            redirect_uri: Some(REDIRECT.to_owned()),
            scope: Some("openid".to_owned()),
            state: Some("st4te".to_owned()),
            ..AuthorizeParams::default()
        }
    }

    #[test]
    fn parameters_at_their_bound_pass_and_one_byte_more_is_invalid_request() {
        let at_bound = AuthorizeParams {
            state: Some("s".repeat(max_len::STATE)),
            nonce: Some("n".repeat(max_len::NONCE)),
            login_hint: Some("h".repeat(max_len::LOGIN_HINT)),
            ..params()
        };
        assert!(check(at_bound, &client()).is_ok());
        let over = AuthorizeParams {
            nonce: Some("n".repeat(max_len::NONCE + 1)),
            ..params()
        };
        match check(over, &client()) {
            Err(AuthorizeError::Redirect { state, error, .. }) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert_eq!(state.as_deref(), Some("st4te"));
            }
            other => panic!("expected a redirected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn an_oversized_state_is_not_echoed() {
        let over = AuthorizeParams {
            state: Some("s".repeat(max_len::STATE + 1)),
            ..params()
        };
        match check(over, &client()) {
            Err(AuthorizeError::Redirect { state, error, .. }) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert_eq!(state, None);
            }
            other => panic!("expected a redirected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn an_oversized_client_id_is_never_redirected() {
        let over = AuthorizeParams {
            client_id: Some("c".repeat(max_len::CLIENT_ID + 1)),
            ..params()
        };
        assert!(matches!(
            client_id(&over),
            Err(AuthorizeError::NoRedirect(_))
        ));
    }
}
