//! The token endpoint's grants (RFC 6749 §4.1.3, §6, §4.4), token minting (OpenID Core
//! §2 ID tokens, RFC 9068 JWT access tokens, opaque refresh tokens stored by hash), and
//! the checks shared by userinfo, revocation and introspection.

use std::time::Duration;

use cus_cache::{CacheExt, Key, Namespace};
use cus_core::access_token::AccessTokenClaims;
use cus_core::audit::{AuditEvent, AuditKind, AuditOutcome};
use cus_core::claims::Destination;
use cus_core::forms::TokenForm;
use cus_core::oauth::{ErrorCode, OAuthError};
use cus_core::{Account, AccountId, Client, ClientId, GrantType, pkce};
use cus_store::RefreshToken;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::authorize::CodeGrant;
use super::{ACR_PASSWORD, split_scopes};
use crate::app::AppState;
use crate::keys::half_hash;
use crate::secrets::{random_token, token_hash};

/// RFC 6749 §5.1 (+ OpenID Core §3.1.3.3 `id_token`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// What a refresh token renews, stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshGrant {
    scopes: Vec<String>,
    auth_time: i64,
    /// The login's Unix milliseconds (`Session::auth_ms`; 0 in grants from before).
    #[serde(default)]
    auth_ms: i64,
    sid: String,
    id_token_claims: Vec<String>,
    userinfo_claims: Vec<String>,
}

/// Remembered for a redeemed code, so a replay revokes what the first use got.
#[derive(Debug, Serialize, Deserialize)]
struct RedeemedCode {
    family_id: Option<Uuid>,
    jti: String,
    exp: i64,
}

fn grant_error(text: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, text)
}

/// The store, the cache or the keys failed: logged here, once, and answered as every
/// protocol endpoint answers an internal failure (503, `http::errors::ProtocolError`).
fn server_error<E: std::fmt::Display>(e: E) -> OAuthError {
    tracing::error!(error = %e, "token endpoint failure");
    OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later")
}

pub async fn exchange(
    app: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form
        .grant_type
        .as_deref()
        .filter(|g| !g.is_empty())
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "grant_type is required"))?;
    let Some(grant) = GrantType::parse(grant_type) else {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        ));
    };
    if !client.grant_types.contains(&grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ));
    }
    let issued = match grant {
        GrantType::AuthorizationCode => redeem_code(app, client, form).await,
        GrantType::RefreshToken => refresh(app, client, form).await,
        GrantType::ClientCredentials => client_credentials(app, client, form).await,
    }?;
    metrics::counter!(crate::metrics::TOKENS_ISSUED, "grant" => grant.as_str()).increment(1);
    Ok(issued)
}

