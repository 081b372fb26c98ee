//! CSRF protection for every form: a signed double-submit token. The cookie
//! (`SameSite=Strict`, HttpOnly, `__Host-` over https) holds `random.HMAC(random)`; every
//! form carries the same value in a hidden field. A POST needs both, equal, and the
//! signature valid, so a cookie planted from a sibling domain does not pass.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::secrets::{hmac, random_token};

fn cookie_name(app: &AppState) -> &'static str {
    if app.issuer.starts_with("https://") {
        "__Host-cus_csrf"
    } else {
        "cus_csrf"
    }
}

/// The browser's CSRF token, created (and set in the returned jar) if it has none.
pub fn token(app: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(cookie_name(app)).map(|c| c.value().to_owned())
        && signed(app, &existing)
    {
        return (jar, existing);
    }
    let nonce = random_token();
    let value = format!("{nonce}.{}", hmac(&app.csrf_key, nonce.as_bytes()));
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
    let (Some(cookie), Some(submitted)) = (jar.get(cookie_name(app)), submitted) else {
        return false;
    };
    let value = cookie.value();
    let same: bool = value.as_bytes().ct_eq(submitted.as_bytes()).into();
    signed(app, value) & same
}

/// Whether a cookie value is `nonce.mac` with our signature.
fn signed(app: &AppState, value: &str) -> bool {
    match value.split_once('.') {
        Some((nonce, mac)) => hmac(&app.csrf_key, nonce.as_bytes())
            .as_bytes()
            .ct_eq(mac.as_bytes())
            .into(),
        None => false,
    }
}
