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
    let max_age = app.config.accounts.export_max_auth_age;
    let (jar, csrf) = csrf::token(&app, jar);
    let mut page = MyDataPage {
        csrf,
        name: String::new(),
        rut: String::new(),
        consents: 0,
        sessions: 0,
        events: 0,
        json: String::new(),
        recent_login: false,
        max_age_minutes: max_age.secs() / 60,
    };
    match personal_data::own(&app, &session, &meta).await? {
        Own::Document { rut, document } => {
            let count = |key: &str| document[key].as_array().map_or(0, Vec::len);
            let account = &document["account"];
            page.name = [
                &account["razon_social"],
                &account["nombres"],
                &account["apellido_paterno"],
            ]
            .into_iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ");
            page.rut = rut.to_string();
            page.consents = count("consents");
            page.sessions = count("sessions");
            page.events = count("audit_events");
            page.json = serde_json::to_string_pretty(&document).map_err(anyhow::Error::from)?;
            page.recent_login = true;
        }
        // The page says why, and shows nothing of the person until the CUS is given again.
        Own::SignInAgain => {}
        Own::Gone => return Err(PageError::SignInFirst(login_url(""))),
    }
    Ok(no_store((jar, page).into_response()))
}

async fn download_my_data(
    State(app): State<AppState>,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(_): CsrfForm<CsrfOnlyForm>,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let (rut, document) = match personal_data::own(&app, &session, &meta).await? {
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
