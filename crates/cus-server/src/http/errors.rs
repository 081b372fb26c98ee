//! The error policy of the HTTP layer, as three types — one per kind of caller — each
//! rendering itself (`IntoResponse`) and logging internal detail once, where it is
//! rendered:
//! - [`PageError`]: a person's browser gets a Spanish page;
//! - [`ProtocolError`]: an OAuth / OpenID client gets RFC 6749 §5.2 JSON (RFC 6750 for
//!   Bearer tokens, RFC 7591 for registration);
//! - [`ApiError`]: an admin API tool gets the `{"error": {"code", "message"}}` envelope.
//!
//! Handlers return `Result<Response, …Error>` and use `?`: a limit's refusal, a store or
//! cache failure and a rejected token each convert in exactly one `From`. A saturated
//! hashing pool ([`crate::hashing::Busy`], carried inside an internal error) is no
//! failure: it is answered 503 with `Retry-After` and not logged as one.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cus_core::oauth::{ErrorCode, OAuthError};
use serde_json::json;

use crate::clients::ClientError;
use crate::hashing::{Busy, is_busy};
use crate::limits::{self, Refused};

/// Why a person's page could not be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// A form POST without a valid CSRF token (a stale page, or another site's form).
    FormExpired,
    /// The pending authorization request is gone (used, expired, or never was).
    ExpiredRequest,
    NotFound,
    /// Input the page cannot work with; the message says what, in Spanish.
    Invalid {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
    /// Nobody is signed in: the person is sent to this login URL first.
    SignInFirst(String),
    /// Over a rate limit: wait this long.
    Limited(Duration),
    /// The store, the cache or another dependency failed.
    Internal(anyhow::Error),
}

impl PageError {
    /// A 400 page for a request that cannot be worked with.
    pub fn bad_request(title: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            status: StatusCode::BAD_REQUEST,
            title,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<cus_store::StoreError> for PageError {
    fn from(e: cus_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<Refused> for PageError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Limited(wait) => Self::Limited(wait),
            Refused::Unavailable(e) => Self::Internal(e),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::FormExpired => page(
                StatusCode::FORBIDDEN,
                "Formulario vencido",
                "El formulario venció. Vuelva a cargar la página e intente nuevamente.",
            ),
            Self::ExpiredRequest => page(
                StatusCode::BAD_REQUEST,
                "Solicitud vencida",
                "Su solicitud de ingreso venció o ya fue usada. Vuelva al portal e intente ingresar nuevamente.",
            ),
            Self::NotFound => page(
                StatusCode::NOT_FOUND,
                "Página no encontrada",
                "La página que busca no existe.",
            ),
            Self::Invalid {
                status,
                title,
                message,
            } => page(status, title, &message),
            Self::SignInFirst(to) => Redirect::to(&to).into_response(),
            Self::Limited(wait) => {
                let minutes = limits::retry_after_seconds(wait).div_ceil(60);
                let message = format!(
                    "Recibimos demasiadas solicitudes. Por seguridad, espere {minutes} minuto(s) e intente nuevamente."
                );
                let response = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Demasiadas solicitudes",
                    &message,
                );
                with_retry_after(response, wait)
            }
            Self::Internal(error) if is_busy(&error) => with_retry_after(
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Servicio ocupado",
                    super::page::BUSY,
                ),
                Busy::RETRY_AFTER,
            ),
            Self::Internal(error) => {
                log_internal(&error);
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Servicio no disponible",
                    "No pudimos completar su solicitud. Intente nuevamente en unos minutos.",
                )
            }
        }
    }
}

/// Why a protocol request was refused.
#[derive(Debug)]
pub enum ProtocolError {
    /// RFC 6749 §5.2 JSON; `basic` adds the `Basic` challenge a failed client
    /// authentication answers with.
    OAuth { error: OAuthError, basic: bool },
    /// RFC 6750 §3.1: a missing, invalid, expired or revoked Bearer token.
    InvalidToken(&'static str),
    /// Over a rate limit: wait this long.
    Limited(Duration),
    /// The store, the cache or another dependency failed.
    Internal(anyhow::Error),
}

impl ProtocolError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError::new(code, description).into()
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
}

impl From<OAuthError> for ProtocolError {
    fn from(error: OAuthError) -> Self {
        Self::OAuth {
            error,
            basic: false,
        }
    }
}

impl From<anyhow::Error> for ProtocolError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<cus_store::StoreError> for ProtocolError {
    fn from(e: cus_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<Refused> for ProtocolError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Limited(wait) => Self::Limited(wait),
            Refused::Unavailable(e) => Self::Internal(e),
        }
    }
}

/// RFC 7591 §3.2.2 for registration; an unknown client is a bad registration access
/// token (RFC 7592 §2: unknown and unauthorised answer alike).
impl From<ClientError> for ProtocolError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::InvalidRedirectUri(_) => ErrorCode::InvalidRedirectUri,
            ClientError::InvalidMetadata(_) | ClientError::AlreadyExists => {
                ErrorCode::InvalidClientMetadata
            }
            ClientError::NotFound => {
                return Self::InvalidToken("the registration access token is invalid");
            }
            ClientError::Store(_) => return Self::Internal(e.into()),
        };
        Self::new(code, e.to_string())
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth { error, basic } => oauth_json(&error, basic),
            Self::InvalidToken(description) => invalid_token(description),
            Self::Limited(wait) => {
                let error = OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "rate limit exceeded; retry later",
                );
                let response = json_error(StatusCode::TOO_MANY_REQUESTS, &error);
                with_retry_after(response, wait)
            }
            Self::Internal(e) if is_busy(&e) => {
                let error = OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the server is busy; retry later",
                );
                with_retry_after(oauth_json(&error, false), Busy::RETRY_AFTER)
            }
            Self::Internal(e) => {
                log_internal(&e);
                oauth_json(
                    &OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later"),
                    false,
                )
            }
        }
    }
}

