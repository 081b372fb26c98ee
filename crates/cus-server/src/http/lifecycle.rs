//! The guide's pages for a persona natural: home, Regístrese, Genere nueva CUS, Cambie su
//! CUS, Actualice sus datos, e-mail verification, and the forced change after logging in
//! with a generated CUS. Handlers validate the CSRF token and the captcha, call
//! `crate::lifecycle::natural`, and render.

use askama::Template;
use askama_web::WebTemplate;
use cus_core::forms::LifecycleForm;

use super::params::WebForm;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use cus_core::Rut;
use cus_core::contact::SECRET_QUESTIONS;
use cus_core::territory::{Catalogue, Comuna, Region};
use serde::Deserialize;

use super::csrf;
use super::errors;
use super::meta::RequestMeta;
use super::routes::Routes;
use crate::app::AppState;
use crate::lifecycle::juridica::{self, JuridicaInput};
use crate::lifecycle::natural::{self, RegistrationInput, Sent};
use crate::lifecycle::{FieldErrors, FlowError, captcha};
use cus_core::contact_form::ContactInput;

pub fn routes() -> Routes {
    Routes::new()
        .route("/", get(home))
        .route("/informacion", get(info))
        .route("/no-tengo-correo", get(no_email))
        .route("/natural/registro", get(register_page).post(register))
        .route(
            "/juridica/registro",
            get(juridica_register_page).post(juridica_register),
        )
        .route("/{persona}/generar", get(generate_page).post(generate))
        .route("/{persona}/cambiar", get(change_page).post(change))
        .route(
            "/natural/actualizar",
            get(update_login_page).post(update_login),
        )
        .route("/natural/actualizar/datos", axum::routing::post(update))
        .route(
            "/natural/nueva-clave",
            get(forced_change_page).post(forced_change),
        )
        .route("/verificar-correo", get(verify_email))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What every lifecycle form page carries: the CSRF token, a fresh captcha, and the
/// status its errors call for.
struct Chrome {
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    status: StatusCode,
}

async fn chrome(
    app: &AppState,
    jar: CookieJar,
    errors: &FieldErrors,
) -> anyhow::Result<(CookieJar, Chrome)> {
    let challenge = captcha::new_challenge(app).await?;
    let (jar, csrf) = csrf::token(app, jar);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        jar,
        Chrome {
            csrf,
            captcha_id: challenge.id,
            captcha_image: challenge.image,
            status,
        },
    ))
}

const WRONG_CAPTCHA: &str =
    "Las letras no coinciden con la imagen, o la imagen venció. Intente con la nueva imagen.";

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage;

#[derive(Template, WebTemplate)]
#[template(path = "info.html")]
struct InfoPage;

#[derive(Template, WebTemplate)]
#[template(path = "no_email.html")]
struct NoEmailPage;

async fn home() -> Response {
    HomePage.into_response()
}

async fn info() -> Response {
    InfoPage.into_response()
}

async fn no_email() -> Response {
    NoEmailPage.into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "natural/done.html")]
struct DonePage {
    title: String,
    message: String,
    email: Option<String>,
    celular: Option<String>,
}

fn done(title: &str, message: &str, sent: Option<Sent>) -> Response {
    let (email, celular) = sent.map_or((None, None), |s| (s.email, s.celular));
    no_store(
        DonePage {
            title: title.into(),
            message: message.into(),
            email,
            celular,
        }
        .into_response(),
    )
}

// ---- Regístrese ----

#[derive(Template, WebTemplate)]
#[template(path = "natural/register.html")]
struct RegisterPage {
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    form: LifecycleForm,
    errors: FieldErrors,
    questions: &'static [&'static str],
    regiones: Vec<&'static Region>,
    comunas: Vec<&'static Comuna>,
    answer_required: bool,
}

