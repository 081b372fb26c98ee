//! Genere nueva CUS: the RUT, then its secret question, then a new CUS sent to the e-mail
//! and mobile on file.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use cus_core::Rut;
use cus_core::forms::LifecycleForm;

use super::{Persona, done, guard, shown};
use crate::app::AppState;
use crate::http::errors::PageError;
use crate::http::extract::CsrfForm;
use crate::http::meta::RequestMeta;
use crate::http::page::{self, Captcha, Chrome};
use crate::lifecycle::FieldErrors;
use crate::lifecycle::natural;

#[derive(Template, WebTemplate)]
#[template(path = "natural/generate.html")]
struct GeneratePage {
    persona: &'static str,
    base: &'static str,
    chrome: Chrome,
    rut: String,
    question: Option<&'static str>,
    errors: FieldErrors,
}

/// The form at step 1 (no `question`) or step 2.
async fn render(
    app: &AppState,
    persona: Persona,
    jar: CookieJar,
    rut: String,
    question: Option<&'static str>,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    page::render(app, jar, status, Captcha::Shown, |chrome| GeneratePage {
        persona: persona.label(),
        base: persona.base(),
        chrome,
        rut,
        question,
        errors,
    })
    .await
}

pub async fn generate_page(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let persona = Persona::from_path(&segment)?;
    render(&app, persona, jar, String::new(), None, FieldErrors::new()).await
}

/// Both steps (the question, then the answer) carry a captcha and count once against the
/// limits. Step 1 answers every valid RUT with a question (a plausible one for a RUT
/// without a CUS), so neither step tells which RUTs have one.
pub async fn generate(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    let persona = Persona::from_path(&segment)?;
    let captcha_errors = guard(&app, &form, &meta).await?;
    let rut = match Rut::parse(&form.rut) {
        Ok(rut) => rut,
        Err(e) => {
            let errors = FieldErrors::from([("rut", e.to_string())]);
            return render(&app, persona, jar, form.rut, None, errors).await;
        }
    };
    let question = match natural::secret_question_of(&app, &rut).await {
        Ok(question) => question,
        Err(e) => return render(&app, persona, jar, form.rut, None, shown(e)?).await,
    };
    // No question without a solved captcha, whatever the action says: step 1 again, the
    // RUT kept.
    if let Some(errors) = captcha_errors {
        return render(&app, persona, jar, rut.to_string(), None, errors).await;
    }
    if form.action == "validar" {
        let errors = FieldErrors::new();
        return render(&app, persona, jar, rut.to_string(), Some(question), errors).await;
    }
    match natural::generate(&app, &rut, &form.respuesta, &meta).await {
        Ok(sent) => Ok(done(
            "Nueva CUS generada",
            "Le enviamos una nueva Clave Única SENCE. Vence en unos días (el mensaje dice cuándo). Al ingresar con ella se le pedirá elegir una CUS propia; si en cambio ingresa con su CUS anterior, la nueva queda sin efecto.",
            Some(sent),
        )),
        Err(e) => {
            let errors = shown(e)?;
            render(&app, persona, jar, rut.to_string(), Some(question), errors).await
        }
    }
}
