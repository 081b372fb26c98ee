//! The citizen-facing pages' promises that a browser relies on (the browser suite in
//! `e2e/` drives them for real): Enter does a form's main action, the captcha has an
//! audio alternative of the same code, and the login page names the portal.

use crate::helpers::forms::{open_form, post, with};
use crate::helpers::html::html_of;
use crate::helpers::natural::registration;
use crate::helpers::oidc::authorize_url;
use crate::helpers::{Backend, REDIRECT, TestApp, on_both_backends};

on_both_backends!(
    enter_does_each_forms_main_action,
    the_audio_captcha_is_the_same_code_and_works_once,
    the_login_page_names_the_portal_and_shows_its_logo,
    the_captcha_routes_share_one_budget_per_address,
);

/// New captchas and their audio are drawn per request: one address gets a budget for
/// both, then 429 with Retry-After, so nobody decodes captchas in bulk from one place.
async fn the_captcha_routes_share_one_budget_per_address(backend: Backend) {
    let mut config = crate::helpers::test_config(backend).await;
    config.limits.captcha_per_ip.max = 3;
    let app = TestApp::spawn_with(config).await;
    let fresh: serde_json::Value = app
        .http
        .get(app.url("/captcha/nuevo"))
        .send()
        .await
        .expect("captcha")
        .json()
        .await
        .expect("json");
    let audio = fresh["audio"].as_str().expect("audio address");
    assert_eq!(app.get(audio).await.status(), 200);
    assert_eq!(app.get("/captcha/nuevo").await.status(), 200);
    let over = app.get(audio).await;
    assert_eq!(over.status(), 429, "the fourth in the window");
    assert!(over.headers().contains_key("retry-after"));
    assert_eq!(app.get("/captcha/nuevo").await.status(), 429);
}

/// The first submit button of the first form in `html` (what Enter in a field presses):
/// its `value`.
fn first_submit_value(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let button = &form[form.find("type=\"submit\"")?..];
    let tag = &button[..button.find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    Some(value[..value.find('"')?].to_owned())
}

async fn enter_does_each_forms_main_action(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    for (path, main) in [
        ("/natural/registro", "registrar"),
        ("/juridica/registro", "registrar"),
        ("/natural/generar", "validar"),
        ("/juridica/generar", "validar"),
        ("/natural/cambiar", "cambiar"),
        ("/natural/actualizar", "ingresar"),
        ("/Account", "login"),
    ] {
        let html = html_of(&browser, app.url(path)).await;
        assert_eq!(first_submit_value(&html).as_deref(), Some(main), "{path}");
        // "Refrescar" replaces the captcha in place: it is no submit button at all.
        assert!(!html.contains("value=\"refrescar\""), "{path}");
    }
}

/// The beep groups of a captcha WAV, as a listener counts them.
fn heard(wav: &[u8]) -> String {
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]) as usize;
    let samples: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let window = rate / 50;
    let mut code = String::new();
    let (mut beeps, mut quiet) = (0u32, usize::MAX);
    for chunk in samples.chunks(window) {
        let loud = chunk.iter().any(|s| s.unsigned_abs() > 12_000);
        if loud {
            if quiet > 25 && beeps > 0 {
                code.push(char::from_digit(beeps, 10).expect("digit"));
                beeps = 0;
            }
            if quiet > 0 {
                beeps += 1;
            }
            quiet = 0;
        } else {
            quiet = quiet.saturating_add(1);
        }
    }
    if beeps > 0 {
        code.push(char::from_digit(beeps, 10).expect("digit"));
    }
    code
}

