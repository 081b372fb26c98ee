//! The authorization endpoint's rules (OpenID Core §3.1.2, RFC 6749 §4.1, RFC 7636,
//! RFC 9700): validating a request, deciding whether the person must log in or consent,
//! and issuing the code. Every code is issued by [`next_step`], whoever asks: the
//! authorization request itself, the return from the login page, the consent form.

use std::time::Duration;

use cus_cache::{CacheExt, Key, Namespace};
use cus_core::audit::AuditKind;
use cus_core::authorize;
pub use cus_core::authorize::{AuthorizeError, AuthorizeParams};
use cus_core::oauth::{ErrorCode, OAuthError};
use cus_core::{AccountId, Client, ClientId};
use cus_store::Change;
use serde::{Deserialize, Serialize};
use url::Url;

use super::session::Session;
use crate::app::AppState;
use crate::limits;
use crate::request::RequestMeta;
use crate::secrets::{random_token, token_hash};

/// How long a person has to log in and consent.
const PENDING_TTL: Duration = Duration::from_secs(15 * 60);

/// A validated authorization request, kept in the cache while the person logs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: ClientId,
    pub client_name: String,
    /// The client's registered `logo_uri`, shown on the login page beside its name (only
    /// for clients an operator registered).
    #[serde(default)]
    pub client_logo: Option<String>,
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
    /// Unix milliseconds the request arrived (0 in requests from before this was kept).
    #[serde(default)]
    pub created_ms: i64,
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
    /// The login's Unix milliseconds (`Session::auth_ms`).
    #[serde(default)]
    pub auth_ms: i64,
    pub sid: String,
    pub id_token_claims: Vec<String>,
    pub userinfo_claims: Vec<String>,
    pub issued_at: i64,
}

/// Validates the request against the registered client: the outer `Err` when the store
/// fails (a 503, not the request's fault), the inner one the request's own verdict.
pub async fn validate(
    app: &AppState,
    p: AuthorizeParams,
) -> anyhow::Result<Result<PendingAuthorization, AuthorizeError>> {
    let client_id = match authorize::client_id(&p) {
        Ok(id) => id.to_owned(),
        Err(refused) => return Ok(Err(refused)),
    };
    let client = app.store.client(&ClientId(client_id)).await?;
    Ok(pending(app, p, client.filter(|c| c.enabled)))
}

/// The pending request `p` makes of `client`, if the rules allow it.
fn pending(
    app: &AppState,
    p: AuthorizeParams,
    client: Option<Client>,
) -> Result<PendingAuthorization, AuthorizeError> {
    let unknown = "La aplicación que lo envió no está registrada en CUS.";
    let client = client.ok_or_else(|| AuthorizeError::NoRedirect(unknown.to_owned()))?;
    let request = authorize::check(p, &client)?;
    let hinted_sub = request.id_token_hint.as_deref().and_then(|hint| {
        let (claims, _) = app.keys.verify(hint).ok()?;
        authorize::hinted_subject(&claims, &app.issuer)
    });
    Ok(PendingAuthorization {
        client_id: client.client_id,
        client_name: client.name,
        // Only a portal an operator registered shows its logo: a self-registered client's
        // image would be fetched by every browser on its login page, telling it who came.
        client_logo: client
            .logo_uri
            .filter(|_| client.registration_token_hash.is_none()),
        first_party: client.first_party,
        redirect_uri: request.redirect_uri,
        scopes: request.scopes,
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.code_challenge,
        prompt: request.prompt,
        max_age: request.max_age,
        login_hint: request.login_hint,
        hinted_sub,
        id_token_claims: request.id_token_claims,
        userinfo_claims: request.userinfo_claims,
        created_at: app.clock.now().unix_timestamp(),
        created_ms: super::tokens::unix_ms(app.clock.now()),
    })
}

