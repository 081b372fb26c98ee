//! Regressions of the security review (issue 11) on the account side: the lockout on every
//! form that takes a CUS, companies and "Actualice sus datos", strangers spending a RUT's
//! budget, concurrent guesses, the generated CUS's life, enumeration, and a new CUS sent
//! only to a verified e-mail. Each test is named after the review's item.

use cus_core::notification::Channel;

use crate::helpers::audit_count;
use crate::helpers::browse::login;
use crate::helpers::forms::{form_of, open_form, post, with};
use crate::helpers::html::{input_value, text_after};
use crate::helpers::juridica;
use crate::helpers::natural::{
    self, CUS, RUT, answer_step, generated_cus, registration, validate_step, verify_email,
};
use crate::helpers::natural::{
    LOCKED, WRONG, change_cus, open_update, roomy, roomy_config, save_update, wrong_logins_at_once,
};
use crate::helpers::{Backend, TestApp, on_both_backends, outbox, test_config};

on_both_backends!(
    item_01_a_locked_rut_is_locked_on_every_form_that_takes_a_cus,
    item_01_an_update_form_dies_with_a_cus_change,
    a_cus_change_ends_sessions_opened_in_the_same_second,
    no_captcha_no_lock_even_for_concurrent_guesses,
    someone_elses_login_does_not_satisfy_prompt_login,
    item_04_companies_cannot_update_their_data_online,
    item_05_strangers_without_the_captcha_cannot_block_a_rut,
    item_08_concurrent_answers_cannot_pass_the_limit,
    item_08_concurrent_logins_cannot_pass_the_lock,
    item_12_a_generated_cus_expires_and_is_cancelled,
    item_15_genere_nueva_cus_does_not_tell_which_ruts_exist,
    a_new_cus_is_emailed_only_to_a_verified_address,
);

async fn item_01_a_locked_rut_is_locked_on_every_form_that_takes_a_cus(backend: Backend) {
    let mut config = test_config(backend).await;
    config.lockout.captcha_after = 100;
    config.lockout.lock_after = 3;
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    let browser = app.browser();
    // Wrong CUS at "Actualice sus datos" count into the login's ladder.
    for _ in 0..2 {
        let (status, page) = open_update(&app, &browser, crate::helpers::RUT, "no es").await;
        assert_eq!(status, 422);
        assert!(page.contains(WRONG));
    }
    let (_, page) = open_update(&app, &browser, crate::helpers::RUT, "tampoco").await;
    assert!(page.contains(LOCKED), "the third wrong CUS locks: {page}");
    let response = login(&app, &browser, crate::helpers::RUT, crate::helpers::CUS).await;
    assert_eq!(response.status(), 429, "locked at the login page too");

    // While locked, the right CUS opens nothing anywhere.
    let (status, page) =
        open_update(&app, &browser, crate::helpers::RUT, crate::helpers::CUS).await;
    assert_eq!(status, 422);
    assert!(page.contains(LOCKED));
    assert!(input_value(&page, "ticket").is_none(), "no data form");
    for path in ["/natural/cambiar", "/juridica/cambiar"] {
        let (status, page) = change_cus(
            &app,
            path,
            crate::helpers::RUT,
            crate::helpers::CUS,
            "una clave del atacante",
        )
        .await;
        assert_eq!(status, 422, "{path}");
        assert!(page.contains(LOCKED), "{path}: {page}");
    }
    let (_, credentials) = app
        .state
        .store
        .account_by_rut(&cus_core::Rut::parse(crate::helpers::RUT).expect("rut"))
        .await
        .expect("store")
        .expect("account");
    assert!(
        app.state
            .hasher
            .verify(crate::helpers::CUS, Some(&credentials.cus_hash))
            .await
            .expect("admitted"),
        "the CUS did not change"
    );
}

async fn item_01_an_update_form_dies_with_a_cus_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    natural::register(&app).await;
    let browser = app.browser();
    let (status, opened) = open_update(&app, &browser, RUT, CUS).await;
    assert_eq!(status, 200, "{opened}");
    app.clock.advance(1);
    let (status, page) = change_cus(
        &app,
        "/natural/cambiar",
        RUT,
        CUS,
        "la nueva clave del dueño",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = save_update(&app, &browser, &opened, "intruso@example.cl").await;
    assert_eq!(status, 422);
    assert!(page.contains("El formulario venció"), "{page}");
    let (account, _) = app
        .state
        .store
        .account_by_rut(&cus_core::Rut::parse(RUT).expect("rut"))
        .await
        .expect("store")
        .expect("account");
    assert_eq!(account.email, "juan.perez@gmail.com", "nothing changed");
}

