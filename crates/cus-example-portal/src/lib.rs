//! The example portal: sign in with CUS, show the claims, sign out. Sessions live in memory
//! (it is an example); everything protocol-related is done by the `openidconnect` crate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
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
    claims: Value,
}

struct Portal {
    config: PortalConfig,
    client: Client,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, SignedIn>>,
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
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", config.base_url))?);
    let portal = Arc::new(Portal {
        config,
        client,
        http,
        pending: Mutex::default(),
        sessions: Mutex::default(),
    });
    Ok(Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
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
