//! Personal-data requests (Ley 21.719): `cus account export RUT` and "Mis datos" give
//! everything CUS holds about one person — their own, never another's — without a hash,
//! and each hand-out is audited.

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::browse::sign_in;
use crate::helpers::cli::Cli;
use crate::helpers::html::{html_of, input_value, location};
use crate::helpers::oidc::{authorize_url, code_of};
use crate::helpers::{
    Backend, CUS, OTHER_CUS, OTHER_RUT, RUT, TestApp, TestClient, audit_count, on_both_backends,
};

on_both_backends!(
    export_gives_account_consents_sessions_grants_and_events_without_hashes,
    mis_datos_downloads_only_the_persons_own_data_with_csrf_and_audited,
    an_old_login_signs_in_again_before_the_download,
);

/// The person signs in through `client`, consents, and the portal redeems the code: a
/// session, a consent, a refresh grant and login events.
async fn person_with_a_portal(
    app: &TestApp,
    rut: &str,
    cus: &str,
) -> (reqwest::Client, TestClient) {
    let client = app.client(false, false).await;
    let browser = app.browser();
    let callback = app
        .browse_to_callback(
            &browser,
            &authorize_url(app, &client.id, &[("scope", "openid run")]),
            rut,
            cus,
        )
        .await;
    let tokens = app.redeem(&client, &code_of(&callback)).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    (browser, client)
}

/// What no document may carry: hashes, the CUS, the other person.
fn assert_only_mine(text: &str) {
    for never in [
        "$argon2",
        "cus_hash",
        "answer_hash",
        CUS,
        OTHER_CUS,
        "juan@example.cl",
        "Juan Pablo",
        "11111111",
    ] {
        assert!(!text.contains(never), "{never} in {text}");
    }
}

async fn export_gives_account_consents_sessions_grants_and_events_without_hashes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    app.other_account().await;
    let (_, client) = person_with_a_portal(&app, RUT, CUS).await;
    person_with_a_portal(&app, OTHER_RUT, OTHER_CUS).await;

    let cli = Cli::new();
    let out = cli
        .cus()
        .args(["account", "export", RUT, "--operator", "jperez"])
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .env("CUS_CACHE__URL", app.config.cache.url.expose_secret())
        .env("CUS_CACHE__PREFIX", &app.config.cache.prefix)
        .env("CUS_KEYS__DEV_KEK_PATH", &app.config.keys.dev_kek_path)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_only_mine(&text);
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    let account = &doc["account"];
    assert_eq!(account["email"], "maria@example.cl");
    assert_eq!(account["celular"], "+56912345678");
    assert_eq!(account["address"]["comuna"], "Santiago");
    assert_eq!(account["cus"]["held"], true);
    assert!(account["cus"]["last_changed_at"].is_string());
    assert_eq!(doc["consents"][0]["client_id"], client.id.as_str());
    assert_eq!(doc["consents"][0]["client_name"], "Portal de pruebas");
    assert_eq!(doc["refresh_grants"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["refresh_grants"][0]["client_id"], client.id.as_str());
    let kinds: Vec<&str> = doc["audit_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"login_succeeded"), "{kinds:?}");
    assert!(kinds.contains(&"account_created"), "{kinds:?}");
    match backend {
        // Redis is shared with the node: the CLI sees its session.
        Backend::Production => {
            let sessions = doc["sessions"].as_array().expect("sessions");
            assert_eq!(sessions.len(), 1, "{sessions:?}");
            assert_eq!(sessions[0]["ip"], "127.0.0.1");
            assert!(sessions[0]["started_at"].is_string());
        }
        // The node's in-process cache cannot be seen from another process: said, not hidden.
        _ => assert!(doc["sessions"].is_null(), "{}", doc["sessions"]),
    }
    // The export itself is an access, recorded as the operator's.
    let trail = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some("12345678-5".into()),
            kinds: vec![cus_core::audit::AuditKind::PersonalDataExported],
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].operator.as_deref(), Some("cli:jperez"));

    let nobody = cli
        .cus()
        .args(["account", "export", "22.222.222-2", "--operator", "jperez"])
        .env("CUS_DATABASE__URL", app.config.database.url.expose_secret())
        .env("CUS_CACHE__URL", app.config.cache.url.expose_secret())
        .env("CUS_CACHE__PREFIX", &app.config.cache.prefix)
        .output()
        .expect("runs");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account"));
}