async fn item_04_companies_cannot_update_their_data_online(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    juridica::register_company(&app).await;
    let browser = app.browser();
    let (status, page) = open_update(&app, &browser, juridica::RUT, juridica::CUS).await;
    assert_eq!(status, 422);
    assert!(page.contains("mesa de ayuda de SENCE"), "{page}");
    assert!(input_value(&page, "ticket").is_none(), "no data form");
}

/// A stranger posts a victim's RUT 31 times at each form (the old budget was 30), never
/// solving a captcha.
async fn item_05_strangers_without_the_captcha_cannot_block_a_rut(backend: Backend) {
    // The per-IP limit is the stranger's own budget, not the victim's: lifted here, so
    // only the per-RUT rules are at work.
    let mut config = test_config(backend).await;
    config.limits.form_per_ip.max = 100_000;
    let app = TestApp::spawn_with(config).await;
    natural::register(&app).await;
    let stranger = app.browser();
    for _ in 0..31 {
        let status = login(&app, &stranger, RUT, "adivinando").await.status();
        assert!([401, 422].contains(&status.as_u16()), "{status}");
        for path in [
            "/natural/generar",
            "/natural/cambiar",
            "/natural/actualizar",
        ] {
            let form = open_form(&app, &stranger, path).await;
            let fields = [
                ("csrf", form.csrf),
                ("rut", RUT.to_owned()),
                ("cus", "adivinando".to_owned()),
                ("action", "validar".to_owned()),
            ];
            let (status, _) = post(&app, &stranger, path, &fields).await;
            assert_eq!(status, 422, "{path}: refused for the captcha, not counted");
        }
    }
    // The owner, captcha solved, still gets in and can still ask for a new CUS.
    let owner = app.browser();
    let first = login(&app, &owner, RUT, CUS).await;
    assert_eq!(first.status(), 422, "the captcha is asked for");
    let form = form_of(&app, first.text().await.expect("html")).await;
    let fields = [
        ("csrf", form.csrf),
        ("rid", String::new()),
        ("rut", RUT.to_owned()),
        ("cus", CUS.to_owned()),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
    ];
    let (status, page) = post(&app, &owner, "/Account", &fields).await;
    assert_eq!(status, 200, "the owner signs in: {page}");
    let (status, page) = validate_step(&app, &owner, "/natural/generar", RUT).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("¿Cuál es el nombre de su escuela básica?"));
}

async fn item_08_concurrent_answers_cannot_pass_the_limit(backend: Backend) {
    let app = std::sync::Arc::new(roomy(backend).await);
    natural::register(&app).await;
    // Sixteen people at step 2 at once, each with a solved captcha, all answering wrong.
    let mut forms = Vec::new();
    for _ in 0..16 {
        let browser = app.browser();
        let (_, page) = validate_step(&app, &browser, "/natural/generar", RUT).await;
        forms.push((browser, form_of(&app, page).await));
    }
    let mut answers = tokio::task::JoinSet::new();
    for (browser, form) in forms {
        let app = app.clone();
        answers.spawn(async move {
            let fields = [
                ("csrf", form.csrf),
                ("rut", RUT.to_owned()),
                ("respuesta", "una escuela cualquiera".to_owned()),
                ("captcha_id", form.captcha_id),
                ("captcha", form.captcha),
                ("action", "generar".to_owned()),
            ];
            post(&app, &browser, "/natural/generar", &fields).await
        });
    }
    let mut checked = 0;
    while let Some(answer) = answers.join_next().await {
        let (status, page) = answer.expect("task");
        assert_eq!(status, 422);
        checked += usize::from(page.contains("La respuesta no es correcta."));
    }
    assert!(
        checked <= 4,
        "{checked} answers were checked, at most 5 may be"
    );
    let wrong = audit_count(&app, "cus_generated", "wrong_answer").await;
    assert!(wrong <= 5, "{wrong} answers checked");
    let (status, page) = answer_step(&app, &app.browser(), "Escuela República de Chile").await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Intente más tarde"),
        "even the right answer waits"
    );
}

