//! What every form page carries besides its own fields — the CSRF token, and the captcha
//! where the form has one — and the one way such a page is rendered: never cached, 422
//! when it is shown again with messages beside its fields, 503 with `Retry-After` when
//! hashing was saturated ([`busy`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use cus_core::contact::SECRET_QUESTIONS;
use cus_core::territory::{Catalogue, Comuna, Region};

use super::csrf;
use super::errors::{PageError, no_store, with_retry_after};
use crate::app::AppState;
use crate::hashing::Busy;
use crate::lifecycle::{FieldErrors, captcha};

/// The CSRF token and the captcha of a form (`templates/_captcha.html`); the captcha
/// fields are empty on a form without one.
#[derive(Default)]
pub struct Chrome {
    pub csrf: String,
    pub captcha_id: String,
    pub captcha_image: String,
    /// The address of the same code as audio (`http/captcha.rs`).
    pub captcha_audio: String,
}

/// Whether a page's form carries a captcha.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Captcha {
    Shown,
    Hidden,
}

/// Renders a form page answered with `status`: `build` makes the page from its chrome.
pub async fn render<P: IntoResponse>(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    captcha: Captcha,
    build: impl FnOnce(Chrome) -> P,
) -> Result<Response, PageError> {
    let (captcha_id, captcha_image, captcha_audio) = match captcha {
        Captcha::Shown => {
            let challenge = captcha::new_challenge(app).await?;
            let audio = super::captcha::audio_url(&challenge.id);
            (challenge.id, challenge.image, audio)
        }
        Captcha::Hidden => Default::default(),
    };
    let (jar, csrf) = csrf::token(app, jar);
    let page = build(Chrome {
        csrf,
        captcha_id,
        captcha_image,
        captcha_audio,
    });
    let response = no_store((status, jar, page).into_response());
    Ok(if status == StatusCode::SERVICE_UNAVAILABLE {
        with_retry_after(response, Busy::RETRY_AFTER)
    } else {
        response
    })
}

/// What a form says when hashing is saturated ([`Busy`]): nothing was done, try again in
/// a moment. The form is shown again with what the person typed (never the CUS).
pub const BUSY: &str = "En este momento recibimos muchas solicitudes y no pudimos procesar la suya. Espere unos segundos e intente nuevamente.";

/// The messages of a form refused because hashing is saturated: [`BUSY`] for the whole
/// form, answered 503 ([`status_for`]).
pub fn busy() -> FieldErrors {
    FieldErrors::from([("form", BUSY.to_owned())])
}

/// 200 for a form shown fresh, 422 for one shown again with messages beside its fields,
/// 503 for one refused because hashing is saturated ([`busy`]).
pub fn status_for(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else if errors.get("form").is_some_and(|m| m == BUSY) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// The choices of the contact part of a form (`templates/_contact.html`): the secret
/// questions, the regiones and their comunas.
pub struct Choices {
    pub questions: &'static [&'static str],
    pub regiones: Vec<&'static Region>,
    pub comunas: Vec<&'static Comuna>,
    /// Registration asks for the secret answer; an update may keep the one on file.
    pub answer_required: bool,
}

impl Choices {
    pub fn new(answer_required: bool) -> Self {
        let catalogue = Catalogue::chile();
        Self {
            questions: &SECRET_QUESTIONS,
            regiones: catalogue.regiones().collect(),
            comunas: catalogue.comunas().collect(),
            answer_required,
        }
    }
}
