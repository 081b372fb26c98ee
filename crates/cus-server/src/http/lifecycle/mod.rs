//! The guide's pages: home, Regístrese ([`register`]), Genere nueva CUS ([`generate`]),
//! Cambie su CUS and the forced change after logging in with a generated CUS
//! ([`change`]), Actualice sus datos ([`update`]), and e-mail verification. Handlers take
//! a form whose CSRF token is valid, pass [`guard`], call `crate::lifecycle`, and render.

mod change;
mod generate;
mod register;
mod update;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cus_core::Rut;
use cus_core::forms::LifecycleForm;
use serde::Deserialize;

use super::errors::{PageError, no_store};
use super::meta::RequestMeta;
use super::routes::Routes;
use crate::app::AppState;
use crate::lifecycle::natural::{self, Sent};
use crate::lifecycle::{FieldErrors, FlowError, captcha};
use crate::limits;

pub fn routes() -> Routes {
    Routes::new()
        .route("/", get(home))
        .route("/informacion", get(info))
        .route("/no-tengo-correo", get(no_email))
        .route(
            "/natural/registro",
            get(register::natural_page).post(register::natural),
        )
        .route(
            "/juridica/registro",
            get(register::juridica_page).post(register::juridica),
        )
        .route(
            "/{persona}/generar",
            get(generate::generate_page).post(generate::generate),
        )
        .route(
            "/{persona}/cambiar",
            get(change::change_page).post(change::change),
        )
        .route(
            "/natural/actualizar",
            get(update::login_page).post(update::login),
        )
        .route("/natural/actualizar/datos", post(update::update))
        .route(
            "/natural/nueva-clave",
            get(change::forced_page).post(change::forced),
        )
        .route("/verificar-correo", get(verify_email))
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

/// The page that ends a flow, naming (masked) where its messages went.
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

/// Checks a lifecycle form before its flow runs: the per-IP limit, the captcha, and only
/// then the per-RUT limit, so a request without a solved captcha never spends the budget
/// of the RUT it names (a stranger cannot block someone else's RUT). The CSRF token was
/// checked by `CsrfForm`. `Ok(Some)` is the messages to show beside the fields.
async fn guard(
    app: &AppState,
    form: &LifecycleForm,
    meta: &RequestMeta,
) -> Result<Option<FieldErrors>, PageError> {
    let limits = &app.config.limits;
    limits::check(app, "form-ip", &meta.limit_address(), limits.form_per_ip).await?;
    if let Some(errors) = check_captcha(app, form).await? {
        return Ok(Some(errors));
    }
    if let Ok(rut) = Rut::parse(&form.rut) {
        limits::check(app, "form-rut", &rut.compact(), limits.form_per_rut).await?;
    }
    Ok(None)
}

/// The captcha of a form; "Refrescar" asks for a new image and submits nothing.
async fn check_captcha(
    app: &AppState,
    form: &LifecycleForm,
) -> anyhow::Result<Option<FieldErrors>> {
    if form.action == "refrescar" {
        captcha::discard(app, &form.captcha_id).await?;
        return Ok(Some(FieldErrors::new()));
    }
    Ok(
        match captcha::solve(app, &form.captcha_id, &form.captcha).await? {
            true => None,
            false => Some(FieldErrors::from([("captcha", WRONG_CAPTCHA.to_owned())])),
        },
    )
}

/// The messages a flow's failure shows beside the fields; an internal failure stays an
/// error.
fn shown(error: FlowError) -> Result<FieldErrors, PageError> {
    match error {
        FlowError::Invalid(errors) => Ok(errors),
        FlowError::Refused(message) => Ok(FieldErrors::from([("form", message)])),
        FlowError::Busy => Ok(super::page::busy()),
        FlowError::Internal(e) => Err(PageError::Internal(e)),
    }
}

/// Which kind of person a generate/change page is for: the same flow, keyed by RUT.
#[derive(Debug, Clone, Copy)]
enum Persona {
    Natural,
    Juridica,
}

impl Persona {
    /// The persona of the path's first segment; any other is not a page.
    fn from_path(segment: &str) -> Result<Self, PageError> {
        match segment {
            "natural" => Ok(Self::Natural),
            "juridica" => Ok(Self::Juridica),
            _ => Err(PageError::NotFound),
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

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn verify_email(
    State(app): State<AppState>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let invalid = |message: String| PageError::Invalid {
        status: StatusCode::BAD_REQUEST,
        title: "Enlace no válido",
        message,
    };
    match natural::verify_email(&app, q.token.as_deref().unwrap_or_default()).await {
        Ok(account) => {
            let email = cus_core::contact::mask_email(&account.email);
            let message = format!("Gracias. Confirmamos su correo {email}.");
            Ok(done("Correo confirmado", &message, None))
        }
        Err(FlowError::Internal(e)) => Err(PageError::Internal(e)),
        Err(FlowError::Busy) => Err(PageError::Internal(crate::hashing::Busy.into())),
        Err(FlowError::Invalid(_)) => Err(invalid("El enlace no es válido.".to_owned())),
        Err(FlowError::Refused(message)) => Err(invalid(message)),
    }
}
