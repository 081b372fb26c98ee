//! Actualice sus datos: RUT + CUS (and the captcha) open a short-lived ticket; the ticket
//! then carries the update of the contact data, the secret question, or the CUS.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use cus_core::Rut;
use cus_core::contact_form::ContactInput;
use cus_core::forms::LifecycleForm;
use cus_core::territory::Catalogue;

use super::{done, guard, shown};
use crate::app::AppState;
use crate::http::errors::PageError;
use crate::http::extract::CsrfForm;
use crate::http::meta::RequestMeta;
use crate::http::page::{self, Captcha, Choices, Chrome};
use crate::lifecycle::natural;
use crate::lifecycle::{FieldErrors, FlowError};

#[derive(Template, WebTemplate)]
#[template(path = "natural/update_login.html")]
struct LoginPage {
    chrome: Chrome,
    rut: String,
    errors: FieldErrors,
}

#[derive(Template, WebTemplate)]
#[template(path = "natural/update.html")]
struct UpdatePage {
    csrf: String,
    ticket: String,
    rut: String,
    name: String,
    form: LifecycleForm,
    errors: FieldErrors,
    choices: Choices,
}

async fn render_login(
    app: &AppState,
    jar: CookieJar,
    rut: String,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    page::render(app, jar, status, Captcha::Shown, |chrome| LoginPage {
        chrome,
        rut,
        errors,
    })
    .await
}

/// The update form for `account`, holding `ticket`.
async fn render_update(
    app: &AppState,
    jar: CookieJar,
    account: &cus_core::Account,
    ticket: String,
    form: LifecycleForm,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = page::status_for(&errors);
    page::render(app, jar, status, Captcha::Hidden, |chrome| UpdatePage {
        csrf: chrome.csrf,
        ticket,
        rut: account.rut.to_string(),
        name: account.display_name(),
        form,
        errors,
        choices: Choices::new(false),
    })
    .await
}

pub async fn login_page(
    State(app): State<AppState>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    render_login(&app, jar, String::new(), FieldErrors::new()).await
}

pub async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    if let Some(errors) = guard(&app, &form, &meta).await? {
        return render_login(&app, jar, form.rut, errors).await;
    }
    let rut = match Rut::parse(&form.rut) {
        Ok(rut) => rut,
        Err(e) => {
            let errors = FieldErrors::from([("rut", e.to_string())]);
            return render_login(&app, jar, form.rut, errors).await;
        }
    };
    match natural::open_update(&app, &rut, &form.cus, &meta).await {
        Ok((ticket, account)) => {
            let form = current_values(&account);
            render_update(&app, jar, &account, ticket, form, FieldErrors::new()).await
        }
        Err(e) => render_login(&app, jar, form.rut, shown(e)?).await,
    }
}

pub async fn update(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LifecycleForm>,
) -> Result<Response, PageError> {
    let contact = ContactInput::from(&form);
    let (new, repeated) = (&form.cus_nueva, &form.cus_repetida);
    match natural::update(&app, &form.ticket, &contact, new, repeated, &meta).await {
        Ok(sent) => Ok(done(
            "Datos actualizados",
            "Sus datos fueron actualizados.",
            Some(sent),
        )),
        // Shown again while the ticket lasts, what the person typed kept.
        Err(FlowError::Invalid(errors)) => {
            match natural::update_ticket(&app, &form.ticket).await? {
                Some(account) => {
                    let ticket = form.ticket.clone();
                    render_update(&app, jar, &account, ticket, form, errors).await
                }
                None => {
                    let expired = "El formulario venció. Ingrese nuevamente.".to_owned();
                    let errors = FieldErrors::from([("form", expired)]);
                    render_login(&app, jar, String::new(), errors).await
                }
            }
        }
        Err(e) => render_login(&app, jar, String::new(), shown(e)?).await,
    }
}

/// The account's current data as the form shows it.
fn current_values(account: &cus_core::Account) -> LifecycleForm {
    let address = account.address.as_ref();
    let comuna = address.and_then(|a| Catalogue::chile().comuna(a.codigo_comuna));
    let local = |phone: &Option<String>, prefix: &str| {
        phone
            .as_deref()
            .map(|p| p.trim_start_matches(prefix).to_owned())
            .unwrap_or_default()
    };
    LifecycleForm {
        pregunta: account
            .secret_question
            .map(|q| q.to_string())
            .unwrap_or_default(),
        calle: address.map(|a| a.calle.clone()).unwrap_or_default(),
        numero: address.map(|a| a.numero.clone()).unwrap_or_default(),
        block: address.and_then(|a| a.block.clone()).unwrap_or_default(),
        departamento: address
            .and_then(|a| a.departamento.clone())
            .unwrap_or_default(),
        region: comuna
            .map(|c| c.codigo_region.to_string())
            .unwrap_or_default(),
        comuna: comuna.map(|c| c.codigo.to_string()).unwrap_or_default(),
        email: account.email.clone(),
        telefono_particular: local(&account.telefono_particular, "+56"),
        telefono_trabajo: local(&account.telefono_trabajo, "+56"),
        celular: local(&account.celular, "+569"),
        sin_celular: if account.celular.is_none() {
            "1".into()
        } else {
            String::new()
        },
        ..LifecycleForm::default()
    }
}
