//! Running CUS as an operator does: the management listener and its metrics, and several
//! nodes over one PostgreSQL and one Redis.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::browse::signed_in;
use crate::helpers::node::{Node, delivered_in, email_of, register_at, try_register_at};
use crate::helpers::oidc::{authorize_url, code_of, kid};
use crate::helpers::{Backend, CUS, REDIRECT, RUT, TestApp, TestClient, test_config};

/// Checks that `text` is Prometheus text exposition (version 0.0.4): every line a
/// `# HELP`/`# TYPE` comment or `name{labels} value`, every sample's family typed.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut typed = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("a number in {line}"));
        let name = series.split('{').next().expect("a name");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.iter().any(|t| t == f))
            .unwrap_or(name);
        assert!(typed.iter().any(|t| t == family), "untyped sample: {line}");
        samples.push((series.to_owned(), value));
    }
    samples
}

/// The sum of every sample of `series_prefix` (a name and the start of its labels).
fn total(samples: &[(String, f64)], name: &str, label: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.starts_with(name) && series.contains(label))
        .map(|(_, value)| value)
        .sum()
}

async fn scrape(http: &reqwest::Client, management: std::net::SocketAddr) -> Vec<(String, f64)> {
    let response = http
        .get(format!("http://{management}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse_prometheus(&response.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_are_prometheus_text_that_moves_and_only_on_the_management_port() {
    let mut config = test_config(Backend::Embedded).await;
    config.server.management_listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    let management = app.management.expect("a management listener");
    let browser = app.browser();
    crate::helpers::browse::sign_in(&app, &browser, RUT, CUS).await;
    let before = scrape(&app.http, management).await;
    let logins = r#"outcome="verified""#;
    let pages = r#"route="/Account""#;
    crate::helpers::browse::sign_in(&app, &app.browser(), RUT, CUS).await;
    let after = scrape(&app.http, management).await;
    assert_eq!(
        total(&after, "cus_logins_total", logins),
        total(&before, "cus_logins_total", logins) + 1.0
    );
    assert!(
        total(&after, "cus_http_requests_total", pages)
            >= total(&before, "cus_http_requests_total", pages) + 2.0,
        "the login page and its POST are counted"
    );
    assert!(total(&after, "cus_http_request_duration_seconds_count", pages) >= 2.0);
    assert!(total(&after, "cus_argon2_duration_seconds_count", "") >= 2.0);
    assert!(total(&after, "cus_signing_key_active_from_seconds", "RS256") > 0.0);
    assert!(total(&after, "cus_db_pool_max_connections", "") >= 1.0);
    assert!(total(&after, "cus_db_pool_connections", r#"state="idle""#) >= 1.0);

    // The outbox gauges are read from the store at each scrape: a message queued ten
    // minutes ago and not yet sent shows in its channel, and goes once it is sent.
    let waiting = cus_core::notification::Notification {
        id: uuid::Uuid::now_v7(),
        channel: cus_core::notification::Channel::Sms,
        recipient: "+56912345678".into(),
        subject: String::new(),
        body: "Su código".into(),
        sealed: false,
        created_at: app.state.clock.now() - time::Duration::minutes(10),
    };
    let store = &app.state.store;
    store
        .queue_notifications(std::slice::from_ref(&waiting))
        .await
        .expect("queued");
    let queued = scrape(&app.http, management).await;
    let sms = r#"channel="sms""#;
    assert_eq!(total(&queued, "cus_outbox_pending_messages", sms), 1.0);
    assert!(total(&queued, "cus_outbox_oldest_pending_age_seconds", sms) >= 600.0);
    let mail = r#"channel="email""#;
    assert!(
        queued
            .iter()
            .any(|(s, _)| s.starts_with("cus_outbox_pending_messages") && s.contains(mail)),
        "an empty channel shows 0, not nothing"
    );
    store
        .mark_sent(waiting.id, app.state.clock.now())
        .await
        .expect("sent");
    let sent = scrape(&app.http, management).await;
    assert_eq!(total(&sent, "cus_outbox_pending_messages", sms), 0.0);
    assert_eq!(
        total(&sent, "cus_outbox_oldest_pending_age_seconds", sms),
        0.0
    );

    // Invented methods share one label: they cannot grow /metrics without bound.
    for name in ["FROBNICATE", "XYZZY"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).expect("a method token");
        app.http
            .request(method, app.url("/Account"))
            .send()
            .await
            .expect("answered");
    }
    let series = scrape(&app.http, management).await;
    assert!(
        series
            .iter()
            .all(|(s, _)| !s.contains("FROBNICATE") && !s.contains("XYZZY"))
    );
    assert_eq!(
        total(&series, "cus_http_requests_total", r#"method="OTHER""#),
        2.0
    );

    // Not on the public port; the management /readyz says why when it is not ready.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let ready: Value = app
        .http
        .get(format!("http://{management}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
}

/// Nodes share nothing but PostgreSQL and Redis: a login at A, its code redeemed at B, the
/// token read at A, a logout at B that ends the session everywhere, and a key rotated
/// through A that B publishes within `keys.reload_seconds`.
#[tokio::test]
async fn two_nodes_serve_one_sign_in_and_follow_a_key_rotation() {
    let app = TestApp::spawn(Backend::Production).await;
    app.account().await;
    let client = app.client(false, true).await;
    let b = Node::beside(&app).await;

    let browser = app.browser();
    let start = authorize_url(&app, &client.id, &[("scope", "openid profile")]);
    let callback = app.browse_to_callback(&browser, &start, RUT, CUS).await;
    let tokens = b.redeem(&client, &code_of(&callback)).await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access token from B");
    let (status, claims) = crate::helpers::oidc::userinfo(&app, access).await;
    assert_eq!(status, 200, "A reads B's token: {claims}");
    assert!(claims["sub"].is_string());

    // The browser's session cookie goes to B as well (same host): B ends it for both.
    let hint = tokens["id_token"].as_str().expect("id_token");
    let logout = browser
        .get(b.url(&format!("/end_session?id_token_hint={hint}")))
        .send()
        .await
        .expect("logout at B");
    assert!(logout.status().is_success(), "{}", logout.status());
    assert!(
        !signed_in(&app, &browser, &client).await,
        "A no longer knows the session"
    );

    // Rotated through A (as `cus keys rotate` on A's machine would), published by B.
    let kek = cus_server::secrets::Kek::from_config(&app.config.keys).expect("kek");
    let now = app.state.clock.now();
    let kids = cus_server::keys::rotate(app.state.store.as_ref(), &kek, now, time::Duration::ZERO)
        .await
        .expect("rotated");
    app.state.keys.reload().await.expect("A reloads");
    let mut published = false;
    for _ in 0..40 {
        let jwks: Value = app
            .http
            .get(b.url("/jwks"))
            .send()
            .await
            .expect("jwks at B")
            .json()
            .await
            .expect("json");
        let served: Vec<&str> = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        if kids.iter().all(|k| served.contains(&k.as_str())) {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        published,
        "B serves the new keys within its reload interval"
    );
    // And B signs with them: an ID token minted at B now carries a new kid.
    let fresh = app.browser();
    let callback = app.browse_to_callback(&fresh, &start, RUT, CUS).await;
    let tokens = b.redeem(&client, &code_of(&callback)).await;
    let signed_by = kid(tokens["id_token"].as_str().expect("id_token"));
    assert!(
        kids.contains(&signed_by),
        "B signs with the rotated key {signed_by}"
    );
}

/// Two nodes, each with its outbox worker, 200 registrations spread over both: every
/// message is delivered, and none twice (each delivered file is named by its message).
#[tokio::test]
async fn two_nodes_deliver_every_message_exactly_once() {
    let app = TestApp::spawn(Backend::Production).await;
    let b = Node::beside(&app).await;
    let bases = [app.base.clone(), b.base.clone()];
    let ruts: Vec<String> = (0..200u32)
        .map(|i| {
            cus_core::Rut::from_body(20_000_000 + i)
                .expect("rut")
                .to_string()
        })
        .collect();
    let mut registrations = tokio::task::JoinSet::new();
    let app = std::sync::Arc::new(app);
    for (i, chunk) in ruts.chunks(25).enumerate() {
        let (app, base, chunk) = (app.clone(), bases[i % 2].clone(), chunk.to_vec());
        registrations.spawn(async move {
            for rut in chunk {
                register_at(&app, &base, &rut).await;
            }
        });
    }
    // Node A delivers in rounds of its own meanwhile; node B's worker polls every second.
    let delivering = app.clone();
    let a_worker = tokio::spawn(async move {
        loop {
            delivering.deliver_with(&delivering.config.outbox).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    while let Some(done) = registrations.join_next().await {
        done.expect("registrations");
    }
    let expected = app
        .state
        .store
        .deliveries(None, 10_000)
        .await
        .expect("outbox rows")
        .len();
    assert!(expected >= 200, "every registration queued its messages");
    let mut delivered = Vec::new();
    for _ in 0..300 {
        delivered = delivered_in(&app.config.outbox.dir);
        delivered.extend(delivered_in(&b.outbox()));
        if delivered.len() >= expected && app.pending().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a_worker.abort();
    let unique: std::collections::HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "no message delivered twice");
    assert_eq!(delivered.len(), expected, "every message delivered");
    let by_b = delivered_in(&b.outbox()).len();
    assert!(
        by_b > 0 && by_b < expected,
        "both nodes delivered ({by_b} by B)"
    );
}

/// What a dependency outage is tested through: a page and a protocol request, each of
/// which needs the store and the cache.
async fn page_and_token(app: &TestApp, client: &TestClient) -> (u16, String, u16, Value) {
    let page = app
        .http
        .get(authorize_url(app, &client.id, &[("scope", "openid")]))
        .send()
        .await
        .expect("authorize");
    let (page_status, page) = (page.status().as_u16(), page.text().await.expect("page"));
    let token = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    let token_status = token.status().as_u16();
    (
        page_status,
        page,
        token_status,
        token.json().await.expect("json"),
    )
}

/// The management `/readyz`: its status and reasons.
async fn readiness(app: &TestApp) -> (u16, String) {
    let management = app.management.expect("a management listener");
    let response = app
        .http
        .get(format!("http://{management}/readyz"))
        .send()
        .await
        .expect("readyz");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

/// Down: every request that needs the dependency gets a clean 503 — a Spanish page, RFC
/// 6749 JSON — readiness names it, the server keeps running. Back: it serves again by
/// itself, without a restart.
/// `dependency` is the label its failures are counted under in `cus_internal_errors_total`.
async fn outage_and_recovery(
    app: &TestApp,
    down: impl Fn(),
    up: impl Fn(),
    named: &str,
    dependency: &str,
) {
    let management = app.management.expect("a management listener");
    let failures = |samples: &[(String, f64)]| {
        let label = format!("dependency=\"{dependency}\"");
        total(samples, "cus_internal_errors_total", &label)
    };
    let client = app.client(false, true).await;
    let (page, _, token, _) = page_and_token(app, &client).await;
    assert_eq!(
        (page, token),
        (303, 400),
        "before: a redirect to login, invalid_grant"
    );

    let before = failures(&scrape(&app.http, management).await);
    down();
    // A node answers from the clients it keeps in memory until its next look at the
    // database's change counter, at most a second away (`cus_store::client_cache`): the
    // outage shows from then on.
    let mut shown = false;
    for _ in 0..50 {
        if page_and_token(app, &client).await.0 == 503 {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "the outage shows within seconds");
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(page_and_token(app, &client).await);
    }
    for (page_status, page, token_status, token) in &answers {
        assert_eq!(*page_status, 503, "{page}");
        assert!(page.contains("Servicio no disponible"), "{page}");
        assert_eq!(*token_status, 503);
        assert_eq!(token["error"], "temporarily_unavailable");
    }
    let (status, reasons) = readiness(app).await;
    assert_eq!(status, 503);
    assert!(reasons.contains(named), "{reasons}");
    assert!(!app.server.is_finished(), "the server is still running");
    let during = failures(&scrape(&app.http, management).await);
    assert!(
        during >= before + 10.0,
        "each 503 is counted under {dependency}: {before} then {during}"
    );

    up();
    let mut recovered = false;
    for _ in 0..100 {
        if page_and_token(app, &client).await.0 == 303 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "serving again without a restart");
    assert_eq!(readiness(app).await.0, 200);
}

#[tokio::test]
async fn a_postgresql_outage_is_a_clean_503_and_heals_by_itself() {
    let mut config = test_config(Backend::Production).await;
    crate::helpers::migrate(&config).await;
    let mut url = url::Url::parse(config.database.url.expose_secret()).expect("url");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    );
    let relay = crate::helpers::fakes::Relay::to(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(relay.port)).expect("port");
    config.database.url = url.to_string().into();
    config.server.management_listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = TestApp::spawn_with(config).await;
    outage_and_recovery(
        &app,
        || relay.cut(),
        || relay.restore(),
        "store (postgres)",
        "database",
    )
    .await;
}

#[tokio::test]
async fn a_redis_outage_is_a_clean_503_and_heals_by_itself() {
    let mut config = test_config(Backend::Production).await;
    let redis = url::Url::parse(&crate::helpers::redis_url()).expect("REDIS_URL");
    let upstream = format!(
        "{}:{}",
        redis.host_str().expect("host"),
        redis.port().unwrap_or(6379)
    );
    let relay = crate::helpers::fakes::Relay::to(upstream).await;
    config.cache.url = format!("redis://127.0.0.1:{}", relay.port).into();
    config.server.management_listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = TestApp::spawn_with(config).await;
    outage_and_recovery(
        &app,
        || relay.cut(),
        || relay.restore(),
        "cache (redis)",
        "cache",
    )
    .await;
}

/// `kill -9` of a node in the middle of 200 concurrent registrations: every account is
/// whole or absent, each whole one has its messages queued (one transaction with the
/// account), every registration answered 200 before the kill is there, and a node started
/// afterwards delivers every one of those messages exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_burst_leaves_whole_accounts_and_loses_no_message() {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let app = Arc::new(TestApp::spawn(Backend::Production).await);
    // Its worker's first round is an hour away: every message of the burst is still
    // queued when the node dies.
    let mut node = Node::beside_with(&app, &[("CUS_OUTBOX__POLL_SECONDS", "3600")]).await;
    let ruts: Vec<String> = (0..200u32)
        .map(|i| {
            cus_core::Rut::from_body(21_000_000 + i)
                .expect("rut")
                .to_string()
        })
        .collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let mut burst = tokio::task::JoinSet::new();
    for rut in ruts.clone() {
        let (app, base, answered) = (app.clone(), node.base.clone(), answered.clone());
        burst.spawn(async move {
            let answer = try_register_at(&app, &base, &rut).await;
            if matches!(answer, Ok(200)) {
                answered.fetch_add(1, Ordering::SeqCst);
            }
            (rut, answer)
        });
    }
    for _ in 0..600 {
        if answered.load(Ordering::SeqCst) >= 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill();
    // A 503 is the node turning a request away under the burst (no database connection
    // free in time): it promises nothing, like a request the kill cut off.
    let (mut confirmed, mut cut_off, mut turned_away) = (Vec::new(), 0, 0);
    while let Some(done) = burst.join_next().await {
        let (rut, answer) = done.expect("a registration task");
        match answer {
            Ok(200) => confirmed.push(rut),
            Ok(503) => turned_away += 1,
            Ok(status) => panic!("{rut}: {status}, neither a registration nor a dead node"),
            Err(_) => cut_off += 1,
        }
    }
    assert!(
        confirmed.len() >= 25 && cut_off > 0,
        "killed mid-burst: {} answered, {cut_off} cut off",
        confirmed.len()
    );

    let store = &app.state.store;
    let mut whole = HashSet::new();
    for rut in &ruts {
        let parsed = cus_core::Rut::parse(rut).expect("rut");
        let Some((account, credentials)) = store.account_by_rut(&parsed).await.expect("read")
        else {
            continue;
        };
        assert_eq!(
            (account.nombres.as_str(), account.apellido_paterno.as_str()),
            ("Juan Andrés", "Pérez")
        );
        assert_eq!(account.apellido_materno.as_deref(), Some("Soto"));
        assert_eq!(account.email, email_of(rut));
        assert_eq!(account.celular.as_deref(), Some("+56987654321"));
        assert!(account.address.is_some(), "{rut}: an address");
        assert!(!credentials.cus_hash.is_empty(), "{rut}: a CUS");
        assert!(credentials.secret_answer_hash.is_some(), "{rut}: an answer");
        assert!(credentials.email_verify_hash.is_some(), "{rut}: a link");
        whole.insert(account.email);
    }
    for rut in &confirmed {
        assert!(whole.contains(&email_of(rut)), "{rut} answered 200: kept");
    }
    let queued = store.deliveries(None, 10_000).await.expect("outbox");
    let mut mailed = HashSet::new();
    for row in &queued {
        match row.channel.as_str() {
            "email" => assert!(
                whole.contains(&row.recipient) && mailed.insert(row.recipient.clone()),
                "one e-mail per whole account: {}",
                row.recipient
            ),
            "sms" => assert_eq!(row.recipient, "+56987654321"),
            other => panic!("{other}: no such message in a registration"),
        }
    }
    assert_eq!(
        mailed.len(),
        whole.len(),
        "every whole account queued its e-mail"
    );
    assert_eq!(queued.len(), 2 * whole.len(), "and its SMS");

    let restarted = Node::beside(&app).await;
    let mut delivered = Vec::new();
    for _ in 0..300 {
        delivered = delivered_in(&restarted.outbox());
        if delivered.len() >= queued.len() && app.pending().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "no message delivered twice");
    let expected: HashSet<String> = queued.iter().map(|row| row.id.to_string()).collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<HashSet<_>>(),
        expected,
        "every queued message delivered"
    );
    eprintln!(
        "{} answered 200 before the kill, {turned_away} 503, {cut_off} cut off; \
         {} accounts, {} messages delivered",
        confirmed.len(),
        whole.len(),
        delivered.len()
    );
}