/// Counts one authorization request from `ip` against `limits.authorize_per_ip`: every
/// request, whether it is kept pending or answered at once with a code (each is cache
/// state a stranger could pile up).
pub async fn admit(app: &AppState, ip: &str) -> Result<(), limits::Refused> {
    limits::check(app, "authorize-ip", ip, app.config.limits.authorize_per_ip).await
}

/// Stores a pending request; returns its id, the `rid` of the login and consent pages.
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

/// The pending request a form's `rid` names, if any: only such a `rid` may go on into a
/// redirect (anything else a form sends is untrusted text). A cache failure counts as none.
pub async fn named_pending(app: &AppState, rid: &str) -> Option<PendingAuthorization> {
    if rid.is_empty() {
        return None;
    }
    load_pending(app, rid).await.ok().flatten()
}

pub async fn drop_pending(app: &AppState, rid: &str) -> anyhow::Result<()> {
    Ok(app
        .cache
        .delete(&Key::new(Namespace::Authorization, rid))
        .await?)
}

/// The one decision before any code: what the person must do next, given their session
/// (if any), in this order — log in (no session, `prompt=login`, `max_age`, an
/// `id_token_hint` naming someone else), choose their own CUS after a generated one,
/// consent — and when nothing is left, the code. `consented` is the consent form's
/// "allow" (with who sent it): it is recorded only once every earlier rule holds, and then
/// consent is not asked again.
pub async fn next_step(
    app: &AppState,
    pending: &PendingAuthorization,
    session: Option<&Session>,
    consented: Option<&RequestMeta>,
) -> anyhow::Result<Next> {
    let now = app.clock.now().unix_timestamp();
    let prompt_none = pending.prompt.iter().any(|p| p == "none");
    let must_login = match session {
        None => true,
        Some(s) => {
            // A login since this very request arrived satisfies prompt=login and max_age.
            // Decided by the session's own login time: a flag on the request would let
            // someone else's login, with the same request id, stand for this person's.
            let logged_in_since = if pending.created_ms > 0 && s.auth_ms > 0 {
                s.auth_ms > pending.created_ms
            } else {
                s.auth_time > pending.created_at
            };
            let fresh_required = pending.prompt.iter().any(|p| p == "login") && !logged_in_since;
            let too_old =
                pending.max_age.is_some_and(|max| now - s.auth_time > max) && !logged_in_since;
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
    if let Some(meta) = consented {
        record_consent(app, pending, session, meta).await?;
    } else if needs_consent(app, pending, session).await? {
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

/// Records the person's consent to the pending request's scopes with its audit event, in
/// one transaction: a consent is never given without its trail.
async fn record_consent(
    app: &AppState,
    pending: &PendingAuthorization,
    session: &Session,
    meta: &RequestMeta,
) -> anyhow::Result<()> {
    if pending.first_party {
        return Ok(());
    }
    let now = app.clock.now();
    let consent = cus_store::Consent {
        account_id: session.account_id,
        client_id: pending.client_id.clone(),
        scopes: pending.scopes.clone(),
        granted_at: now,
    };
    let subject = Some(pending.client_id.0.clone());
    let mut event = crate::audit::of_request(AuditKind::ConsentGiven, subject, meta);
    event.detail = Some(format!(
        "account {} scopes {}",
        session.account_id,
        pending.scopes.join(" ")
    ));
    app.store
        .grant_consent(&consent, Change::audited(&event))
        .await?;
    Ok(())
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
/// Only [`next_step`] calls it, once every rule holds.
async fn issue_code(
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
        auth_ms: session.auth_ms,
        sid: session.sid.clone(),
        id_token_claims: pending.id_token_claims.clone(),
        userinfo_claims: pending.userinfo_claims.clone(),
        issued_at: app.clock.now().unix_timestamp(),
    };
    app.cache
        .put_json(
            &Key::new(Namespace::AuthCode, token_hash(&code)),
            &grant,
            app.config.oidc.code_ttl.std(),
        )
        .await?;
    super::backchannel::joined(app, session.account_id, &session.sid, &pending.client_id).await?;
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
