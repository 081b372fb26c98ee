//! `private_key_jwt` client authentication (OpenID Core §9, RFC 7523): a client that
//! registered public keys signs a short-lived assertion instead of sending a secret.

use serde_json::{Value, json};

use crate::helpers::oidc::key_pair;
use crate::helpers::oidc::{ASSERTION_TYPE, assertion, assertion_client, post_form, token_with};
use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(
    assertion_authenticates_once_and_only_when_every_rule_holds,
    registration_refuses_private_key_jwt_without_usable_public_keys,
);

async fn assertion_authenticates_once_and_only_when_every_rule_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (private, jwks) = key_pair("portal-key-1");
    let created = cus_server::clients::create(
        app.state.store.as_ref(),
        None,
        assertion_client(Some(jwks)),
        false,
        "test",
        app.state.clock.now(),
    )
    .await
    .expect("client registered");
    assert!(created.secret.is_none(), "no secret for private_key_jwt");
    let id = created.client.client_id.0;
    let now = app.state.clock.now().unix_timestamp();
    let token_url = app.url("/token");
    let claims = |jti: &str| json!({"iss": id, "sub": id, "aud": token_url, "exp": now + 60, "iat": now, "jti": jti});

    let first = assertion(&private, &claims("jti-1"));
    let (status, body) = token_with(&app, &first).await;
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let (status, body) = token_with(&app, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replayed"
    );

    let (stranger, _) = key_pair("portal-key-1");
    let (status, _) = token_with(&app, &assertion(&stranger, &claims("jti-2"))).await;
    assert_eq!(status, 401, "signed by a key the client did not register");

    let mut elsewhere = claims("jti-3");
    elsewhere["aud"] = json!("https://otro-servidor.example/token");
    let (status, _) = token_with(&app, &assertion(&private, &elsewhere)).await;
    assert_eq!(status, 401, "meant for another server");

    let mut long_lived = claims("jti-4");
    long_lived["exp"] = json!(now + 24 * 3600);
    let (status, _) = token_with(&app, &assertion(&private, &long_lived)).await;
    assert_eq!(status, 401, "lives a day");

    let mut expired = claims("jti-5");
    expired["exp"] = json!(now - 1);
    let (status, _) = token_with(&app, &assertion(&private, &expired)).await;
    assert_eq!(status, 401, "expired");

    let (status, body) = post_form(
        &app,
        "/token",
        &[("grant_type", "client_credentials"), ("client_id", &id)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "no proof"
    );

    // The same method at introspection, with a fresh assertion.
    let mut for_introspection = claims("jti-6");
    for_introspection["aud"] = json!(app.url("/introspect"));
    let (status, body) = post_form(
        &app,
        "/introspect",
        &[
            ("token", &access_token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion(&private, &for_introspection)),
        ],
    )
    .await;
    assert_eq!(
        (status, body["active"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("discovery");
    assert!(
        discovery["token_endpoint_auth_methods_supported"]
            .as_array()
            .expect("methods")
            .contains(&json!("private_key_jwt"))
    );
}

async fn registration_refuses_private_key_jwt_without_usable_public_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (private, _) = key_pair("k");
    let with_private_member = json!({ "keys": [serde_json::to_value(&private).expect("jwk")] });
    for jwks in [None, Some(json!({"keys": []})), Some(with_private_member)] {
        let result = cus_server::clients::create(
            app.state.store.as_ref(),
            None,
            assertion_client(jwks.clone()),
            false,
            "test",
            app.state.clock.now(),
        )
        .await;
        assert!(result.is_err(), "accepted jwks {jwks:?}");
    }
    assert!(
        app.state
            .store
            .list_clients()
            .await
            .expect("clients")
            .is_empty(),
        "nothing was written"
    );
}
