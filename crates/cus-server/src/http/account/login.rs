//! `/Account`: the login page with RUT + CUS, and the SSO session a login starts.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cus_core::audit::AuditKind;
use cus_core::forms::LoginForm;
use cus_core::{Account, Rut};

use crate::app::AppState;
use crate::audit;
use crate::http::csrf;
use crate::http::errors::{PageError, no_store};
use crate::http::extract::CsrfForm;
use crate::http::meta::RequestMeta;
use crate::http::oidc::RidQuery;
use crate::http::page::{self, Captcha, Chrome};
use crate::lifecycle::FieldErrors;
use crate::lifecycle::credentials::{self, Attempt};
use crate::limits;
use crate::oidc::{authorize, session};

/// The one message for a wrong RUT or a wrong CUS: it never tells which. Its second half is
/// for the people whose account was imported without a CUS (`cus account import`, empty
/// `cus_hash`): told to everyone who fails, so it does not single out those RUTs — a
/// message of their own would tell a stranger typing any RUT that it has an account.
const WRONG_CREDENTIALS: &str = "RUT o Clave CUS incorrectos. Si no recuerda su Clave CUS, o si su cuenta fue traída del sistema anterior sin una, use «Genere nueva CUS».";

#[derive(Template, WebTemplate, Default)]
#[template(path = "account/login.html")]
struct LoginPage {
    chrome: Chrome,
    rid: String,
    rut: String,
    client_name: Option<String>,
    /// Shown only when it is https (the page's CSP then allows https images).
    client_logo: Option<String>,
    rut_error: Option<String>,
    form_error: Option<String>,
    /// After a few failures for this RUT the captcha is part of the form.
    show_captcha: bool,
    errors: FieldErrors,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/logged_in.html")]
struct LoggedInPage {
    csrf: String,
    name: String,
    rut: String,
}

pub async fn login_page(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(q): Query<RidQuery>,
) -> Result<Response, PageError> {
    let rid = q.rid.unwrap_or_default();
    let pending = match rid.as_str() {
        "" => None,
        rid => Some(crate::http::oidc::pending(&app, rid).await?),
    };
    // A RUT in login_hint pre-fills the form (OpenID Core §3.1.2.1).
    let rut = pending
        .as_ref()
        .and_then(|p| Rut::parse(p.login_hint.as_deref()?).ok())
        .map(|r| r.to_string())
        .unwrap_or_default();
    let page = LoginPage {
        rid,
        rut,
        client_logo: pending
            .as_ref()
            .and_then(|p| https_logo(p.client_logo.as_deref())),
        client_name: pending.map(|p| p.client_name),
        ..LoginPage::default()
    };
    render(&app, jar, StatusCode::OK, page).await
}

pub async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    let limit = app.config.limits.form_per_ip;
    limits::check(&app, "form-ip", &meta.limit_address(), limit).await?;
    let page = retyped(
        &app,
        form.rid.unwrap_or_default(),
        form.rut.unwrap_or_default(),
    )
    .await;
    let rut = match Rut::parse(&page.rut) {
        Ok(rut) => rut,
        Err(e) => {
            let page = LoginPage {
                rut_error: Some(e.to_string()),
                ..page
            };
            return render(&app, jar, StatusCode::UNPROCESSABLE_ENTITY, page).await;
        }
    };
    // The per-RUT budget of a login is the lockout ladder inside `attempt`: it counts only
    // attempts that carry the captcha once it is required, so strangers cannot spend it.
    let captcha = credentials::Captcha::Typed {
        id: form.captcha_id.as_deref().unwrap_or(""),
        answer: form.captcha.as_deref().unwrap_or(""),
    };
    let cus = form.cus.as_deref().unwrap_or("");
    match credentials::attempt(&app, &rut, cus, captcha, "/Account", &meta).await? {
        Attempt::Verified(verified) => {
            logged_in(&app, jar, &meta, &verified.account, &page.rid).await
        }
        refused => {
            let (status, page) = refused_page(refused, page);
            render(&app, jar, status, page).await
        }
    }
}

/// The login page for what a form sent: the RUT as typed, and the request it continues —
/// only a `rid` that names a pending request goes on (`authorize::named_pending`).
async fn retyped(app: &AppState, rid: String, rut: String) -> LoginPage {
    let pending = authorize::named_pending(app, &rid).await;
    LoginPage {
        rid: if pending.is_some() {
            rid
        } else {
            String::new()
        },
        rut,
        client_logo: pending
            .as_ref()
            .and_then(|p| https_logo(p.client_logo.as_deref())),
        client_name: pending.map(|p| p.client_name),
        ..LoginPage::default()
    }
}

