//! The example portal signs a person in end to end against a running CUS.

use std::sync::Arc;

use cus_server::clock::SystemClock;
use cus_server::config::Config;
use cus_server::startup::Application;

fn value_of(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).expect("field");
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("value") + 7;
    rest[start..start + rest[start..].find('"').expect("end")].to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("redirect")
        .to_owned()
}

/// CUS (embedded) and the example portal, registered with it, both listening.
struct World {
    state: cus_server::app::AppState,
    issuer: String,
    portal_base: String,
    /// CUS's files (SQLite database, KEK, outbox): removed with the world.
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    // CUS, embedded.
    let dir = tempfile::Builder::new()
        .prefix("cus-portal-")
        .tempdir()
        .expect("a temporary folder");
    let mut config = Config::load(None).expect("config");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.database.url = format!("sqlite://{}", dir.path().join("cus.db").display()).into();
    config.keys.dev_kek_path = dir.path().join("kek");
    config.outbox.dir = dir.path().join("outbox");
    config.hash.memory_kib = 1024;
    config.hash.iterations = 1;
    // The outbox worker (it delivers logout notices) runs every second.
    config.outbox.poll_seconds = 1;
    let cus = Application::build_with_clock(config, Arc::new(SystemClock))
        .await
        .expect("CUS starts");
    let state = cus.state().clone();
    let issuer = state.issuer.clone();
    tokio::spawn(cus.run_until_stopped());

    // The portal's address first: its redirect URI must be registered.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let portal_base = format!("http://{}", listener.local_addr().expect("addr"));
    let metadata = cus_server::clients::ClientMetadata {
        client_name: Some("Portal de ejemplo".into()),
        redirect_uris: Some(vec![format!("{portal_base}/callback")]),
        post_logout_redirect_uris: Some(vec![format!("{portal_base}/")]),
        backchannel_logout_uri: Some(format!("{portal_base}/backchannel-logout")),
        first_party: Some(true),
        ..Default::default()
    };
    let created = cus_server::clients::create(
        state.store.as_ref(),
        Some("portal-ejemplo".into()),
        metadata,
        false,
        "test",
        state.clock.now(),
    )
    .await
    .expect("client");
    let spec = cus_server::admin::AccountSpec {
        rut: cus_core::Rut::parse("12.345.678-5").expect("rut"),
        nombres: "María Carmen".into(),
        apellidos: vec!["Del Río".into(), "González".into()],
        email: cus_core::contact::Email::parse("maria@example.cl").expect("valid"),
        celular: None,
        address: None,
    };
    cus_server::admin::create_account(
        state.store.as_ref(),
        &state.hasher,
        spec,
        "una clave de prueba larga",
        false,
        "cli:test-operator",
        state.clock.now(),
    )
    .await
    .expect("account");

    let portal = cus_example_portal::router(cus_example_portal::PortalConfig {
        issuer: issuer.clone(),
        client_id: "portal-ejemplo".into(),
        client_secret: created.secret.expect("secret"),
        base_url: portal_base.clone(),
    })
    .await
    .expect("portal discovers CUS");
    tokio::spawn(async move { axum::serve(listener, portal).await });

    World {
        state,
        issuer,
        portal_base,
        _dir: dir,
    }
}

/// A browser signed in to the portal through CUS, the claims on its page checked.
async fn signed_in_browser(w: &World) -> reqwest::Client {
    let (issuer, portal_base) = (&w.issuer, &w.portal_base);
    // A browser.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("browser");
    let home = browser
        .get(format!("{portal_base}/"))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("html");
    assert!(home.contains("Ingresar con Clave Única SENCE"));
    let to_cus = location(
        &browser
            .get(format!("{portal_base}/login"))
            .send()
            .await
            .expect("login"),
    );
    assert!(to_cus.starts_with(&format!("{issuer}/authorize?")));
    let to_login = location(&browser.get(&to_cus).send().await.expect("authorize"));
    let page = browser
        .get(format!("{issuer}{to_login}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let form = [
        ("csrf", value_of(&page, "csrf")),
        ("rid", value_of(&page, "rid")),
        ("rut", "12.345.678-5".into()),
        ("cus", "una clave de prueba larga".into()),
    ];
    let resume = location(
        &browser
            .post(format!("{issuer}/Account"))
            .form(&form)
            .send()
            .await
            .expect("post login"),
    );
    let to_portal = location(
        &browser
            .get(format!("{issuer}{resume}"))
            .send()
            .await
            .expect("resume"),
    );
    assert!(to_portal.starts_with(&format!("{portal_base}/callback?code=")));
    let back_home = browser.get(&to_portal).send().await.expect("callback");
    assert_eq!(location(&back_home), "/");
    let signed_in = browser
        .get(format!("{portal_base}/"))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("html");
    assert!(
        signed_in.contains("&quot;rut&quot;: &quot;12345678-5&quot;")
            || signed_in.contains("\"rut\": \"12345678-5\""),
        "{signed_in}"
    );
    assert!(signed_in.contains("Del Río"));
    assert!(signed_in.contains("Cerrar sesión"));
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_signs_in_through_cus_and_shows_the_claims() {
    let w = world().await;
    let (issuer, portal_base) = (&w.issuer, &w.portal_base);
    let browser = signed_in_browser(&w).await;

    // Logout goes through CUS's end_session back to the portal.
    let to_end = location(
        &browser
            .get(format!("{portal_base}/logout"))
            .send()
            .await
            .expect("logout"),
    );
    assert!(to_end.starts_with(&format!("{issuer}/end_session?id_token_hint=")));
    assert_eq!(
        location(&browser.get(&to_end).send().await.expect("end_session")),
        format!("{portal_base}/")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_at_cus_signs_the_portal_out_by_back_channel() {
    let w = world().await;
    let browser = signed_in_browser(&w).await;
    // Logged out at CUS itself (as another portal would send the person): confirmed there.
    let page = browser
        .get(format!("{}/end_session", w.issuer))
        .send()
        .await
        .expect("end_session")
        .text()
        .await
        .expect("html");
    let confirmed = browser
        .post(format!("{}/end_session/confirm", w.issuer))
        .form(&[("csrf", value_of(&page, "csrf"))])
        .send()
        .await
        .expect("confirm");
    assert!(confirmed.status().is_success());
    // The outbox worker tells the portal within a few seconds; its session then ends.
    let mut home = String::new();
    for _ in 0..200 {
        home = browser
            .get(format!("{}/", w.portal_base))
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html");
        if home.contains("Ingresar con Clave Única SENCE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(home.contains("Ingresar con Clave Única SENCE"), "{home}");
    // The worker marks the notice sent once the portal answered: a moment after the
    // portal acted on it.
    let mut pending = Vec::new();
    for _ in 0..50 {
        pending = w.state.store.pending_notifications(10).await.expect("read");
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        pending.is_empty(),
        "{} notices still pending",
        pending.len()
    );
}
