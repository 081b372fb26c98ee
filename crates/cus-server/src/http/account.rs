//! People's pages around the protocol: the login page `/Account`, consent, logout.

use super::params::WebForm;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cus_core::Rut;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::claims::Destination;
use cus_core::forms::{ConsentForm, EndSessionParams, LoginForm};
use cus_core::oauth::{ErrorCode, OAuthError};

use super::csrf;
use super::errors;
use super::meta::RequestMeta;
use super::oidc::{RidQuery, current_session, expired_request, proceed};
use super::routes::Routes;
use crate::app::AppState;
use crate::lifecycle::credentials::{self, Attempt};
use crate::lifecycle::{FieldErrors, captcha};
use crate::limits;
use crate::oidc::authorize;
use crate::oidc::session;

pub fn routes() -> Routes {
    Routes::new()
        .route("/Account", get(login_page).post(login))
        .route("/consent", get(consent_page).post(consent))
        .route("/end_session", get(end_session).post(end_session))
        .route("/end_session/confirm", post(end_session_confirm))
}

/// The one message for a wrong RUT or a wrong CUS: it never tells which.
const WRONG_CREDENTIALS: &str = "RUT o Clave CUS incorrectos.";

#[derive(Template, WebTemplate, Default)]
#[template(path = "account/login.html")]
struct LoginPage {
    csrf: String,
    rid: String,
    rut: String,
    client_name: Option<String>,
    rut_error: Option<String>,
    form_error: Option<String>,
    /// After a few failures for this RUT the captcha is part of the form.
    show_captcha: bool,
    captcha_id: String,
    captcha_image: String,
    errors: FieldErrors,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/logged_in.html")]
struct LoggedInPage {
    csrf: String,
    name: String,
    rut: String,
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

async fn login_page(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(q): Query<RidQuery>,
) -> Response {
    let rid = q.rid.unwrap_or_default();
    let pending = if rid.is_empty() {
        None
    } else {
        match authorize::load_pending(&app, &rid).await {
            Ok(Some(p)) => Some(p),
            Ok(None) => return expired_request(),
            Err(e) => return errors::internal(&e),
        }
    };
    // A RUT in login_hint pre-fills the form (OpenID Core §3.1.2.1).
    let rut = pending
        .as_ref()
        .and_then(|p| p.login_hint.as_deref())
        .and_then(|h| Rut::parse(h).ok())
        .map(|r| r.to_string())
        .unwrap_or_default();
    let (jar, csrf) = csrf::token(&app, jar);
    let page = LoginPage {
        csrf,
        rid,
        rut,
        client_name: pending.map(|p| p.client_name),
        ..LoginPage::default()
    };
    no_store((jar, page).into_response())
}

/// Starts a new SSO session for `account` (ending the browser's previous one: the id
/// rotates at every login) and returns the jar with its cookie.
pub(super) async fn start_session(
    app: &AppState,
    jar: CookieJar,
    account: &cus_core::Account,
) -> anyhow::Result<CookieJar> {
    if let Some(old) = jar
        .get(session::cookie_name(app))
        .map(|c| c.value().to_owned())
    {
        session::end(app, &old).await?;
    }
    let (cookie, _) = session::create(app, account.id, account.cus_must_change).await?;
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

async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<LoginForm>,
) -> Response {
    if !csrf::verify(&app, &jar, form.csrf.as_deref()) {
        return errors::form_expired();
    }
    let ip = meta.limit_address();
    if let Some(response) = limited(&app, "form-ip", &ip, app.config.limits.form_per_ip).await {
        return response;
    }
    let typed_rid = form.rid.as_deref().unwrap_or_default();
    let (rid, client_name) = match authorize::named_pending(&app, typed_rid).await {
        Some(p) => (form.rid.clone().unwrap_or_default(), Some(p.client_name)),
        None => (String::new(), None),
    };
    let (jar, csrf_token) = csrf::token(&app, jar);
    let page = LoginPage {
        csrf: csrf_token,
        rid: rid.clone(),
        rut: form.rut.clone().unwrap_or_default(),
        client_name,
        ..LoginPage::default()
    };
    let rut = match Rut::parse(page.rut.as_str()) {
        Ok(r) => r,
        Err(e) => {
            let page = LoginPage {
                rut_error: Some(e.to_string()),
                ..page
            };
            return render_login(&app, jar, StatusCode::UNPROCESSABLE_ENTITY, page).await;
        }
    };
    // The per-RUT budget of a login is the lockout ladder inside `attempt`: it counts only
    // attempts that carry the captcha once it is required, so strangers cannot spend it.
    let captcha = credentials::Captcha::Typed {
        id: form.captcha_id.as_deref().unwrap_or(""),
        answer: form.captcha.as_deref().unwrap_or(""),
    };
    let cus = form.cus.as_deref().unwrap_or("");
    let attempt = credentials::attempt(&app, &rut, cus, captcha, "/Account", &meta).await;
    let (status, page) = match attempt {
        Ok(Attempt::Verified(verified)) => {
            return logged_in(&app, jar, &meta, &verified.account, &rid).await;
        }
        Err(e) => return errors::internal(&e),
        Ok(Attempt::Locked) => (
            StatusCode::TOO_MANY_REQUESTS,
            LoginPage {
                form_error: Some(crate::lifecycle::natural::LOCKED.to_owned()),
                ..page
            },
        ),
        Ok(Attempt::CaptchaRequired) => (
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
        Ok(Attempt::Wrong { captcha_required }) => (
            StatusCode::UNAUTHORIZED,
            LoginPage {
                form_error: Some(WRONG_CREDENTIALS.to_owned()),
                show_captcha: captcha_required,
                ..page
            },
        ),
    };
    render_login(&app, jar, status, page).await
}

/// A verified login: a new session, the audit event, and where the person goes next.
async fn logged_in(
    app: &AppState,
    jar: CookieJar,
    meta: &RequestMeta,
    account: &cus_core::Account,
    rid: &str,
) -> Response {
    let jar = match start_session(app, jar, account).await {
        Ok(jar) => jar,
        Err(e) => return errors::internal(&e),
    };
    let mut event = AuditEvent::new(
        AuditKind::LoginSucceeded,
        app.clock.now(),
        Some(account.rut.compact()),
    );
    event.ip = meta.ip.clone();
    event.user_agent = meta.user_agent.clone();
    crate::audit::record(app, &event).await;
    tracing::info!(account.id = %account.id, "login succeeded");
    if account.cus_must_change {
        let to = format!("/natural/nueva-clave?rid={rid}");
        return (jar, Redirect::to(&to)).into_response();
    }
    if rid.is_empty() {
        let (jar, csrf) = csrf::token(app, jar);
        let page = LoggedInPage {
            csrf,
            name: account.display_name(),
            rut: account.rut.to_string(),
        };
        return no_store((jar, page).into_response());
    }
    (jar, Redirect::to(&format!("/authorize/resume?rid={rid}"))).into_response()
}

/// Renders the login page, with a fresh captcha when it is shown.
async fn render_login(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    mut page: LoginPage,
) -> Response {
    if page.show_captcha {
        match captcha::new_challenge(app).await {
            Ok(c) => {
                page.captcha_id = c.id;
                page.captcha_image = c.image;
            }
            Err(e) => return errors::internal(&e),
        }
    }
    no_store((status, jar, page).into_response())
}

/// The 429 page of a form over its rate limit, if it is.
pub(super) async fn limited(
    app: &AppState,
    name: &str,
    subject: &str,
    limit: crate::config::Limit,
) -> Option<Response> {
    errors::over_limit_page(limits::check(app, name, subject, limit).await)
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc/consent.html")]
struct ConsentPage {
    csrf: String,
    rid: String,
    client_name: String,
    items: Vec<&'static str>,
}

/// What each released claim means, in plain Spanish (`sub` is the first line of the page).
fn describe_claim(claim: &str) -> Option<&'static str> {
    match claim {
        "name" | "given_name" | "family_name" => Some("Su nombre y apellidos"),
        "email" | "email_verified" => Some("Su correo electrónico"),
        "phone_number" | "phone_number_verified" => Some("Su teléfono celular"),
        "address" => Some("Su dirección (calle, comuna y región)"),
        "RolUnico" | "rut" | "tipo_persona" => Some("Su RUT"),
        "razon_social" | "representante_legal" => {
            Some("La razón social y el representante legal de su empresa")
        }
        _ => None,
    }
}

async fn consent_page(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(q): Query<RidQuery>,
) -> Response {
    let rid = q.rid.unwrap_or_default();
    let Ok(Some(pending)) = authorize::load_pending(&app, &rid).await else {
        return expired_request();
    };
    match current_session(&app, &jar).await {
        Ok(Some(_)) => {}
        Ok(None) => return Redirect::to(&format!("/Account?rid={rid}")).into_response(),
        Err(e) => return errors::internal(&e),
    }
    // Exactly what will be released, wherever it goes: the one rule decides.
    let scopes = || pending.scopes.iter().map(String::as_str);
    let released = [
        (&pending.userinfo_claims, Destination::Userinfo),
        (&pending.id_token_claims, Destination::IdToken),
    ]
    .into_iter()
    .flat_map(|(asked, to)| {
        cus_core::claims::released(scopes(), asked.iter().map(String::as_str), to)
    });
    let mut items: Vec<&'static str> =
        vec!["Saber que usted es la misma persona cada vez que ingresa"];
    for item in released.filter_map(describe_claim) {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    let (jar, csrf) = csrf::token(&app, jar);
    no_store(
        (
            jar,
            ConsentPage {
                csrf,
                rid,
                client_name: pending.client_name,
                items,
            },
        )
            .into_response(),
    )
}

async fn consent(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<ConsentForm>,
) -> Response {
    if !csrf::verify(&app, &jar, form.csrf.as_deref()) {
        return errors::form_expired();
    }
    let rid = form.rid.unwrap_or_default();
    let Ok(Some(pending)) = authorize::load_pending(&app, &rid).await else {
        return expired_request();
    };
    let session = match current_session(&app, &jar).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to(&format!("/Account?rid={rid}")).into_response(),
        Err(e) => return errors::internal(&e),
    };
    if form.decision.as_deref() != Some("allow") {
        let _ = authorize::drop_pending(&app, &rid).await;
        let error = OAuthError::new(ErrorCode::AccessDenied, "the person declined");
        return Redirect::to(&authorize::error_redirect(
            &app,
            &pending.redirect_uri,
            pending.state.as_deref(),
            &error,
        ))
        .into_response();
    }
    // The same decision as every other path to a code: the consent is recorded only when
    // the login rules hold, and otherwise the person is sent where they must go first.
    proceed(&app, &rid, &pending, Some(&session), Some(&meta)).await
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc/logout.html")]
struct LogoutPage {
    csrf: String,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc/logged_out.html")]
struct LoggedOutPage;

/// The `post_logout_redirect_uri` if it is registered for the client the logout names (by
/// `id_token_hint`'s audience or `client_id`), and the verified hint's claims.
async fn logout_target(
    app: &AppState,
    p: &EndSessionParams,
) -> Result<(Option<String>, Option<serde_json::Value>), Response> {
    let hint = p
        .id_token_hint
        .as_deref()
        .and_then(|h| session::verify_hint(app, h));
    let client_id = hint
        .as_ref()
        .and_then(|c| {
            c["aud"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| c["aud"][0].as_str().map(str::to_owned))
        })
        .or_else(|| p.client_id.clone());
    let Some(uri) = p.post_logout_redirect_uri.as_deref() else {
        return Ok((None, hint));
    };
    let client = match client_id {
        Some(id) => app
            .store
            .client(&cus_core::ClientId(id))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            Ok((Some(uri.to_owned()), hint))
        }
        _ => Err(errors::page(
            StatusCode::BAD_REQUEST,
            "Solicitud no válida",
            "La dirección de retorno después de cerrar sesión no está registrada para esta aplicación.",
        )),
    }
}

async fn finish_logout(
    app: &AppState,
    jar: CookieJar,
    meta: RequestMeta,
    redirect: Option<String>,
    state: Option<&str>,
) -> Response {
    if let Some(cookie) = jar
        .get(session::cookie_name(app))
        .map(|c| c.value().to_owned())
    {
        if let Ok(Some(s)) = session::load(app, &cookie).await {
            let mut event = AuditEvent::new(
                AuditKind::Logout,
                app.clock.now(),
                Some(s.account_id.to_string()),
            );
            event.ip = meta.ip;
            event.user_agent = meta.user_agent;
            crate::audit::record(app, &event).await;
        }
        if let Err(e) = session::end(app, &cookie).await {
            tracing::error!(error = %format!("{e:#}"), "ending the session failed");
        }
    }
    let jar = jar.remove(Cookie::build(session::cookie_name(app)).path("/").build());
    match redirect {
        Some(uri) => (
            jar,
            Redirect::to(&authorize::with_params(&uri, &[("state", state)])),
        )
            .into_response(),
        None => no_store((jar, LoggedOutPage).into_response()),
    }
}

/// RP-Initiated Logout 1.0 §2: with an `id_token_hint` naming this very session the session
/// ends at once; otherwise (no hint, someone else's, no session) the person is asked to
/// confirm — a logout must not be forced on them.
async fn end_session(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    method: axum::http::Method,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let raw = if method == axum::http::Method::POST {
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let Ok(p) = super::params::decode::<EndSessionParams>(&raw) else {
        return errors::page(
            StatusCode::BAD_REQUEST,
            "Solicitud no válida",
            "La solicitud de cierre de sesión no es válida.",
        );
    };
    let (redirect, hint) = match logout_target(&app, &p).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let session = match current_session(&app, &jar).await {
        Ok(s) => s,
        Err(e) => return errors::internal(&e),
    };
    if let (Some(hint), Some(session)) = (&hint, &session)
        && session::named_by_hint(session, hint)
    {
        return finish_logout(&app, jar, meta, redirect, p.state.as_deref()).await;
    }
    let (jar, csrf) = csrf::token(&app, jar);
    let page = LogoutPage {
        csrf,
        post_logout_redirect_uri: redirect,
        state: p.state,
        client_id: p.client_id,
    };
    no_store((jar, page).into_response())
}

async fn end_session_confirm(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(p): WebForm<EndSessionParams>,
) -> Response {
    if !csrf::verify(&app, &jar, p.csrf.as_deref()) {
        return errors::form_expired();
    }
    let state = p.state.clone();
    let (redirect, _) = match logout_target(
        &app,
        &EndSessionParams {
            id_token_hint: None,
            ..p
        },
    )
    .await
    {
        Ok(t) => t,
        Err(page) => return page,
    };
    finish_logout(&app, jar, meta, redirect, state.as_deref()).await
}
