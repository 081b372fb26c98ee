//! The people-facing pages of the protocol: login at /Account, consent and its withdrawal,
//! logout.

use std::collections::HashMap;

use crate::helpers::browse::{login_form, post_login};
use crate::helpers::html::{html_of, input_value, location};
use crate::helpers::oidc::authorize_url;
use crate::helpers::{Backend, CUS, REDIRECT, RUT, TestApp, on_both_backends};

on_both_backends!(
    wrong_cus_and_unknown_rut_get_the_same_answer,
    bad_rut_is_explained_beside_the_field_and_kept,
    login_without_csrf_token_is_refused,
    login_hint_prefills_the_rut,
    consent_is_remembered_and_can_be_withdrawn,
    logout_with_hint_redirects_and_ends_the_session,
    logout_without_hint_asks_first,
    unregistered_post_logout_uri_is_refused,
);

async fn wrong_cus_and_unknown_rut_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let browser = app.browser();
    let (_, csrf) = login_form(&app, &browser, "/Account").await;
    let (status_wrong, wrong) = post_login(&app, &browser, &csrf, RUT, "not the cus at all").await;
    let (status_unknown, unknown) = post_login(&app, &browser, &csrf, "11.111.111-1", CUS).await;
    assert_eq!((status_wrong, status_unknown), (401, 401));
    for page in [&wrong, &unknown] {
        assert!(page.contains("RUT o Clave CUS incorrectos."));
        assert!(
            !page.contains("not the cus at all") && !page.contains(CUS),
            "passwords are never echoed"
        );
    }
    let (status, page) = post_login(&app, &browser, &csrf, RUT, CUS).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sesión iniciada") && page.contains("María Carmen Del Río González"));
}

async fn bad_rut_is_explained_beside_the_field_and_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let (_, csrf) = login_form(&app, &browser, "/Account").await;
    let (status, page) = post_login(&app, &browser, &csrf, "12.345.678-4", "whatever-cus").await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"rut-error\">El dígito verificador del RUT no es correcto."));
    assert_eq!(input_value(&page, "rut").as_deref(), Some("12.345.678-4"));
    assert!(!page.contains("whatever-cus"));
}

async fn login_without_csrf_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let browser = app.browser();
    let (_, _) = login_form(&app, &browser, "/Account").await;
    let (status, _) = post_login(&app, &browser, "forged", RUT, CUS).await;
    assert_eq!(status, 403);
    // A browser without the cookie (another site's form) is refused too.
    let (status, _) = post_login(&app, &app.browser(), "forged", RUT, CUS).await;
    assert_eq!(status, 403);
    // So is a cookie planted by someone else (unsigned), even with a matching field.
    let planted = app
        .http
        .post(app.url("/Account"))
        .header("cookie", "cus_csrf=abc.def")
        .form(&[("csrf", "abc.def"), ("rid", ""), ("rut", RUT), ("cus", CUS)])
        .send()
        .await
        .expect("post");
    assert_eq!(planted.status(), 403);
}

async fn login_hint_prefills_the_rut(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(false, true).await;
    let url = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={REDIRECT}&scope=openid&login_hint=123456785",
        client.id
    );
    let browser = app.browser();
    let response = browser.get(app.url(&url)).send().await.expect("authorize");
    let (html, _) = login_form(&app, &browser, &location(&response)).await;
    assert_eq!(input_value(&html, "rut").as_deref(), Some("12.345.678-5"));
    assert!(
        html.contains("Portal de pruebas"),
        "the page names the portal"
    );
}

async fn consent_is_remembered_and_can_be_withdrawn(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, false).await;
    let browser = app.browser();
    app.browse_to_callback(
        &browser,
        &authorize_url(&app, &client.id, &[("scope", "openid run")]),
        RUT,
        CUS,
    )
    .await;
    let again = browser
        .get(authorize_url(&app, &client.id, &[("scope", "openid run")]))
        .send()
        .await
        .expect("authorize");
    assert!(location(&again).starts_with(REDIRECT), "consent remembered");

    let page = html_of(&browser, app.url("/autorizaciones")).await;
    assert!(page.contains("Portal de pruebas"));
    let csrf = input_value(&page, "csrf").expect("csrf");
    let withdrawn = browser
        .post(app.url("/autorizaciones/retirar"))
        .form(&[("csrf", csrf.as_str()), ("client_id", client.id.as_str())])
        .send()
        .await
        .expect("withdraw");
    assert!(withdrawn.status().is_redirection());
    let asked = browser
        .get(authorize_url(&app, &client.id, &[("scope", "openid run")]))
        .send()
        .await
        .expect("authorize");
    assert!(
        location(&asked).starts_with("/consent"),
        "asked again after withdrawal"
    );
    let events = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some(client.id.clone()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"consent_given") && kinds.contains(&"consent_withdrawn"),
        "{kinds:?}"
    );
}

async fn logout_with_hint_redirects_and_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let hint = app.id_token(&browser, &client, RUT, CUS).await;
    let url = format!(
        "/end_session?id_token_hint={hint}&post_logout_redirect_uri=http://127.0.0.1:9/bye&state=xyz"
    );
    let response = browser.get(app.url(&url)).send().await.expect("logout");
    assert_eq!(location(&response), "http://127.0.0.1:9/bye?state=xyz");
    let silent = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid run"), ("prompt", "none")],
        ))
        .send()
        .await
        .expect("authorize");
    let q: HashMap<String, String> = url::Url::parse(&location(&silent))
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["error"], "login_required", "the session is over");
}

async fn logout_without_hint_asks_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    app.id_token(&browser, &client, RUT, CUS).await;
    let page = browser
        .get(app.url("/end_session"))
        .send()
        .await
        .expect("logout");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("¿Desea cerrar su sesión"));
    let csrf = input_value(&html, "csrf").expect("csrf");
    let done = browser
        .post(app.url("/end_session/confirm"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("confirm");
    assert!(done.text().await.expect("html").contains("Sesión cerrada"));
    let silent = browser
        .get(authorize_url(
            &app,
            &client.id,
            &[("scope", "openid run"), ("prompt", "none")],
        ))
        .send()
        .await
        .expect("authorize");
    assert!(location(&silent).contains("error=login_required"));
}

async fn unregistered_post_logout_uri_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let hint = app.id_token(&browser, &client, RUT, CUS).await;
    let url =
        format!("/end_session?id_token_hint={hint}&post_logout_redirect_uri=https://evil.example/");
    let response = browser.get(app.url(&url)).send().await.expect("logout");
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}
