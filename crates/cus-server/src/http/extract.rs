//! What handlers take from a request, already checked: a web form (decoded by
//! `cus_core::forms`, the one decoder the fuzz targets drive too), a web form whose CSRF
//! token is valid, and the browser's SSO session. A request that fails a check never
//! reaches the handler: it gets the [`PageError`] the check calls for.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use cus_core::forms::{
    ConsentForm, CsrfOnlyForm, EndOwnSessionForm, EndSessionParams, LifecycleForm, LoginForm,
    WithdrawForm,
};
use serde::de::DeserializeOwned;

pub use cus_core::forms::protocol as decode;

use super::csrf;
use super::errors::PageError;
use crate::app::AppState;
use crate::oidc::session::{self, Session};

/// A web form from one of our pages. A body that is not such a form gets a Spanish page,
/// not a framework message.
pub struct WebForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let not_a_form = || {
            PageError::bad_request(
                "Solicitud no válida",
                "El formulario recibido no es válido. Vuelva a la página anterior e inténtelo nuevamente.",
            )
        };
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| not_a_form())?;
        cus_core::forms::web(&body)
            .map(WebForm)
            .map_err(|_| not_a_form())
    }
}

/// A form that carries the CSRF token of the page it came from.
pub trait Protected {
    fn csrf(&self) -> Option<&str>;
}

macro_rules! protected {
    ($($form:ty => |$f:ident| $token:expr),+ $(,)?) => {
        $(impl Protected for $form {
            fn csrf(&self) -> Option<&str> {
                let $f = self;
                $token
            }
        })+
    };
}

protected! {
    LifecycleForm => |f| Some(f.csrf.as_str()),
    LoginForm => |f| f.csrf.as_deref(),
    ConsentForm => |f| f.csrf.as_deref(),
    WithdrawForm => |f| f.csrf.as_deref(),
    EndOwnSessionForm => |f| f.csrf.as_deref(),
    CsrfOnlyForm => |f| f.csrf.as_deref(),
    EndSessionParams => |f| f.csrf.as_deref(),
}

/// A web form whose CSRF token matches the browser's cookie: every state-changing POST of
/// a page takes its form through this, so none can forget the check.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Protected> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let jar = CookieJar::from_headers(&parts.headers);
        let WebForm(form) =
            WebForm::<T>::from_request(Request::from_parts(parts, body), app).await?;
        if !csrf::verify(app, &jar, form.csrf()) {
            return Err(PageError::FormExpired);
        }
        Ok(Self(form))
    }
}

/// The SSO session the browser's cookie names, if it is still valid (`session::load`
/// applies the idle and absolute timeouts and the CUS-change revocation).
pub struct CurrentSession(pub Option<Session>);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        match jar.get(session::cookie_name(app)) {
            Some(cookie) => Ok(Self(session::load(app, cookie.value()).await?)),
            None => Ok(Self(None)),
        }
    }
}

impl CurrentSession {
    /// The session, or the login page (continuing request `rid`, if any) first.
    pub fn required(self, rid: &str) -> Result<Session, PageError> {
        self.0.ok_or_else(|| PageError::SignInFirst(login_url(rid)))
    }
}

/// The login page, continuing pending request `rid` when there is one.
pub fn login_url(rid: &str) -> String {
    if rid.is_empty() {
        "/Account".to_owned()
    } else {
        format!("/Account?rid={rid}")
    }
}

/// The raw parameters of an endpoint that takes them as a GET query or a POST form body
/// (OpenID Core §3.1.2.1, RP-Initiated Logout 1.0 §2). A body over the route's limit is
/// 413.
pub fn query_or_body(
    method: &Method,
    query: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, PageError> {
    if method != Method::POST {
        return Ok(query.unwrap_or_default().into_bytes());
    }
    let body = body.map_err(|_| PageError::Invalid {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        title: "Solicitud no válida",
        message: "La solicitud es demasiado grande.".into(),
    })?;
    Ok(body.to_vec())
}
