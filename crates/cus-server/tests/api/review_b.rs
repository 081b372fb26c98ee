//! Security review, part B: claims released only within granted scopes (item 2), bounded
//! and rate-limited pending requests (3), one decision before any code (7), logout hints
//! that must name the session (9), one liveness rule for access tokens (11).

use crate::helpers::browse::{allow_consent, end_session, sign_in, signed_in};
use crate::helpers::html::{html_of, input_value, location};
use crate::helpers::oidc::{CHALLENGE, authorize_url, code_of, payload, query_of};
use crate::helpers::oidc::{RELEASE_ASKED, introspect, portal_allowed, rid_of, userinfo};
use crate::helpers::{
    Backend, CUS, OTHER_CUS, OTHER_RUT, REDIRECT, RUT, TestApp, on_both_backends, short_limit,
    test_config,
};

on_both_backends!(
    item_02_claims_parameter_releases_only_consented_scopes,
    item_03_oversized_parameters_are_invalid_request_and_not_stored,
    item_03_authorize_limit_per_ip_answers_429_then_resets,
    item_07_consent_post_requires_the_forced_cus_change,
    item_07_consent_post_honours_prompt_login,
    item_07_consent_post_honours_max_age,
    item_07_consent_post_refuses_another_persons_hint,
    item_09_logout_with_someone_elses_hint_asks_to_confirm,
    item_09_logout_with_own_hint_ends_at_once_even_expired,
    item_11_introspect_and_userinfo_refuse_tokens_older_than_a_cus_change,
);

/// Item 2: the `claims` parameter never reaches past the client's allowed scopes and what
/// the person consented to.
async fn item_02_claims_parameter_releases_only_consented_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;

    // A client allowed only `openid` names claims it may not have.
    let narrow = portal_allowed(&app, "openid").await;
    let url = authorize_url(
        &app,
        &narrow.id,
        &[
            ("scope", "openid email phone address run"),
            ("claims", RELEASE_ASKED),
        ],
    );
    let (callback, consents) = app
        .browse_collecting_consent(&app.browser(), &url, RUT, CUS)
        .await;
    assert_eq!(consents.len(), 1);
    for data in ["correo", "teléfono", "RUT", "dirección"] {
        assert!(!consents[0].contains(data), "consent lists {data}");
    }
    let tokens = app.redeem(&narrow, &code_of(&callback)).await;
    let id = payload(tokens["id_token"].as_str().expect("id_token"));
    let (status, info) = userinfo(&app, tokens["access_token"].as_str().expect("at")).await;
    assert_eq!(status, 200);
    for claim in [
        "email",
        "rut",
        "phone_number",
        "address",
        "RolUnico",
        "name",
    ] {
        assert!(id.get(claim).is_none(), "id_token released {claim}");
        assert!(info.get(claim).is_none(), "userinfo released {claim}");
    }
    assert!(info.get("sub").is_some());

    // A client allowed `email`: asking `email` by name alone does not widen the scope...
    let wider = portal_allowed(&app, "openid email").await;
    let browser = app.browser();
    let url = authorize_url(
        &app,
        &wider.id,
        &[("scope", "openid"), ("claims", RELEASE_ASKED)],
    );
    let (callback, _) = app
        .browse_collecting_consent(&browser, &url, RUT, CUS)
        .await;
    let tokens = app.redeem(&wider, &code_of(&callback)).await;
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().expect("at")).await;
    assert!(info.get("email").is_none(), "email not consented yet");
    assert!(info.get("rut").is_none());

    // ...and with the scope it is released, after a consent that lists it.
    let url = authorize_url(
        &app,
        &wider.id,
        &[("scope", "openid email"), ("claims", RELEASE_ASKED)],
    );
    let (callback, consents) = app
        .browse_collecting_consent(&browser, &url, RUT, CUS)
        .await;
    assert_eq!(consents.len(), 1, "the new scope is asked");
    assert!(consents[0].contains("Su correo electrónico"));
    assert!(!consents[0].contains("RUT"), "rut is not released");
    let tokens = app.redeem(&wider, &code_of(&callback)).await;
    let id = payload(tokens["id_token"].as_str().expect("id_token"));
    assert!(id.get("phone_number").is_none());
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().expect("at")).await;
    assert_eq!(info["email"], "maria@example.cl");
    assert!(info.get("rut").is_none());
    assert!(info.get("RolUnico").is_none());
}