/// A portal's logo as the login page may show it: only from an https address.
fn https_logo(logo: Option<&str>) -> Option<String> {
    logo.filter(|l| l.starts_with("https://"))
        .map(str::to_owned)
}

/// The login page again, saying why the attempt did not sign the person in.
fn refused_page(attempt: Attempt, page: LoginPage) -> (StatusCode, LoginPage) {
    match attempt {
        Attempt::Locked => (
            StatusCode::TOO_MANY_REQUESTS,
            LoginPage {
                form_error: Some(crate::lifecycle::natural::LOCKED.to_owned()),
                ..page
            },
        ),
        Attempt::CaptchaRequired => (
            StatusCode::UNPROCESSABLE_ENTITY,
            LoginPage {
                show_captcha: true,
                errors: FieldErrors::from([(
                    "captcha",
                    "Por seguridad, ingrese las letras de la imagen.".to_owned(),
                )]),
                ..page
            },
        ),
        Attempt::Wrong { captcha_required } => (
            StatusCode::UNAUTHORIZED,
            LoginPage {
                form_error: Some(WRONG_CREDENTIALS.to_owned()),
                show_captcha: captcha_required,
                ..page
            },
        ),
        Attempt::Disabled => (
            StatusCode::FORBIDDEN,
            LoginPage {
                form_error: Some(crate::lifecycle::natural::DISABLED.to_owned()),
                ..page
            },
        ),
        // 503: `page::render` adds the `Retry-After`.
        Attempt::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            LoginPage {
                form_error: Some(crate::http::page::BUSY.to_owned()),
                ..page
            },
        ),
        Attempt::Verified(_) => (StatusCode::OK, page),
    }
}

/// A verified login: a new session, the audit event, and where the person goes next.
async fn logged_in(
    app: &AppState,
    jar: CookieJar,
    meta: &RequestMeta,
    account: &Account,
    rid: &str,
) -> Result<Response, PageError> {
    let jar = start_session(app, jar, account, meta).await?;
    let subject = Some(account.rut.compact());
    let event = audit::of_request(AuditKind::LoginSucceeded, subject, meta);
    audit::record(app, &event).await;
    tracing::info!(account.id = %account.id, "login succeeded");
    if account.cus_must_change {
        let to = format!("/natural/nueva-clave?rid={rid}");
        return Ok((jar, Redirect::to(&to)).into_response());
    }
    if rid.is_empty() {
        let (jar, csrf) = csrf::token(app, jar);
        let page = LoggedInPage {
            csrf,
            name: account.display_name(),
            rut: account.rut.to_string(),
        };
        return Ok(no_store((jar, page).into_response()));
    }
    Ok((jar, Redirect::to(&format!("/authorize/resume?rid={rid}"))).into_response())
}

/// Renders the login page, with a fresh captcha when it is shown.
async fn render(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    page: LoginPage,
) -> Result<Response, PageError> {
    let captcha = if page.show_captcha {
        Captcha::Shown
    } else {
        Captcha::Hidden
    };
    let logo = page.client_logo.is_some();
    let response = page::render(app, jar, status, captcha, |chrome| LoginPage {
        chrome,
        ..page
    })
    .await?;
    Ok(if logo {
        crate::http::with_https_images(response)
    } else {
        response
    })
}

/// Starts a new SSO session for `account` (ending the browser's previous one: the id
/// rotates at every login) and returns the jar with its cookie.
pub async fn start_session(
    app: &AppState,
    jar: CookieJar,
    account: &Account,
    meta: &RequestMeta,
) -> anyhow::Result<CookieJar> {
    if let Some(old) = jar.get(session::cookie_name(app)) {
        session::end(app, old.value()).await?;
    }
    let (cookie, _) = session::create(app, account.id, account.cus_must_change, meta).await?;
    Ok(jar.add(session_cookie(app, cookie)))
}

fn session_cookie(app: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((session::cookie_name(app), value))
        .path("/")
        .http_only(true)
        .secure(app.issuer.starts_with("https://"))
        .same_site(SameSite::Lax)
        .build()
}

/// Ends the browser's session (telling the portals it signed in to) and removes its
/// cookie; a failure to end it is logged, and the cookie goes anyway.
pub async fn sign_out(app: &AppState, jar: CookieJar) -> CookieJar {
    if let Some(cookie) = jar.get(session::cookie_name(app))
        && let Err(e) = session::end(app, cookie.value()).await
    {
        tracing::error!(error = %format!("{e:#}"), "ending the session failed");
    }
    jar.remove(Cookie::build(session::cookie_name(app)).path("/").build())
}