async fn render_register(
    app: &AppState,
    jar: CookieJar,
    form: LifecycleForm,
    errors: FieldErrors,
) -> Response {
    let (jar, chrome) = match chrome(app, jar, &errors).await {
        Ok(c) => c,
        Err(e) => return errors::internal(&e),
    };
    let catalogue = Catalogue::chile();
    let page = RegisterPage {
        csrf: chrome.csrf,
        captcha_id: chrome.captcha_id,
        captcha_image: chrome.captcha_image,
        form,
        errors,
        questions: &SECRET_QUESTIONS,
        regiones: catalogue.regiones().collect(),
        comunas: catalogue.comunas().collect(),
        answer_required: true,
    };
    no_store((chrome.status, jar, page).into_response())
}

async fn register_page(State(app): State<AppState>, jar: CookieJar) -> Response {
    render_register(&app, jar, LifecycleForm::default(), FieldErrors::new()).await
}

/// Checks a lifecycle form before its flow runs: the CSRF token, the per-IP limit, the
/// captcha, and only then the per-RUT limit, so a request without a solved captcha never
/// spends the budget of the RUT it names (a stranger cannot block someone else's RUT).
/// `Err` is the response to give; `Ok(Some)` the messages to show beside the fields.
async fn guard(
    app: &AppState,
    jar: &CookieJar,
    form: &LifecycleForm,
    meta: &RequestMeta,
) -> Result<Option<FieldErrors>, Response> {
    if !csrf::verify(app, jar, Some(&form.csrf)) {
        return Err(errors::form_expired());
    }
    let limits = &app.config.limits;
    let ip = &meta.limit_address();
    if let Some(response) = super::account::limited(app, "form-ip", ip, limits.form_per_ip).await {
        return Err(response);
    }
    if let Some(errors) = check_captcha(app, form).await? {
        return Ok(Some(errors));
    }
    if let Ok(rut) = Rut::parse(&form.rut)
        && let Some(response) =
            super::account::limited(app, "form-rut", &rut.compact(), limits.form_per_rut).await
    {
        return Err(response);
    }
    Ok(None)
}

/// The captcha of a form; "Refrescar" asks for a new image and submits nothing.
async fn check_captcha(
    app: &AppState,
    form: &LifecycleForm,
) -> Result<Option<FieldErrors>, Response> {
    if form.action == "refrescar" {
        // "Refrescar": the same form with a new image, nothing submitted.
        let _ = app
            .cache
            .delete(&cus_cache::Key::new(
                cus_cache::Namespace::Captcha,
                &form.captcha_id,
            ))
            .await;
        return Ok(Some(FieldErrors::new()));
    }
    match captcha::solve(app, &form.captcha_id, &form.captcha).await {
        Ok(true) => Ok(None),
        Ok(false) => Ok(Some(FieldErrors::from([(
            "captcha",
            WRONG_CAPTCHA.to_owned(),
        )]))),
        Err(e) => Err(errors::internal(&e)),
    }
}

/// The messages a flow's failure shows on the form; an internal failure stays an error.
fn flow_errors(error: FlowError) -> Result<FieldErrors, anyhow::Error> {
    match error {
        FlowError::Invalid(errors) => Ok(errors),
        FlowError::Refused(message) => Ok(FieldErrors::from([("form", message)])),
        FlowError::Internal(e) => Err(e),
    }
}

async fn register(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    match guard(&app, &jar, &form, &meta).await {
        Err(response) => return response,
        Ok(Some(errors)) => return render_register(&app, jar, form, errors).await,
        Ok(None) => {}
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
        Ok(sent) => done(
            "Registro exitoso",
            "Su Clave Única SENCE fue creada. Ya puede ingresar con su RUT y la CUS que eligió.",
            Some(sent),
        ),
        Err(e) => match flow_errors(e) {
            Ok(errors) => render_register(&app, jar, form, errors).await,
            Err(e) => errors::internal(&e),
        },
    }
}

// ---- Regístrese (persona jurídica) ----

#[derive(Template, WebTemplate)]
#[template(path = "juridica_register.html")]
struct JuridicaRegisterPage {
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    form: LifecycleForm,
    errors: FieldErrors,
    questions: &'static [&'static str],
    regiones: Vec<&'static Region>,
    comunas: Vec<&'static Comuna>,
    answer_required: bool,
}

