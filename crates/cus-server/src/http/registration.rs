//! Dynamic client registration (RFC 7591) at `/register`, gated by an initial access token
//! an operator created, and client configuration (RFC 7592) at `/register/{client_id}`
//! with the registration access token issued then.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::routes::Routes;
use crate::app::AppState;
use crate::clients::{self, ClientError, ClientMetadata, ClientView};
use crate::secrets::token_hash;

pub fn routes() -> Routes {
    Routes::new()
        .route("/register", post(register_client))
        .route(
            "/register/{client_id}",
            axum::routing::get(read_client)
                .put(update_client)
                .delete(delete_client),
        )
}

/// RFC 6750 §3: a missing or bad token.
fn invalid_token(description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn temporarily_unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "temporarily_unavailable" })),
    )
        .into_response()
}

/// RFC 7591 §3.2.2.
fn registration_error(e: ClientError) -> Response {
    let status = match &e {
        ClientError::Store(inner) => {
            tracing::error!(error = %inner, "registration store failure");
            return temporarily_unavailable();
        }
        ClientError::NotFound => return invalid_token("unknown client"),
        _ => StatusCode::BAD_REQUEST,
    };
    let code = match &e {
        ClientError::InvalidRedirectUri(_) => "invalid_redirect_uri",
        _ => "invalid_client_metadata",
    };
    (
        status,
        Json(json!({ "error": code, "error_description": e.to_string() })),
    )
        .into_response()
}

fn metadata(body: &Bytes) -> Result<ClientMetadata, ClientError> {
    serde_json::from_slice(body).map_err(|e| {
        ClientError::InvalidMetadata(format!("the body is not client metadata JSON: {e}"))
    })
}

fn configuration(app: &AppState, view: &ClientView, extra: Value) -> Value {
    let mut out = serde_json::to_value(view).unwrap_or_else(|_| json!({}));
    out["registration_client_uri"] = json!(format!("{}/register/{}", app.issuer, view.client_id));
    if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
        out.extend(extra.clone());
    }
    out
}

async fn register_client(
    State(app): State<AppState>,
    meta: super::meta::RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = &meta.limit_address();
    let limit = app.config.limits.register_per_ip;
    let verdict = crate::limits::check(&app, "register-ip", ip, limit).await;
    if let Some(response) = super::errors::over_limit_json(verdict) {
        return response;
    }
    let Some(token) = super::bearer::token(&headers) else {
        return invalid_token("an initial access token is required");
    };
    match app
        .store
        .initial_access_token_valid(&token_hash(token), app.clock.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return invalid_token("the initial access token is invalid or expired"),
        Err(e) => return registration_error(ClientError::Store(e)),
    }
    let meta = match metadata(&body) {
        Ok(m) => m,
        Err(e) => return registration_error(e),
    };
    match clients::create(
        app.store.as_ref(),
        None,
        meta,
        true,
        "dynamic registration",
        app.clock.now(),
    )
    .await
    {
        Ok(created) => {
            let extra = json!({
                "client_secret": created.secret,
                "client_secret_expires_at": 0,
                "registration_access_token": created.registration_access_token,
            });
            (
                StatusCode::CREATED,
                [(header::CACHE_CONTROL, "no-store")],
                Json(configuration(
                    &app,
                    &ClientView::from(&created.client),
                    extra,
                )),
            )
                .into_response()
        }
        Err(e) => registration_error(e),
    }
}

/// The client `client_id`, if `headers` carry its registration access token.
async fn authorized(
    app: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<cus_core::Client, Response> {
    let token = super::bearer::token(headers)
        .ok_or_else(|| invalid_token("the registration access token is required"))?;
    let client = app
        .store
        .client(&cus_core::ClientId(client_id.to_owned()))
        .await
        .map_err(|e| registration_error(ClientError::Store(e)))?;
    let presented = token_hash(token);
    match client {
        Some(c)
            if c.registration_token_hash
                .as_deref()
                .is_some_and(|h| bool::from(h.as_bytes().ct_eq(presented.as_bytes()))) =>
        {
            Ok(c)
        }
        // Unknown client and wrong token answer alike (RFC 7592 §2).
        _ => Err(invalid_token("the registration access token is invalid")),
    }
}

async fn read_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    match authorized(&app, &headers, &client_id).await {
        Ok(client) => {
            Json(configuration(&app, &ClientView::from(&client), json!({}))).into_response()
        }
        Err(response) => response,
    }
}

async fn update_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = authorized(&app, &headers, &client_id).await {
        return response;
    }
    let meta = match metadata(&body) {
        Ok(m) => m,
        Err(e) => return registration_error(e),
    };
    if meta.first_party.is_some()
        || meta
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == clients::ADMIN_SCOPE))
    {
        return registration_error(ClientError::InvalidMetadata(
            "first_party and cus:admin are for operators only".into(),
        ));
    }
    match clients::update(
        app.store.as_ref(),
        &client_id,
        meta,
        "dynamic registration",
        app.clock.now(),
    )
    .await
    {
        Ok(client) => {
            Json(configuration(&app, &ClientView::from(&client), json!({}))).into_response()
        }
        Err(e) => registration_error(e),
    }
}

async fn delete_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    if let Err(response) = authorized(&app, &headers, &client_id).await {
        return response;
    }
    match clients::delete(
        app.store.as_ref(),
        &client_id,
        "dynamic registration",
        app.clock.now(),
    )
    .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => registration_error(e),
    }
}