async fn item_08_concurrent_logins_cannot_pass_the_lock(backend: Backend) {
    let mut config = roomy_config(backend).await;
    config.lockout.captcha_after = 100;
    config.lockout.lock_after = 5;
    let app = std::sync::Arc::new(TestApp::spawn_with(config).await);
    app.account().await;
    for status in wrong_logins_at_once(&app, 20).await {
        assert!([401, 429].contains(&status));
    }
    let failed = audit_count(&app, "login_failed", "failed").await;
    assert!(
        failed <= 5,
        "{failed} guesses were checked, at most 5 may be"
    );
}

async fn item_12_a_generated_cus_expires_and_is_cancelled(backend: Backend) {
    let app = roomy(backend).await;
    natural::register(&app).await;
    verify_email(&app, "juan.perez@gmail.com").await;
    let right = "Escuela República de Chile";

    // Unused for a week and a minute: it no longer works; the old CUS still does.
    let (status, _) = answer_step(&app, &app.browser(), right).await;
    assert_eq!(status, 200);
    let expiring = generated_cus(&app).await;
    app.clock.advance(7 * 24 * 3600 + 60);
    assert_eq!(
        login(&app, &app.browser(), RUT, &expiring).await.status(),
        401
    );
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 200);

    // A login with the current CUS cancels a generated one.
    let (status, _) = answer_step(&app, &app.browser(), right).await;
    assert_eq!(status, 200);
    let cancelled = generated_cus(&app).await;
    assert_ne!(cancelled, expiring);
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 200);
    assert_eq!(
        login(&app, &app.browser(), RUT, &cancelled).await.status(),
        401
    );

    // A new e-mail cancels it too: it went to the old address.
    let (status, _) = answer_step(&app, &app.browser(), right).await;
    assert_eq!(status, 200);
    let moved = generated_cus(&app).await;
    let browser = app.browser();
    let (status, opened) = open_update(&app, &browser, RUT, CUS).await;
    assert_eq!(status, 200, "{opened}");
    let (status, page) = save_update(&app, &browser, &opened, "juan@otro.cl").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(login(&app, &app.browser(), RUT, &moved).await.status(), 401);
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 200);
}

async fn item_15_genere_nueva_cus_does_not_tell_which_ruts_exist(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    natural::register(&app).await;
    let browser = app.browser();
    // Step 1 needs the captcha.
    let form = open_form(&app, &browser, "/natural/generar").await;
    let fields = [
        ("csrf", form.csrf),
        ("rut", RUT.to_owned()),
        ("action", "validar".to_owned()),
    ];
    let (status, page) = post(&app, &browser, "/natural/generar", &fields).await;
    assert_eq!(status, 422);
    assert!(
        !page.contains("Pregunta Secreta"),
        "no question without the captcha"
    );

    // A RUT without a CUS gets a plausible question, the same every time.
    let question =
        |page: &str| text_after(page, "Pregunta Secreta:</strong> ").expect("a question");
    let (status, first) = validate_step(&app, &browser, "/natural/generar", "11.111.111-1").await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = validate_step(&app, &browser, "/natural/generar", "11.111.111-1").await;
    assert_eq!(question(&first), question(&again));
    assert!(cus_core::contact::SECRET_QUESTIONS.contains(&question(&first).as_str()));
    let (_, known) = validate_step(&app, &browser, "/natural/generar", RUT).await;
    assert_eq!(question(&known), "¿Cuál es el nombre de su escuela básica?");

    // A duplicate registration does not say which kind of persona holds the RUT.
    juridica::register_company(&app).await;
    let form = open_form(&app, &browser, "/natural/registro").await;
    let (status, page) = post(
        &app,
        &browser,
        "/natural/registro",
        &with(registration(&form), &[("rut", juridica::RUT)]),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("Este RUT ya tiene una Clave Única SENCE."));
    assert!(!page.contains("jurídica;"), "{page}");
}

async fn a_new_cus_is_emailed_only_to_a_verified_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    natural::register(&app).await;
    let right = "Escuela República de Chile";
    let (status, page) = answer_step(&app, &app.browser(), right).await;
    assert_eq!(status, 200, "{page}");
    let messages = outbox(&app).await;
    assert!(
        messages
            .iter()
            .all(|m| m.subject != "Su nueva Clave Única SENCE"),
        "not to an unverified e-mail"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.channel == Channel::Sms && m.body.contains("nueva Clave")),
        "the mobile gets it"
    );
    verify_email(&app, "juan.perez@gmail.com").await;
    let (status, _) = answer_step(&app, &app.browser(), right).await;
    assert_eq!(status, 200);
    generated_cus(&app).await; // asserts the e-mail and the SMS
}

