//! Protocol endpoints: discovery, JWKS, authorize, token, userinfo, revocation,
//! introspection. Handlers decode, call `crate::oidc`, and render.

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use cus_core::claims::Destination;
use cus_core::forms::{ClientCredentialsForm, TokenActionForm, TokenForm, UserinfoForm};
use cus_core::oauth::{ErrorCode, OAuthError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{self, oauth_json};
use super::meta::RequestMeta;
use super::params;
use super::routes::Routes;
use crate::app::AppState;
use crate::oidc::authorize::{self, AuthorizeError, AuthorizeParams, Next};
use crate::oidc::client_auth::{self, Presented};
use crate::oidc::session;
use crate::oidc::tokens;
use crate::secrets::token_hash;

pub fn routes() -> Routes {
    Routes::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route(
            "/authorize",
            get(authorize)
                .post(authorize)
                .layer(DefaultBodyLimit::max(AUTHORIZE_BODY_MAX)),
        )
        .route("/authorize/resume", get(resume))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
}

async fn discovery(State(app): State<AppState>) -> Response {
    let iss = &app.issuer;
    let mut claims: Vec<&str> = cus_core::claims::CLAIMS.to_vec();
    claims.extend(cus_core::claims::EXTRA_CLAIMS);
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/end_session"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "registration_endpoint": format!("{iss}/register"),
        "scopes_supported": cus_core::claims::SCOPES,
        "claims_supported": claims,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": cus_jose::assertion::ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": crate::keys::ALGORITHMS,
        "userinfo_signing_alg_values_supported": [],
        "subject_types_supported": ["public"],
        "acr_values_supported": [crate::oidc::ACR_PASSWORD],
        "ui_locales_supported": ["es-CL"],
        "claims_locales_supported": ["es-CL"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(doc)).into_response()
}

async fn jwks(State(app): State<AppState>) -> Response {
    // Short enough that a rotation's new key is seen well within the publication lead time.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(app.keys.jwks()),
    )
        .into_response()
}

/// The largest `POST /authorize` body: every parameter at its bound
/// (`cus_core::authorize::max_len`) fits with room to spare.
const AUTHORIZE_BODY_MAX: usize = 32 * 1024;

