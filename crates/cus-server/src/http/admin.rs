//! The admin API, `/admin/api/v1`: client management for tools, authenticated by an access
//! token (client_credentials) carrying the `cus:admin` scope (the help desk's accounts
//! operations, under the `cus:helpdesk` scope, are in `helpdesk.rs`). JSON in, JSON out; errors in
//! one envelope `{"error": {"code", "message"}}`. The OpenAPI 3.1 document is generated
//! from these handlers and served at `/admin/api/v1/openapi.json`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::bearer;
use super::errors::{ApiError, no_store};
use super::routes::Routes;
use crate::app::AppState;
use crate::clients::{self, ADMIN_SCOPE, ClientError, ClientMetadata, ClientView};
use crate::oidc::tokens;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/api/v1/openapi.json", get(openapi_json))
        .route(
            "/admin/api/v1/clients",
            get(list_clients).post(create_client),
        )
        .route(
            "/admin/api/v1/clients/{client_id}",
            get(get_client).patch(update_client).delete(delete_client),
        )
        .route(
            "/admin/api/v1/clients/{client_id}/rotate-secret",
            post(rotate_client_secret),
        )
        .route(
            "/admin/api/v1/clients/{client_id}/disable",
            post(disable_client),
        )
        .route(
            "/admin/api/v1/clients/{client_id}/enable",
            post(enable_client),
        )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "CUS admin API", version = "1", description = "Client management for Clave Única SENCE operators."),
    paths(list_clients, create_client, get_client, update_client, delete_client, rotate_client_secret, disable_client, enable_client),
    components(schemas(ClientMetadata, ClientView, CreateClientRequest, CreatedClient, RotateSecretRequest, RotatedSecret, ErrorEnvelope, ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct AdminApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").description(Some("An access token with the cus:admin scope, from the client_credentials grant.")).build()),
            );
        }
    }
}

/// The document, as served: the clients API and the help desk's accounts API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = AdminApi::openapi();
    document.merge(super::helpdesk::HelpdeskApi::openapi());
    document
}

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

// Rendered by `errors::ApiError`; the doc comment below is the OpenAPI description.
/// The error envelope of every admin API failure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = ApiError)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = ApiErrorBody)]
pub struct ErrorBody {
    /// `unauthorized`, `forbidden`, `invalid_request`, `invalid_redirect_uri`,
    /// `invalid_client_metadata`, `already_exists`, `not_found`, `refused` (the account's
    /// state does not allow the operation), `server_error`.
    pub code: String,
    pub message: String,
}

impl ErrorEnvelope {
    pub fn new(code: &str, message: String) -> Self {
        Self {
            error: ErrorBody {
                code: code.to_owned(),
                message,
            },
        }
    }
}

/// The caller: a client whose access token carries `cus:admin`.
pub struct Admin {
    client_id: String,
    /// The scopes of the caller's token: what it may grant others.
    scopes: Vec<String>,
}

/// The live access token of an admin API call, if it carries `scope`: each part of the API
/// asks for its own scope, so a `cus:admin` token cannot act on accounts nor a
/// `cus:helpdesk` token on clients.
pub(super) async fn authorized(
    parts: &Parts,
    app: &AppState,
    scope: &str,
    lacking: &'static str,
) -> Result<cus_core::access_token::AccessTokenClaims, ApiError> {
    let token = bearer::token(&parts.headers)
        .ok_or(ApiError::Unauthorized("a Bearer access token is required"))?;
    let claims = tokens::live_access_token(app, token)
        .await?
        .map(|access| access.claims)
        .ok_or(ApiError::Unauthorized(
            "the access token is invalid or expired",
        ))?;
    if !claims.scopes().any(|s| s == scope) {
        return Err(ApiError::Forbidden(lacking));
    }
    Ok(claims)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lacking = "the access token lacks the cus:admin scope";
        let claims = authorized(parts, app, ADMIN_SCOPE, lacking).await?;
        let scopes = claims.scopes().map(str::to_owned).collect();
        Ok(Self {
            client_id: claims.client_id,
            scopes,
        })
    }
}

impl Admin {
    fn actor(&self) -> String {
        format!("client:{}", self.client_id)
    }