async fn render_juridica(
    app: &AppState,
    jar: CookieJar,
    form: LifecycleForm,
    errors: FieldErrors,
) -> Response {
    let (jar, chrome) = match chrome(app, jar, &errors).await {
        Ok(c) => c,
        Err(e) => return errors::internal(&e),
    };
    let catalogue = Catalogue::chile();
    let page = JuridicaRegisterPage {
        csrf: chrome.csrf,
        captcha_id: chrome.captcha_id,
        captcha_image: chrome.captcha_image,
        form,
        errors,
        questions: &SECRET_QUESTIONS,
        regiones: catalogue.regiones().collect(),
        comunas: catalogue.comunas().collect(),
        answer_required: true,
    };
    no_store((chrome.status, jar, page).into_response())
}

async fn juridica_register_page(State(app): State<AppState>, jar: CookieJar) -> Response {
    render_juridica(&app, jar, LifecycleForm::default(), FieldErrors::new()).await
}

async fn juridica_register(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    match guard(&app, &jar, &form, &meta).await {
        Err(response) => return response,
        Ok(Some(errors)) => return render_juridica(&app, jar, form, errors).await,
        Ok(None) => {}
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
        Ok(sent) => done(
            "Registro exitoso",
            "La Clave Única SENCE de la empresa fue creada. Ya puede ingresar con el RUT de la empresa y la CUS que eligió.",
            Some(sent),
        ),
        Err(e) => match flow_errors(e) {
            Ok(errors) => render_juridica(&app, jar, form, errors).await,
            Err(e) => errors::internal(&e),
        },
    }
}

// ---- Genere nueva CUS ----

/// Which kind of person a generate/change page is for: the same flow, keyed by RUT.
#[derive(Debug, Clone, Copy)]
enum Persona {
    Natural,
    Juridica,
}

impl Persona {
    fn from_path(segment: &str) -> Option<Self> {
        match segment {
            "natural" => Some(Self::Natural),
            "juridica" => Some(Self::Juridica),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Natural => "persona natural",
            Self::Juridica => "persona jurídica",
        }
    }

    fn base(self) -> &'static str {
        match self {
            Self::Natural => "/natural",
            Self::Juridica => "/juridica",
        }
    }
}

fn not_found() -> Response {
    errors::page(
        StatusCode::NOT_FOUND,
        "Página no encontrada",
        "La página que busca no existe.",
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "natural/generate.html")]
struct GeneratePage {
    persona: &'static str,
    base: &'static str,
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    rut: String,
    question: Option<&'static str>,
    errors: FieldErrors,
}

async fn render_generate(
    app: &AppState,
    persona: Persona,
    jar: CookieJar,
    rut: String,
    question: Option<&'static str>,
    errors: FieldErrors,
) -> Response {
    let (jar, chrome) = match chrome(app, jar, &errors).await {
        Ok(c) => c,
        Err(e) => return errors::internal(&e),
    };
    let page = GeneratePage {
        persona: persona.label(),
        base: persona.base(),
        csrf: chrome.csrf,
        captcha_id: chrome.captcha_id,
        captcha_image: chrome.captcha_image,
        rut,
        question,
        errors,
    };
    no_store((chrome.status, jar, page).into_response())
}

async fn generate_page(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
) -> Response {
    let Some(persona) = Persona::from_path(&segment) else {
        return not_found();
    };
    render_generate(&app, persona, jar, String::new(), None, FieldErrors::new()).await
}