async fn the_audio_captcha_is_the_same_code_and_works_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/registro").await;
    let audio = format!("/captcha/audio?id={}", form.captcha_id);
    assert!(
        form.html.contains(&audio.replace('&', "&amp;")),
        "the page links its audio"
    );
    assert!(form.html.contains("Escuchar el código"));
    assert!(
        form.html.contains("cursos@capacitacionfuncional.cl"),
        "the help route"
    );

    let response = browser.get(app.url(&audio)).send().await.expect("audio");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let wav = response.bytes().await.expect("wav");
    assert_eq!(&wav[..4], b"RIFF");
    // The same code as the image (the answer the cache keeps), and a length that fits it.
    assert_eq!(heard(&wav), form.captcha);
    let data = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]);
    let ms = data / 2 * 1000 / 8000;
    let expected = cus_server::lifecycle::captcha_audio::duration_ms(&form.captcha);
    assert!(ms.abs_diff(expected) <= 5, "{ms} ms, expected {expected}");

    // Listening does not use it up; solving it does.
    let (status, page) = post(&app, &browser, "/natural/registro", &registration(&form)).await;
    assert_eq!(status, 200, "{page}");
    let gone = browser.get(app.url(&audio)).send().await.expect("audio");
    assert_eq!(gone.status(), 404);
    // A captcha never shown has no audio either.
    let unknown = browser
        .get(app.url("/captcha/audio?id=nada"))
        .send()
        .await
        .expect("audio");
    assert_eq!(unknown.status(), 404);

    // "Refrescar" in place: a new challenge as JSON, the old one thrown away.
    let form = open_form(&app, &browser, "/natural/registro").await;
    let fresh: serde_json::Value = browser
        .get(app.url(&format!("/captcha/nuevo?id={}", form.captcha_id)))
        .send()
        .await
        .expect("fresh")
        .json()
        .await
        .expect("json");
    assert!(
        fresh["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("data:image/png;base64,"))
    );
    assert!(
        fresh["audio"]
            .as_str()
            .is_some_and(|a| a.starts_with("/captcha/audio?id="))
    );
    let (status, page) = post(
        &app,
        &browser,
        "/natural/registro",
        &with(registration(&form), &[("rut", "11.111.111-1")]),
    )
    .await;
    assert_eq!(status, 422, "the replaced captcha no longer works: {page}");
}

/// The login page `client_id`'s authorization request leads `browser` to.
async fn login_page_of(
    app: &TestApp,
    browser: &reqwest::Client,
    client_id: &str,
) -> reqwest::Response {
    let mut next = authorize_url(app, client_id, &[("scope", "openid")]);
    loop {
        let response = browser.get(&next).send().await.expect("GET");
        if response.status().is_redirection() {
            let to = crate::helpers::html::location(&response);
            next = if to.starts_with('/') {
                app.url(&to)
            } else {
                to
            };
            continue;
        }
        break response;
    }
}

async fn the_login_page_names_the_portal_and_shows_its_logo(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let logo = "https://portal.example.cl/logo.png";
    let client = app
        .client_from(cus_server::clients::ClientMetadata {
            client_name: Some("Portal Mi Capacitación".into()),
            redirect_uris: Some(vec![REDIRECT.into()]),
            logo_uri: Some(logo.into()),
            ..Default::default()
        })
        .await;
    let browser = app.browser();
    let login = login_page_of(&app, &browser, &client.id).await;
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    let html = login.text().await.expect("html");
    assert!(
        html.contains("Está ingresando a: <strong>Portal Mi Capacitación</strong>"),
        "{html}"
    );
    assert!(html.contains(&format!("<img src=\"{logo}\"")), "{html}");
    assert!(csp.contains("img-src 'self' data: https:"), "{csp}");

    // A self-registered client (RFC 7591) is named, but its logo is not fetched: it would
    // tell the client the address of everyone who opens its login page.
    let token = crate::helpers::api::initial_token(&app, time::Duration::hours(1)).await;
    let (status, registered) = crate::helpers::api::register(
        &app,
        Some(&token),
        serde_json::json!({"client_name": "Portal externo", "redirect_uris": [REDIRECT],
                           "logo_uri": "https://externo.example.cl/pixel.png"}),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let id = registered["client_id"].as_str().expect("client_id");
    let html = login_page_of(&app, &app.browser(), id)
        .await
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Portal externo") && !html.contains("pixel.png"),
        "{html}"
    );

    // Without a portal, no logo and the strict policy.
    let plain = browser.get(app.url("/Account")).send().await.expect("GET");
    let csp = plain.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    assert!(
        !plain
            .text()
            .await
            .expect("html")
            .contains("Está ingresando a")
    );
}
