//! The relying party's side of the protocol: authorization URLs, what comes back on the
//! callback, and what an ID token says.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::{REDIRECT, TestApp};

/// The PKCE pair of RFC 7636, Appendix B: `CHALLENGE` is S256 of `VERIFIER`.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An `/authorize` URL on `app` for `client_id` (code flow, the test redirect URI, state
/// `st4te`, nonce `n0nce`), then the `extra` parameters.
pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// The query parameters of an absolute URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The authorization code a callback carries.
pub fn code_of(callback: &url::Url) -> String {
    callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {callback}"))
}

/// The claims of a JWT, read without checking its signature.
pub fn payload(jwt: &str) -> Value {
    part(jwt, 1)
}

/// The `kid` in a JWT's header.
pub fn kid(jwt: &str) -> String {
    part(jwt, 0)["kid"].as_str().expect("kid").to_owned()
}

/// The JSON of a JWT's `index`th part (0 the header, 1 the claims).
fn part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// The relying party's own HTTP client: it never follows redirects (the `openidconnect`
/// crate requires that).
pub fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A new ES256 key pair named `kid`: the private key, and the public one as a JWK Set.
pub fn key_pair(kid: &str) -> (josekit::jwk::Jwk, Value) {
    let (private, public) = cus_jose::generate("ES256", kid).expect("key pair");
    (private, serde_json::json!({ "keys": [public] }))
}
