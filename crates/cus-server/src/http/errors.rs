//! Renderings of errors: RFC 6749 JSON for protocol endpoints, a Spanish page for people.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cus_core::oauth::{ErrorCode, OAuthError};
use serde_json::json;

/// HTTP status of each error code (RFC 6749 §5.2, RFC 6750 §3.1).
pub fn status_of(code: ErrorCode) -> StatusCode {
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
        | ErrorCode::UnsupportedTokenType => StatusCode::BAD_REQUEST,
    }
}

/// RFC 6749 §5.2 JSON, never cached; `basic` adds the `WWW-Authenticate` challenge a 401
/// must carry.
pub fn oauth_json(error: &OAuthError, basic: bool) -> Response {
    let status = status_of(error.code);
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({ "error": error.code.as_str(), "error_description": error.description })),
    )
        .into_response();
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

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// A Spanish error page for a person.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut response = ErrorPage { title, message }.into_response();
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A form POST without a valid CSRF token (a stale page, or another site's form).
pub fn form_expired() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Formulario vencido",
        "El formulario venció. Vuelva a cargar la página e intente nuevamente.",
    )
}

/// The page for an internal failure: details go to the log once, never to the person.
pub fn internal(error: &anyhow::Error) -> Response {
    tracing::error!(error = %format!("{error:#}"), "request failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Servicio no disponible",
        "No pudimos completar su solicitud. Intente nuevamente en unos minutos.",
    )
}

/// The answer of a protocol endpoint to a limit's verdict, if it stops the request: 429
/// over the limit, 503 when the cache cannot tell.
pub fn over_limit_json(verdict: anyhow::Result<crate::limits::Verdict>) -> Option<Response> {
    match verdict {
        Ok(crate::limits::Verdict::Allowed) => None,
        Ok(crate::limits::Verdict::Limited(wait)) => Some(too_many_json(wait)),
        Err(e) => {
            tracing::error!(error = %e, "rate limit check failed");
            Some(oauth_json(
                &OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later"),
                false,
            ))
        }
    }
}

/// The answer of a web form to a limit's verdict, if it stops the request: the Spanish 429
/// page over the limit, the "service unavailable" page when the cache cannot tell.
pub fn over_limit_page(verdict: anyhow::Result<crate::limits::Verdict>) -> Option<Response> {
    match verdict {
        Ok(crate::limits::Verdict::Allowed) => None,
        Ok(crate::limits::Verdict::Limited(wait)) => Some(too_many_page(wait)),
        Err(e) => Some(internal(&e)),
    }
}

/// 429 for a person: a Spanish page and `Retry-After`.
pub fn too_many_page(wait: std::time::Duration) -> Response {
    let minutes = crate::limits::retry_after_seconds(wait).div_ceil(60);
    let message = format!(
        "Recibimos demasiadas solicitudes. Por seguridad, espere {minutes} minuto(s) e intente nuevamente."
    );
    let mut response = page(
        StatusCode::TOO_MANY_REQUESTS,
        "Demasiadas solicitudes",
        &message,
    );
    retry_after(&mut response, wait);
    response
}

/// 429 on a protocol endpoint: RFC 6749-shaped JSON and `Retry-After`.
pub fn too_many_json(wait: std::time::Duration) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": "temporarily_unavailable", "error_description": "rate limit exceeded; retry later" })),
    )
        .into_response();
    retry_after(&mut response, wait);
    response
}

fn retry_after(response: &mut Response, wait: std::time::Duration) {
    if let Ok(value) = HeaderValue::from_str(&crate::limits::retry_after_seconds(wait).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}
