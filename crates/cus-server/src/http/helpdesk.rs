//! The admin API's accounts part, `/admin/api/v1/accounts…`: the help desk's operations
//! (`crate::helpdesk`) for tools, authenticated by an access token (client_credentials)
//! carrying the `cus:helpdesk` scope. The token may name the person at the keyboard
//! (`operator` at the token endpoint); every change is audited as
//! `client:<client_id>[/<operator>]`. Same envelope and OpenAPI document as the clients API.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cus_core::Rut;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::admin::{ErrorEnvelope, authorized, parse};
use super::errors::{ApiError, no_store};
use super::routes::Routes;
use crate::app::AppState;
use crate::helpdesk::{self, AccountView, ContactChange, RepresentativeInput, Search};

pub use cus_core::client_metadata::HELPDESK_SCOPE;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/api/v1/accounts", get(find_accounts))
        .route(
            "/admin/api/v1/accounts/{rut}",
            get(get_account).delete(delete_account),
        )
        .route(
            "/admin/api/v1/accounts/{rut}/disable",
            post(disable_account),
        )
        .route("/admin/api/v1/accounts/{rut}/enable", post(enable_account))
        .route("/admin/api/v1/accounts/{rut}/unlock", post(unlock_account))
        .route(
            "/admin/api/v1/accounts/{rut}/contact",
            axum::routing::patch(update_account_contact),
        )
        .route(
            "/admin/api/v1/accounts/{rut}/representative",
            put(set_account_representative),
        )
        .route(
            "/admin/api/v1/accounts/{rut}/new-cus",
            post(send_account_new_cus),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        find_accounts,
        get_account,
        delete_account,
        disable_account,
        enable_account,
        unlock_account,
        update_account_contact,
        set_account_representative,
        send_account_new_cus
    ),
    components(schemas(
        AccountView,
        helpdesk::RepresentativeView,
        ContactChange,
        RepresentativeInput,
        DisableRequest,
        NewCusSent
    ))
)]
pub struct HelpdeskApi;

/// The caller: a client whose access token carries `cus:helpdesk`, and the operator its
/// token names, if any.
pub struct HelpDesk {
    client_id: String,
    operator: Option<String>,
}

impl FromRequestParts<AppState> for HelpDesk {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lacking = "the access token lacks the cus:helpdesk scope";
        let claims = authorized(parts, app, HELPDESK_SCOPE, lacking).await?;
        Ok(Self {
            client_id: claims.client_id,
            operator: claims.operator,
        })
    }
}

impl HelpDesk {
    /// `client:<client_id>`, then `/<operator>` when the token names one.
    fn actor(&self) -> String {
        match &self.operator {
            Some(operator) => format!("client:{}/{operator}", self.client_id),
            None => format!("client:{}", self.client_id),
        }
    }
}

/// The RUT of the path, or `invalid_request`.
fn rut(text: &str) -> Result<Rut, ApiError> {
    Rut::parse(text).map_err(|e| ApiError::BadBody(format!("the RUT in the path: {e}")))
}

/// The query's pairs, decoded.
fn query(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    /// Why (kept in the audit event, up to 200 characters).
    pub reason: Option<String>,
}

/// Where the new CUS went, masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewCusSent {
    /// Absent when nothing went by e-mail (an unverified address).
    pub email: Option<String>,
    pub celular: Option<String>,
}

