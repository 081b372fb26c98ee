//! Abuse limits and hardening: rate limits (429 at the configured count, reset after the
//! window), the login lockout ladder, security headers on every page.

use serde_json::Value;

use crate::helpers::browse::login;
use crate::helpers::browse::{login_attempt, login_forwarded_for};
use crate::helpers::forms::{open_form, post};
use crate::helpers::headers::{Seen, concrete_paths};
use crate::helpers::html::{html_of, input_value};
use crate::helpers::natural::validate_step;
use crate::helpers::two_logins_per_ip;
use crate::helpers::{
    Backend, CUS, OTHER_RUT, REDIRECT, RUT, TestApp, on_both_backends, outbox, short_limit,
    test_config,
};

on_both_backends!(
    form_limit_per_ip_answers_429_then_resets,
    form_limit_per_rut_counts_solved_lifecycle_forms_then_resets,
    clients_behind_a_trusted_proxy_are_told_apart,
    forwarded_for_is_ignored_from_other_peers,
    token_limit_per_client_spans_three_endpoints_then_resets,
    register_limit_per_ip_answers_json_429_then_resets,
    failed_client_authentications_close_an_address_then_reset,
    captcha_after_three_failures_and_lock_after_ten,
    every_route_carries_the_security_headers,
    malformed_bodies_get_a_clear_400_on_every_post,
);

async fn form_limit_per_ip_answers_429_then_resets(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 3);
    config.limits.form_per_ip = limit;
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    let browser = app.browser();
    for _ in 0..3 {
        let (status, _, _) = login_attempt(&app, &browser, RUT, CUS).await;
        assert_eq!(status, 200);
    }
    let (status, headers, page) = login_attempt(&app, &browser, RUT, CUS).await;
    assert_eq!(status, 429);
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=limit.window).contains(&retry));
    assert!(page.contains("Demasiadas solicitudes"));
    app.outlast_window(limit).await;
    let (status, _, _) = login_attempt(&app, &browser, RUT, CUS).await;
    assert_eq!(status, 200, "a new window");
}

/// One RUT's budget is spent by lifecycle forms whose captcha was solved, whatever the IP;
/// another RUT is not held back by it, and neither is the owner's login (its per-RUT
/// budget is the lockout ladder, spent only by wrong CUS).
async fn form_limit_per_rut_counts_solved_lifecycle_forms_then_resets(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 3);
    config.limits.form_per_rut = limit;
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    let browser = app.browser();
    for _ in 0..3 {
        let (status, page) = validate_step(&app, &browser, "/natural/generar", RUT).await;
        assert_eq!(status, 200, "{page}");
    }
    let (status, page) = validate_step(&app, &browser, "/natural/generar", RUT).await;
    assert_eq!(status, 429, "the fourth request for the RUT");
    assert!(page.contains("Demasiadas solicitudes"));
    let (status, _) = validate_step(&app, &browser, "/natural/generar", OTHER_RUT).await;
    assert_eq!(status, 200, "another RUT is answered as usual");
    assert_eq!(
        login_attempt(&app, &browser, RUT, CUS).await.0,
        200,
        "the owner still signs in"
    );
    app.outlast_window(limit).await;
    let (status, _) = validate_step(&app, &browser, "/natural/generar", RUT).await;
    assert_eq!(status, 200, "a new window");
}

/// Behind a trusted load balancer each person has their own per-IP budget, and the audit
/// trail names their address, not the balancer's nor one they forged.
async fn clients_behind_a_trusted_proxy_are_told_apart(backend: Backend) {
    let app = two_logins_per_ip(backend, &["127.0.0.0/8"]).await;
    let browser = app.browser();
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.1").await,
        200
    );
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.1").await,
        200
    );
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.1").await,
        429
    );
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.2").await,
        200,
        "another person behind the same balancer"
    );
    let ips: Vec<Option<String>> = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some("12345678-5".into()),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.kind == "login_succeeded")
        .map(|e| e.ip)
        .collect();
    assert_eq!(ips.len(), 3);
    assert!(ips.contains(&Some("198.51.100.1".into())));
    assert!(ips.contains(&Some("198.51.100.2".into())));
}

