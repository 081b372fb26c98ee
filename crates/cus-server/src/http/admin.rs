//! The admin API, `/admin/api/v1`: client management for tools, authenticated by an access
//! token (client_credentials) carrying the `cus:admin` scope. JSON in, JSON out; errors in
//! one envelope `{"error": {"code", "message"}}`. The OpenAPI 3.1 document is generated
//! from these handlers and served at `/admin/api/v1/openapi.json`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

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
    components(schemas(ClientMetadata, ClientView, CreateClientRequest, CreatedClient, RotateSecretRequest, RotatedSecret, ApiError, ApiErrorBody)),
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

/// The document, as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    AdminApi::openapi()
}

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// The error envelope of every admin API failure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// `unauthorized`, `forbidden`, `invalid_request`, `invalid_redirect_uri`,
    /// `invalid_client_metadata`, `already_exists`, `not_found`, `server_error`.
    pub code: String,
    pub message: String,
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut response = (
        status,
        Json(ApiError {
            error: ApiErrorBody {
                code: code.into(),
                message: message.into(),
            },
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"cus-admin\""),
        );
    }
    response
}

fn client_error(e: ClientError) -> Response {
    let status = match &e {
        ClientError::InvalidRedirectUri(_) | ClientError::InvalidMetadata(_) => {
            StatusCode::BAD_REQUEST
        }
        ClientError::AlreadyExists => StatusCode::CONFLICT,
        ClientError::NotFound => StatusCode::NOT_FOUND,
        ClientError::Store(inner) => {
            tracing::error!(error = %inner, "admin API store failure");
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "try again later",
            );
        }
    };
    api_error(status, e.code(), e.to_string())
}

/// The caller: a client whose access token carries `cus:admin`.
pub struct Admin {
    client_id: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = super::bearer::token(&parts.headers).ok_or_else(|| {
            api_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a Bearer access token is required",
            )
        })?;
        let live = tokens::live_access_token(app, token).await.map_err(|e| {
            tracing::error!(error = %e, "checking an admin access token failed");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "try again later",
            )
        })?;
        let claims = live.map(|access| access.claims).ok_or_else(|| {
            api_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the access token is invalid or expired",
            )
        })?;
        let has_scope = claims["scope"]
            .as_str()
            .unwrap_or("")
            .split(' ')
            .any(|s| s == ADMIN_SCOPE);
        if !has_scope {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the access token lacks the cus:admin scope",
            ));
        }
        let client_id = claims["client_id"].as_str().unwrap_or("unknown").to_owned();
        Ok(Self { client_id })
    }
}

impl Admin {
    fn actor(&self) -> String {
        format!("admin API client {}", self.client_id)
    }
}

/// The JSON body, or the reason it is not one (shown as `invalid_request`).
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("the body is not valid JSON for this operation: {e}"))
}

fn bad_body(reason: String) -> Response {
    api_error(StatusCode::BAD_REQUEST, "invalid_request", reason)
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
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_clients(State(app): State<AppState>, _admin: Admin) -> Response {
    match app.store.list_clients().await {
        Ok(list) => Json(list.iter().map(ClientView::from).collect::<Vec<_>>()).into_response(),
        Err(e) => client_error(e.into()),
    }
}

#[utoipa::path(post, path = "/admin/api/v1/clients", tag = "clients", request_body = CreateClientRequest, responses(
    (status = 201, description = "Registered; the secret is shown once", body = CreatedClient),
    (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn create_client(State(app): State<AppState>, admin: Admin, body: Bytes) -> Response {
    let request: CreateClientRequest = match parse(&body) {
        Ok(r) => r,
        Err(reason) => return bad_body(reason),
    };
    match clients::create(
        app.store.as_ref(),
        request.client_id,
        request.metadata,
        false,
        &admin.actor(),
        app.clock.now(),
    )
    .await
    {
        Ok(created) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(CreatedClient {
                client: ClientView::from(&created.client),
                client_secret: created.secret,
            }),
        )
            .into_response(),
        Err(e) => client_error(e),
    }
}

#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn get_client(
    State(app): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Response {
    match app.store.client(&cus_core::ClientId(client_id)).await {
        Ok(Some(c)) => Json(ClientView::from(&c)).into_response(),
        Ok(None) => client_error(ClientError::NotFound),
        Err(e) => client_error(e.into()),
    }
}

#[utoipa::path(patch, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), request_body = ClientMetadata, responses(
    (status = 200, description = "Only the members given change", body = ClientView),
    (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn update_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let metadata: ClientMetadata = match parse(&body) {
        Ok(m) => m,
        Err(reason) => return bad_body(reason),
    };
    match clients::update(
        app.store.as_ref(),
        &client_id,
        metadata,
        &admin.actor(),
        app.clock.now(),
    )
    .await
    {
        Ok(c) => Json(ClientView::from(&c)).into_response(),
        Err(e) => client_error(e),
    }
}

#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 204, description = "Deleted with its consents and refresh tokens"), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn delete_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Response {
    match clients::delete(
        app.store.as_ref(),
        &client_id,
        &admin.actor(),
        app.clock.now(),
    )
    .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => client_error(e),
    }
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/rotate-secret", tag = "clients", params(("client_id" = String, Path)), request_body = RotateSecretRequest, responses(
    (status = 200, description = "The new secret, shown once", body = RotatedSecret),
    (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn rotate_client_secret(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let request: RotateSecretRequest = if body.is_empty() {
        RotateSecretRequest::default()
    } else {
        match parse(&body) {
            Ok(r) => r,
            Err(reason) => return bad_body(reason),
        }
    };
    let overlap = time::Duration::seconds(request.overlap_seconds.unwrap_or(86_400).max(0));
    match clients::rotate_secret(
        app.store.as_ref(),
        &client_id,
        overlap,
        &admin.actor(),
        app.clock.now(),
    )
    .await
    {
        Ok((c, secret)) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(RotatedSecret {
                client_id: c.client_id.0,
                client_secret: secret,
                previous_secret_expires_at: c.previous_secret_expires.map(|t| t.unix_timestamp()),
            }),
        )
            .into_response(),
        Err(e) => client_error(e),
    }
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/disable", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn disable_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Response {
    set_enabled(&app, &admin, &client_id, false).await
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/enable", tag = "clients", params(("client_id" = String, Path)), responses(
    (status = 200, body = ClientView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn enable_client(
    State(app): State<AppState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Response {
    set_enabled(&app, &admin, &client_id, true).await
}

async fn set_enabled(app: &AppState, admin: &Admin, client_id: &str, enabled: bool) -> Response {
    match clients::set_enabled(
        app.store.as_ref(),
        client_id,
        enabled,
        &admin.actor(),
        app.clock.now(),
    )
    .await
    {
        Ok(c) => Json(ClientView::from(&c)).into_response(),
        Err(e) => client_error(e),
    }
}
