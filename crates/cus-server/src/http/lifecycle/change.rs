//! Cambie su CUS, and the forced change after logging in with a CUS that CUS generated.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use cus_core::Rut;
use cus_core::forms::LifecycleForm;

use super::{Persona, done, guard, shown};
use crate::app::AppState;
use crate::http::errors::PageError;
use crate::http::extract::{CsrfForm, CurrentSession};
use crate::http::meta::RequestMeta;
use crate::http::oidc::RidQuery;
use crate::http::page::{self, Captcha, Chrome};
use crate::lifecycle::FieldErrors;
use crate::lifecycle::natural;
use crate::oidc::authorize;
use crate::oidc::session::Session;

#[derive(Template, WebTemplate)]
#[template(path = "natural/change.html")]
struct ChangePage {
    persona: &'static str,
    chrome: Chrome,
    rut: String,
    rid: String,
    forced: bool,
    action: &'static str,
    errors: FieldErrors,
}

async fn render(
    app: &AppState,
    persona: Persona,
    jar: CookieJar,
    rut: String,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    page::render(app, jar, status, Captcha::Shown, |chrome| ChangePage {
        persona: persona.label(),
        chrome,
        rut,
        rid: String::new(),
        forced: false,
        action: match persona {
            Persona::Natural => "/natural/cambiar",
            Persona::Juridica => "/juridica/cambiar",
        },
        errors,
    })
    .await
}

pub async fn change_page(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let persona = Persona::from_path(&segment)?;
    render(&app, persona, jar, String::new(), FieldErrors::new()).await
}

pub async fn change(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    let persona = Persona::from_path(&segment)?;
    if let Some(errors) = guard(&app, &form, &meta).await? {
        return render(&app, persona, jar, form.rut, errors).await;
    }
    let rut = match Rut::parse(&form.rut) {
        Ok(rut) => rut,
        Err(e) => {
            let errors = FieldErrors::from([("rut", e.to_string())]);
            return render(&app, persona, jar, form.rut, errors).await;
        }
    };
    let (cus, new, repeated) = (&form.cus, &form.cus_nueva, &form.cus_repetida);
    match natural::change(&app, &rut, cus, new, repeated, &meta).await {
        Ok(()) => Ok(done(
            "CUS cambiada",
            "Su Clave Única SENCE fue cambiada. Cerramos sus otras sesiones abiertas; ingrese con su nueva CUS.",
            None,
        )),
        Err(e) => render(&app, persona, jar, form.rut, shown(e)?).await,
    }
}

/// The session of a person who must replace a generated CUS; anyone else goes to login.
fn must_change(session: CurrentSession) -> Result<Session, PageError> {
    match session.0 {
        Some(session) if session.must_change_cus => Ok(session),
        Some(_) | None => Err(PageError::SignInFirst("/Account".to_owned())),
    }
}

/// The forced change's form: no RUT, no current CUS, no captcha — the session is the
/// proof, and the login that started it already passed the lockout and captcha gate.
async fn render_forced(
    app: &AppState,
    jar: CookieJar,
    rid: String,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    page::render(app, jar, status, Captcha::Hidden, |chrome| ChangePage {
        persona: Persona::Natural.label(),
        chrome,
        rut: String::new(),
        rid,
        forced: true,
        action: "/natural/nueva-clave",
        errors,
    })
    .await
}

pub async fn forced_page(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
    Query(q): Query<RidQuery>,
) -> Result<Response, PageError> {
    must_change(session)?;
    render_forced(&app, jar, q.rid.unwrap_or_default(), FieldErrors::new()).await
}

pub async fn forced(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    let session = must_change(session)?;
    let (new, repeated) = (&form.cus_nueva, &form.cus_repetida);
    let account =
        match natural::replace_generated(&app, session.account_id, new, repeated, &meta).await {
            Ok(account) => account,
            Err(e) => return render_forced(&app, jar, form.rid, shown(e)?).await,
        };
    // The change ended every session, this one too: start a fresh one.
    let jar = crate::http::account::start_session(&app, jar, &account, &meta).await?;
    let to = match authorize::named_pending(&app, &form.rid).await {
        Some(_) => format!("/authorize/resume?rid={}", form.rid),
        None => "/".to_owned(),
    };
    Ok((jar, Redirect::to(&to)).into_response())
}