/// Without trusted proxies (the default) the header is the client's own word: ignored.
async fn forwarded_for_is_ignored_from_other_peers(backend: Backend) {
    let app = two_logins_per_ip(backend, &[]).await;
    let browser = app.browser();
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.1").await,
        200
    );
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.2").await,
        200
    );
    assert_eq!(
        login_forwarded_for(&app, &browser, "198.51.100.3").await,
        429,
        "one peer, one budget"
    );
}

/// `/token`, `/introspect` and `/revoke` draw on one budget per client (and address: here
/// every call comes from the same one).
async fn token_limit_per_client_spans_three_endpoints_then_resets(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 3);
    config.limits.token_per_client = limit;
    let app = TestApp::spawn_with(config).await;
    let client = app.client(false, true).await;
    let other = app.client(false, true).await;
    let call = |client: &crate::helpers::TestClient, path: &'static str| {
        let request = app
            .http
            .post(app.url(path))
            .basic_auth(&client.id, client.secret.as_deref());
        let request = if path == "/token" {
            request.form(&[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", REDIRECT),
            ])
        } else {
            request.form(&[("token", "nope")])
        };
        async move { request.send().await.expect("sent") }
    };
    assert_eq!(call(&client, "/token").await.status(), 400);
    assert_eq!(call(&client, "/introspect").await.status(), 200);
    assert_eq!(call(&client, "/revoke").await.status(), 200);
    for path in ["/token", "/introspect", "/revoke"] {
        let limited = call(&client, path).await;
        assert_eq!(limited.status(), 429, "{path}");
        assert!(limited.headers().get("retry-after").is_some());
        let body: Value = limited.json().await.expect("json");
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    assert_eq!(
        call(&other, "/introspect").await.status(),
        200,
        "another client is answered as usual"
    );
    app.outlast_window(limit).await;
    assert_eq!(call(&client, "/revoke").await.status(), 200, "a new window");
}

/// Guessing a client secret: after the configured failures the address gets 429, even with
/// the right secret, until the window ends; another address is not affected.
async fn failed_client_authentications_close_an_address_then_reset(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 3);
    config.limits.client_auth_failures_per_ip = limit;
    config.server.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    let app = TestApp::spawn_with(config).await;
    let client = app.client(false, true).await;
    let secret = client.secret.clone().expect("secret");
    let call = |from: &'static str, secret: &str| {
        let request = app
            .http
            .post(app.url("/introspect"))
            .header("x-forwarded-for", from)
            .basic_auth(&client.id, Some(secret))
            .form(&[("token", "nope")]);
        async move { request.send().await.expect("sent") }
    };
    for _ in 0..3 {
        assert_eq!(call("198.51.100.1", "adivinanza").await.status(), 401);
    }
    let closed = call("198.51.100.1", &secret).await;
    assert_eq!(closed.status(), 429, "even the right secret");
    assert!(closed.headers().get("retry-after").is_some());
    let body: Value = closed.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        call("198.51.100.2", &secret).await.status(),
        200,
        "another address"
    );
    app.outlast_window(limit).await;
    assert_eq!(
        call("198.51.100.1", &secret).await.status(),
        200,
        "a new window"
    );
}

async fn register_limit_per_ip_answers_json_429_then_resets(backend: Backend) {
    let mut config = test_config(backend).await;
    let limit = short_limit(backend, 2);
    config.limits.register_per_ip = limit;
    let app = TestApp::spawn_with(config).await;
    let register = || async {
        app.http
            .post(app.url("/register"))
            .json(&serde_json::json!({ "redirect_uris": [REDIRECT] }))
            .send()
            .await
            .expect("sent")
    };
    assert_eq!(register().await.status(), 401, "no initial access token");
    assert_eq!(register().await.status(), 401);
    let limited = register().await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");
    app.outlast_window(limit).await;
    assert_eq!(register().await.status(), 401, "a new window");
}

