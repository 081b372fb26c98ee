//! The one reader of `Authorization: Bearer <token>` (RFC 6750 §2.1), used by userinfo, the
//! admin API and RFC 7592 client management. The scheme name is case-insensitive
//! (RFC 9110 §11.1); the token is taken as sent, and an empty one is no token.

use axum::http::{HeaderMap, header};

/// The bearer token of `headers`, if they carry one.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    cus_core::oauth::credentials(value, "Bearer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header value"));
        headers
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_is_required() {
        assert_eq!(token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(token(&headers("bearer abc")), Some("abc"));
        assert_eq!(token(&headers("BEARER abc")), Some("abc"));
        assert_eq!(token(&headers("Bearer ")), None);
        assert_eq!(token(&headers("Basic abc")), None);
        assert_eq!(token(&headers("Bearerabc")), None);
        assert_eq!(token(&HeaderMap::new()), None);
    }
}
