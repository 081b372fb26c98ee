//! "Mis datos": a signed-in person sees what CUS holds about them and downloads it as
//! JSON (Ley 21.719). Only their own: the account is the session's, and no route takes a
//! RUT or an account id. The download is a POST behind the CSRF check, for a recent login
//! only, and audited (`personal_data::own`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use cus_core::forms::CsrfOnlyForm;
use serde_json::Value;

use super::csrf;
use super::errors::{PageError, no_store};
use super::extract::{CsrfForm, CurrentSession, login_url};
use super::meta::RequestMeta;
use super::routes::Routes;
use crate::app::AppState;
use crate::personal_data::{self, Own};

pub fn routes() -> Routes {
    Routes::new()
        .route("/mis-datos", get(show_my_data))
        .route("/mis-datos/descargar", post(download_my_data))
}

#[derive(Template, WebTemplate)]
#[template(path = "account/my_data.html")]
struct MyDataPage {
    csrf: String,
    name: String,
    rut: String,
    consents: usize,
    sessions: usize,
    events: usize,
    /// The whole document, as the download gives it.
    json: String,
    /// The login is recent enough to download; else the page asks for the CUS again.
    recent_login: bool,
    max_age_minutes: i64,
}

async fn show_my_data(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
    meta: RequestMeta,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let Own::Document { rut, document } = personal_data::own(&app, &session, &meta, false).await?
    else {
        return Err(PageError::SignInFirst(login_url("")));
    };
    let count = |key: &str| document[key].as_array().map_or(0, Vec::len);
    let account = &document["account"];
    let name = [
        &account["razon_social"],
        &account["nombres"],
        &account["apellido_paterno"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .collect::<Vec<_>>()
    .join(" ");
    let max_age = app.config.accounts.export_max_auth_age;
    let (jar, csrf) = csrf::token(&app, jar);
    let page = MyDataPage {
        csrf,
        name,
        rut: rut.to_string(),
        consents: count("consents"),
        sessions: count("sessions"),
        events: count("audit_events"),
        json: serde_json::to_string_pretty(&document).map_err(anyhow::Error::from)?,
        recent_login: personal_data::login_is_recent(&session, meta.now, &max_age),
        max_age_minutes: max_age.secs() / 60,
    };
    Ok(no_store((jar, page).into_response()))
}

async fn download_my_data(
    State(app): State<AppState>,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(_): CsrfForm<CsrfOnlyForm>,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let (rut, document) = match personal_data::own(&app, &session, &meta, true).await? {
        Own::Document { rut, document } => (rut, document),
        // Like prompt=login: the CUS again, then back to "Mis datos".
        Own::SignInAgain | Own::Gone => return Err(PageError::SignInFirst(login_url(""))),
    };
    let body = serde_json::to_vec_pretty(&document).map_err(anyhow::Error::from)?;
    let disposition = format!("attachment; filename=\"mis-datos-{}.json\"", rut.compact());
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(no_store(response))
}
