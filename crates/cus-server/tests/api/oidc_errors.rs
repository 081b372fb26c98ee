//! Every refusal of the protocol endpoints, with its exact error.

use serde_json::Value;

use crate::helpers::html::location;
use crate::helpers::oidc::{CHALLENGE, VERIFIER, authorize_url, kid, query_of};
use crate::helpers::oidc::{code_for, redeem, redirected_error, setup, token};
use crate::helpers::{Backend, CUS, REDIRECT, RUT, on_both_backends};

on_both_backends!(
    unregistered_redirect_uri_is_an_error_page_never_a_redirect,
    public_client_without_pkce_is_refused,
    plain_pkce_is_refused,
    wrong_verifier_is_invalid_grant,
    reused_code_fails_and_revokes_the_first_tokens,
    expired_code_is_invalid_grant,
    reused_refresh_token_revokes_its_family,
    concurrent_refresh_within_grace_gets_the_same_pair,
    wrong_client_secret_is_401_with_www_authenticate,
    prompt_none_without_session_is_login_required,
    scope_without_openid_is_invalid_scope,
    prompt_login_asks_again,
    keys_rotate_and_old_tokens_still_verify,
);

async fn unregistered_redirect_uri_is_an_error_page_never_a_redirect(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let url = authorize_url(&app, &client.id, &[("scope", "openid")]).replace("callback", "evil");
    let response = app.browser().get(&url).send().await.expect("authorize");
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("redirect_uri")
    );
}

async fn public_client_without_pkce_is_refused(backend: Backend) {
    let (app, client) = setup(backend, true).await;
    let q = redirected_error(
        &app,
        &authorize_url(&app, &client.id, &[("scope", "openid")]),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("PKCE"));
}

async fn plain_pkce_is_refused(backend: Backend) {
    let (app, client) = setup(backend, true).await;
    let extra = [
        ("scope", "openid"),
        ("code_challenge", VERIFIER),
        ("code_challenge_method", "plain"),
    ];
    let q = redirected_error(&app, &authorize_url(&app, &client.id, &extra)).await;
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("plain"));
}

async fn wrong_verifier_is_invalid_grant(backend: Backend) {
    let (app, client) = setup(backend, true).await;
    let extra = [
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let code = code_for(&app, &client, &extra).await;
    let wrong = "x".repeat(43);
    let (status, body) = redeem(&app, &client, &code, Some(&wrong)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

async fn reused_code_fails_and_revokes_the_first_tokens(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid run")]).await;
    let (status, first) = redeem(&app, &client, &code, None).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = redeem(&app, &client, &code, None).await;
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");
    // What the first use got no longer works.
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(first["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), 401);
    let (status, refreshed, _) = token(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first["refresh_token"].as_str().expect("rt"),
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, refreshed["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

async fn expired_code_is_invalid_grant(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    app.clock.advance(61);
    let (status, body) = redeem(&app, &client, &code, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

async fn reused_refresh_token_revokes_its_family(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    let (_, first) = redeem(&app, &client, &code, None).await;
    let rt1 = first["refresh_token"].as_str().expect("rt").to_owned();
    let (status, second, _) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(status, 200);
    let rt2 = second["refresh_token"].as_str().expect("rt").to_owned();
    app.clock.advance(11); // past the 10 s grace window
    let (status, reuse, _) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, family, _) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
    )
    .await;
    assert_eq!(
        (status, family["error"].as_str()),
        (400, Some("invalid_grant")),
        "the whole family is revoked"
    );
}

async fn concurrent_refresh_within_grace_gets_the_same_pair(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    let (_, first) = redeem(&app, &client, &code, None).await;
    let rt = first["refresh_token"].as_str().expect("rt").to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let (a, b) = tokio::join!(token(&app, &client, &form), token(&app, &client, &form));
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(a.1["refresh_token"], b.1["refresh_token"]);
    assert_eq!(a.1["access_token"], b.1["access_token"]);
}

async fn wrong_client_secret_is_401_with_www_authenticate(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, Some("not-the-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 401);
    assert!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .expect("challenge")
            .starts_with("Basic")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    // The code was not burnt by the failed authentication.
    let (status, _) = redeem(&app, &client, &code, None).await;
    assert_eq!(status, 200);
}

async fn prompt_none_without_session_is_login_required(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let q = redirected_error(
        &app,
        &authorize_url(&app, &client.id, &[("scope", "openid"), ("prompt", "none")]),
    )
    .await;
    assert_eq!(q["error"], "login_required");
}

async fn scope_without_openid_is_invalid_scope(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let q = redirected_error(
        &app,
        &authorize_url(&app, &client.id, &[("scope", "profile email")]),
    )
    .await;
    assert_eq!(q["error"], "invalid_scope");
}

async fn prompt_login_asks_again(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let browser = app.browser();
    app.browse_to_callback(
        &browser,
        &authorize_url(&app, &client.id, &[("scope", "openid")]),
        RUT,
        CUS,
    )
    .await;
    let response = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid"), ("prompt", "login")],
        ))
        .send()
        .await
        .expect("authorize");
    let to = location(&response);
    assert!(to.starts_with("/Account"), "login is asked again: {to}");
    let response = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid"), ("prompt", "none")],
        ))
        .send()
        .await
        .expect("authorize");
    assert!(
        query_of(&location(&response)).contains_key("code"),
        "prompt=none with a session succeeds"
    );
}

async fn keys_rotate_and_old_tokens_still_verify(backend: Backend) {
    let (app, client) = setup(backend, false).await;
    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    let (_, before) = redeem(&app, &client, &code, None).await;
    let old_id_token = before["id_token"].as_str().expect("id_token").to_owned();
    let old_kid = kid(&old_id_token);

    let kek = cus_server::secrets::Kek::from_config(&app.state.config.keys).expect("kek");
    let now = app.state.clock.now();
    cus_server::keys::rotate(app.state.store.as_ref(), &kek, now, time::Duration::ZERO)
        .await
        .expect("rotate");
    app.state.keys.reload().await.expect("reload");
    app.clock.advance(1);

    let jwks: Value = app.get("/jwks").await.json().await.expect("jwks");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()),
        "the old key stays published"
    );
    assert!(
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k.get("d").is_none()),
        "no private parts"
    );
    // Old tokens still verify.
    let old_at = before["access_token"].as_str().expect("at");
    assert_eq!(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(old_at)
            .send()
            .await
            .expect("userinfo")
            .status(),
        200
    );

    let code = code_for(&app, &client, &[("scope", "openid")]).await;
    let (_, after) = redeem(&app, &client, &code, None).await;
    let new_kid = kid(after["id_token"].as_str().expect("id_token"));
    assert_ne!(new_kid, old_kid);
    assert!(
        kids.contains(&new_kid.as_str()),
        "the new key was published before it signed"
    );
}
