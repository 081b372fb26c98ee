//! A portal's side of back-channel logout (OpenID Connect Back-Channel Logout 1.0): portals
//! registered with an endpoint, signed in to, and the logout tokens they receive, verified
//! as a portal would.

use josekit::jwk::JwkSet;
use serde_json::Value;

use super::oidc::payload;
use super::{CUS, REDIRECT, RUT, TestApp, TestClient};

/// A first-party portal (no consent asked), with a back-channel URI when `endpoint` is set.
pub async fn portal(app: &TestApp, endpoint: Option<String>) -> TestClient {
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
pub async fn sign_in_claims(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &TestClient,
) -> (Value, String) {
    let id_token = app.id_token(browser, client, RUT, CUS).await;
    (payload(&id_token), id_token)
}

/// Verifies a logout token as a portal would (signature through the JWKS, then §2.6's
/// checks) and returns its claims.
pub async fn verified_logout_token(app: &TestApp, token: &str, client_id: &str) -> Value {
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

pub async fn deliver(app: &TestApp) -> usize {
    app.deliver_with(&app.config.outbox).await
}

pub fn logout_notices(notices: &[cus_core::notification::Notification]) -> Vec<String> {
    let mut clients: Vec<String> = notices
        .iter()
        .filter(|n| n.channel == cus_core::notification::Channel::Logout)
        .map(|n| n.recipient.clone())
        .collect();
    clients.sort();
    clients
}
