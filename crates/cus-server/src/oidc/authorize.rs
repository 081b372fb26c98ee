//! The authorization endpoint's rules (OpenID Core §3.1.2, RFC 6749 §4.1, RFC 7636,
//! RFC 9700): validating a request, deciding whether the person must log in or consent,
//! and issuing the code.

use std::time::Duration;

use cus_cache::{CacheExt, Key, Namespace};
use cus_core::oauth::{ErrorCode, OAuthError};
use cus_core::{AccountId, Client, ClientId, ClientKind, pkce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::session::Session;
use super::split_scopes;
use crate::app::AppState;
use crate::secrets::{random_token, token_hash};

/// How long a person has to log in and consent.
const PENDING_TTL: Duration = Duration::from_secs(15 * 60);

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

/// A validated authorization request, kept in the cache while the person logs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: ClientId,
    pub client_name: String,
    pub first_party: bool,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hinted_sub: Option<String>,
    /// Claims asked by name (`claims` parameter): (for the id_token, for userinfo).
    pub id_token_claims: Vec<String>,
    pub userinfo_claims: Vec<String>,
    /// Unix seconds the request arrived.
    pub created_at: i64,
    /// The person logged in during this request: `prompt=login` and `max_age` are
    /// satisfied.
    #[serde(default)]
    pub logged_in: bool,
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

/// The next step of a validated request.
pub enum Next {
    Login,
    /// Logged in with a generated CUS: must choose their own first.
    ChangeCus,
    Consent,
    Redirect(String),
}

/// A code's grant, kept in the cache under the code's hash, taken once at the token endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub account_id: AccountId,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub sid: String,
    pub id_token_claims: Vec<String>,
    pub userinfo_claims: Vec<String>,
    pub issued_at: i64,
}

fn invalid(code: ErrorCode, text: &str) -> OAuthError {
    OAuthError::new(code, text)
}

/// Validates the request against the registered client.
pub async fn validate(
    app: &AppState,
    p: AuthorizeParams,
) -> Result<PendingAuthorization, AuthorizeError> {
    let no_redirect = |text: &str| AuthorizeError::NoRedirect(text.to_owned());
    let client_id = p
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| no_redirect("Falta el parámetro client_id."))?;
    let client: Client = app
        .store
        .client(&ClientId(client_id.to_owned()))
        .await
        .map_err(|_| {
            no_redirect("El servicio no está disponible; intente nuevamente en unos minutos.")
        })?
        .filter(|c| c.enabled)
        .ok_or_else(|| no_redirect("La aplicación que lo envió no está registrada en CUS."))?;
    let redirect_uri = p
        .redirect_uri
        .clone()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| no_redirect("Falta el parámetro redirect_uri."))?;
    // Exact string comparison (RFC 9700 §4.1.3): no normalisation, no prefixes.
    if !client.redirect_uris.iter().any(|r| r == &redirect_uri) {
        return Err(no_redirect(
            "La dirección de retorno (redirect_uri) no está registrada para esta aplicación.",
        ));
    }
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: p.state.clone(),
        error,
    };
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
            cus_core::claims::SCOPES.contains(&s.as_str())
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
    let hinted_sub = p.id_token_hint.as_deref().and_then(|hint| {
        app.keys.verify(hint).ok().and_then(|(claims, _)| {
            (claims["iss"] == app.issuer.as_str())
                .then(|| claims["sub"].as_str().map(str::to_owned))
                .flatten()
        })
    });
    Ok(PendingAuthorization {
        client_id: client.client_id,
        client_name: client.name,
        first_party: client.first_party,
        redirect_uri,
        scopes,
        state: p.state,
        nonce: p.nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: p.login_hint,
        hinted_sub,
        id_token_claims,
        userinfo_claims,
        created_at: app.clock.now().unix_timestamp(),
        logged_in: false,
    })
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

/// Stores a pending request; returns its id (the `rid` of the login and consent pages).
pub async fn save_pending(
    app: &AppState,
    pending: &PendingAuthorization,
) -> anyhow::Result<String> {
    let rid = random_token();
    app.cache
        .put_json(
            &Key::new(Namespace::Authorization, &rid),
            pending,
            PENDING_TTL,
        )
        .await?;
    Ok(rid)
}

pub async fn load_pending(
    app: &AppState,
    rid: &str,
) -> anyhow::Result<Option<PendingAuthorization>> {
    Ok(app
        .cache
        .get_json(&Key::new(Namespace::Authorization, rid))
        .await?)
}