async fn generate(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    let Some(persona) = Persona::from_path(&segment) else {
        return not_found();
    };
    // Both steps (the question, then the answer) carry a captcha and count once against
    // the limits. Step 1 answers every valid RUT with a question (a plausible one for a RUT
    // without a CUS), so neither step tells which RUTs have one.
    let captcha_errors = match guard(&app, &jar, &form, &meta).await {
        Err(response) => return response,
        Ok(errors) => errors,
    };
    let rut = match Rut::parse(&form.rut) {
        Ok(r) => r,
        Err(e) => {
            let errors = FieldErrors::from([("rut", e.to_string())]);
            return render_generate(&app, persona, jar, form.rut, None, errors).await;
        }
    };
    let question = match natural::secret_question_of(&app, &rut).await {
        Ok(q) => q,
        Err(e) => {
            return match flow_errors(e) {
                Ok(errors) => render_generate(&app, persona, jar, form.rut, None, errors).await,
                Err(e) => errors::internal(&e),
            };
        }
    };
    let first_step = form.action == "validar";
    if let Some(errors) = captcha_errors {
        // No question without a solved captcha, whatever the action says: step 1 again,
        // the RUT kept.
        return render_generate(&app, persona, jar, rut.to_string(), None, errors).await;
    }
    if first_step {
        let errors = FieldErrors::new();
        return render_generate(&app, persona, jar, rut.to_string(), Some(question), errors).await;
    }
    match natural::generate(&app, &rut, &form.respuesta, &meta).await {
        Ok(sent) => done(
            "Nueva CUS generada",
            "Le enviamos una nueva Clave Única SENCE. Vence en unos días (el mensaje dice cuándo). Al ingresar con ella se le pedirá elegir una CUS propia; si en cambio ingresa con su CUS anterior, la nueva queda sin efecto.",
            Some(sent),
        ),
        Err(e) => match flow_errors(e) {
            Ok(errors) => {
                render_generate(&app, persona, jar, rut.to_string(), Some(question), errors).await
            }
            Err(e) => errors::internal(&e),
        },
    }
}

// ---- Cambie su CUS (and the forced change) ----

#[derive(Template, WebTemplate)]
#[template(path = "natural/change.html")]
struct ChangePage {
    persona: &'static str,
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    rut: String,
    rid: String,
    forced: bool,
    action: &'static str,
    errors: FieldErrors,
}

async fn render_change(
    app: &AppState,
    persona: Persona,
    jar: CookieJar,
    rut: String,
    errors: FieldErrors,
) -> Response {
    let (jar, chrome) = match chrome(app, jar, &errors).await {
        Ok(c) => c,
        Err(e) => return errors::internal(&e),
    };
    let page = ChangePage {
        persona: persona.label(),
        csrf: chrome.csrf,
        captcha_id: chrome.captcha_id,
        captcha_image: chrome.captcha_image,
        rut,
        rid: String::new(),
        forced: false,
        action: match persona {
            Persona::Natural => "/natural/cambiar",
            Persona::Juridica => "/juridica/cambiar",
        },
        errors,
    };
    no_store((chrome.status, jar, page).into_response())
}

async fn change_page(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
) -> Response {
    let Some(persona) = Persona::from_path(&segment) else {
        return not_found();
    };
    render_change(&app, persona, jar, String::new(), FieldErrors::new()).await
}

async fn change(
    State(app): State<AppState>,
    Path(segment): Path<String>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    let Some(persona) = Persona::from_path(&segment) else {
        return not_found();
    };
    match guard(&app, &jar, &form, &meta).await {
        Err(response) => return response,
        Ok(Some(errors)) => return render_change(&app, persona, jar, form.rut, errors).await,
        Ok(None) => {}
    }
    let rut = match Rut::parse(&form.rut) {
        Ok(r) => r,
        Err(e) => {
            return render_change(
                &app,
                persona,
                jar,
                form.rut,
                FieldErrors::from([("rut", e.to_string())]),
            )
            .await;
        }
    };
    match natural::change(
        &app,
        &rut,
        &form.cus,
        &form.cus_nueva,
        &form.cus_repetida,
        &meta,
    )
    .await
    {
        Ok(()) => done(
            "CUS cambiada",
            "Su Clave Única SENCE fue cambiada. Cerramos sus otras sesiones abiertas; ingrese con su nueva CUS.",
            None,
        ),
        Err(e) => match flow_errors(e) {
            Ok(errors) => render_change(&app, persona, jar, form.rut, errors).await,
            Err(e) => errors::internal(&e),
        },
    }
}