async fn redeem_code(
    app: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "code is required"))?;
    let hash = token_hash(code);
    let taken: Option<CodeGrant> = app
        .cache
        .take_json(&Key::new(Namespace::AuthCode, &hash))
        .await
        .map_err(server_error)?;
    let Some(grant) = taken else {
        revoke_replayed_code(app, &hash, &client.client_id).await?;
        return Err(grant_error("the code is invalid, expired or already used"));
    };
    let now = app.clock.now();
    if grant.client_id != client.client_id {
        return Err(grant_error("the code was issued to another client"));
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(grant_error(
            "redirect_uri does not match the authorization request",
        ));
    }
    if now.unix_timestamp() - grant.issued_at > app.config.oidc.code_ttl.secs() {
        return Err(grant_error("the code has expired"));
    }
    match (&grant.code_challenge, form.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(grant_error(
                "code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => return Err(grant_error("code_verifier is required")),
        (None, Some(_)) => return Err(grant_error("code_verifier sent but no code_challenge was")),
        (None, None) => {}
    }
    let account = live_account(app, grant.account_id, grant.auth_time, grant.auth_ms).await?;
    let refresh = RefreshGrant {
        scopes: grant.scopes.clone(),
        auth_time: grant.auth_time,
        auth_ms: grant.auth_ms,
        sid: grant.sid.clone(),
        id_token_claims: grant.id_token_claims.clone(),
        userinfo_claims: grant.userinfo_claims.clone(),
    };
    let family = client
        .grant_types
        .contains(&GrantType::RefreshToken)
        .then(Uuid::now_v7);
    let family_expires = now + app.config.oidc.refresh_token_ttl.time();
    let (response, jti, exp) = mint(
        app,
        client,
        &account,
        &refresh,
        grant.nonce.as_deref(),
        family.map(|f| (f, family_expires)),
    )
    .await?;
    let redeemed = RedeemedCode {
        family_id: family,
        jti,
        exp,
    };
    let ttl = app
        .config
        .oidc
        .access_token_ttl
        .max(app.config.oidc.code_ttl)
        .std();
    app.cache
        .put_json(&Key::new(Namespace::CodeUsed, &hash), &redeemed, ttl)
        .await
        .map_err(server_error)?;
    Ok(response)
}

/// A code seen again after its first use: revoke the tokens the first use issued
/// (RFC 6749 §4.1.2, RFC 9700 §4.5).
async fn revoke_replayed_code(
    app: &AppState,
    hash: &str,
    client: &ClientId,
) -> Result<(), OAuthError> {
    let Some(redeemed) = app
        .cache
        .get_json::<RedeemedCode>(&Key::new(Namespace::CodeUsed, hash))
        .await
        .map_err(server_error)?
    else {
        return Ok(());
    };
    let now = app.clock.now();
    if let Some(family) = redeemed.family_id {
        app.store
            .revoke_refresh_family(family, now)
            .await
            .map_err(server_error)?;
    }
    revoke_jti(app, &redeemed.jti, redeemed.exp)
        .await
        .map_err(server_error)?;
    let mut event = AuditEvent::new(AuditKind::TokenReuseDetected, now, Some(client.0.clone()));
    event.outcome = AuditOutcome::Revoked;
    event.detail = Some("authorization code replayed".into());
    crate::audit::record(app, &event).await;
    tracing::warn!(client.id = %client, "authorization code replayed: its tokens are revoked");
    Ok(())
}

async fn refresh(
    app: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let token = form
        .refresh_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "refresh_token is required"))?;
    let hash = token_hash(token);
    let stored = app
        .store
        .refresh_token(&hash)
        .await
        .map_err(server_error)?
        .ok_or_else(|| grant_error("unknown refresh token"))?;
    // Checked before anything is burnt: another client cannot spend this token.
    if stored.client_id != client.client_id {
        return Err(grant_error(
            "the refresh token was issued to another client",
        ));
    }
    let now = app.clock.now();
    if stored.revoked_at.is_some() {
        return Err(grant_error("the refresh token has been revoked"));
    }
    if stored.expires_at <= now {
        return Err(grant_error("the refresh token has expired"));
    }
    let grant: RefreshGrant = serde_json::from_str(&stored.grant_json).map_err(server_error)?;
    if let Some(scope) = form.scope.as_deref()
        && !split_scopes(scope).iter().all(|s| grant.scopes.contains(s))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "a refresh cannot widen the scope",
        ));
    }
    if stored.rotated_at.is_some()
        || !app
            .store
            .rotate_refresh_token(&hash, now)
            .await
            .map_err(server_error)?
    {
        return replayed_refresh(app, &stored, now).await;
    }
    let account = live_account(app, stored.account_id, grant.auth_time, grant.auth_ms).await?;
    let (response, _, _) = mint(
        app,
        client,
        &account,
        &grant,
        None,
        Some((stored.family_id, stored.expires_at)),
    )
    .await?;
    let grace = app.config.oidc.refresh_grace.std();
    app.cache
        .put_json(&Key::new(Namespace::RefreshGrace, &hash), &response, grace)
        .await
        .map_err(server_error)?;
    Ok(response)
}