/// Item 3: every stored parameter is bounded; an oversized one is refused before anything
/// is kept.
async fn item_03_oversized_parameters_are_invalid_request_and_not_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(false, false).await;
    let huge = "a".repeat(5000);
    for (name, value) in [
        ("state", huge.as_str()),
        ("nonce", huge.as_str()),
        ("login_hint", huge.as_str()),
        ("ui_locales", huge.as_str()),
        ("acr_values", huge.as_str()),
        ("id_token_hint", &"a".repeat(20_000)),
        (
            "claims",
            &format!(r#"{{"userinfo":{{"{huge}{huge}":null}}}}"#),
        ),
        ("scope", &format!("openid {huge}")),
        ("max_age", &"9".repeat(100)),
    ] {
        let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", REDIRECT);
        if name != "scope" {
            url.query_pairs_mut().append_pair("scope", "openid");
        }
        url.query_pairs_mut().append_pair(name, value);
        let response = app.browser().get(url.as_str()).send().await.expect("GET");
        assert!(response.status().is_redirection(), "{name}");
        let to = location(&response);
        assert!(
            to.starts_with(REDIRECT),
            "{name} is refused, not stored: {to}"
        );
        let q = query_of(&to);
        assert_eq!(q["error"], "invalid_request", "{name}");
        assert!(q.get("state").is_none_or(|s| s.len() < 5000));
    }
    // The same by POST, with a state of two megabytes.
    let response = app
        .browser()
        .post(app.url("/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", &"s".repeat(2_000_000)),
        ])
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    if response.status().is_redirection() {
        let to = location(&response);
        assert!(!to.starts_with("/Account"), "stored: {to}");
        assert_eq!(query_of(&to)["error"], "invalid_request");
    } else {
        assert_eq!(status, 413, "too large");
        assert!(response.text().await.expect("page").contains("demasiado"));
    }
    // A moderate state by POST is refused the same way.
    let response = app
        .browser()
        .post(app.url("/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", &huge),
        ])
        .send()
        .await
        .expect("POST");
    let to = location(&response);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_of(&to)["error"], "invalid_request");
    // Before the redirect URI is trusted, an error page.
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &huge)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid");
    let response = app.browser().get(url.as_str()).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 400);
    // A code_challenge must be 43 to 128 characters (RFC 7636 §4.2).
    let url = authorize_url(
        &app,
        &client.id,
        &[
            ("scope", "openid"),
            ("code_challenge", &"A".repeat(129)),
            ("code_challenge_method", "S256"),
        ],
    );
    let to = location(&app.browser().get(url).send().await.expect("GET"));
    assert_eq!(query_of(&to)["error"], "invalid_request");
    // Sane values still pass.
    let url = authorize_url(
        &app,
        &client.id,
        &[
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("login_hint", RUT),
        ],
    );
    let to = location(&app.browser().get(url).send().await.expect("GET"));
    assert!(to.starts_with("/Account?rid="), "{to}");
}

/// Item 3: creating pending requests is limited per client IP.
async fn item_03_authorize_limit_per_ip_answers_429_then_resets(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 3);
    config.limits.authorize_per_ip = limit;
    let app = TestApp::spawn_with(config).await;
    let client = app.client(false, false).await;
    let url = authorize_url(&app, &client.id, &[("scope", "openid")]);
    for _ in 0..3 {
        let response = app.browser().get(&url).send().await.expect("GET");
        assert!(location(&response).starts_with("/Account?rid="));
    }
    let response = app.browser().get(&url).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=limit.window).contains(&retry));
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("Demasiadas solicitudes")
    );
    app.outlast_window(limit).await;
    let response = app.browser().get(&url).send().await.expect("GET");
    assert!(
        location(&response).starts_with("/Account?rid="),
        "a new window"
    );
}