    /// `metadata`, if it grants no operator scope this caller lacks.
    fn may_grant(&self, metadata: ClientMetadata) -> Result<ClientMetadata, ApiError> {
        metadata
            .grantable_by(|scope| self.scopes.iter().any(|s| s == scope))
            .map_err(ClientError::from)?;
        Ok(metadata)
    }
}

/// The JSON body, or `invalid_request` saying why it is not one.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadBody(format!(
            "the body is not valid JSON for this operation: {e}"
        ))
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateClientRequest {
    /// Chosen client_id; generated when absent.
    pub client_id: Option<String>,
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: ClientView,
    /// Shown once; absent for public clients.
    pub client_secret: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RotateSecretRequest {
    /// Seconds the previous secret keeps working (default 86400; 0 ends it at once).
    pub overlap_seconds: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
    /// Unix seconds; absent when the previous secret ended at once.
    pub previous_secret_expires_at: Option<i64>,
}

#[utoipa::path(get, path = "/admin/api/v1/clients", tag = "clients", responses(
    (status = 200, description = "Every client", body = [ClientView]),
    (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
async fn list_clients(State(app): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let list = app.store.list_clients().await?;
    Ok(Json(list.iter().map(ClientView::from).collect::<Vec<_>>()).into_response())
}

#[utoipa::path(post, path = "/admin/api/v1/clients", tag = "clients", request_body = CreateClientRequest, responses(
    (status = 201, description = "Registered; the secret is shown once", body = CreatedClient),
    (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
async fn create_client(
    State(app): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateClientRequest = parse(&body)?;
    let (store, now) = (app.store.as_ref(), app.clock.now());
    let (id, metadata) = (request.client_id, admin.may_grant(request.metadata)?);
    let created = clients::create(store, id, metadata, false, &admin.actor(), now).await?;
    let body = CreatedClient {
        client: ClientView::from(&created.client),
        client_secret: created.secret,
    };
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn get_client(
    State(app): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let client = app.store.client(&cus_core::ClientId(client_id)).await?;
    let client = client.ok_or(ClientError::NotFound)?;
    Ok(Json(ClientView::from(&client)).into_response())
}

#[utoipa::path(patch, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), request_body = ClientMetadata, responses(
    (status = 200, description = "Only the members given change", body = ClientView),
    (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn update_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let metadata = admin.may_grant(parse(&body)?)?;
    let (store, now) = (app.store.as_ref(), app.clock.now());
    let client = clients::update(store, &client_id, metadata, &admin.actor(), now).await?;
    Ok(Json(ClientView::from(&client)).into_response())
}

#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 204, description = "Deleted with its consents and refresh tokens"), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn delete_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let (store, now) = (app.store.as_ref(), app.clock.now());
    clients::delete(store, &client_id, &admin.actor(), now).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/rotate-secret", tag = "clients", params(("client_id" = String, Path)), request_body = RotateSecretRequest, responses(
    (status = 200, description = "The new secret, shown once", body = RotatedSecret),
    (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn rotate_client_secret(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RotateSecretRequest = if body.is_empty() {
        RotateSecretRequest::default()
    } else {
        parse(&body)?
    };
    let overlap = time::Duration::seconds(request.overlap_seconds.unwrap_or(86_400).max(0));
    let (store, now) = (app.store.as_ref(), app.clock.now());
    let (client, secret) =
        clients::rotate_secret(store, &client_id, overlap, &admin.actor(), now).await?;
    let body = RotatedSecret {
        client_id: client.client_id.0,
        client_secret: secret,
        previous_secret_expires_at: client.previous_secret_expires.map(|t| t.unix_timestamp()),
    };
    Ok(no_store(Json(body).into_response()))
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/disable", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn disable_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(&app, &admin, &client_id, false).await
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/enable", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn enable_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(&app, &admin, &client_id, true).await
}

async fn set_enabled(
    app: &AppState,
    admin: &Admin,
    client_id: &str,
    enabled: bool,
) -> Result<Response, ApiError> {
    let (store, now) = (app.store.as_ref(), app.clock.now());
    let client = clients::set_enabled(store, client_id, enabled, &admin.actor(), now).await?;
    Ok(Json(ClientView::from(&client)).into_response())
}
