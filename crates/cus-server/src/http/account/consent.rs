//! `/consent`: what a portal will learn about the person, and their decision.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use cus_core::claims::Destination;
use cus_core::forms::ConsentForm;
use cus_core::oauth::{ErrorCode, OAuthError};

use crate::app::AppState;
use crate::http::csrf;
use crate::http::errors::{PageError, no_store};
use crate::http::extract::{CsrfForm, CurrentSession};
use crate::http::meta::RequestMeta;
use crate::http::oidc::{RidQuery, pending, proceed};
use crate::oidc::authorize::{self, PendingAuthorization};

#[derive(Template, WebTemplate)]
#[template(path = "oidc/consent.html")]
struct ConsentPage {
    csrf: String,
    rid: String,
    client_name: String,
    /// Where the data goes: the portal's address (its redirect URI's origin).
    destination: String,
    items: Vec<&'static str>,
}

pub async fn consent_page(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
    Query(q): Query<RidQuery>,
) -> Result<Response, PageError> {
    let rid = q.rid.unwrap_or_default();
    let pending = pending(&app, &rid).await?;
    session.required(&rid)?;
    let (jar, csrf) = csrf::token(&app, jar);
    let page = ConsentPage {
        csrf,
        rid,
        items: items(&pending),
        destination: destination(&pending.redirect_uri),
        client_name: pending.client_name,
    };
    Ok(no_store((jar, page).into_response()))
}

/// The page's lines: exactly what will be released, wherever it goes — the one rule
/// (`cus_core::claims::released`) decides, in plain Spanish.
fn items(pending: &PendingAuthorization) -> Vec<&'static str> {
    let scopes = || pending.scopes.iter().map(String::as_str);
    let released = [
        (&pending.userinfo_claims, Destination::Userinfo),
        (&pending.id_token_claims, Destination::IdToken),
    ]
    .into_iter()
    .flat_map(|(asked, to)| {
        cus_core::claims::released(scopes(), asked.iter().map(String::as_str), to)
    });
    let mut items = vec!["Saber que usted es la misma persona cada vez que ingresa"];
    for item in released.filter_map(describe_claim) {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    items
}

/// The origin (scheme, host, port) the data is sent to, as the person can check it in the
/// address bar once there.
fn destination(redirect_uri: &str) -> String {
    url::Url::parse(redirect_uri).map_or_else(
        |_| redirect_uri.to_owned(),
        |u| u.origin().ascii_serialization(),
    )
}

/// What each released claim means (`sub` is the first line of the page).
fn describe_claim(claim: &str) -> Option<&'static str> {
    match claim {
        "name" | "given_name" | "family_name" => Some("Su nombre y apellidos"),
        "email" | "email_verified" => Some("Su correo electrónico"),
        "phone_number" | "phone_number_verified" => Some("Su teléfono celular"),
        "address" => Some("Su dirección (calle, comuna y región)"),
        "RolUnico" | "rut" | "tipo_persona" => Some("Su RUT"),
        "razon_social" | "representante_legal" => {
            Some("La razón social y el representante legal de su empresa")
        }
        _ => None,
    }
}

pub async fn consent(
    State(app): State<AppState>,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, PageError> {
    let rid = form.rid.unwrap_or_default();
    let pending = pending(&app, &rid).await?;
    let session = session.required(&rid)?;
    if form.decision.as_deref() != Some("allow") {
        authorize::drop_pending(&app, &rid).await?;
        let error = OAuthError::new(ErrorCode::AccessDenied, "the person declined");
        let state = pending.state.as_deref();
        let to = authorize::error_redirect(&app, &pending.redirect_uri, state, &error);
        return Ok(Redirect::to(&to).into_response());
    }
    // The same decision as every other path to a code: the consent is recorded only when
    // the login rules hold, and otherwise the person is sent where they must go first.
    proceed(&app, &rid, &pending, Some(&session), Some(&meta)).await
}