/// Item 7: a session with a generated CUS gets no code from POST /consent.
async fn item_07_consent_post_requires_the_forced_cus_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spec = cus_server::admin::AccountSpec {
        rut: cus_core::Rut::parse(RUT).expect("valid"),
        nombres: "María".into(),
        apellidos: vec!["Soto".into()],
        email: cus_core::contact::Email::parse("maria@example.cl").expect("valid"),
        celular: None,
        address: None,
    };
    cus_server::admin::create_account(
        app.state.store.as_ref(),
        &app.state.hasher,
        spec,
        "Xk7pQ2mZ",
        true,
        "cli:test-operator",
        app.state.clock.now(),
    )
    .await
    .expect("account");
    let client = portal_allowed(&app, "openid").await;
    let browser = app.browser();
    let response = browser
        .get(authorize_url(&app, &client.id, &[("scope", "openid")]))
        .send()
        .await
        .expect("authorize");
    let rid = rid_of(&location(&response));
    let page = html_of(&browser, app.url(&format!("/Account?rid={rid}"))).await;
    let response = browser
        .post(app.url("/Account"))
        .form(&[
            ("csrf", input_value(&page, "csrf").expect("csrf").as_str()),
            ("rid", rid.as_str()),
            ("rut", RUT),
            ("cus", "Xk7pQ2mZ"),
        ])
        .send()
        .await
        .expect("login");
    assert!(location(&response).starts_with("/natural/nueva-clave"));
    // Skipping the forced change by posting consent directly.
    let to = allow_consent(&app, &browser, &rid).await;
    assert!(
        to.starts_with("/natural/nueva-clave"),
        "the change is asked: {to}"
    );
}

/// Item 7: `prompt=login` is not skipped by posting consent.
async fn item_07_consent_post_honours_prompt_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = portal_allowed(&app, "openid").await;
    let browser = app.browser();
    sign_in(&app, &browser, RUT, CUS).await;
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
    assert!(to.starts_with("/Account?rid="), "{to}");
    let to = allow_consent(&app, &browser, &rid_of(&to)).await;
    assert!(to.starts_with("/Account?rid="), "login is asked: {to}");
}

/// Item 7: `max_age` is not skipped by posting consent.
async fn item_07_consent_post_honours_max_age(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = portal_allowed(&app, "openid").await;
    let browser = app.browser();
    sign_in(&app, &browser, RUT, CUS).await;
    app.clock.advance(120);
    let response = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid"), ("max_age", "60")],
        ))
        .send()
        .await
        .expect("authorize");
    let to = location(&response);
    assert!(to.starts_with("/Account?rid="), "{to}");
    let to = allow_consent(&app, &browser, &rid_of(&to)).await;
    assert!(to.starts_with("/Account?rid="), "login is asked: {to}");
}

/// Item 7: an `id_token_hint` naming another person is not skipped by posting consent.
async fn item_07_consent_post_refuses_another_persons_hint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    app.other_account().await;
    let client = portal_allowed(&app, "openid").await;
    // Person A's id_token.
    let url = authorize_url(&app, &client.id, &[("scope", "openid")]);
    let (callback, _) = app
        .browse_collecting_consent(&app.browser(), &url, RUT, CUS)
        .await;
    let tokens = app.redeem(&client, &code_of(&callback)).await;
    let hint = tokens["id_token"].as_str().expect("id_token").to_owned();
    // Person B's browser, asked for A.
    let browser = app.browser();
    sign_in(&app, &browser, OTHER_RUT, OTHER_CUS).await;
    let response = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid"), ("id_token_hint", &hint)],
        ))
        .send()
        .await
        .expect("authorize");
    let to = location(&response);
    assert!(to.starts_with("/Account?rid="), "{to}");
    let to = allow_consent(&app, &browser, &rid_of(&to)).await;
    assert!(to.starts_with("/Account?rid="), "login is asked: {to}");
}

