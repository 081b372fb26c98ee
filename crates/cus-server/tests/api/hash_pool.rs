//! The hashing pool under a burst (`hash.max_concurrent`, `hash.max_queue`): what does not
//! fit is refused at once with 503 and `Retry-After` — on the form, what was typed kept —
//! never a 500, never a wait without limit, never a database failure; a refusal for load
//! spends none of the RUT's lockout attempts.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::helpers::forms::{FormPage, open_form, with};
use crate::helpers::html::{html_of, input_value};
use crate::helpers::natural::registration;
use crate::helpers::{Backend, CUS, OTHER_RUT, RUT, TestApp, TestConfig, on_both_backends};

on_both_backends!(
    a_login_burst_is_refused_at_once_beyond_the_queue,
    a_refusal_for_load_keeps_the_form_and_spends_no_attempt,
);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_registration_burst_does_not_run_the_database_pool_dry() {
        super::a_registration_burst_does_not_run_the_database_pool_dry(
            crate::helpers::Backend::Production,
        )
        .await;
    }
}

/// The sentence of a refusal for load (`http::page::BUSY`).
const BUSY: &str = "recibimos muchas solicitudes";

/// One hashing thread, one place in the queue, and a hash slow enough (64 MiB, t = 3) that
/// a burst overlaps; form limits and lockout out of the way.
async fn narrow(backend: Backend, queue: usize) -> TestConfig {
    let mut config = crate::helpers::natural::roomy_config(backend).await;
    config.hash.max_concurrent = 1;
    config.hash.max_queue = queue;
    config.hash.memory_kib = 64 * 1024;
    config.hash.iterations = 3;
    config.lockout.captcha_after = 1000;
    config.lockout.lock_after = 1000;
    config
}

/// Posts `fields` to `path`: the status, the `Retry-After` header and the page.
async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&'static str, String)],
) -> (u16, Option<String>, String) {
    let response = browser
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, response.text().await.expect("page"))
}

/// A 503 for load: `Retry-After` of a few seconds and the Spanish sentence on the form.
fn assert_refused_for_load(retry: Option<&str>, page: &str) {
    let seconds: u64 = retry.and_then(|r| r.parse().ok()).expect("Retry-After");
    assert!((1..=5).contains(&seconds), "Retry-After: {seconds}");
    assert!(page.contains(BUSY), "{page}");
}

/// A login form per browser, opened beforehand, so the burst is only the posts.
async fn login_forms(app: &TestApp, n: usize) -> Vec<(reqwest::Client, String)> {
    let mut forms = Vec::new();
    for _ in 0..n {
        let browser = app.browser();
        let page = html_of(&browser, app.url("/Account")).await;
        forms.push((browser, input_value(&page, "csrf").expect("csrf")));
    }
    forms
}

async fn a_login_burst_is_refused_at_once_beyond_the_queue(backend: Backend) {
    let app = Arc::new(TestApp::spawn_with(narrow(backend, 1).await).await);
    app.account().await;
    let mut burst = JoinSet::new();
    for (i, (browser, csrf)) in login_forms(&app, 16).await.into_iter().enumerate() {
        let app = Arc::clone(&app);
        // Every fourth login names a RUT without an account: the dummy verification
        // goes through the same pool.
        let rut = if i % 4 == 3 { OTHER_RUT } else { RUT };
        burst.spawn(async move {
            let fields = [
                ("csrf", csrf),
                ("rid", String::new()),
                ("rut", rut.to_owned()),
                ("cus", CUS.to_owned()),
            ];
            (rut, post(&app, &browser, "/Account", &fields).await)
        });
    }
    let (mut verified, mut refused) = (0, 0);
    for (rut, (status, retry, page)) in burst.join_all().await {
        match status {
            200 => verified += 1,
            401 => assert_eq!(rut, OTHER_RUT, "{page}"),
            503 => {
                refused += 1;
                assert_refused_for_load(retry.as_deref(), &page);
                assert!(
                    page.contains(&format!("value=\"{rut}\"")),
                    "the RUT is kept"
                );
                assert!(!page.contains(CUS), "the CUS is never sent back");
            }
            other => panic!("status {other}: {page}"),
        }
    }
    assert!(verified >= 1, "the admitted logins succeed");
    assert!(refused >= 1, "16 logins at once do not fit in 1 + 1");
}