/// An already-rotated refresh token: inside the grace window the concurrent caller gets
/// the same new pair; after it, the whole family is revoked (RFC 9700 §4.14.2).
async fn replayed_refresh(
    app: &AppState,
    stored: &RefreshToken,
    now: OffsetDateTime,
) -> Result<TokenResponse, OAuthError> {
    let grace = app.config.oidc.refresh_grace.time();
    let within_grace = stored.rotated_at.is_none_or(|r| now - r <= grace);
    if within_grace {
        let key = Key::new(Namespace::RefreshGrace, &stored.token_hash);
        // The winner of the race may still be minting: give it a moment.
        for _ in 0..20 {
            if let Some(response) = app
                .cache
                .get_json::<TokenResponse>(&key)
                .await
                .map_err(server_error)?
            {
                return Ok(response);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    app.store
        .revoke_refresh_family(stored.family_id, now)
        .await
        .map_err(server_error)?;
    let mut event = AuditEvent::new(
        AuditKind::TokenReuseDetected,
        now,
        Some(stored.client_id.0.clone()),
    );
    event.outcome = AuditOutcome::Revoked;
    event.detail = Some("rotated refresh token reused; family revoked".into());
    crate::audit::record(app, &event).await;
    tracing::warn!(client.id = %stored.client_id, "refresh token reused: family revoked");
    Err(grant_error("the refresh token was already used"))
}

async fn client_credentials(
    app: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    // No person: only the client's own (non-OpenID) scopes.
    let requested = split_scopes(form.scope.as_deref().unwrap_or(""));
    let personal = |s: &str| cus_core::claims::SCOPES.contains(&s);
    if requested
        .iter()
        .any(|s| personal(s) || !client.scopes.contains(s))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope not allowed for client_credentials",
        ));
    }
    let operator = operator_claim(form, &requested)?;
    let now = app.clock.now();
    let exp = now.unix_timestamp() + app.config.oidc.access_token_ttl.secs();
    let mut claims = json!({
        "iss": app.issuer,
        "sub": client.client_id.0,
        "aud": client.client_id.0,
        "client_id": client.client_id.0,
        "iat": now.unix_timestamp(),
        "exp": exp,
        "jti": random_token(),
        "scope": requested.join(" "),
    });
    if let Some(operator) = operator {
        claims["operator"] = json!(operator);
    }
    let access_token = app
        .keys
        .sign(&app.config.keys.access_token_alg, "at+jwt", &claims, now)
        .map_err(server_error)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: app.config.oidc.access_token_ttl.std().as_secs(),
        refresh_token: None,
        id_token: None,
        scope: requested.join(" "),
    })
}

/// The `operator` a help-desk tool names at the token endpoint: allowed only with the
/// `cus:helpdesk` scope requested (so only a client holding it), and only a name the trail
/// can keep (`cus_core::audit::operator_name`, the CLI's rule).
fn operator_claim(form: &TokenForm, requested: &[String]) -> Result<Option<String>, OAuthError> {
    let Some(given) = form.operator.as_deref() else {
        return Ok(None);
    };
    let helpdesk = cus_core::client_metadata::HELPDESK_SCOPE;
    if !requested.iter().any(|s| s == helpdesk) {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "operator is allowed only with the cus:helpdesk scope",
        ));
    }
    cus_core::audit::operator_name(given)
        .map(|name| Some(name.to_owned()))
        .map_err(|why| OAuthError::new(ErrorCode::InvalidRequest, why))
}

/// The account behind a grant, if it still exists, is not disabled, and its CUS did not
/// change since.
async fn live_account(
    app: &AppState,
    id: AccountId,
    auth_time: i64,
    auth_ms: i64,
) -> Result<Account, OAuthError> {
    let account = app
        .store
        .account_by_id(id)
        .await
        .map_err(server_error)?
        .ok_or_else(|| grant_error("the account no longer exists"))?;
    if login_revoked(&account, auth_time, auth_ms) {
        return Err(grant_error(
            "the grant was revoked (the CUS changed or the account is disabled)",
        ));
    }
    Ok(account)
}

/// The scopes a stored refresh token renews (empty if its grant does not decode), for a
/// person's own view of what they gave: the grant's format stays in this module.
pub fn refresh_scopes(stored: &cus_store::RefreshToken) -> Vec<String> {
    serde_json::from_str::<RefreshGrant>(&stored.grant_json)
        .map(|grant| grant.scopes)
        .unwrap_or_default()
}