async fn captcha_after_three_failures_and_lock_after_ten(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let browser = app.browser();
    for attempt in 1..=3 {
        let (status, _, page) = login_attempt(&app, &browser, RUT, "no es la clave").await;
        assert_eq!(status, 401);
        assert!(page.contains("RUT o Clave CUS incorrectos."));
        assert_eq!(
            page.contains("name=\"captcha_id\""),
            attempt >= 3,
            "captcha shown from the third failure"
        );
    }
    // Without the captcha, even the right CUS is not checked.
    let (status, _, page) = login_attempt(&app, &browser, RUT, CUS).await;
    assert_eq!(status, 422);
    assert!(page.contains("ingrese las letras de la imagen"));
    // With it, failures go on counting up to the lock.
    for _ in 4..=10 {
        let page = html_of(&browser, app.url("/Account")).await;
        let csrf = input_value(&page, "csrf").expect("csrf");
        let wrong = browser
            .post(app.url("/Account"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("rid", ""),
                ("rut", RUT),
                ("cus", "otra mala"),
            ])
            .send()
            .await
            .expect("post");
        let html = wrong.text().await.expect("html");
        let captcha_id = input_value(&html, "captcha_id").expect("captcha shown");
        let answer = app
            .state
            .cache
            .get(&cus_cache::Key::new(
                cus_cache::Namespace::Captcha,
                &captcha_id,
            ))
            .await
            .expect("cache")
            .map(|b| String::from_utf8(b).expect("utf-8"))
            .expect("answer");
        let csrf2 = input_value(&html, "csrf").expect("csrf");
        let response = browser
            .post(app.url("/Account"))
            .form(&[
                ("csrf", csrf2.as_str()),
                ("rid", ""),
                ("rut", RUT),
                ("cus", "otra mala"),
                ("captcha_id", captcha_id.as_str()),
                ("captcha", answer.as_str()),
            ])
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        let text = response.text().await.expect("html");
        if text.contains("bloqueado temporalmente") {
            assert_eq!(status, 429);
            break;
        }
        assert_eq!(status, 401, "{text}");
    }
    // Locked: the right CUS is refused too, with the same message for any RUT.
    let (status, _, page) = login_attempt(&app, &app.browser(), RUT, CUS).await;
    assert_eq!(status, 429);
    assert!(page.contains("bloqueado temporalmente"));
    let messages = outbox(&app).await;
    assert!(
        messages
            .iter()
            .any(|m| m.recipient == "maria@example.cl" && m.subject.contains("Bloqueamos")),
        "the owner is told"
    );
    let trail = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some("12345678-5".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(trail.iter().any(|e| e.kind == "login_locked"));
    assert!(trail.iter().filter(|e| e.kind == "login_failed").count() >= 9);

    // "Cambie su CUS" takes a CUS too: while locked it checks nothing (review item 1).
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    let fields = vec![
        ("csrf", form.csrf),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
        ("rut", RUT.into()),
        ("cus", CUS.into()),
        ("cus_nueva", "una clave nueva y propia".into()),
        ("cus_repetida", "una clave nueva y propia".into()),
    ];
    let (status, page) = post(&app, &browser, "/natural/cambiar", &fields).await;
    assert_eq!(status, 422);
    assert!(page.contains("bloqueado temporalmente"), "{page}");
    let (status, _, _) = login_attempt(&app, &app.browser(), RUT, "una clave nueva y propia").await;
    assert_eq!(status, 429, "still locked, the CUS unchanged");
}

/// Walks every route the router serves, signed out and signed in: every answer is kept
/// from being sniffed or leaked, every HTML page from being framed or running inline code,
/// and every page with a form from being cached. The consent page is reached by a flow.
async fn every_route_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, false).await;
    let other = app.client(false, false).await;
    let signed_in = app.browser();
    let authorize = |client_id: &str| {
        app.url(&format!(
            "/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}\
             &scope=openid&state=s"
        ))
    };
    app.browse_to_callback(&signed_in, &authorize(&client.id), RUT, CUS)
        .await;

    let paths = cus_server::http::paths();
    assert!(paths.contains(&"/Account") && paths.contains(&"/{persona}/generar"));
    let mut seen = Seen::default();
    for browser in [app.browser(), signed_in.clone()] {
        for path in &paths {
            for concrete in concrete_paths(path, &client.id) {
                let response = browser.get(app.url(&concrete)).send().await.expect("GET");
                seen.check(&concrete, response).await;
            }
        }
    }
    // The consent page shows only inside a flow: a second portal asks, once signed in.
    let mut next = authorize(&other.id);
    loop {
        let response = signed_in.get(&next).send().await.expect("GET");
        if !response.status().is_redirection() {
            let html = seen.check("/consent", response).await;
            assert!(html.contains("action=\"/consent\""), "{html}");
            break;
        }
        next = app.url(&crate::helpers::html::location(&response));
    }
    // Not a vacuous walk: the pages of the guide and their forms were all there.
    assert!(seen.html >= 30, "{} HTML answers", seen.html);
    assert!(seen.forms >= 20, "{} pages with a form", seen.forms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_pages_use_host_cookies_and_hsts() {
    let mut config = test_config(Backend::Embedded).await;
    config.server.issuer = "https://cus.example.cl".into();
    let app = TestApp::spawn_with(config).await;
    // The server speaks http here (TLS terminated in front); the issuer says https, which
    // is what HSTS and the cookie prefix follow.
    let response = app
        .http
        .get(format!("http://{}/Account", app.address))
        .send()
        .await
        .expect("page");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-cus_csrf=")
            && cookie.contains("Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_hash_parameters_rehash_at_the_next_login() {
    let config = test_config(Backend::Embedded).await;
    let first = TestApp::spawn_with(config.clone()).await;
    first.account().await;
    let rut = cus_core::Rut::parse(RUT).expect("rut");
    let (_, before) = first
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("present");
    assert!(before.cus_hash.contains("m=1024,t=1,p=1"));
    first.server.abort();

    let mut raised = config;
    raised.server.listen = "127.0.0.1:0".parse().expect("addr");
    raised.hash.memory_kib = 2048;
    raised.hash.iterations = 2;
    let second = TestApp::spawn_with(raised).await;
    assert_eq!(
        login(&second, &second.browser(), RUT, CUS).await.status(),
        200
    );
    let (_, after) = second
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("present");
    assert!(
        after.cus_hash.starts_with("$argon2id$") && after.cus_hash.contains("m=2048,t=2,p=1"),
        "{}",
        after.cus_hash
    );
    assert_eq!(
        login(&second, &second.browser(), RUT, CUS).await.status(),
        200,
        "the same CUS still works"
    );
}

/// A body no page of ours sends (a field twice) gets the Spanish "Solicitud no válida"
/// page on every web form and RFC 6749 JSON on every protocol endpoint: never a framework
/// message, never a 5xx. The fuzz targets (`fuzz/`) drive the same decoders with anything.
async fn malformed_bodies_get_a_clear_400_on_every_post(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let web_forms = [
        "/Account",
        "/consent",
        "/end_session/confirm",
        "/autorizaciones/retirar",
        "/natural/registro",
        "/juridica/registro",
        "/natural/generar",
        "/juridica/generar",
        "/natural/cambiar",
        "/juridica/cambiar",
        "/natural/actualizar",
        "/natural/actualizar/datos",
        "/natural/nueva-clave",
    ];
    let form = |path: &str, body: &'static str| {
        app.browser()
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    for path in web_forms {
        let response = form(path, "csrf=x&csrf=y&rut=1-9")
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let html = response.text().await.expect("html");
        assert!(html.contains("Solicitud no válida"), "{path}: {html}");
    }
    for path in ["/token", "/revoke", "/introspect", "/userinfo"] {
        let response = form(
            path,
            "token=a&token=b&grant_type=x&grant_type=y&access_token=1&access_token=2",
        )
        .send()
        .await
        .expect("post");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert!(status == 400 || status == 401, "{path}: {status} {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}
