//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), on both backends: when a
//! session ends — by logout, or because a new CUS ends them all — every portal it signed
//! in to that has a `backchannel_logout_uri` receives a logout token it can verify with
//! the JWKS; a portal that fails is retried; one without the URI is not called.

use josekit::jwk::JwkSet;
use serde_json::Value;

use crate::helpers::fakes::portal_endpoints;
use crate::helpers::forms::{open_form, post};
use crate::helpers::oidc::payload;
use crate::helpers::{Backend, CUS, REDIRECT, RUT, TestApp, TestClient, on_both_backends, outbox};

on_both_backends!(
    logout_tells_every_portal_of_the_session,
    a_new_cus_tells_the_portals_of_every_session,
    a_new_login_in_the_browser_ends_its_old_session,
);

/// A first-party portal (no consent asked), with a back-channel URI when `endpoint` is set.
async fn portal(app: &TestApp, endpoint: Option<String>) -> TestClient {
    app.client_from(cus_server::clients::ClientMetadata {
        client_name: Some("Portal".into()),
        redirect_uris: Some(vec![REDIRECT.into()]),
        first_party: Some(true),
        backchannel_logout_uri: endpoint,
        ..Default::default()
    })
    .await
}

/// Signs `browser` in to `client`; the ID token's claims, and the token.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, client: &TestClient) -> (Value, String) {
    let id_token = app.id_token(browser, client, RUT, CUS).await;
    (payload(&id_token), id_token)
}

/// Verifies a logout token as a portal would (signature through the JWKS, then §2.6's
/// checks) and returns its claims.
async fn verified_logout_token(app: &TestApp, token: &str, client_id: &str) -> Value {
    let jwks = app.get("/jwks").await.bytes().await.expect("jwks");
    let set = JwkSet::from_bytes(&jwks).expect("JWK Set");
    let header = josekit::jwt::decode_header(token).expect("header");
    assert_eq!(
        header.claim("typ").and_then(Value::as_str),
        Some("logout+jwt")
    );
    let kid = header.claim("kid").and_then(Value::as_str).expect("kid");
    let jwk = set.get(kid).into_iter().next().expect("key in the JWKS");
    let verifier = josekit::jws::RS256
        .verifier_from_jwk(jwk)
        .expect("RS256 key (the portal's id_token algorithm)");
    let (claims, _) = josekit::jwt::decode_with_verifier(token, &verifier).expect("signature");
    let claims = Value::Object(claims.into());
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["aud"], client_id);
    assert_eq!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"],
        serde_json::json!({})
    );
    assert!(claims.get("nonce").is_none(), "§2.4: no nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert!((1..=120).contains(&lifetime), "{lifetime}");
    claims
}

async fn deliver(app: &TestApp) -> usize {
    app.deliver_with(&app.config.outbox).await
}

fn logout_notices(notices: &[cus_core::notification::Notification]) -> Vec<String> {
    let mut clients: Vec<String> = notices
        .iter()
        .filter(|n| n.channel == cus_core::notification::Channel::Logout)
        .map(|n| n.recipient.clone())
        .collect();
    clients.sort();
    clients
}

async fn logout_tells_every_portal_of_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let b = portal(&app, Some(format!("{endpoints}/b"))).await;
    let silent = portal(&app, None).await;
    let broken = portal(&app, Some(format!("{endpoints}/broken"))).await;
    let browser = app.browser();
    let (id_a, hint) = sign_in(&app, &browser, &a).await;
    let (id_b, _) = sign_in(&app, &browser, &b).await;
    sign_in(&app, &browser, &silent).await;
    sign_in(&app, &browser, &broken).await;
    assert_eq!(id_a["sid"], id_b["sid"], "one SSO session");
    // Someone else's session is not touched.
    let other_browser = app.browser();
    sign_in(&app, &other_browser, &a).await;

    let response = browser
        .get(app.url(&format!("/end_session?id_token_hint={hint}")))
        .send()
        .await
        .expect("logout");
    assert!(response.status().is_success() || response.status().is_redirection());
    let mut expected = vec![a.id.clone(), b.id.clone(), broken.id.clone()];
    expected.sort();
    assert_eq!(logout_notices(&outbox(&app).await), expected);

    assert_eq!(deliver(&app).await, 2, "a and b; broken failed");
    let mut received = received.lock().expect("lock").clone();
    received.sort();
    assert_eq!(
        received.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    for ((_, token), client) in received.iter().zip([&a, &b]) {
        let claims = verified_logout_token(&app, token, &client.id).await;
        assert_eq!(claims["sid"], id_a["sid"]);
        assert_eq!(claims["sub"], id_a["sub"]);
    }
    // The failed notice waits for its retry, its attempt counted.
    let pending = app.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].notification.recipient, broken.id);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(deliver(&app).await, 0, "not due before its backoff");
}

async fn a_new_cus_tells_the_portals_of_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let b = portal(&app, Some(format!("{endpoints}/b"))).await;
    let (at_work, _) = sign_in(&app, &app.browser(), &a).await;
    let (at_home, _) = sign_in(&app, &app.browser(), &b).await;
    assert_ne!(at_work["sid"], at_home["sid"], "two sessions");

    app.clock.advance(1);
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    let (status, page) = post(
        &app,
        &browser,
        "/natural/cambiar",
        &[
            ("csrf", form.csrf.clone()),
            ("captcha_id", form.captcha_id.clone()),
            ("captcha", form.captcha.clone()),
            ("rut", RUT.into()),
            ("cus", CUS.into()),
            ("cus_nueva", "otra clave bien larga".into()),
            ("cus_repetida", "otra clave bien larga".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(logout_notices(&outbox(&app).await), expected);

    // The e-mail telling of the change, and both notices.
    assert_eq!(deliver(&app).await, 3);
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 2);
    for (name, token) in &received {
        let (client, session) = if name == "a" {
            (&a, &at_work)
        } else {
            (&b, &at_home)
        };
        let claims = verified_logout_token(&app, token, &client.id).await;
        assert_eq!(claims["sid"], session["sid"]);
        assert_eq!(claims["sub"], session["sub"]);
    }
}

async fn a_new_login_in_the_browser_ends_its_old_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (endpoints, received) = portal_endpoints().await;
    app.account().await;
    let a = portal(&app, Some(format!("{endpoints}/a"))).await;
    let browser = app.browser();
    let (first, _) = sign_in(&app, &browser, &a).await;
    // Someone signs in again at the same browser (`prompt=login` shows the form).
    let again = app.url(&format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={REDIRECT}&scope=openid\
         &state=s&prompt=login",
        a.id
    ));
    app.browse_to_callback(&browser, &again, RUT, CUS).await;
    assert_eq!(
        logout_notices(&outbox(&app).await),
        std::slice::from_ref(&a.id)
    );
    assert_eq!(deliver(&app).await, 1);
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1);
    let claims = verified_logout_token(&app, &received[0].1, &a.id).await;
    assert_eq!(
        claims["sid"], first["sid"],
        "the old session, not the new one"
    );
}