#[derive(Deserialize)]
struct RidQuery {
    rid: Option<String>,
}

async fn forced_change_page(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(q): Query<RidQuery>,
) -> Response {
    match super::oidc::current_session(&app, &jar).await {
        Ok(Some(s)) if s.must_change_cus => {}
        Ok(_) => return Redirect::to("/Account").into_response(),
        Err(e) => return errors::internal(&e),
    }
    let (jar, csrf) = csrf::token(&app, jar);
    let page = ChangePage {
        persona: Persona::Natural.label(),
        csrf,
        captcha_id: String::new(),
        captcha_image: String::new(),
        rut: String::new(),
        rid: q.rid.unwrap_or_default(),
        forced: true,
        action: "/natural/nueva-clave",
        errors: FieldErrors::new(),
    };
    no_store((jar, page).into_response())
}

async fn forced_change(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    if !csrf::verify(&app, &jar, Some(&form.csrf)) {
        return errors::form_expired();
    }
    let session = match super::oidc::current_session(&app, &jar).await {
        Ok(Some(s)) if s.must_change_cus => s,
        Ok(_) => return Redirect::to("/Account").into_response(),
        Err(e) => return errors::internal(&e),
    };
    match natural::replace_generated(
        &app,
        session.account_id,
        &form.cus_nueva,
        &form.cus_repetida,
        &meta,
    )
    .await
    {
        Ok(account) => {
            // The change ended every session, this one too: start a fresh one.
            let jar = match super::account::start_session(&app, jar, &account).await {
                Ok(jar) => jar,
                Err(e) => return errors::internal(&e),
            };
            let to = match crate::oidc::authorize::named_pending(&app, &form.rid).await {
                Some(_) => format!("/authorize/resume?rid={}", form.rid),
                None => "/".to_owned(),
            };
            (jar, Redirect::to(&to)).into_response()
        }
        Err(e) => match flow_errors(e) {
            Ok(errors) => {
                let (jar, csrf) = csrf::token(&app, jar);
                let page = ChangePage {
                    persona: Persona::Natural.label(),
                    csrf,
                    captcha_id: String::new(),
                    captcha_image: String::new(),
                    rut: String::new(),
                    rid: form.rid,
                    forced: true,
                    action: "/natural/nueva-clave",
                    errors,
                };
                no_store((StatusCode::UNPROCESSABLE_ENTITY, jar, page).into_response())
            }
            Err(e) => errors::internal(&e),
        },
    }
}

// ---- Actualice sus datos ----

#[derive(Template, WebTemplate)]
#[template(path = "natural/update_login.html")]
struct UpdateLoginPage {
    csrf: String,
    captcha_id: String,
    captcha_image: String,
    rut: String,
    errors: FieldErrors,
}

async fn render_update_login(
    app: &AppState,
    jar: CookieJar,
    rut: String,
    errors: FieldErrors,
) -> Response {
    let (jar, chrome) = match chrome(app, jar, &errors).await {
        Ok(c) => c,
        Err(e) => return errors::internal(&e),
    };
    let page = UpdateLoginPage {
        csrf: chrome.csrf,
        captcha_id: chrome.captcha_id,
        captcha_image: chrome.captcha_image,
        rut,
        errors,
    };
    no_store((chrome.status, jar, page).into_response())
}

async fn update_login_page(State(app): State<AppState>, jar: CookieJar) -> Response {
    render_update_login(&app, jar, String::new(), FieldErrors::new()).await
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
    questions: &'static [&'static str],
    regiones: Vec<&'static Region>,
    comunas: Vec<&'static Comuna>,
    answer_required: bool,
}

fn render_update(
    app: &AppState,
    jar: CookieJar,
    account: &cus_core::Account,
    ticket: String,
    form: LifecycleForm,
    errors: FieldErrors,
) -> Response {
    let (jar, csrf) = csrf::token(app, jar);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let catalogue = Catalogue::chile();
    let page = UpdatePage {
        csrf,
        ticket,
        rut: account.rut.to_string(),
        name: account.display_name(),
        form,
        errors,
        questions: &SECRET_QUESTIONS,
        regiones: catalogue.regiones().collect(),
        comunas: catalogue.comunas().collect(),
        answer_required: false,
    };
    no_store((status, jar, page).into_response())
}

