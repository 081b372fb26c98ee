//! `/end_session`: RP-Initiated Logout 1.0, asking the person when the request does not
//! name their very session.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use cus_core::ClientId;
use cus_core::audit::AuditKind;
use cus_core::forms::EndSessionParams;
use serde_json::Value;

use crate::app::AppState;
use crate::audit;
use crate::http::csrf;
use crate::http::errors::{PageError, no_store};
use crate::http::extract::{CsrfForm, CurrentSession, decode, query_or_body};
use crate::http::meta::RequestMeta;
use crate::oidc::{authorize, session};

#[derive(Template, WebTemplate)]
#[template(path = "oidc/logout.html")]
struct LogoutPage {
    csrf: String,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc/logged_out.html")]
struct LoggedOutPage;

/// RP-Initiated Logout 1.0 §2: with an `id_token_hint` naming this very session the session
/// ends at once; otherwise (no hint, someone else's, no session) the person is asked to
/// confirm — a logout must not be forced on them.
pub async fn end_session(
    State(app): State<AppState>,
    jar: CookieJar,
    CurrentSession(session): CurrentSession,
    meta: RequestMeta,
    method: Method,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let raw = query_or_body(&method, query, body)?;
    let p: EndSessionParams = decode(&raw).map_err(|_| {
        PageError::bad_request(
            "Solicitud no válida",
            "La solicitud de cierre de sesión no es válida.",
        )
    })?;
    let hint = p
        .id_token_hint
        .as_deref()
        .and_then(|h| session::verify_hint(&app, h));
    let redirect = logout_target(&app, &p, hint.as_ref()).await?;
    if let (Some(hint), Some(session)) = (&hint, &session)
        && session::named_by_hint(session, hint)
    {
        let state = p.state.as_deref();
        return Ok(finish(&app, jar, Some(session), &meta, redirect, state).await);
    }
    let (jar, csrf) = csrf::token(&app, jar);
    let page = LogoutPage {
        csrf,
        post_logout_redirect_uri: redirect,
        state: p.state,
        client_id: p.client_id,
    };
    Ok(no_store((jar, page).into_response()))
}

/// The person confirmed on our own page (so no hint is read: the page carries none).
pub async fn end_session_confirm(
    State(app): State<AppState>,
    jar: CookieJar,
    CurrentSession(session): CurrentSession,
    meta: RequestMeta,
    CsrfForm(p): CsrfForm<EndSessionParams>,
) -> Result<Response, PageError> {
    let redirect = logout_target(&app, &p, None).await?;
    let state = p.state.as_deref();
    Ok(finish(&app, jar, session.as_ref(), &meta, redirect, state).await)
}

/// The `post_logout_redirect_uri` if it is registered for the client the logout names (by
/// the verified hint's audience, else `client_id`).
async fn logout_target(
    app: &AppState,
    p: &EndSessionParams,
    hint: Option<&Value>,
) -> Result<Option<String>, PageError> {
    let Some(uri) = p.post_logout_redirect_uri.as_deref() else {
        return Ok(None);
    };
    let audience = hint.and_then(|c| c["aud"].as_str().or_else(|| c["aud"][0].as_str()));
    let client = match audience.or(p.client_id.as_deref()) {
        Some(id) => app.store.client(&ClientId(id.to_owned())).await?,
        None => None,
    };
    if client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)) {
        return Ok(Some(uri.to_owned()));
    }
    Err(PageError::bad_request(
        "Solicitud no válida",
        "La dirección de retorno después de cerrar sesión no está registrada para esta aplicación.",
    ))
}

/// Ends the browser's session (audited when it was live, the portals told, the cookie
/// removed) and goes back to the portal's registered address, or to our "signed out" page.
async fn finish(
    app: &AppState,
    jar: CookieJar,
    session: Option<&session::Session>,
    meta: &RequestMeta,
    redirect: Option<String>,
    state: Option<&str>,
) -> Response {
    if let Some(session) = session {
        let subject = Some(session.account_id.to_string());
        let event = audit::of_request(AuditKind::Logout, subject, meta);
        audit::record(app, &event).await;
    }
    let jar = super::login::sign_out(app, jar).await;
    match redirect {
        Some(uri) => {
            let to = authorize::with_params(&uri, &[("state", state)]);
            (jar, Redirect::to(&to)).into_response()
        }
        None => no_store((jar, LoggedOutPage).into_response()),
    }
}