/// Item 9: a hint naming someone else does not end this browser's session silently.
async fn item_09_logout_with_someone_elses_hint_asks_to_confirm(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    app.other_account().await;
    let client = app.client(false, true).await;
    let a_hint = app.id_token(&app.browser(), &client, RUT, CUS).await;
    let b = app.browser();
    let b_hint = app.id_token(&b, &client, OTHER_RUT, OTHER_CUS).await;

    let (status, page) = end_session(&app, &b, &a_hint).await;
    assert_eq!(status, 200);
    assert!(page.contains("action=\"/end_session/confirm\""), "asked");
    assert!(signed_in(&app, &b, &client).await, "B's session goes on");

    // B's own hint from an earlier session (same person, other `sid`) asks too.
    let b2 = app.browser();
    app.id_token(&b2, &client, OTHER_RUT, OTHER_CUS).await;
    let (_, page) = end_session(&app, &b2, &b_hint).await;
    assert!(page.contains("action=\"/end_session/confirm\""), "asked");
    assert!(signed_in(&app, &b2, &client).await);

    // Without any session, a hint asks for confirmation too.
    let (_, page) = end_session(&app, &app.browser(), &a_hint).await;
    assert!(page.contains("action=\"/end_session/confirm\""), "asked");
}

/// Item 9: the session's own hint ends it at once, even past the hint's `exp`.
async fn item_09_logout_with_own_hint_ends_at_once_even_expired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let hint = app.id_token(&browser, &client, RUT, CUS).await;
    let (status, page) = end_session(&app, &browser, &hint).await;
    assert_eq!(status, 200);
    assert!(
        !page.contains("action=\"/end_session/confirm\""),
        "not asked"
    );
    assert!(!signed_in(&app, &browser, &client).await, "ended");

    let browser = app.browser();
    let hint = app.id_token(&browser, &client, RUT, CUS).await;
    app.clock.advance(app.config.oidc.id_token_ttl.secs() + 60);
    assert!(payload(&hint)["exp"].as_i64().expect("exp") < app.state.clock.now().unix_timestamp());
    let (_, page) = end_session(&app, &browser, &hint).await;
    assert!(
        !page.contains("action=\"/end_session/confirm\""),
        "not asked"
    );
    assert!(!signed_in(&app, &browser, &client).await, "ended");
}

/// Item 11: after a CUS change, every endpoint that accepts an access token says it is
/// dead (and the refresh token too).
async fn item_11_introspect_and_userinfo_refuse_tokens_older_than_a_cus_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let url = authorize_url(&app, &client.id, &[("scope", "openid email")]);
    let callback = app.browse_to_callback(&app.browser(), &url, RUT, CUS).await;
    let tokens = app.redeem(&client, &code_of(&callback)).await;
    let access = tokens["access_token"].as_str().expect("at");
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    assert_eq!(introspect(&app, &client, access).await["active"], true);
    assert_eq!(introspect(&app, &client, refresh).await["active"], true);
    assert_eq!(userinfo(&app, access).await.0, 200);

    app.clock.advance(1);
    let meta = cus_server::http::meta::RequestMeta {
        ip: None,
        user_agent: None,
        now: app.state.clock.now(),
    };
    cus_server::lifecycle::natural::change(
        &app.state,
        &cus_core::Rut::parse(RUT).expect("rut"),
        CUS,
        "otra clave bien larga",
        "otra clave bien larga",
        &meta,
    )
    .await
    .expect("changed");

    assert_eq!(
        introspect(&app, &client, access).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(
        introspect(&app, &client, refresh).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(userinfo(&app, access).await.0, 401);
}