/// The account's current data as the form shows it.
fn current_values(account: &cus_core::Account) -> LifecycleForm {
    let address = account.address.as_ref();
    let comuna = address.and_then(|a| Catalogue::chile().comuna(a.codigo_comuna));
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
        telefono_particular: account
            .telefono_particular
            .as_deref()
            .map(|p| p.trim_start_matches("+56").to_owned())
            .unwrap_or_default(),
        telefono_trabajo: account
            .telefono_trabajo
            .as_deref()
            .map(|p| p.trim_start_matches("+56").to_owned())
            .unwrap_or_default(),
        celular: account
            .celular
            .as_deref()
            .map(|c| c.trim_start_matches("+569").to_owned())
            .unwrap_or_default(),
        sin_celular: if account.celular.is_none() {
            "1".into()
        } else {
            String::new()
        },
        ..LifecycleForm::default()
    }
}

async fn update_login(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    match guard(&app, &jar, &form, &meta).await {
        Err(response) => return response,
        Ok(Some(errors)) => return render_update_login(&app, jar, form.rut, errors).await,
        Ok(None) => {}
    }
    let rut = match Rut::parse(&form.rut) {
        Ok(r) => r,
        Err(e) => {
            return render_update_login(
                &app,
                jar,
                form.rut,
                FieldErrors::from([("rut", e.to_string())]),
            )
            .await;
        }
    };
    match natural::open_update(&app, &rut, &form.cus, &meta).await {
        Ok((ticket, account)) => render_update(
            &app,
            jar,
            &account,
            ticket,
            current_values(&account),
            FieldErrors::new(),
        ),
        Err(e) => match flow_errors(e) {
            Ok(errors) => render_update_login(&app, jar, form.rut, errors).await,
            Err(e) => errors::internal(&e),
        },
    }
}

async fn update(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LifecycleForm>,
) -> Response {
    if !csrf::verify(&app, &jar, Some(&form.csrf)) {
        return errors::form_expired();
    }
    match natural::update(
        &app,
        &form.ticket,
        &ContactInput::from(&form),
        &form.cus_nueva,
        &form.cus_repetida,
        &meta,
    )
    .await
    {
        Ok(sent) => done(
            "Datos actualizados",
            "Sus datos fueron actualizados.",
            Some(sent),
        ),
        Err(FlowError::Invalid(errors)) => match natural::update_ticket(&app, &form.ticket).await {
            Ok(Some(account)) => {
                let ticket = form.ticket.clone();
                render_update(&app, jar, &account, ticket, form, errors)
            }
            Ok(None) => {
                render_update_login(
                    &app,
                    jar,
                    String::new(),
                    FieldErrors::from([(
                        "form",
                        "El formulario venció. Ingrese nuevamente.".to_owned(),
                    )]),
                )
                .await
            }
            Err(e) => errors::internal(&e),
        },
        Err(e) => match flow_errors(e) {
            Ok(errors) => render_update_login(&app, jar, String::new(), errors).await,
            Err(e) => errors::internal(&e),
        },
    }
}

// ---- e-mail verification ----

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn verify_email(State(app): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    match natural::verify_email(&app, q.token.as_deref().unwrap_or_default()).await {
        Ok(account) => done(
            "Correo confirmado",
            &format!(
                "Gracias. Confirmamos su correo {}.",
                cus_core::contact::mask_email(&account.email)
            ),
            None,
        ),
        Err(FlowError::Internal(e)) => errors::internal(&e),
        Err(FlowError::Invalid(_)) => errors::page(
            StatusCode::BAD_REQUEST,
            "Enlace no válido",
            "El enlace no es válido.",
        ),
        Err(FlowError::Refused(message)) => {
            errors::page(StatusCode::BAD_REQUEST, "Enlace no válido", &message)
        }
    }
}