/// Records that the person logged in while this request was pending.
pub async fn mark_logged_in(app: &AppState, rid: &str) -> anyhow::Result<()> {
    let key = Key::new(Namespace::Authorization, rid);
    if let Some(mut pending) = app.cache.get_json::<PendingAuthorization>(&key).await? {
        pending.logged_in = true;
        app.cache.put_json(&key, &pending, PENDING_TTL).await?;
    }
    Ok(())
}

pub async fn drop_pending(app: &AppState, rid: &str) -> anyhow::Result<()> {
    Ok(app
        .cache
        .delete(&Key::new(Namespace::Authorization, rid))
        .await?)
}

/// Decides what the person must do next, given their session (if any).
pub async fn next_step(
    app: &AppState,
    pending: &PendingAuthorization,
    session: Option<&Session>,
) -> anyhow::Result<Next> {
    let now = app.clock.now().unix_timestamp();
    let prompt_none = pending.prompt.iter().any(|p| p == "none");
    let must_login = match session {
        None => true,
        Some(s) => {
            // A login during this very request satisfies prompt=login and max_age.
            let fresh_required = pending.prompt.iter().any(|p| p == "login") && !pending.logged_in;
            let too_old =
                pending.max_age.is_some_and(|max| now - s.auth_time > max) && !pending.logged_in;
            let other_person = pending
                .hinted_sub
                .as_ref()
                .is_some_and(|sub| *sub != s.account_id.to_string());
            fresh_required || too_old || other_person
        }
    };
    if must_login {
        return Ok(if prompt_none {
            Next::Redirect(error_redirect(
                app,
                &pending.redirect_uri,
                pending.state.as_deref(),
                &OAuthError::new(ErrorCode::LoginRequired, "the person is not logged in"),
            ))
        } else {
            Next::Login
        });
    }
    let Some(session) = session else {
        return Ok(Next::Login);
    };
    if session.must_change_cus {
        return Ok(if prompt_none {
            Next::Redirect(error_redirect(
                app,
                &pending.redirect_uri,
                pending.state.as_deref(),
                &OAuthError::new(
                    ErrorCode::InteractionRequired,
                    "the person must choose a new CUS",
                ),
            ))
        } else {
            Next::ChangeCus
        });
    }
    if needs_consent(app, pending, session).await? {
        return Ok(if prompt_none {
            Next::Redirect(error_redirect(
                app,
                &pending.redirect_uri,
                pending.state.as_deref(),
                &OAuthError::new(ErrorCode::ConsentRequired, "the person has not consented"),
            ))
        } else {
            Next::Consent
        });
    }
    Ok(Next::Redirect(issue_code(app, pending, session).await?))
}

async fn needs_consent(
    app: &AppState,
    pending: &PendingAuthorization,
    session: &Session,
) -> anyhow::Result<bool> {
    if pending.first_party {
        return Ok(false);
    }
    if pending.prompt.iter().any(|p| p == "consent") {
        return Ok(true);
    }
    let granted = app
        .store
        .consent(session.account_id, &pending.client_id)
        .await?;
    Ok(match granted {
        Some(c) => !pending.scopes.iter().all(|s| c.scopes.contains(s)),
        None => true,
    })
}

/// Issues a code for the pending request and returns the redirect to the relying party.
pub async fn issue_code(
    app: &AppState,
    pending: &PendingAuthorization,
    session: &Session,
) -> anyhow::Result<String> {
    let code = random_token();
    let grant = CodeGrant {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        account_id: session.account_id,
        scopes: pending.scopes.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time: session.auth_time,
        sid: session.sid.clone(),
        id_token_claims: pending.id_token_claims.clone(),
        userinfo_claims: pending.userinfo_claims.clone(),
        issued_at: app.clock.now().unix_timestamp(),
    };
    app.cache
        .put_json(
            &Key::new(Namespace::AuthCode, token_hash(&code)),
            &grant,
            Duration::from_secs(app.config.oidc.code_ttl),
        )
        .await?;
    Ok(with_params(
        &pending.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", pending.state.as_deref()),
            ("iss", Some(app.issuer.as_str())),
        ],
    ))
}

/// RFC 6749 §4.1.2.1 error redirect, with `state` and RFC 9207 `iss`.
pub fn error_redirect(
    app: &AppState,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
) -> String {
    with_params(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", Some(error.description.as_str())),
            ("state", state),
            ("iss", Some(app.issuer.as_str())),
        ],
    )
}

/// Appends query parameters, keeping those the registered URI already has.
pub fn with_params(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let present: Vec<(&str, &str)> = params
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    match Url::parse(uri) {
        // Without parameters the URI goes back exactly as registered (no stray `?`).
        Ok(mut url) if !present.is_empty() => {
            url.query_pairs_mut().extend_pairs(present);
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}
