//! The example portal: sign in with CUS, show the claims, sign out — and be signed out when
//! the CUS session ends elsewhere (back-channel logout). Sessions live in memory (it is an
//! example); the protocol is the `openidconnect` crate's, except the logout token, which
//! that crate does not know: its checks (§2.6 of Back-Channel Logout 1.0) are here.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, ensure};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, JsonWebKey, JsonWebKeySetUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use serde_json::Value;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the portal needs to know.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the portal is reached, e.g. `http://127.0.0.1:3000`.
    pub base_url: String,
}

/// A login in progress: what the callback must check.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

/// A signed-in person.
struct SignedIn {
    id_token: String,
    /// The CUS session this login came from (`sid`), which a logout token names.
    sid: Option<String>,
    claims: Value,
}

struct Portal {
    config: PortalConfig,
    client: Client,
    jwks_uri: JsonWebKeySetUrl,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, SignedIn>>,
    /// `jti`s of logout tokens already used: each is accepted once.
    used_logout_tokens: Mutex<HashSet<String>>,
}

type Shared = Arc<Portal>;

/// Discovers the provider and builds the portal's routes.
pub async fn router(config: PortalConfig) -> anyhow::Result<Router> {
    // Never follow redirects from the provider (SSRF safety, as the crate recommends).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(config.issuer.clone())?, &http).await?;
    let jwks_uri = metadata.jwks_uri().clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", config.base_url))?);
    let portal = Arc::new(Portal {
        config,
        client,
        jwks_uri,
        http,
        pending: Mutex::default(),
        sessions: Mutex::default(),
        used_logout_tokens: Mutex::default(),
    });
    Ok(Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .route("/backchannel-logout", post(backchannel_logout))
        .with_state(portal))
}