async fn download(
    browser: &reqwest::Client,
    app: &TestApp,
    csrf: Option<&str>,
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
    browser
        .post(app.url("/mis-datos/descargar"))
        .form(&form)
        .send()
        .await
        .expect("download")
}

async fn mis_datos_downloads_only_the_persons_own_data_with_csrf_and_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    app.other_account().await;
    // The other person is signed in too, with a portal: none of it may show.
    person_with_a_portal(&app, OTHER_RUT, OTHER_CUS).await;
    let (browser, client) = person_with_a_portal(&app, RUT, CUS).await;

    // No session, no data: to the login.
    let stranger = app.browser();
    let page = stranger
        .get(app.url("/mis-datos"))
        .send()
        .await
        .expect("GET");
    assert_eq!(location(&page), "/Account");
    let login = html_of(&stranger, app.url("/Account")).await;
    let stranger_csrf = input_value(&login, "csrf").expect("csrf");
    let refused = download(&stranger, &app, Some(&stranger_csrf)).await;
    assert_eq!(location(&refused), "/Account");

    let page = html_of(&browser, app.url("/mis-datos")).await;
    assert!(
        page.contains("María Carmen") && page.contains("Descargar mis datos"),
        "{page}"
    );
    assert_only_mine(&page);
    let csrf = input_value(&page, "csrf").expect("csrf");

    // Without the CSRF token, or with another browser's: refused, nothing handed out.
    assert_eq!(download(&browser, &app, None).await.status(), 403);
    assert_eq!(
        download(&browser, &app, Some(&stranger_csrf))
            .await
            .status(),
        403
    );
    assert_eq!(
        audit_count(&app, "personal_data_exported", "ok").await,
        1,
        "seeing the page is a hand-out too; the refused downloads are not"
    );

    let response = download(&browser, &app, Some(&csrf)).await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"mis-datos-12345678-5.json\""
    );
    assert_eq!(header("cache-control"), "no-store");
    let text = response.text().await.expect("body");
    assert_only_mine(&text);
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["account"]["rut"], "12.345.678-5");
    assert_eq!(doc["consents"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["consents"][0]["client_id"], client.id.as_str());
    let sessions = doc["sessions"].as_array().expect("sessions");
    assert_eq!(
        sessions.len(),
        1,
        "only this person's session: {sessions:?}"
    );
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    assert_eq!(doc["refresh_grants"].as_array().map(Vec::len), Some(1));

    let trail = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            kinds: vec![cus_core::audit::AuditKind::PersonalDataExported],
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(trail.len(), 2, "the page, then the download");
    assert!(
        trail
            .iter()
            .all(|e| e.subject.as_deref() == Some("12345678-5")
                && e.ip.as_deref() == Some("127.0.0.1")
                && e.operator.is_none())
    );
}

async fn an_old_login_signs_in_again_before_the_download(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let browser = app.browser();
    sign_in(&app, &browser, RUT, CUS).await;
    let page = html_of(&browser, app.url("/mis-datos")).await;
    let csrf = input_value(&page, "csrf").expect("csrf");
    // Still within the idle timeout, but past the age a download needs.
    let max_age = app.config.accounts.export_max_auth_age.secs();
    app.clock.advance(max_age + 60);
    let page = html_of(&browser, app.url("/mis-datos")).await;
    assert!(
        page.contains("Ingrese nuevamente")
            && !page.contains("Descargar mis datos")
            && !page.contains("12.345.678-5")
            && !page.contains("<pre>"),
        "an old login sees nothing of the person: {page}"
    );
    let refused = download(&browser, &app, Some(&csrf)).await;
    assert_eq!(location(&refused), "/Account");
    assert_eq!(
        audit_count(&app, "personal_data_exported", "ok").await,
        1,
        "only the first, recent, view"
    );
    // The CUS again: the page and the download go.
    sign_in(&app, &browser, RUT, CUS).await;
    let page = html_of(&browser, app.url("/mis-datos")).await;
    let csrf = input_value(&page, "csrf").expect("csrf");
    assert_eq!(download(&browser, &app, Some(&csrf)).await.status(), 200);
    assert_eq!(audit_count(&app, "personal_data_exported", "ok").await, 3);
}