async fn a_refusal_for_load_keeps_the_form_and_spends_no_attempt(backend: Backend) {
    let mut config = narrow(backend, 0).await;
    (config.hash.memory_kib, config.hash.iterations) = (1024, 1);
    config.lockout.captcha_after = 2;
    config.lockout.lock_after = 3;
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    let held = app.state.hasher.admit().expect("the only place");

    // Five wrong CUS while the pool is full: refused unchecked, none counted.
    for _ in 0..5 {
        let (browser, csrf) = login_forms(&app, 1).await.remove(0);
        let fields = [
            ("csrf", csrf),
            ("rid", String::new()),
            ("rut", RUT.to_owned()),
            ("cus", "una clave equivocada".to_owned()),
        ];
        let (status, retry, page) = post(&app, &browser, "/Account", &fields).await;
        assert_eq!(status, 503, "{page}");
        assert_refused_for_load(retry.as_deref(), &page);
        // The form is a fresh one: without the captcha, the RUT not locked.
        assert!(!page.contains("bloqueado temporalmente"));
    }

    // Regístrese: the form comes back with what was typed, never the CUS.
    let browser = app.browser();
    let form: FormPage = open_form(&app, &browser, "/natural/registro").await;
    let fields = with(registration(&form), &[("rut", "9.876.543-3")]);
    let (status, retry, page) = post(&app, &browser, "/natural/registro", &fields).await;
    assert_eq!(status, 503, "{page}");
    assert_refused_for_load(retry.as_deref(), &page);
    assert!(page.contains("Avenida Matta"), "what was typed is kept");
    assert!(
        !page.contains(crate::helpers::natural::CUS),
        "never the CUS"
    );

    drop(held);
    let (browser, csrf) = login_forms(&app, 1).await.remove(0);
    let fields = [
        ("csrf", csrf),
        ("rid", String::new()),
        ("rut", RUT.to_owned()),
        ("cus", CUS.to_owned()),
    ];
    let (status, _, page) = post(&app, &browser, "/Account", &fields).await;
    assert_eq!(status, 200, "no attempt was spent by the refusals: {page}");
    let form = open_form(&app, &browser, "/natural/registro").await;
    let again = with(registration(&form), &[("rut", "9.876.543-3")]);
    let (status, _, page) = post(&app, &browser, "/natural/registro", &again).await;
    assert_eq!(status, 200, "registration works again: {page}");
}

/// Many registrations at once, each its own RUT and e-mail: what the pool cannot take is
/// refused for load, and no request fails on the database (its pool is never taken while
/// a hash waits or runs).
async fn a_registration_burst_does_not_run_the_database_pool_dry(backend: Backend) {
    let mut config = narrow(backend, 2).await;
    config.database.max_connections = 4;
    let app = Arc::new(TestApp::spawn_with(config).await);
    let mut forms = Vec::new();
    for i in 0..24u32 {
        let browser = app.browser();
        let form = open_form(&app, &browser, "/natural/registro").await;
        let body = 20_000_000 + i;
        let rut = format!("{body}-{}", cus_core::rut::check_digit(body));
        let email = format!("persona{i}@ejemplo.cl");
        let fields = with(registration(&form), &[("rut", &rut), ("email", &email)]);
        forms.push((browser, fields));
    }
    let mut burst = JoinSet::new();
    for (browser, fields) in forms {
        let app = Arc::clone(&app);
        burst.spawn(async move { post(&app, &browser, "/natural/registro", &fields).await });
    }
    let (mut created, mut refused) = (0, 0);
    for (status, retry, page) in burst.join_all().await {
        match status {
            200 => created += 1,
            503 => {
                refused += 1;
                assert_refused_for_load(retry.as_deref(), &page);
            }
            other => panic!("status {other}: {page}"),
        }
    }
    assert!(created >= 1, "the admitted registrations succeed");
    assert!(refused >= 1, "24 registrations at once do not fit in 1 + 2");
    assert_eq!(
        crate::helpers::audit_count(&app, "account_created", "ok").await,
        created,
        "every 200 is an account, and only those"
    );
}