#[utoipa::path(get, path = "/admin/api/v1/accounts", tag = "accounts",
    params(
        ("rut" = Option<String>, Query, description = "A RUT, e.g. 12.345.678-5"),
        ("email" = Option<String>, Query, description = "The account's or its representative's e-mail, any case"),
        ("celular" = Option<String>, Query, description = "A mobile, +569XXXXXXXX or its 8 digits"),
        ("name" = Option<String>, Query, description = "The start of an apellido paterno, of nombres or of a razón social"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 20, at most 100)")),
    responses(
        (status = 200, description = "The accounts found (exactly one search given), contact data masked", body = [AccountView]),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
async fn find_accounts(
    State(app): State<AppState>,
    desk: HelpDesk,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut limit = 20;
    let mut searches = Vec::new();
    for (name, value) in query(raw) {
        if name == "limit" {
            limit = value
                .parse()
                .map_err(|_| ApiError::BadBody("limit must be a number".into()))?;
        } else {
            searches.push(Search::parse(&name, &value)?);
        }
    }
    let [search] = <[Search; 1]>::try_from(searches)
        .map_err(|_| ApiError::BadBody("give exactly one of rut, email, celular or name".into()))?;
    let found = helpdesk::find(&app, &search, limit, &desk.actor()).await?;
    Ok(no_store(Json(found).into_response()))
}

#[utoipa::path(get, path = "/admin/api/v1/accounts/{rut}", tag = "accounts",
    params(("rut" = String, Path), ("reveal" = Option<bool>, Query, description = "Show the contact data unmasked (audited)")),
    responses((status = 200, body = AccountView), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn get_account(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let reveal = query(raw)
        .iter()
        .any(|(name, value)| name == "reveal" && value == "true");
    let view = helpdesk::show(&app, &rut(&text)?, reveal, &desk.actor()).await?;
    Ok(no_store(Json(view).into_response()))
}

#[utoipa::path(delete, path = "/admin/api/v1/accounts/{rut}", tag = "accounts", params(("rut" = String, Path)),
    responses((status = 204, description = "Deleted with its sessions, refresh tokens and consents; the audit trail keeps the RUT"), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn delete_account(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
) -> Result<Response, ApiError> {
    helpdesk::delete(&app, &rut(&text)?, &desk.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/admin/api/v1/accounts/{rut}/disable", tag = "accounts", params(("rut" = String, Path)), request_body = DisableRequest,
    responses((status = 200, description = "Disabled: no login, no lifecycle flow; its sessions and tokens ended", body = AccountView), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn disable_account(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DisableRequest = if body.is_empty() {
        DisableRequest::default()
    } else {
        parse(&body)?
    };
    let rut = rut(&text)?;
    let reason = request.reason.as_deref();
    let view = helpdesk::disable(&app, &rut, reason, &desk.actor()).await?;
    Ok(no_store(Json(view).into_response()))
}

#[utoipa::path(post, path = "/admin/api/v1/accounts/{rut}/enable", tag = "accounts", params(("rut" = String, Path)),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn enable_account(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
) -> Result<Response, ApiError> {
    let view = helpdesk::enable(&app, &rut(&text)?, &desk.actor()).await?;
    Ok(no_store(Json(view).into_response()))
}

#[utoipa::path(post, path = "/admin/api/v1/accounts/{rut}/unlock", tag = "accounts", params(("rut" = String, Path)),
    responses((status = 204, description = "The login lockout (and its ladder) and the secret-answer limit are cleared"), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn unlock_account(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
) -> Result<Response, ApiError> {
    helpdesk::unlock(&app, &rut(&text)?, &desk.actor()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(patch, path = "/admin/api/v1/accounts/{rut}/contact", tag = "accounts", params(("rut" = String, Path)), request_body = ContactChange,
    responses((status = 200, description = "Only the members given change; a new e-mail must be verified again", body = AccountView), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
async fn update_account_contact(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let change: ContactChange = parse(&body)?;
    let view = helpdesk::set_contact(&app, &rut(&text)?, &change, &desk.actor()).await?;
    Ok(no_store(Json(view).into_response()))
}

#[utoipa::path(put, path = "/admin/api/v1/accounts/{rut}/representative", tag = "accounts", params(("rut" = String, Path)), request_body = RepresentativeInput,
    responses((status = 200, description = "The company's new legal representative: its next new CUS goes to their mobile", body = AccountView), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
async fn set_account_representative(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: RepresentativeInput = parse(&body)?;
    let view = helpdesk::set_representative(&app, &rut(&text)?, &input, &desk.actor()).await?;
    Ok(no_store(Json(view).into_response()))
}

#[utoipa::path(post, path = "/admin/api/v1/accounts/{rut}/new-cus", tag = "accounts", params(("rut" = String, Path)),
    responses((status = 202, description = "A new CUS is on its way to the registered channels (\"Genere nueva CUS\")", body = NewCusSent), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
async fn send_account_new_cus(
    State(app): State<AppState>,
    desk: HelpDesk,
    Path(text): Path<String>,
) -> Result<Response, ApiError> {
    let sent = helpdesk::new_cus(&app, &rut(&text)?, &desk.actor()).await?;
    let body = NewCusSent {
        email: sent.email,
        celular: sent.celular,
    };
    Ok(no_store((StatusCode::ACCEPTED, Json(body)).into_response()))
}