/// Whether everything issued for a login is revoked: the account is disabled
/// ([`Account::usable`]), or the CUS changed (or was generated) after the login. Every
/// session, access token and refresh token is judged here. The one test of
/// `tokens_valid_after`, for every kind of token. Compared in
/// milliseconds, so a change ends the sessions opened earlier in the same second (an
/// attacker signing in many times a second must not keep one past the owner's change);
/// `auth_ms` 0 (a record from before milliseconds were kept) counts from the second's start.
pub fn login_revoked(account: &Account, auth_time: i64, auth_ms: i64) -> bool {
    if !account.usable() {
        return true;
    }
    let login = if auth_ms > 0 {
        auth_ms
    } else {
        auth_time.saturating_mul(1000)
    };
    unix_ms(account.tokens_valid_after) > login
}

/// Unix milliseconds of `at`.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Mints access token, ID token and (with a family) a refresh token.
async fn mint(
    app: &AppState,
    client: &Client,
    account: &Account,
    grant: &RefreshGrant,
    nonce: Option<&str>,
    family: Option<(Uuid, OffsetDateTime)>,
) -> Result<(TokenResponse, String, i64), OAuthError> {
    let now = app.clock.now();
    let oidc = &app.config.oidc;
    let iat = now.unix_timestamp();
    let jti = random_token();
    let at_exp = iat + oidc.access_token_ttl.secs();
    let scope = grant.scopes.join(" ");
    let mut access = json!({
        "iss": app.issuer,
        "sub": account.id.to_string(),
        "aud": client.client_id.0,
        "client_id": client.client_id.0,
        "iat": iat,
        "exp": at_exp,
        "jti": jti,
        "scope": scope,
        "auth_time": grant.auth_time,
        "auth_ms": grant.auth_ms,
        "sid": grant.sid,
        "acr": ACR_PASSWORD,
    });
    if !grant.userinfo_claims.is_empty() {
        access["userinfo_claims"] = json!(grant.userinfo_claims);
    }
    let access_token = app
        .keys
        .sign(&app.config.keys.access_token_alg, "at+jwt", &access, now)
        .map_err(server_error)?;

    let alg = client.id_token_signed_response_alg.as_str();
    let mut id = json!({
        "iss": app.issuer,
        "sub": account.id.to_string(),
        "aud": client.client_id.0,
        "iat": iat,
        "exp": iat + oidc.id_token_ttl.secs(),
        "auth_time": grant.auth_time,
        "acr": ACR_PASSWORD,
        "amr": ["pwd"],
        "sid": grant.sid,
        "at_hash": half_hash(alg, &access_token),
    });
    if let Some(nonce) = nonce {
        id["nonce"] = json!(nonce);
    }
    let extra = cus_core::claims::release(
        account,
        grant.scopes.iter().map(String::as_str),
        grant.id_token_claims.iter().map(String::as_str),
        Destination::IdToken,
    );
    for (name, value) in extra {
        if id.get(&name).is_none() {
            id[name] = value;
        }
    }
    let id_token = app.keys.sign(alg, "JWT", &id, now).map_err(server_error)?;

    let refresh_token = match family {
        Some((family_id, expires_at)) => {
            let token = random_token();
            let record = RefreshToken {
                token_hash: token_hash(&token),
                family_id,
                account_id: account.id,
                client_id: client.client_id.clone(),
                grant_json: serde_json::to_string(grant).map_err(server_error)?,
                created_at: now,
                expires_at,
                rotated_at: None,
                revoked_at: None,
            };
            app.store
                .insert_refresh_token(&record)
                .await
                .map_err(server_error)?;
            Some(token)
        }
        None => None,
    };
    Ok((
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: oidc.access_token_ttl.std().as_secs(),
            refresh_token,
            id_token: Some(id_token),
            scope,
        },
        jti,
        at_exp,
    ))
}

