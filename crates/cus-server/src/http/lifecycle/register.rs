//! Regístrese, for a persona natural and for a persona jurídica.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use cus_core::contact_form::ContactInput;
use cus_core::forms::LifecycleForm;

use super::{Persona, done, guard, shown};
use crate::app::AppState;
use crate::http::errors::PageError;
use crate::http::extract::CsrfForm;
use crate::http::meta::RequestMeta;
use crate::http::page::{self, Captcha, Choices, Chrome};
use crate::lifecycle::FieldErrors;
use crate::lifecycle::juridica::{self, JuridicaInput};
use crate::lifecycle::natural::{self, RegistrationInput};

#[derive(Template, WebTemplate)]
#[template(path = "natural/register.html")]
struct NaturalPage {
    chrome: Chrome,
    form: LifecycleForm,
    errors: FieldErrors,
    choices: Choices,
}

#[derive(Template, WebTemplate)]
#[template(path = "juridica_register.html")]
struct JuridicaPage {
    chrome: Chrome,
    form: LifecycleForm,
    errors: FieldErrors,
    choices: Choices,
}

/// The registration form of `persona`, shown fresh or again with `errors`.
async fn render(
    app: &AppState,
    jar: CookieJar,
    persona: Persona,
    form: LifecycleForm,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    let choices = Choices::new(true);
    match persona {
        Persona::Natural => {
            let build = |chrome| NaturalPage {
                chrome,
                form,
                errors,
                choices,
            };
            page::render(app, jar, status, Captcha::Shown, build).await
        }
        Persona::Juridica => {
            let build = |chrome| JuridicaPage {
                chrome,
                form,
                errors,
                choices,
            };
            page::render(app, jar, status, Captcha::Shown, build).await
        }
    }
}

pub async fn natural_page(
    State(app): State<AppState>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    render(
        &app,
        jar,
        Persona::Natural,
        LifecycleForm::default(),
        FieldErrors::new(),
    )
    .await
}

pub async fn natural(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    if let Some(errors) = guard(&app, &form, &meta).await? {
        return render(&app, jar, Persona::Natural, form, errors).await;
    }
    let input = RegistrationInput {
        rut: form.rut.clone(),
        nombres: form.nombres.clone(),
        apellido_paterno: form.apellido_paterno.clone(),
        apellido_materno: form.apellido_materno.clone(),
        contact: ContactInput::from(&form),
        cus: form.cus.clone(),
        cus_repetida: form.cus_repetida.clone(),
    };
    match natural::register(&app, &input, &meta).await {
        Ok(sent) => Ok(done(
            "Registro exitoso",
            "Su Clave Única SENCE fue creada. Ya puede ingresar con su RUT y la CUS que eligió.",
            Some(sent),
        )),
        Err(e) => render(&app, jar, Persona::Natural, form, shown(e)?).await,
    }
}

pub async fn juridica_page(
    State(app): State<AppState>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    render(
        &app,
        jar,
        Persona::Juridica,
        LifecycleForm::default(),
        FieldErrors::new(),
    )
    .await
}

pub async fn juridica(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    if let Some(errors) = guard(&app, &form, &meta).await? {
        return render(&app, jar, Persona::Juridica, form, errors).await;
    }
    let input = JuridicaInput {
        rut: form.rut.clone(),
        razon_social: form.razon_social.clone(),
        giro: form.giro.clone(),
        contact: ContactInput::from(&form),
        rep_rut: form.rep_rut.clone(),
        rep_nombres: form.rep_nombres.clone(),
        rep_apellidos: form.rep_apellidos.clone(),
        rep_email: form.rep_email.clone(),
        cus: form.cus.clone(),
        cus_repetida: form.cus_repetida.clone(),
    };
    match juridica::register(&app, &input, &meta).await {
        Ok(sent) => Ok(done(
            "Registro exitoso",
            "La Clave Única SENCE de la empresa fue creada. Ya puede ingresar con el RUT de la empresa y la CUS que eligió.",
            Some(sent),
        )),
        Err(e) => render(&app, jar, Persona::Juridica, form, shown(e)?).await,
    }
}