/// HTTP status of each error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2).
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
        ErrorCode::InvalidRequest
        | ErrorCode::InvalidGrant
        | ErrorCode::UnauthorizedClient
        | ErrorCode::UnsupportedGrantType
        | ErrorCode::UnsupportedResponseType
        | ErrorCode::InvalidScope
        | ErrorCode::LoginRequired
        | ErrorCode::ConsentRequired
        | ErrorCode::InteractionRequired
        | ErrorCode::RequestNotSupported
        | ErrorCode::RequestUriNotSupported
        | ErrorCode::RegistrationNotSupported
        | ErrorCode::UnsupportedTokenType
        | ErrorCode::InvalidRedirectUri
        | ErrorCode::InvalidClientMetadata => StatusCode::BAD_REQUEST,
    }
}

/// RFC 6749 §5.2 JSON, never cached; a 401 carries the `WWW-Authenticate` challenge it
/// must (`basic`: only the `Basic` scheme, for a failed client authentication).
fn oauth_json(error: &OAuthError, basic: bool) -> Response {
    let status = status_of(error.code);
    let mut response = json_error(status, error);
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic {
            "Basic realm=\"cus\""
        } else {
            "Basic realm=\"cus\", Bearer"
        };
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

fn json_error(status: StatusCode, error: &OAuthError) -> Response {
    let body = json!({ "error": error.code.as_str(), "error_description": error.description });
    no_store((status, Json(body)).into_response())
}

/// RFC 6750 §3.1: the challenge names the error, so a client can tell a bad token from a
/// missing one.
fn invalid_token(description: &'static str) -> Response {
    let error = OAuthError::new(ErrorCode::InvalidToken, description);
    let mut response = json_error(StatusCode::UNAUTHORIZED, &error);
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Why an admin API call was refused.
#[derive(Debug)]
pub enum ApiError {
    /// No Bearer token, or not a live one.
    Unauthorized(&'static str),
    /// A live token without the scope the operation needs (`cus:admin`, `cus:helpdesk`).
    Forbidden(&'static str),
    /// A body that is not what the operation takes.
    BadBody(String),
    /// The client rules refused, or the store failed.
    Client(ClientError),
    /// A help-desk operation did not happen.
    Helpdesk(crate::helpdesk::HelpdeskError),
    Internal(anyhow::Error),
}

impl From<crate::helpdesk::HelpdeskError> for ApiError {
    fn from(e: crate::helpdesk::HelpdeskError) -> Self {
        Self::Helpdesk(e)
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl From<cus_store::StoreError> for ApiError {
    fn from(e: cus_store::StoreError) -> Self {
        Self::Client(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Unauthorized(message) => {
                (StatusCode::UNAUTHORIZED, "unauthorized", message.into())
            }
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message.into()),
            Self::BadBody(reason) => (StatusCode::BAD_REQUEST, "invalid_request", reason),
            Self::Client(e) => match &e {
                ClientError::InvalidRedirectUri(_) | ClientError::InvalidMetadata(_) => {
                    (StatusCode::BAD_REQUEST, e.code(), e.to_string())
                }
                ClientError::AlreadyExists => (StatusCode::CONFLICT, e.code(), e.to_string()),
                ClientError::NotFound => (StatusCode::NOT_FOUND, e.code(), e.to_string()),
                ClientError::Store(_) => return Self::Internal(e.into()).into_response(),
            },
            Self::Helpdesk(e) => {
                use crate::helpdesk::HelpdeskError;
                match e {
                    HelpdeskError::NotFound => (StatusCode::NOT_FOUND, "not_found", e.to_string()),
                    HelpdeskError::Invalid(message) => {
                        (StatusCode::BAD_REQUEST, "invalid_request", message)
                    }
                    HelpdeskError::Refused(message) => (StatusCode::CONFLICT, "refused", message),
                    HelpdeskError::Internal(e) => return Self::Internal(e).into_response(),
                }
            }
            Self::Internal(e) if is_busy(&e) => {
                let body = super::admin::ErrorEnvelope::new(
                    "temporarily_unavailable",
                    "hashing is saturated; retry later".to_owned(),
                );
                let response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                return with_retry_after(no_store(response), Busy::RETRY_AFTER);
            }
            Self::Internal(e) => {
                log_internal(&e);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "try again later".to_owned(),
                )
            }
        };
        let body = super::admin::ErrorEnvelope::new(code, message);
        let mut response = no_store((status, Json(body)).into_response());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cus-admin\""),
            );
        }
        response
    }
}

/// The one log line of an internal failure: detail for operators, never for the caller.
fn log_internal(error: &anyhow::Error) {
    crate::metrics::dependency_failed(error);
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A Spanish error page for a person.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut response = ErrorPage { title, message }.into_response();
    *response.status_mut() = status;
    no_store(response)
}

/// Marks a response as never to be cached: pages carry CSRF tokens and personal data,
/// protocol answers carry tokens (RFC 6749 §5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    if let Ok(value) = HeaderValue::from_str(&limits::retry_after_seconds(wait).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
