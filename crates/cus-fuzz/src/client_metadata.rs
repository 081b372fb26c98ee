//! The JSON bodies of the admin API and of dynamic registration (RFC 7591/7592), as far as
//! they reach a parser: the document itself, the redirect and logout URIs, the contacts,
//! the scope, and above all `jwks` — a JWK Set chosen by whoever holds an initial access
//! token. `clients::apply` composes exactly these calls (it lives in `cus-server`, whose
//! fuzz build is too slow for the test command); each must hold its contract on any input.

use cus_core::client::validate_redirect_uri;
use cus_core::contact::parse_email;
use cus_core::oauth::split_scopes;
use cus_jose::assertion::ClientKeys;
use serde_json::Value;

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for list in ["redirect_uris", "post_logout_redirect_uris"] {
        for uri in body[list].as_array().into_iter().flatten() {
            let Some(uri) = uri.as_str() else { continue };
            if validate_redirect_uri(uri).is_ok() {
                // What an accepted URI is, restated.
                let parsed = url::Url::parse(uri).expect("accepted URIs are absolute");
                assert!(parsed.fragment().is_none() && !uri.contains('*'), "{uri}");
                match parsed.scheme() {
                    "https" => {}
                    "http" => assert!(
                        matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
                        "{uri}"
                    ),
                    scheme => assert!(scheme.contains('.'), "{uri}"),
                }
            }
        }
    }
    for contact in body["contacts"].as_array().into_iter().flatten() {
        if let Some(Ok(email)) = contact.as_str().map(parse_email) {
            assert!(email.contains('@') && email.len() <= 254, "{email}");
        }
    }
    if let Some(scope) = body["scope"].as_str() {
        let scopes = split_scopes(scope);
        for s in &scopes {
            assert!(!s.is_empty() && !s.contains(' '), "{s:?}");
            assert_eq!(scopes.iter().filter(|o| *o == s).count(), 1, "{s:?} twice");
        }
    }
    if let Some(jwks) = body.get("jwks")
        && let Ok(keys) = ClientKeys::from_jwks(jwks)
    {
        // Keys we accept never let an unsigned or garbage assertion through.
        for assertion in [
            "eyJhbGciOiJub25lIn0.eyJpc3MiOiJjIiwic3ViIjoiYyJ9.",
            "a.b.c",
            "",
        ] {
            assert!(
                keys.verify(assertion, "c", &["https://cus.sence.cl/token"], 0, 600)
                    .is_err()
            );
        }
    }
}
