//! Security review, part A: a public client's token budget per address (item 6), a
//! client moved off secrets loses them (item 10), back-channel logout cannot be aimed
//! inside the network (item 13), and webhook URLs never show their secrets (item 14).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::api::register;
use crate::helpers::fakes::{Captured, closed_port, portal_endpoints, sms_gateway};
use crate::helpers::oidc::key_pair;
use crate::helpers::{Backend, REDIRECT, TestApp, on_both_backends, test_config};

on_both_backends!(
    item_6_one_address_cannot_spend_a_public_clients_token_budget,
    item_10_auth_method_change_clears_the_secret,
    item_13_backchannel_logout_uri_must_be_https,
    item_13_production_refuses_logout_delivery_to_loopback_unless_allowed,
    item_14_webhook_secrets_never_reach_stored_errors_or_logs,
);

/// A public client's budget at `/token` is counted per address: one address spending it
/// (anyone can name a public client) does not stop the people behind another.
async fn item_6_one_address_cannot_spend_a_public_clients_token_budget(backend: Backend) {
    let mut config = test_config(backend).await;
    config.limits.token_per_client = cus_server::config::Limit { max: 3, window: 60 };
    config.server.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    let app = TestApp::spawn_with(config).await;
    let public = app.client(true, true).await;
    let call = |from: &'static str| {
        let request = app
            .http
            .post(app.url("/token"))
            .header("x-forwarded-for", from)
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", public.id.as_str()),
                ("code", "nope"),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-verifier-of-enough-length-0123456789-abcdefghij",
                ),
            ]);
        async move { request.send().await.expect("sent").status().as_u16() }
    };
    for _ in 0..3 {
        assert_eq!(call("198.51.100.1").await, 400, "a bad code, not a limit");
    }
    assert_eq!(
        call("198.51.100.1").await,
        429,
        "this address spent its budget"
    );
    assert_eq!(
        call("198.51.100.2").await,
        400,
        "another address using the same portal is served"
    );
}

#[test]
fn item_6_default_limits_are_sized_for_national_traffic() {
    let config = cus_server::config::Config::load(None).expect("defaults");
    let at_least = |l: cus_server::config::Limit, per_second: u64| l.max >= per_second * l.window;
    // A big portal exchanges far more than 10 codes a second at its peak.
    assert!(at_least(config.limits.token_per_client, 100));
    // Thousands of people share one carrier address (CGNAT).
    assert!(at_least(config.limits.form_per_ip, 5));
}

/// Moving a client to `private_key_jwt` ends its secret, and the previous one a rotation
/// left alive: both are refused at `/token` as `invalid_client`.
async fn item_10_auth_method_change_clears_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(false, true).await;
    let store = app.state.store.as_ref();
    let now = app.state.clock.now();
    let (_, rotated) = cus_server::clients::rotate_secret(
        store,
        &client.id,
        time::Duration::hours(24),
        "test",
        now,
    )
    .await
    .expect("rotated");
    let old = client.secret.clone().expect("secret");
    let token = |secret: String| {
        let request = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "openid")]);
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    assert_ne!(
        token(old.clone()).await.0,
        401,
        "the previous secret still works"
    );
    assert_ne!(token(rotated.clone()).await.0, 401, "and the new one");

    let changed = cus_server::clients::update(
        store,
        &client.id,
        cus_server::clients::ClientMetadata {
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(key_pair("k1").1),
            ..Default::default()
        },
        "test",
        now,
    )
    .await
    .expect("changed");
    assert!(changed.secret_hash.is_none() && changed.previous_secret_hash.is_none());
    let stored = store
        .client(&changed.client_id)
        .await
        .expect("read")
        .expect("present");
    assert!(
        stored.secret_hash.is_none(),
        "the hash is gone from the store"
    );
    assert!(stored.previous_secret_hash.is_none() && stored.previous_secret_expires.is_none());
    for secret in [old, rotated] {
        let (status, body) = token(secret).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_client");
    }

    // The sibling: a confidential client cannot become public (`none`) and keep anything.
    let other = app.client(false, true).await;
    let refused = cus_server::clients::update(
        store,
        &other.id,
        cus_server::clients::ClientMetadata {
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        },
        "test",
        now,
    )
    .await;
    assert!(refused.is_err(), "confidential to public is refused");
}

/// `backchannel_logout_uri` is https; http only to a loopback host, and only for a client
/// in development (every redirect URI loopback).
async fn item_13_backchannel_logout_uri_must_be_https(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = cus_server::clients::create_initial_access_token(
        app.state.store.as_ref(),
        time::Duration::hours(1),
        app.state.clock.now(),
    )
    .await
    .expect("token");
    let web = "https://portal.example.cl/cb";
    let refused = [
        ("http://example.com/bcl", web),
        ("http://127.0.0.1:9/bcl", web),
        ("http://localhost/bcl", web),
        ("gopher://localhost:6379/_FLUSHALL", REDIRECT),
        ("file://localhost/etc/passwd", REDIRECT),
        ("https://portal.example.cl/bcl#x", web),
        ("not a url", web),
    ];
    for (uri, redirect) in refused {
        let (status, body) = register(
            &app,
            Some(token.as_str()),
            json!({ "client_name": "Portal", "redirect_uris": [redirect], "backchannel_logout_uri": uri }),
        )
        .await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{uri}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("backchannel_logout_uri")),
            "{body}"
        );
    }
    let accepted = [
        ("https://portal.example.cl/bcl", web),
        ("http://127.0.0.1:9/bcl", REDIRECT),
        ("http://[::1]:9/bcl", REDIRECT),
    ];
    for (uri, redirect) in accepted {
        let (status, body) = register(
            &app,
            Some(token.as_str()),
            json!({ "client_name": "Portal", "redirect_uris": [redirect], "backchannel_logout_uri": uri }),
        )
        .await;
        assert_eq!(status, 201, "{uri}: {body}");
    }
}

