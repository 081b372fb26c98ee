//! Secrets hygiene: the full flows (registration, the OpenID flow with refresh and userinfo,
//! failures, Genere nueva CUS with its delivery, the forced and the voluntary CUS change,
//! logout with a back-channel notice) run with every log at `trace` level into a buffer,
//! and no CUS (chosen or generated), secret answer, code, token, logout token, cookie, CSRF
//! token or client secret appears in it.
//! A test binary of its own, because it installs the process-wide log subscriber.

use std::sync::Arc;

use cus_server::clock::SystemClock;
use cus_server::config::Config;
use cus_server::startup::Application;
use serde_json::Value;

/// The API tests' stand-ins (the log capture) and their one HTML scraper.
#[path = "api/helpers/fakes.rs"]
#[expect(
    dead_code,
    reason = "this binary needs only the log capture and a portal"
)]
mod fakes;
#[path = "api/helpers/html.rs"]
#[expect(dead_code, reason = "this binary reads pages with part of the scraper")]
mod html;

use fakes::{Captured, portal_endpoints};
use html::{html_of, input_value, location};

/// The CUS in the newest SMS that carries one, once the outbox worker has written it.
async fn sms_with_a_cus(dir: &std::path::Path) -> String {
    for _ in 0..200 {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Ok(sms) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(cus) = sms["body"]
                .as_str()
                .and_then(|b| b.split("nueva Clave Unica SENCE es ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                return cus.to_owned();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no SMS with a generated CUS in {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        // Everything at trace, except the test's own HTTP client (it logs the cookies it keeps).
        .with_env_filter("trace,cookie_store=off,reqwest=off,hyper_util::client=off")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber of this binary");

    let dir = tempfile::Builder::new()
        .prefix("cus-logs-")
        .tempdir()
        .expect("a temporary folder");
    let mut config = Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.database.url = format!("sqlite://{}", dir.path().join("cus.db").display()).into();
    config.keys.dev_kek_path = dir.path().join("kek");
    config.outbox.dir = dir.path().join("outbox");
    config.outbox.poll_seconds = 1;
    config.hash.memory_kib = 1024;
    config.hash.iterations = 1;
    config.captcha.test_answer = "prueba".into();
    let app = Application::build_with_clock(config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let state = app.state().clone();
    let base = state.issuer.clone();
    tokio::spawn(app.run_until_stopped());

    let mut secrets: Vec<String> = Vec::new();
    let cus = "frase secreta de registro";
    let answer = "Respuesta Secreta Inolvidable";
    secrets.extend([cus.to_owned(), answer.to_owned(), answer.to_lowercase()]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("browser");

    // Register through the form.
    let page = browser
        .get(format!("{base}/natural/registro"))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("html");
    let csrf = input_value(&page, "csrf").expect("csrf");
    secrets.push(csrf.clone());
    let form = [
        ("csrf", csrf.as_str()),
        ("captcha_id", "x"),
        ("captcha", "prueba"),
        ("rut", "12.345.678-5"),
        ("nombres", "Ana"),
        ("apellido_paterno", "Pérez"),
        ("pregunta", "1"),
        ("respuesta", answer),
        ("calle", "Calle"),
        ("numero", "1"),
        ("region", "13"),
        ("comuna", "13101"),
        ("email", "ana@example.cl"),
        ("celular", "12345678"),
        ("cus", cus),
        ("cus_repetida", cus),
        ("action", "registrar"),
    ];
    let registered = browser
        .post(format!("{base}/natural/registro"))
        .form(&form)
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 200);

    // A client with a back-channel logout endpoint, and the whole OpenID flow.
    let (endpoints, logout_tokens) = portal_endpoints().await;
    let meta = cus_server::clients::ClientMetadata {
        client_name: Some("Portal".into()),
        redirect_uris: Some(vec!["http://127.0.0.1:9/cb".into()]),
        first_party: Some(true),
        backchannel_logout_uri: Some(format!("{endpoints}/portal")),
        ..Default::default()
    };
    let created = cus_server::clients::create(
        state.store.as_ref(),
        None,
        meta,
        false,
        "test",
        state.clock.now(),
    )
    .await
    .expect("client");
    let client_id = created.client.client_id.0.clone();
    let client_secret = created.secret.expect("secret");
    secrets.push(client_secret.clone());
    let authorize = format!(
        "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri=http://127.0.0.1:9/cb&scope=openid%20run&state=st&nonce=nn"
    );
    let to_login = location(&browser.get(&authorize).send().await.expect("authorize"));
    let page = browser
        .get(format!("{base}{to_login}"))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    let login = [
        ("csrf", input_value(&page, "csrf").expect("csrf")),
        ("rid", input_value(&page, "rid").expect("rid")),
        ("rut", "12.345.678-5".into()),
        ("cus", cus.into()),
    ];
    let logged_in = browser
        .post(format!("{base}/Account"))
        .form(&login)
        .send()
        .await
        .expect("login");
    // The session cookie must be found and looked for: a renamed cookie must fail here,
    // not let the search below pass without it.
    let cookie = logged_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cus_session="))
        .expect("the login sets the session cookie");
    let session = cookie
        .trim_start_matches("cus_session=")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(session.len() >= 32, "a session cookie value to look for");
    secrets.push(session);
    let resume = location(&logged_in);
    let callback = location(
        &browser
            .get(format!("{base}{resume}"))
            .send()
            .await
            .expect("resume"),
    );
    let code = url::Url::parse(&callback)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    secrets.push(code.clone());
    let http = reqwest::Client::new();
    let tokens: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    for name in ["access_token", "refresh_token", "id_token"] {
        secrets.push(tokens[name].as_str().expect("token").to_owned());
    }
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    let refreshed: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    secrets.push(refreshed["refresh_token"].as_str().expect("rt").to_owned());
    let userinfo = http
        .get(format!("{base}/userinfo"))
        .bearer_auth(refreshed["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), 200);
    // Failures log too: a wrong secret, a replayed code, a wrong CUS.
    let _ = http
        .post(format!("{base}/token"))
        .basic_auth(&client_id, Some("wrong-secret-value"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await;
    let _ = http
        .post(format!("{base}/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ])
        .send()
        .await;
    let page = browser
        .get(format!("{base}/Account"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let wrong = [
        ("csrf", input_value(&page, "csrf").expect("csrf")),
        ("rid", String::new()),
        ("rut", "12.345.678-5".into()),
        ("cus", "intento equivocado secreto".into()),
    ];
    let _ = browser
        .post(format!("{base}/Account"))
        .form(&wrong)
        .send()
        .await;
    secrets.push("intento equivocado secreto".into());
    secrets.push("wrong-secret-value".into());

    // Genere nueva CUS: the question, the answer; the generated CUS travels sealed through
    // the outbox and arrives by SMS (a file here).
    let person = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("browser");
    let form_page = |path: &'static str| {
        let person = person.clone();
        let base = base.clone();
        async move { html_of(&person, format!("{base}{path}")).await }
    };
    let validated = person
        .post(format!("{base}/natural/generar"))
        .form(&[
            (
                "csrf",
                input_value(&form_page("/natural/generar").await, "csrf").expect("csrf"),
            ),
            ("rut", "12.345.678-5".into()),
            ("captcha_id", "x".into()),
            ("captcha", "prueba".into()),
            ("action", "validar".into()),
        ])
        .send()
        .await
        .expect("validar")
        .text()
        .await
        .expect("html");
    let generated = person
        .post(format!("{base}/natural/generar"))
        .form(&[
            ("csrf", input_value(&validated, "csrf").expect("csrf")),
            ("rut", "12.345.678-5".into()),
            ("respuesta", answer.into()),
            ("captcha_id", "x".into()),
            ("captcha", "prueba".into()),
            ("action", "generar".into()),
        ])
        .send()
        .await
        .expect("generar");
    assert_eq!(generated.status(), 200);
    let generated_cus = sms_with_a_cus(&dir.path().join("outbox").join("sms")).await;
    secrets.push(generated_cus.clone());
    // Its first use asks for a CUS of one's own; then "Cambie su CUS" changes it again.
    let first_use = person
        .post(format!("{base}/Account"))
        .form(&[
            (
                "csrf",
                input_value(&form_page("/Account").await, "csrf").expect("csrf"),
            ),
            ("rid", String::new()),
            ("rut", "12.345.678-5".into()),
            ("cus", generated_cus),
        ])
        .send()
        .await
        .expect("login");
    assert!(location(&first_use).starts_with("/natural/nueva-clave"));
    let own = "mi propia clave secreta";
    let chosen = person
        .post(format!("{base}/natural/nueva-clave"))
        .form(&[
            (
                "csrf",
                input_value(&form_page("/natural/nueva-clave?rid=").await, "csrf").expect("csrf"),
            ),
            ("rid", String::new()),
            ("cus_nueva", own.into()),
            ("cus_repetida", own.into()),
        ])
        .send()
        .await
        .expect("forced change");
    assert!(chosen.status().is_redirection());
    let changed_to = "otra clave secreta distinta";
    let changed = person
        .post(format!("{base}/natural/cambiar"))
        .form(&[
            (
                "csrf",
                input_value(&form_page("/natural/cambiar").await, "csrf").expect("csrf"),
            ),
            ("captcha_id", "x".into()),
            ("captcha", "prueba".into()),
            ("rut", "12.345.678-5".into()),
            ("cus", own.into()),
            ("cus_nueva", changed_to.into()),
            ("cus_repetida", changed_to.into()),
        ])
        .send()
        .await
        .expect("change");
    assert_eq!(changed.status(), 200);
    secrets.extend([own.to_owned(), changed_to.to_owned()]);
    // Logout: the portal's logout token is a secret too.
    let hint = tokens["id_token"].as_str().expect("id_token");
    let _ = browser
        .get(format!("{base}/end_session?id_token_hint={hint}"))
        .send()
        .await
        .expect("logout");
    // Let the outbox worker deliver (its logs count too).
    for _ in 0..200 {
        if !logout_tokens.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered = logout_tokens.lock().expect("lock").clone();
    assert_eq!(delivered.len(), 1, "the logout notice was delivered");
    secrets.extend(delivered.into_iter().map(|(_, token)| token));

    let logs =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        logs.len() > 10_000,
        "trace logs were captured ({} bytes)",
        logs.len()
    );
    assert!(logs.contains("login succeeded") && logs.contains("audit event"));
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..secret.len().min(6)]
        );
    }
}
