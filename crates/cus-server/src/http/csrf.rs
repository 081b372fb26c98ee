//! CSRF protection for every form: a random token in a `SameSite=Strict`, HttpOnly cookie
//! and in a hidden field; a POST must carry both, equal (compared in constant time).

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::secrets::random_token;

fn cookie_name(app: &AppState) -> &'static str {
    if app.issuer.starts_with("https://") {
        "__Host-cus_csrf"
    } else {
        "cus_csrf"
    }
}

/// The browser's CSRF token, created (and set in the returned jar) if it has none.
pub fn token(app: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(cookie_name(app)).map(|c| c.value().to_owned()) {
        return (jar, existing);
    }
    let value = random_token();
    let cookie = Cookie::build((cookie_name(app), value.clone()))
        .path("/")
        .http_only(true)
        .secure(app.issuer.starts_with("https://"))
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), value)
}

/// Whether a submitted form token matches the browser's cookie.
pub fn verify(app: &AppState, jar: &CookieJar, submitted: Option<&str>) -> bool {
    match (jar.get(cookie_name(app)), submitted) {
        (Some(cookie), Some(submitted)) if !submitted.is_empty() => {
            cookie.value().as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        _ => false,
    }
}