/// In production the outbox worker does not POST logout tokens inside the network
/// (here: to loopback), unless the operator allow-listed the address; the refusal is a
/// failed delivery with its reason.
async fn item_13_production_refuses_logout_delivery_to_loopback_unless_allowed(backend: Backend) {
    let mut config = test_config(backend).await;
    config.environment = cus_server::config::Environment::Production;
    config.keys.kek = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
        .to_owned()
        .into();
    // In production only `cus migrate` changes the schema: do what it does first.
    crate::helpers::migrate(&config).await;
    let app = TestApp::spawn_with(config.clone()).await;
    let (base, received) = portal_endpoints().await;
    let portal = app
        .client_from(cus_server::clients::ClientMetadata {
            client_name: Some("Portal".into()),
            redirect_uris: Some(vec![REDIRECT.into()]),
            first_party: Some(true),
            backchannel_logout_uri: Some(format!("{base}/bcl")),
            ..Default::default()
        })
        .await;
    let notice = cus_core::notification::Notification::logout(
        &portal.id,
        "sid-1",
        "1",
        app.state.clock.now(),
    );
    app.state
        .store
        .queue_notifications(&[notice])
        .await
        .expect("queued");
    assert_eq!(app.deliver_with(&config.outbox).await, 0, "refused");
    assert_eq!(
        received.lock().expect("lock").len(),
        0,
        "nothing reached the portal"
    );
    assert_eq!(app.pending().await.len(), 1, "kept, as a failure");
    let stored = app
        .state
        .store
        .deliveries(Some(&portal.id), 10)
        .await
        .expect("deliveries");
    let error = stored[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("127.0.0.1") && error.contains("backchannel_allowed_networks"),
        "{error}"
    );

    let mut allowed = config.outbox.clone();
    allowed.backchannel_allowed_networks = vec!["127.0.0.0/8".parse().expect("net")];
    app.clock.advance(3600);
    assert_eq!(app.deliver_with(&allowed).await, 1, "allow-listed");
    assert_eq!(received.lock().expect("lock").len(), 1);
}

/// A webhook URL carries its credentials in the user-info and the query; a failed SMS
/// shows neither in the stored error (what `cus outbox` prints) nor in the logs.
async fn item_14_webhook_secrets_never_reach_stored_errors_or_logs(backend: Backend) {
    let config = test_config(backend).await;
    let app = TestApp::spawn_with(config.clone()).await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    for port in [
        sms_gateway(StatusCode::INTERNAL_SERVER_ERROR).await.0,
        closed_port().await,
    ] {
        let mut outbox = config.outbox.clone();
        outbox.sms_webhook_url =
            format!("http://gw-USERSECRET:PASSSECRET@127.0.0.1:{port}/sms?api_key=KEYSECRET&to=x")
                .into();
        let sms =
            cus_server::lifecycle::messages::registered_sms("+56912345678", app.state.clock.now());
        app.state
            .store
            .queue_notifications(&[sms])
            .await
            .expect("queued");
        assert_eq!(app.deliver_with(&outbox).await, 0);
        app.clock.advance(7200);
    }
    let stored = app
        .state
        .store
        .deliveries(None, 10)
        .await
        .expect("deliveries");
    assert_eq!(stored.len(), 2);
    for d in &stored {
        let error = d.last_error.clone().unwrap_or_default();
        assert!(error.contains("127.0.0.1"), "still says where: {error}");
        assert!(!error.contains("SECRET"), "{error}");
    }
    let logs = String::from_utf8_lossy(&logs.0.lock().expect("lock")).into_owned();
    assert!(
        logs.contains("delivery failed"),
        "the failures were logged: {logs}"
    );
    assert!(!logs.contains("SECRET"), "{logs}");
}

#[test]
fn item_14_config_check_masks_webhook_query_and_user_info() {
    let mut config = cus_server::config::Config::load(None).expect("defaults");
    config.outbox.sms_webhook_url = "https://gw-USERSECRET@sms.example/send?api_key=KEYSECRET"
        .to_owned()
        .into();
    config.outbox.smtp_url = "smtps://mailer:PASSSECRET@smtp.example:465"
        .to_owned()
        .into();
    let text = config.masked_toml();
    assert!(!text.contains("SECRET"), "{text}");
    assert!(
        text.contains("sms.example/********?api_key=********"),
        "{text}"
    );
}