/// (Attacker review of the fixes.) A session opened earlier in the same second as a CUS
/// change ends with it: liveness is compared in milliseconds, not seconds.
async fn a_cus_change_ends_sessions_opened_in_the_same_second(backend: Backend) {
    let app = roomy(backend).await;
    natural::register(&app).await;
    // Start right after a second begins, so the login and the change share it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    tokio::time::sleep(std::time::Duration::from_millis(
        1010 - u64::from(now.subsec_millis()),
    ))
    .await;
    let attacker = app.browser();
    assert_eq!(login(&app, &attacker, RUT, CUS).await.status(), 200);
    let (status, page) = change_cus(
        &app,
        "/natural/cambiar",
        RUT,
        CUS,
        "la clave nueva del dueño",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let response = attacker
        .get(app.url("/autorizaciones"))
        .send()
        .await
        .expect("page");
    assert!(
        response.status().is_redirection(),
        "the attacker's session ended: {}",
        response.status()
    );
}

/// (Attacker review of the fixes.) Twenty wrong logins at once, none with a captcha: only
/// the free attempts are checked, the rest are asked for the captcha, and the RUT is not
/// locked, so its owner still signs in.
async fn no_captcha_no_lock_even_for_concurrent_guesses(backend: Backend) {
    let app = std::sync::Arc::new(roomy(backend).await);
    app.account().await;
    for status in wrong_logins_at_once(&app, 20).await {
        assert!([401, 422].contains(&status), "never locked");
    }
    let failed = audit_count(&app, "login_failed", "failed").await;
    assert!(
        failed <= 3,
        "{failed} guesses were checked without a captcha"
    );
    let owner = app.browser();
    let first = login(&app, &owner, crate::helpers::RUT, crate::helpers::CUS).await;
    assert_eq!(first.status(), 422, "the captcha is asked for");
    let form = form_of(&app, first.text().await.expect("html")).await;
    let fields = [
        ("csrf", form.csrf),
        ("rid", String::new()),
        ("rut", crate::helpers::RUT.to_owned()),
        ("cus", crate::helpers::CUS.to_owned()),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
    ];
    let (status, page) = post(&app, &owner, "/Account", &fields).await;
    assert_eq!(status, 200, "{page}");
}

/// (Attacker review of the fixes.) `prompt=login` asks this browser's person to sign in
/// again: a stranger signing in to their own account with the same request id elsewhere
/// does not count.
async fn someone_elses_login_does_not_satisfy_prompt_login(backend: Backend) {
    let app = roomy(backend).await;
    app.account().await;
    natural::register(&app).await;
    let client = app.client(false, true).await;
    let victim = app.browser();
    let response = login(&app, &victim, crate::helpers::RUT, crate::helpers::CUS).await;
    assert_eq!(response.status(), 200);
    let redirect: String =
        url::form_urlencoded::byte_serialize(crate::helpers::REDIRECT.as_bytes()).collect();
    let request = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={redirect}&scope=openid&state=s&nonce=n&prompt=login",
        client.id
    );
    let response = victim
        .get(app.url(&request))
        .send()
        .await
        .expect("authorize");
    let to_login = crate::helpers::html::location(&response);
    assert!(to_login.starts_with("/Account?rid="), "{to_login}");
    let rid = to_login.trim_start_matches("/Account?rid=").to_owned();

    // Elsewhere, the stranger signs in to their own account with that request id.
    let stranger = app.browser();
    let form = open_form(&app, &stranger, &to_login).await;
    let fields = [
        ("csrf", form.csrf),
        ("rid", rid.clone()),
        ("rut", RUT.to_owned()),
        ("cus", CUS.to_owned()),
    ];
    let response = stranger
        .post(app.url("/Account"))
        .form(&fields)
        .send()
        .await
        .expect("login");
    assert!(response.status().is_redirection());

    // Back at the victim's browser, the request still asks for the victim's login.
    let response = victim
        .get(app.url(&format!("/authorize/resume?rid={rid}")))
        .send()
        .await
        .expect("resume");
    let next = crate::helpers::html::location(&response);
    assert!(
        next.starts_with("/Account"),
        "no code without a new login: {next}"
    );
}
