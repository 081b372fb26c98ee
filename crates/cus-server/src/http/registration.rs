//! Dynamic client registration (RFC 7591) at `/register`, gated by an initial access token
//! an operator created, and client configuration (RFC 7592) at `/register/{client_id}`
//! with the registration access token issued then.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::bearer;
use super::errors::{ProtocolError, no_store};
use super::meta::RequestMeta;
use super::routes::Routes;
use crate::app::AppState;
use crate::clients::{self, ClientError, ClientMetadata, ClientView};
use crate::limits;
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

/// The body as client metadata, or `invalid_client_metadata` saying why not.
fn metadata(body: &Bytes) -> Result<ClientMetadata, ProtocolError> {
    serde_json::from_slice(body).map_err(|e| {
        let reason = format!("the body is not client metadata JSON: {e}");
        ClientError::InvalidMetadata(reason).into()
    })
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: the client's configuration and where to manage it.
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
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    let limit = app.config.limits.register_per_ip;
    limits::check(&app, "register-ip", &meta.limit_address(), limit).await?;
    let token = bearer::token(&headers).ok_or(ProtocolError::InvalidToken(
        "an initial access token is required",
    ))?;
    let now = app.clock.now();
    if !app
        .store
        .initial_access_token_valid(&token_hash(token), now)
        .await?
    {
        return Err(ProtocolError::InvalidToken(
            "the initial access token is invalid or expired",
        ));
    }
    let metadata = metadata(&body)?;
    let store = app.store.as_ref();
    let created = clients::create(store, None, metadata, true, ACTOR, now).await?;
    let extra = json!({
        "client_secret": created.secret,
        "client_secret_expires_at": 0,
        "registration_access_token": created.registration_access_token,
    });
    let body = configuration(&app, &ClientView::from(&created.client), extra);
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

/// Who changes clients through these endpoints, for the audit trail.
const ACTOR: &str = "registration";

/// The client `client_id`, if `headers` carry its registration access token. An unknown
/// client and a wrong token answer alike (RFC 7592 §2).
async fn authorized(
    app: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<cus_core::Client, ProtocolError> {
    let token = bearer::token(headers).ok_or(ProtocolError::InvalidToken(
        "the registration access token is required",
    ))?;
    let presented = token_hash(token);
    let client = app
        .store
        .client(&cus_core::ClientId(client_id.to_owned()))
        .await?;
    client
        .filter(|c| {
            c.registration_token_hash
                .as_deref()
                .is_some_and(|h| bool::from(h.as_bytes().ct_eq(presented.as_bytes())))
        })
        .ok_or(ProtocolError::InvalidToken(
            "the registration access token is invalid",
        ))
}

async fn read_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, ProtocolError> {
    let client = authorized(&app, &headers, &client_id).await?;
    let body = configuration(&app, &ClientView::from(&client), json!({}));
    Ok(no_store(Json(body).into_response()))
}

async fn update_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    authorized(&app, &headers, &client_id).await?;
    let metadata = metadata(&body)?;
    metadata.self_service().map_err(ClientError::from)?;
    let now = app.clock.now();
    let client = clients::update(app.store.as_ref(), &client_id, metadata, ACTOR, now).await?;
    let body = configuration(&app, &ClientView::from(&client), json!({}));
    Ok(no_store(Json(body).into_response()))
}

async fn delete_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, ProtocolError> {
    authorized(&app, &headers, &client_id).await?;
    clients::delete(app.store.as_ref(), &client_id, ACTOR, app.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
