//! The endpoints a relying party calls with a token: `/token` (RFC 6749 §3.2), `/userinfo`
//! (OpenID Core §5.3), `/revoke` (RFC 7009) and `/introspect` (RFC 7662). Each decodes,
//! authenticates the client where the spec asks, calls one service, and answers JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cus_core::Client;
use cus_core::forms::{ClientCredentialsForm, TokenActionForm, TokenForm, UserinfoForm};
use serde_json::Value;

use crate::app::AppState;
use crate::http::bearer;
use crate::http::errors::{ProtocolError, no_store};
use crate::http::extract::decode;
use crate::http::meta::RequestMeta;
use crate::oidc::client_auth::{self, Presented, Rejected};
use crate::oidc::userinfo::{self, BearerError};
use crate::oidc::{introspection, tokens};

impl From<Rejected> for ProtocolError {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::Failed(f) => Self::OAuth {
                error: f.error,
                basic: f.basic,
            },
            Rejected::Refused(refused) => refused.into(),
        }
    }
}

impl From<BearerError> for ProtocolError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Rejected(description) => Self::InvalidToken(description),
            BearerError::Internal(e) => Self::Internal(e),
        }
    }
}

/// The client the request authenticates as (`client_auth::admit`: credentials and limits).
async fn client(
    app: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    form: &ClientCredentialsForm,
) -> Result<Client, ProtocolError> {
    let presented = Presented {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        client_id: form.client_id.as_deref(),
        client_secret: form.client_secret.as_deref(),
        client_assertion_type: form.client_assertion_type.as_deref(),
        client_assertion: form.client_assertion.as_deref(),
    };
    Ok(client_auth::admit(app, presented, &meta.limit_address()).await?)
}

fn decode_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProtocolError> {
    decode(body).map_err(|e| ProtocolError::invalid_request(e.0))
}

pub async fn token(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    let form: TokenForm = decode_form(&body)?;
    let client = client(&app, &headers, &meta, &form.credentials).await?;
    let response = tokens::exchange(&app, &client, &form).await.inspect_err(|error| {
        tracing::info!(client.id = %client.client_id, error = error.code.as_str(), description = %error.description, "token request refused");
    })?;
    Ok(no_store(Json(response).into_response()))
}

/// OpenID Core §5.3: the token in the `Authorization` header or, on POST, in the body
/// (RFC 6750 §2.1–2.2) — once.
pub async fn userinfo(
    State(app): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    let from_header = bearer::token(&headers).map(str::to_owned);
    let from_body = (method == Method::POST)
        .then(|| decode::<UserinfoForm>(&body).ok()?.access_token)
        .flatten();
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => return Err(ProtocolError::invalid_request("send the token once")),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(ProtocolError::InvalidToken("access token required")),
    };
    let claims = userinfo::claims(&app, &token).await?;
    Ok(no_store(Json(Value::Object(claims)).into_response()))
}

/// The authenticated caller of `/revoke` or `/introspect`, and the token it names.
async fn token_action(
    app: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    body: &Bytes,
) -> Result<(Client, String), ProtocolError> {
    let form: TokenActionForm = decode_form(body)?;
    let client = client(app, headers, meta, &form.credentials).await?;
    let token = form
        .token
        .ok_or_else(|| ProtocolError::invalid_request("token is required"))?;
    Ok((client, token))
}

/// RFC 7009: unknown or foreign tokens get the same 200 (§2.2).
pub async fn revoke(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    let (client, token) = token_action(&app, &headers, &meta, &body).await?;
    introspection::revoke(&app, &client, &token).await?;
    Ok(no_store(StatusCode::OK.into_response()))
}

/// RFC 7662: answered only about the caller's own tokens.
pub async fn introspect(
    State(app): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProtocolError> {
    let (client, token) = token_action(&app, &headers, &meta, &body).await?;
    let answer = introspection::introspect(&app, &client, &token).await?;
    Ok(no_store(Json(answer).into_response()))
}
