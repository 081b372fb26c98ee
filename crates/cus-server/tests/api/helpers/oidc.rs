//! The relying party's side of the protocol: authorization URLs, what comes back on the
//! callback, and what an ID token says.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use josekit::jwk::Jwk;
use josekit::jws::{self, ES256, JwsHeader};

use super::html::location;
use super::{Backend, CUS, REDIRECT, RUT, TestApp, TestClient};

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

/// The error a redirect to the relying party carries.
pub async fn redirected_error(app: &TestApp, url: &str) -> HashMap<String, String> {
    let response = app.browser().get(url).send().await.expect("authorize");
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    let to = location(&response);
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
    assert_eq!(q.get("iss"), Some(&app.base));
    q
}

/// An authorization code for `client`, `RUT` signed in (and consenting) in a new browser.
pub async fn code_for(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let callback = app
        .browse_to_callback(
            &app.browser(),
            &authorize_url(app, &client.id, extra),
            RUT,
            CUS,
        )
        .await;
    code_of(&callback)
}

/// Calls `/token` with `form` as `client` (secret in Basic, or `client_id` when public);
/// the status, the JSON answer and the headers.
pub async fn token(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = app.http.post(app.url("/token")).form(form);
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.id, Some(secret));
    } else {
        let mut with_id = form.to_vec();
        with_id.push(("client_id", &client.id));
        request = app.http.post(app.url("/token")).form(&with_id);
    }
    let response = request.send().await.expect("token");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.expect("json"), headers)
}

/// Redeems `code` (with the PKCE `verifier` when given); the answer must not be cached.
pub async fn redeem(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let (status, body, headers) = token(app, client, &form).await;
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, body)
}

/// A server with the account `RUT` and a first-party client (`public`: no secret).
pub async fn setup(backend: Backend, public: bool) -> (TestApp, TestClient) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(public, true).await;
    (app, client)
}

/// RFC 7523's `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client that authenticates with `private_key_jwt` against `jwks`.
pub fn assertion_client(jwks: Option<Value>) -> cus_server::clients::ClientMetadata {
    cus_server::clients::ClientMetadata {
        client_name: Some("Portal con llave".into()),
        grant_types: Some(vec!["client_credentials".into()]),
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        jwks,
        ..Default::default()
    }
}

/// `claims` signed ES256 with `private`, its `kid` in the header: a client assertion.
pub fn assertion(private: &Jwk, claims: &Value) -> String {
    let mut header = JwsHeader::new();
    header.set_key_id(private.key_id().expect("kid"));
    let signer = ES256.signer_from_jwk(private).expect("signer");
    jws::serialize_compact(&serde_json::to_vec(claims).expect("json"), &header, &signer)
        .expect("signed")
}

/// Posts `form` to `path` with no credentials; the status and the JSON answer.
pub async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A client-credentials request authenticated by the assertion `signed` alone.
pub async fn token_with(app: &TestApp, signed: &str) -> (u16, Value) {
    post_form(
        app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", signed),
        ],
    )
    .await
}

/// A non-first-party confidential client allowed `scope`.
pub async fn portal_allowed(app: &TestApp, scope: &str) -> TestClient {
    app.client_from(cus_server::clients::ClientMetadata {
        client_name: Some("Portal externo".into()),
        redirect_uris: Some(vec![REDIRECT.into()]),
        post_logout_redirect_uris: Some(vec!["http://127.0.0.1:9/bye".into()]),
        scope: Some(scope.into()),
        first_party: Some(false),
        ..Default::default()
    })
    .await
}

/// `/userinfo` with `access_token`; the status and the JSON answer.
pub async fn userinfo(app: &TestApp, access_token: &str) -> (u16, Value) {
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A `claims` request for e-mail, RUT and phone number.
pub const RELEASE_ASKED: &str =
    r#"{"userinfo":{"email":null,"rut":null},"id_token":{"phone_number":null}}"#;

/// The pending request id in a redirect to a page (`/Account?rid=…`).
pub fn rid_of(to: &str) -> String {
    query_of(&format!("http://x{to}"))
        .get("rid")
        .cloned()
        .unwrap_or_else(|| panic!("no rid in {to}"))
}

/// `/introspect` of `token` as `client`.
pub async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    app.http
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json")
}