/// Serves the portal on `listen` until the process ends.
pub async fn serve(config: PortalConfig, listen: SocketAddr) -> anyhow::Result<()> {
    let app = router(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .find_map(|c| c.trim().strip_prefix("portal_session=").map(str::to_owned))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn home(State(portal): State<Shared>, headers: HeaderMap) -> Response {
    let sessions = portal.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let body = match session_id(&headers).and_then(|id| sessions.get(&id)) {
        Some(person) => format!(
            "<h1>Hola</h1><p>Ingresó con Clave Única SENCE. Sus datos:</p><pre>{}</pre><p><a href=\"/logout\">Cerrar sesión</a></p>",
            escape(&serde_json::to_string_pretty(&person.claims).unwrap_or_default())
        ),
        None => {
            "<h1>Portal de ejemplo</h1><p><a href=\"/login\">Ingresar con Clave Única SENCE</a></p>"
                .to_owned()
        }
    };
    Html(format!("<!DOCTYPE html><html lang=\"es-CL\"><meta charset=\"utf-8\"><title>Portal de ejemplo</title><body>{body}</body></html>")).into_response()
}

async fn login(State(portal): State<Shared>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = portal
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("run".into()))
        .add_scope(Scope::new("name".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    portal
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(state.secret().clone(), Pending { verifier, nonce });
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

async fn callback(State(portal): State<Shared>, Query(q): Query<CallbackQuery>) -> Response {
    match finish_login(&portal, q).await {
        Ok(session) => (
            [(
                header::SET_COOKIE,
                format!("portal_session={session}; Path=/; HttpOnly; SameSite=Lax"),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Err(e) => Html(format!(
            "<h1>No se pudo ingresar</h1><p>{}</p>",
            escape(&format!("{e:#}"))
        ))
        .into_response(),
    }
}

async fn finish_login(portal: &Portal, q: CallbackQuery) -> anyhow::Result<String> {
    if let Some(error) = q.error {
        anyhow::bail!("CUS answered {error}");
    }
    // RFC 9207: the response must come from our issuer.
    if q.iss.as_deref() != Some(portal.config.issuer.as_str()) {
        anyhow::bail!("the response does not come from {}", portal.config.issuer);
    }
    let state = q.state.ok_or_else(|| anyhow::anyhow!("no state"))?;
    let pending = portal
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&state)
        .ok_or_else(|| anyhow::anyhow!("unknown or reused state"))?;
    let code = q.code.ok_or_else(|| anyhow::anyhow!("no code"))?;
    let tokens = portal
        .client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&portal.http)
        .await?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| anyhow::anyhow!("no id_token"))?;
    // Signature (JWKS), issuer, audience, expiry and nonce.
    id_token.claims(&portal.client.id_token_verifier(), &pending.nonce)?;
    // The ClaveÚnica-shaped `name` object is read as plain JSON.
    let userinfo = portal
        .client
        .user_info_url()
        .ok_or_else(|| anyhow::anyhow!("the provider has no userinfo endpoint"))?
        .url()
        .clone();
    let claims: Value = portal
        .http
        .get(userinfo.as_str())
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session = format!("{:x}", rand::random::<u128>());
    portal
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            session.clone(),
            SignedIn {
                id_token: id_token.to_string(),
                sid: payload(&id_token.to_string())
                    .ok()
                    .and_then(|p| p["sid"].as_str().map(str::to_owned)),
                claims,
            },
        );
    Ok(session)
}

async fn logout(State(portal): State<Shared>, headers: HeaderMap) -> Response {
    let signed_in = session_id(&headers).and_then(|id| {
        portal
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    });
    let mut url = match url::Url::parse(&format!("{}/end_session", portal.config.issuer)) {
        Ok(url) => url,
        Err(_) => return Redirect::to("/").into_response(),
    };
    if let Some(person) = signed_in {
        url.query_pairs_mut()
            .append_pair("id_token_hint", &person.id_token)
            .append_pair(
                "post_logout_redirect_uri",
                &format!("{}/", portal.config.base_url),
            );
    }
    (
        [(header::SET_COOKIE, "portal_session=; Path=/; Max-Age=0")],
        Redirect::to(url.as_str()),
    )
        .into_response()
}

/// The `events` member that makes a JWT a logout token.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Back-Channel Logout 1.0: CUS POSTs `logout_token` when a CUS session this portal signed
/// in through ends; the portal ends its own sessions from it and answers 200.
async fn backchannel_logout(
    State(portal): State<Shared>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let Some(token) = form.get("logout_token") else {
        return (
            StatusCode::BAD_REQUEST,
            no_store,
            "logout_token is required",
        )
            .into_response();
    };
    match verified_logout(&portal, token).await {
        Ok(claims) => {
            let sid = claims["sid"].as_str();
            let mut sessions = portal.sessions.lock().unwrap_or_else(|p| p.into_inner());
            // A `sid` ends that session; a bare `sub` would end all of the person's.
            sessions.retain(|_, s| match sid {
                Some(sid) => s.sid.as_deref() != Some(sid),
                None => s.claims["sub"] != claims["sub"],
            });
            (StatusCode::OK, no_store).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, no_store, format!("{e:#}")).into_response(),
    }
}

/// §2.6: believed only if CUS signed it (its JWKS, fetched now: logouts are rare and keys
/// rotate), for this portal, recently, with the logout event, without a nonce, once.
async fn verified_logout(portal: &Portal, token: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, body, signature] = parts[..] else {
        anyhow::bail!("not a compact JWS");
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header)?)?;
    ensure!(header["typ"] == "logout+jwt", "typ is not logout+jwt");
    ensure!(header["alg"] != "none", "unsigned");
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).context("unknown alg")?;
    let kid = header["kid"].as_str();
    let jwks = CoreJsonWebKeySet::fetch_async(&portal.jwks_uri, &portal.http).await?;
    let message = format!("{}.{}", parts[0], body);
    let signature = URL_SAFE_NO_PAD.decode(signature)?;
    let signed = jwks
        .keys()
        .iter()
        .filter(|k| kid.is_none() || k.key_id().map(|id| id.as_str()) == kid)
        .any(|k| {
            k.verify_signature(&alg, message.as_bytes(), &signature)
                .is_ok()
        });
    ensure!(signed, "the signature is not CUS's");
    let claims = payload(token)?;
    ensure!(claims["iss"] == portal.config.issuer.as_str(), "wrong iss");
    let for_us = match &claims["aud"] {
        Value::String(aud) => aud == &portal.config.client_id,
        Value::Array(auds) => auds.iter().any(|a| a == portal.config.client_id.as_str()),
        _ => false,
    };
    ensure!(for_us, "not for this portal");
    ensure!(
        claims["events"]
            .get(LOGOUT_EVENT)
            .is_some_and(Value::is_object),
        "not a logout token"
    );
    ensure!(claims.get("nonce").is_none(), "a logout token has no nonce");
    ensure!(
        claims["sid"].is_string() || claims["sub"].is_string(),
        "names no session"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let iat = claims["iat"].as_u64().context("no iat")?;
    ensure!(iat.abs_diff(now) <= 300, "too old, or from the future");
    let jti = claims["jti"].as_str().context("no jti")?;
    ensure!(
        portal
            .used_logout_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(jti.to_owned()),
        "already used"
    );
    Ok(claims)
}

/// A JWT's claims, unverified (the caller has verified them, or only reads its own token).
fn payload(jwt: &str) -> anyhow::Result<Value> {
    let part = jwt.split('.').nth(1).context("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
}