/// Marks an access token's `jti` revoked until it would have expired anyway.
pub async fn revoke_jti(app: &AppState, jti: &str, exp: i64) -> anyhow::Result<()> {
    let left = exp - app.clock.now().unix_timestamp();
    if left > 0 {
        let ttl = Duration::from_secs(u64::try_from(left).unwrap_or(1));
        app.cache
            .put(&Key::new(Namespace::RevokedJti, jti), b"1", ttl)
            .await?;
    }
    Ok(())
}

/// A live access token.
#[derive(Debug)]
pub struct AccessClaims {
    pub claims: AccessTokenClaims,
    /// The person it was issued for; `None` for a client's own token (client_credentials).
    pub account: Option<Account>,
}

impl AccessClaims {
    /// The `client_id` the token was issued to.
    pub fn client_id(&self) -> &str {
        &self.claims.client_id
    }
}

/// The one liveness rule for access tokens, applied by everything that accepts one
/// (userinfo, introspection, revocation): one of our `at+jwt` tokens, from our issuer, not
/// expired, its `jti` not revoked, and — for a person's token — the account still there and
/// its CUS unchanged since the login the token stems from ([`login_revoked`]).
/// `Ok(None)` for any token that is not live; `Err` only when the store or cache fails.
pub async fn live_access_token(
    app: &AppState,
    token: &str,
) -> anyhow::Result<Option<AccessClaims>> {
    let Ok((claims, header)) = app.keys.verify(token) else {
        return Ok(None);
    };
    let Ok(claims) = serde_json::from_value::<AccessTokenClaims>(claims) else {
        return Ok(None);
    };
    if header.token_type() != Some("at+jwt") || claims.iss != app.issuer {
        return Ok(None);
    }
    if claims.exp <= app.clock.now().unix_timestamp() {
        return Ok(None);
    }
    if app
        .cache
        .get(&Key::new(Namespace::RevokedJti, &claims.jti))
        .await?
        .is_some()
    {
        return Ok(None);
    }
    // A person's token carries the time of their login; a client's own token does not.
    let Some(auth_time) = claims.auth_time else {
        return Ok(Some(AccessClaims {
            claims,
            account: None,
        }));
    };
    let Ok(id) = claims.sub.parse() else {
        return Ok(None);
    };
    let account = match app.store.account_by_id(AccountId(id)).await? {
        Some(account) if !login_revoked(&account, auth_time, claims.auth_ms) => account,
        _ => return Ok(None),
    };
    Ok(Some(AccessClaims {
        claims,
        account: Some(account),
    }))
}

/// A live refresh token of `client`, as introspection reports it.
#[derive(Debug)]
pub struct LiveRefresh {
    pub stored: RefreshToken,
    pub scopes: Vec<String>,
}

/// Whether a refresh token is live for `client`: issued to it, neither revoked nor rotated
/// nor expired, and its person's CUS unchanged since the login (as the refresh grant
/// itself checks). `Ok(None)` for unknown tokens too.
pub async fn live_refresh_token(
    app: &AppState,
    token: &str,
    client: &ClientId,
) -> anyhow::Result<Option<LiveRefresh>> {
    // Refresh tokens are base64url (`random_token`), which has no '.': a JWT — an access
    // token, the common case at introspection — is never one, and costs no database read.
    if token.contains('.') {
        return Ok(None);
    }
    let Some(stored) = app.store.refresh_token(&token_hash(token)).await? else {
        return Ok(None);
    };
    let now = app.clock.now();
    if stored.client_id != *client
        || stored.revoked_at.is_some()
        || stored.rotated_at.is_some()
        || stored.expires_at <= now
    {
        return Ok(None);
    }
    let grant: RefreshGrant = serde_json::from_str(&stored.grant_json)?;
    match app.store.account_by_id(stored.account_id).await? {
        Some(account) if !login_revoked(&account, grant.auth_time, grant.auth_ms) => {}
        _ => return Ok(None),
    }
    Ok(Some(LiveRefresh {
        stored,
        scopes: grant.scopes,
    }))
}
