//! `/authorize` (OpenID Core §3.1.2) and `/authorize/resume`, where the login and consent
//! pages send the browser back. Both hand the request to `oidc::authorize::next_step`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::http::errors::PageError;
use crate::http::extract::{CurrentSession, decode, login_url, query_or_body};
use crate::http::meta::RequestMeta;
use crate::oidc::authorize::{self, AuthorizeError, Next, PendingAuthorization};
use crate::oidc::session::Session;

/// The largest `POST /authorize` body: every parameter at its bound
/// (`cus_core::authorize::max_len`) fits with room to spare.
pub const BODY_MAX: usize = 32 * 1024;

pub async fn authorize(
    State(app): State<AppState>,
    method: Method,
    CurrentSession(session): CurrentSession,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let raw = query_or_body(&method, query, body)?;
    let parsed = decode(&raw).map_err(|e| {
        let message = format!("La solicitud de autenticación no es válida: {}.", e.0);
        PageError::bad_request("Solicitud no válida", message)
    })?;
    let pending = match authorize::validate(&app, parsed).await? {
        Ok(pending) => pending,
        Err(AuthorizeError::NoRedirect(message)) => {
            return Err(PageError::bad_request("Solicitud no válida", message));
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            let to = authorize::error_redirect(&app, &redirect_uri, state.as_deref(), &error);
            return Ok(Redirect::to(&to).into_response());
        }
    };
    authorize::admit(&app, &meta.limit_address()).await?;
    match authorize::next_step(&app, &pending, session.as_ref(), None).await? {
        Next::Redirect(to) => Ok(Redirect::to(&to).into_response()),
        step => {
            let rid = authorize::save_pending(&app, &pending).await?;
            Ok(Redirect::to(&interaction_url(&step, &rid)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct RidQuery {
    pub rid: Option<String>,
}

/// Back from the login page: continue the pending request with the new session.
pub async fn resume(
    State(app): State<AppState>,
    CurrentSession(session): CurrentSession,
    Query(q): Query<RidQuery>,
) -> Result<Response, PageError> {
    let rid = q.rid.unwrap_or_default();
    let pending = pending(&app, &rid).await?;
    proceed(&app, &rid, &pending, session.as_ref(), None).await
}

/// The pending request `rid` names, or the "expired request" page.
pub async fn pending(app: &AppState, rid: &str) -> Result<PendingAuthorization, PageError> {
    if rid.is_empty() {
        return Err(PageError::ExpiredRequest);
    }
    authorize::load_pending(app, rid)
        .await?
        .ok_or(PageError::ExpiredRequest)
}

/// Continues pending request `rid` through [`authorize::next_step`]: to the relying party
/// (the request is then used up), or to the page of what is still missing.
pub async fn proceed(
    app: &AppState,
    rid: &str,
    pending: &PendingAuthorization,
    session: Option<&Session>,
    consented: Option<&RequestMeta>,
) -> Result<Response, PageError> {
    match authorize::next_step(app, pending, session, consented).await? {
        Next::Redirect(to) => {
            if let Err(e) = authorize::drop_pending(app, rid).await {
                // The code is issued; the request expires on its own.
                tracing::warn!(error = %format!("{e:#}"), "dropping a used request failed");
            }
            Ok(Redirect::to(&to).into_response())
        }
        step => Ok(Redirect::to(&interaction_url(&step, rid)).into_response()),
    }
}

/// The page where the person does what `step` needs, for pending request `rid`.
fn interaction_url(step: &Next, rid: &str) -> String {
    match step {
        Next::Login => login_url(rid),
        Next::ChangeCus => format!("/natural/nueva-clave?rid={rid}"),
        Next::Consent => format!("/consent?rid={rid}"),
        Next::Redirect(to) => to.clone(),
    }
}