async fn authorize(
    State(app): State<AppState>,
    method: Method,
    jar: CookieJar,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let raw = if method == Method::POST {
        match body {
            Ok(body) => body.to_vec(),
            Err(_) => {
                return errors::page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Solicitud no válida",
                    "La solicitud de autenticación es demasiado grande.",
                );
            }
        }
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let parsed: AuthorizeParams = match params::decode(&raw) {
        Ok(p) => p,
        Err(e) => {
            return errors::page(
                StatusCode::BAD_REQUEST,
                "Solicitud no válida",
                &format!("La solicitud de autenticación no es válida: {}.", e.0),
            );
        }
    };
    let pending = match authorize::validate(&app, parsed).await {
        Ok(p) => p,
        Err(AuthorizeError::NoRedirect(message)) => {
            return errors::page(StatusCode::BAD_REQUEST, "Solicitud no válida", &message);
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            return Redirect::to(&authorize::error_redirect(
                &app,
                &redirect_uri,
                state.as_deref(),
                &error,
            ))
            .into_response();
        }
    };
    let admitted = authorize::admit(&app, &meta.limit_address()).await;
    if let Some(response) = errors::over_limit_page(admitted) {
        return response;
    }
    let session = match current_session(&app, &jar).await {
        Ok(s) => s,
        Err(e) => return errors::internal(&e),
    };
    match authorize::next_step(&app, &pending, session.as_ref(), None).await {
        Ok(Next::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(step) => match authorize::save_pending(&app, &pending).await {
            Ok(rid) => Redirect::to(&interaction_url(&step, &rid)).into_response(),
            Err(e) => errors::internal(&e),
        },
        Err(e) => errors::internal(&e),
    }
}

#[derive(Deserialize)]
pub struct RidQuery {
    pub rid: Option<String>,
}

/// Back from the login page: continue the pending request with the new session.
async fn resume(
    State(app): State<AppState>,
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<RidQuery>,
) -> Response {
    let rid = q.rid.unwrap_or_default();
    let pending = match authorize::load_pending(&app, &rid).await {
        Ok(Some(p)) => p,
        Ok(None) => return expired_request(),
        Err(e) => return errors::internal(&e),
    };
    let session = match current_session(&app, &jar).await {
        Ok(s) => s,
        Err(e) => return errors::internal(&e),
    };
    proceed(&app, &rid, &pending, session.as_ref(), None).await
}

/// Continues pending request `rid` through [`authorize::next_step`]: to the relying party
/// (the request is then used up), or to the page of what is still missing.
pub(super) async fn proceed(
    app: &AppState,
    rid: &str,
    pending: &authorize::PendingAuthorization,
    session: Option<&session::Session>,
    consented: Option<&RequestMeta>,
) -> Response {
    match authorize::next_step(app, pending, session, consented).await {
        Ok(Next::Redirect(to)) => {
            let _ = authorize::drop_pending(app, rid).await;
            Redirect::to(&to).into_response()
        }
        Ok(step) => Redirect::to(&interaction_url(&step, rid)).into_response(),
        Err(e) => errors::internal(&e),
    }
}

/// The page where the person does what `step` needs, for pending request `rid`.
fn interaction_url(step: &Next, rid: &str) -> String {
    match step {
        Next::Login => format!("/Account?rid={rid}"),
        Next::ChangeCus => format!("/natural/nueva-clave?rid={rid}"),
        Next::Consent => format!("/consent?rid={rid}"),
        Next::Redirect(to) => to.clone(),
    }
}

pub fn expired_request() -> Response {
    errors::page(
        StatusCode::BAD_REQUEST,
        "Solicitud vencida",
        "Su solicitud de ingreso venció o ya fue usada. Vuelva al portal e intente ingresar nuevamente.",
    )
}

/// The session the browser's cookie names, if it is still valid.
pub async fn current_session(
    app: &AppState,
    jar: &CookieJar,
) -> anyhow::Result<Option<session::Session>> {
    match jar.get(session::cookie_name(app)) {
        Some(cookie) => session::load(app, cookie.value()).await,
        None => Ok(None),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    form: &ClientCredentialsForm,
) -> Result<cus_core::Client, Response> {
    // An address that failed too often is not heard, whoever it claims to be.
    let ip = &meta.limit_address();
    let failures = app.config.limits.client_auth_failures_per_ip;
    if let Some(response) =
        errors::over_limit_json(crate::limits::exhausted(app, "client-auth-ip", ip, failures).await)
    {
        return Err(response);
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let client = match client_auth::authenticate(
        app,
        Presented {
            authorization,
            client_id: form.client_id.as_deref(),
            client_secret: form.client_secret.as_deref(),
            client_assertion_type: form.client_assertion_type.as_deref(),
            client_assertion: form.client_assertion.as_deref(),
        },
    )
    .await
    {
        Ok(client) => client,
        Err(f) => {
            tracing::info!(
                error = f.error.code.as_str(),
                "client authentication failed"
            );
            if f.error.code == ErrorCode::InvalidClient
                && let Err(e) = crate::limits::failed(app, "client-auth-ip", ip, failures).await
            {
                tracing::error!(error = %e, "counting a failure failed");
            }
            return Err(oauth_json(&f.error, f.basic));
        }
    };
    // Per client *and* address, shared by /token, /introspect and /revoke. Anyone can name
    // a public client, so a budget of the whole client could be spent by one address for
    // every person using the portal (docs/security.md, "Sizing the limits").
    let verdict = crate::limits::check(
        app,
        "token-client-ip",
        &crate::limits::client_at(&client.client_id.0, ip),
        app.config.limits.token_per_client,
    )
    .await;
    match errors::over_limit_json(verdict) {
        Some(response) => Err(response),
        None => Ok(client),
    }
}

async fn token(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: TokenForm = match params::decode(&body) {
        Ok(f) => f,
        Err(e) => return oauth_json(&OAuthError::new(ErrorCode::InvalidRequest, e.0), false),
    };
    let client = match authenticate(&app, &headers, &meta, &form.credentials).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    match tokens::exchange(&app, &client, &form).await {
        Ok(response) => no_store(Json(response).into_response()),
        Err(error) => {
            tracing::info!(client.id = %client.client_id, error = error.code.as_str(), description = %error.description, "token request refused");
            oauth_json(&error, false)
        }
    }
}

fn bearer_error(description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response();
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

/// OpenID Core §5.3: claims of the person the access token was issued for, by scope.
async fn userinfo(
    State(app): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_header = super::bearer::token(&headers).map(str::to_owned);
    let from_body = if method == Method::POST {
        params::decode::<UserinfoForm>(&body)
            .ok()
            .and_then(|f| f.access_token)
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return oauth_json(
                &OAuthError::new(ErrorCode::InvalidRequest, "send the token once"),
                false,
            );
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return bearer_error("access token required"),
    };
    let live = match tokens::live_access_token(&app, &token).await {
        Ok(Some(live)) => live,
        Ok(None) => return bearer_error("the access token is invalid, expired or revoked"),
        Err(e) => return errors::internal(&e),
    };
    let Some(account) = &live.account else {
        return bearer_error("the access token does not name a person");
    };
    let claims = &live.claims;
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap_or("").split(' ').collect();
    let requested: Vec<&str> = claims["userinfo_claims"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let released = cus_core::claims::release(
        account,
        scopes.iter().copied(),
        requested.iter().copied(),
        Destination::Userinfo,
    );
    no_store(Json(Value::Object(released)).into_response())
}

/// RFC 7009: revokes a refresh token's family or an access token, if it is the caller's.
/// Unknown or foreign tokens get the same 200 (§2.2).
async fn revoke(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, form) = match token_action(&app, &headers, &meta, &body).await {
        Ok(action) => action,
        Err(response) => return response,
    };
    let token = form.token.as_deref().unwrap_or_default();
    let now = app.clock.now();
    let result: anyhow::Result<()> = async {
        if let Some(stored) = app.store.refresh_token(&token_hash(token)).await? {
            if stored.client_id == client.client_id {
                app.store
                    .revoke_refresh_family(stored.family_id, now)
                    .await?;
            }
        } else if let Some(access) = tokens::live_access_token(&app, token).await?
            && access.client_id() == client.client_id.0
        {
            let jti = access.claims["jti"].as_str().unwrap_or_default();
            let exp = access.claims["exp"].as_i64().unwrap_or(0);
            tokens::revoke_jti(&app, jti, exp).await?;
        }
        Ok(())
    }
    .await;
    let _ = form.token_type_hint;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => {
            tracing::error!(error = %e, "revocation failed");
            oauth_json(
                &OAuthError::new(ErrorCode::ServerError, "internal error"),
                false,
            )
        }
    }
}

/// RFC 7662: whether a token is active, answered only about the caller's own tokens.
/// The authenticated caller of `/revoke` or `/introspect`, and its form (with a `token`).
async fn token_action(
    app: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    body: &Bytes,
) -> Result<(cus_core::Client, TokenActionForm), Response> {
    let form: TokenActionForm = params::decode(body)
        .map_err(|e| oauth_json(&OAuthError::new(ErrorCode::InvalidRequest, e.0), false))?;
    let client = authenticate(app, headers, meta, &form.credentials).await?;
    if form.token.is_none() {
        return Err(oauth_json(
            &OAuthError::new(ErrorCode::InvalidRequest, "token is required"),
            false,
        ));
    }
    Ok((client, form))
}

async fn introspect(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, form) = match token_action(&app, &headers, &meta, &body).await {
        Ok(action) => action,
        Err(response) => return response,
    };
    let token = form.token.as_deref().unwrap_or_default();
    let inactive = || no_store(Json(json!({ "active": false })).into_response());
    match tokens::live_refresh_token(&app, token, &client.client_id).await {
        Ok(Some(live)) => {
            let stored = live.stored;
            return no_store(
                Json(json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": stored.client_id.0,
                    "sub": stored.account_id.to_string(),
                    "scope": live.scopes.join(" "),
                    "iat": stored.created_at.unix_timestamp(),
                    "exp": stored.expires_at.unix_timestamp(),
                    "iss": app.issuer,
                }))
                .into_response(),
            );
        }
        Ok(None) => {}
        Err(e) => return errors::internal(&e),
    }
    match tokens::live_access_token(&app, token).await {
        Ok(Some(access)) if access.client_id() == client.client_id.0 => {
            let claims = access.claims;
            no_store(
                Json(json!({
                    "active": true,
                    "token_type": "Bearer",
                    "client_id": claims["client_id"],
                    "sub": claims["sub"],
                    "scope": claims["scope"],
                    "iat": claims["iat"],
                    "exp": claims["exp"],
                    "iss": claims["iss"],
                    "aud": claims["aud"],
                    "jti": claims["jti"],
                }))
                .into_response(),
            )
        }
        Ok(_) => inactive(),
        Err(e) => errors::internal(&e),
    }
}
