//! The persona natural lifecycle over HTTP, on both backends: every flow's success, every
//! validation rule with its message, captcha and CSRF refusals, and the outbox.

use std::time::Duration;

use cus_core::notification::Channel;

use crate::helpers::browse::login;
use crate::helpers::files_in;
use crate::helpers::forms::{FormPage, open_form, post, with};
use crate::helpers::html::{html_of, input_value, location};
use crate::helpers::natural::{
    CUS, RUT, answer_step, generated_cus, register, registration, verify_email,
};
use crate::helpers::{Backend, TestApp, on_both_backends, outbox};

on_both_backends!(
    registration_succeeds_and_queues_its_messages,
    every_registration_rule_is_explained,
    registered_rut_is_told_where_to_go,
    a_captcha_works_once,
    forms_without_csrf_token_are_refused,
    generated_cus_arrives_and_replaces_the_old_at_first_use,
    wrong_answers_are_limited,
    change_requires_the_current_cus_and_ends_sessions,
    update_changes_data_and_reverifies_a_new_email,
    pending_messages_survive_a_restart,
);

async fn registration_succeeds_and_queues_its_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/registro").await;
    assert!(
        form.html.contains("+56 9")
            && form.html.contains("Sin Celular")
            && form.html.contains("Refrescar")
    );
    let (status, page) = post(&app, &browser, "/natural/registro", &registration(&form)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("j***@gmail.com") && page.contains("+56 9 ****4321"));

    let rut = cus_core::Rut::parse(RUT).expect("rut");
    let (account, credentials) = app
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("created");
    assert_eq!(account.celular.as_deref(), Some("+56987654321"));
    assert_eq!(account.telefono_particular.as_deref(), Some("+56225551234"));
    assert_eq!(
        account.address.as_ref().map(|a| a.codigo_comuna),
        Some(13101)
    );
    assert!(!account.email_verified);
    assert!(
        credentials
            .secret_answer_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );

    let messages = outbox(&app).await;
    assert_eq!(messages.len(), 2);
    let mail = messages
        .iter()
        .find(|m| m.channel == Channel::Email)
        .expect("e-mail");
    assert_eq!(mail.recipient, "juan.perez@gmail.com");
    assert!(
        messages
            .iter()
            .any(|m| m.channel == Channel::Sms && m.recipient == "+56987654321")
    );
    assert!(
        messages.iter().all(|m| !m.body.contains(CUS)),
        "a chosen CUS is never sent"
    );

    // The link verifies the address.
    let link = mail
        .body
        .split_whitespace()
        .find(|w| w.contains("/verificar-correo?token="))
        .expect("link");
    let path = link.strip_prefix(&app.base).expect("our link");
    let verified = browser
        .get(app.url(path))
        .send()
        .await
        .expect("verify")
        .text()
        .await
        .expect("html");
    assert!(verified.contains("Correo confirmado"));
    let (account, _) = app
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("present");
    assert!(account.email_verified);
    let again = browser.get(app.url(path)).send().await.expect("verify");
    assert_eq!(again.status(), 400, "a link works once");

    // The CUS logs in; the answer was stored case- and accent-insensitively.
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 200);
}

async fn every_registration_rule_is_explained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases: &[(&[(&'static str, &str)], &str)] = &[
        (
            &[("rut", "15.555.555-5")],
            "El dígito verificador del RUT no es correcto.",
        ),
        (&[("rut", "")], "Ingrese su RUT."),
        (&[("nombres", " ")], "Ingrese sus nombres."),
        (&[("apellido_paterno", "")], "Ingrese su apellido paterno."),
        (&[("pregunta", "99")], "Seleccione una pregunta secreta."),
        (
            &[("respuesta", "")],
            "Ingrese la respuesta a su pregunta secreta.",
        ),
        (&[("calle", "")], "Ingrese su dirección particular"),
        (&[("numero", "")], "Ingrese el número de su dirección."),
        (&[("region", "")], "Seleccione su región."),
        (
            &[("comuna", "5101")],
            "La comuna Valparaíso no pertenece a la región seleccionada.",
        ),
        (
            &[("email", "juan.perez@gmail")],
            "El correo electrónico no es válido",
        ),
        (&[("celular", "8765432")], "El celular debe tener 8 dígitos"),
        (
            &[("telefono_particular", "12")],
            "El teléfono debe tener 9 dígitos",
        ),
        (
            &[("cus", "corta"), ("cus_repetida", "corta")],
            "La Clave CUS debe tener al menos 8 caracteres.",
        ),
        (
            &[("cus_repetida", "otra clave distinta")],
            "Las dos Claves CUS ingresadas no coinciden.",
        ),
        (
            &[("cus", "password1"), ("cus_repetida", "password1")],
            "La Clave CUS es demasiado común",
        ),
        (
            &[
                ("cus", "mi rut 15555555"),
                ("cus_repetida", "mi rut 15555555"),
            ],
            "La Clave CUS no puede contener su RUT.",
        ),
        (
            &[
                ("cus", "soy juan.perez feliz"),
                ("cus_repetida", "soy juan.perez feliz"),
            ],
            "no puede contener su correo",
        ),
        (
            &[("captcha", "zzzzz")],
            "Las letras no coinciden con la imagen",
        ),
    ];
    for (changes, message) in cases {
        let browser = app.browser();
        let form = open_form(&app, &browser, "/natural/registro").await;
        let fields = with(registration(&form), changes);
        let (status, page) = post(&app, &browser, "/natural/registro", &fields).await;
        assert_eq!(status, 422, "{changes:?}");
        assert!(page.contains(message), "{changes:?} should say {message:?}");
        // What was typed stays, except secrets.
        assert_eq!(
            input_value(&page, "calle").as_deref(),
            fields
                .iter()
                .find(|(k, _)| *k == "calle")
                .map(|(_, v)| v.as_str())
        );
        for secret in [CUS, "Escuela República de Chile", "otra clave distinta"] {
            assert!(!page.contains(secret), "{secret} must not be echoed");
        }
    }
    // "Sin celular" needs no mobile.
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/registro").await;
    let fields = with(
        registration(&form),
        &[("celular", ""), ("sin_celular", "1")],
    );
    let (status, page) = post(&app, &browser, "/natural/registro", &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("SMS"));
    assert_eq!(outbox(&app).await.len(), 1, "no SMS without a mobile");
}

async fn registered_rut_is_told_where_to_go(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/registro").await;
    let (status, page) = post(&app, &browser, "/natural/registro", &registration(&form)).await;
    assert_eq!(status, 422);
    assert!(page.contains("Este RUT ya tiene una Clave Única SENCE."));
    assert!(
        page.contains("href=\"/natural/generar\"") && page.contains("href=\"/natural/cambiar\"")
    );
}

async fn a_captcha_works_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/registro").await;
    let fields = registration(&form);
    let (status, _) = post(&app, &browser, "/natural/registro", &fields).await;
    assert_eq!(status, 200);
    let reused = with(fields, &[("rut", "16.666.666-K")]);
    let (status, page) = post(&app, &browser, "/natural/registro", &reused).await;
    assert_eq!(status, 422);
    assert!(page.contains("Las letras no coinciden con la imagen"));
    // "Refrescar" draws a new image and keeps what was typed.
    let (status, page) = post(
        &app,
        &browser,
        "/natural/registro",
        &with(reused, &[("action", "refrescar")]),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(input_value(&page, "captcha_id"), Some(form.captcha_id));
    assert_eq!(input_value(&page, "rut").as_deref(), Some("16.666.666-K"));
}

async fn forms_without_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/natural/registro",
        "/natural/generar",
        "/natural/cambiar",
        "/natural/actualizar",
        "/natural/actualizar/datos",
        "/Account",
        "/consent",
    ] {
        let browser = app.browser();
        let form = open_form(&app, &browser, "/natural/registro").await;
        let fields = with(registration(&form), &[("csrf", "forged")]);
        let response = browser
            .post(app.url(path))
            .form(&fields)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 403, "{path}");
    }
    assert_eq!(outbox(&app).await.len(), 0);
}

async fn generated_cus_arrives_and_replaces_the_old_at_first_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app).await;
    let browser = app.browser();
    verify_email(&app, "juan.perez@gmail.com").await;

    let (status, page) = answer_step(&app, &browser, "otra escuela").await;
    assert_eq!(status, 422);
    assert!(page.contains("La respuesta no es correcta."));
    let (status, page) = answer_step(&app, &browser, "ESCUELA republica de chile").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("j***@gmail.com") && page.contains("+56 9 ****4321"));
    let new_cus = generated_cus(&app).await;

    // (A login with the old CUS would cancel the new one: review_accounts, item 12.)
    let person = app.browser();
    let first_use = login(&app, &person, RUT, &new_cus).await;
    assert!(
        location(&first_use).starts_with("/natural/nueva-clave"),
        "must choose a CUS"
    );
    assert_eq!(
        login(&app, &app.browser(), RUT, CUS).await.status(),
        401,
        "the old CUS ended"
    );

    // Choosing their own CUS.
    let page = html_of(&person, app.url("/natural/nueva-clave?rid=")).await;
    let csrf = input_value(&page, "csrf").expect("csrf");
    let own = "mi propia clave nueva";
    let done = person
        .post(app.url("/natural/nueva-clave"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("rid", ""),
            ("cus_nueva", own),
            ("cus_repetida", own),
        ])
        .send()
        .await
        .expect("change");
    assert!(done.status().is_redirection());
    assert_eq!(login(&app, &app.browser(), RUT, own).await.status(), 200);
    assert_eq!(
        login(&app, &app.browser(), RUT, &new_cus).await.status(),
        401
    );
}

async fn wrong_answers_are_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app).await;
    let browser = app.browser();
    for _ in 0..4 {
        let (_, page) = answer_step(&app, &browser, "no sé").await;
        assert!(page.contains("La respuesta no es correcta."));
    }
    let (_, page) = answer_step(&app, &browser, "no sé").await;
    assert!(page.contains("Intente más tarde"));
    let (status, page) = answer_step(&app, &browser, "Escuela República de Chile").await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Intente más tarde"),
        "even the right answer waits"
    );
    assert!(
        outbox(&app)
            .await
            .iter()
            .all(|m| !m.subject.contains("nueva"))
    );
}

async fn change_requires_the_current_cus_and_ends_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app).await;
    let signed_in = app.browser();
    assert_eq!(login(&app, &signed_in, RUT, CUS).await.status(), 200);

    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    let fields = |form: &FormPage, current: &str, new: &str, repeat: &str| {
        vec![
            ("csrf", form.csrf.clone()),
            ("captcha_id", form.captcha_id.clone()),
            ("captcha", form.captcha.clone()),
            ("rut", RUT.into()),
            ("cus", current.into()),
            ("cus_nueva", new.into()),
            ("cus_repetida", repeat.into()),
        ]
    };
    let (status, page) = post(
        &app,
        &browser,
        "/natural/cambiar",
        &fields(
            &form,
            "equivocada",
            "nueva clave segura",
            "nueva clave segura",
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("RUT o Clave CUS incorrectos."));
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    let (status, page) = post(
        &app,
        &browser,
        "/natural/cambiar",
        &fields(&form, CUS, "nueva clave segura", "no coincide"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("Las dos Claves CUS ingresadas no coinciden."));
    let form = open_form(&app, &browser, "/natural/cambiar").await;
    app.clock.advance(1);
    let (status, page) = post(
        &app,
        &browser,
        "/natural/cambiar",
        &fields(&form, CUS, "nueva clave segura", "nueva clave segura"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 401);
    assert_eq!(
        login(&app, &app.browser(), RUT, "nueva clave segura")
            .await
            .status(),
        200
    );
    assert!(
        outbox(&app)
            .await
            .iter()
            .any(|m| m.subject == "Su Clave Única SENCE fue cambiada"
                && !m.body.contains("nueva clave segura"))
    );
    // The other browser's session ended.
    app.clock.advance(1);
    let consents = signed_in
        .get(app.url("/autorizaciones"))
        .send()
        .await
        .expect("page");
    assert_eq!(location(&consents), "/Account", "signed out");
}

async fn update_changes_data_and_reverifies_a_new_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/natural/actualizar").await;
    let (status, page) = post(
        &app,
        &browser,
        "/natural/actualizar",
        &[
            ("csrf", form.csrf),
            ("captcha_id", form.captcha_id),
            ("captcha", form.captcha),
            ("rut", RUT.into()),
            ("cus", CUS.into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        input_value(&page, "email").as_deref(),
        Some("juan.perez@gmail.com")
    );
    assert_eq!(input_value(&page, "celular").as_deref(), Some("87654321"));
    let csrf = input_value(&page, "csrf").expect("csrf");
    let ticket = input_value(&page, "ticket").expect("ticket");
    let mut fields: Vec<(&'static str, String)> = [
        ("csrf", csrf.as_str()),
        ("ticket", ticket.as_str()),
        ("pregunta", "2"),
        ("respuesta", ""),
        ("calle", "Nueva Calle"),
        ("numero", "10"),
        ("region", "5"),
        ("comuna", "5101"),
        ("email", "juan@nuevo.cl"),
        ("telefono_particular", ""),
        ("telefono_trabajo", ""),
        ("celular", ""),
        ("sin_celular", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    let (status, page) = post(
        &app,
        &browser,
        "/natural/actualizar/datos",
        &with(fields.clone(), &[("comuna", "13101")]),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("no pertenece a la región"));
    assert_eq!(input_value(&page, "calle").as_deref(), Some("Nueva Calle"));
    fields.retain(|(k, _)| *k != "csrf");
    fields.push(("csrf", input_value(&page, "csrf").expect("csrf")));
    let (status, page) = post(&app, &browser, "/natural/actualizar/datos", &fields).await;
    assert_eq!(status, 200, "{page}");

    let rut = cus_core::Rut::parse(RUT).expect("rut");
    let (account, _) = app
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(account.email, "juan@nuevo.cl");
    assert!(!account.email_verified);
    assert_eq!(account.celular, None);
    assert_eq!(
        account.address.as_ref().map(|a| a.codigo_comuna),
        Some(5101)
    );
    let messages = outbox(&app).await;
    assert!(
        messages
            .iter()
            .any(|m| m.recipient == "juan.perez@gmail.com"
                && m.subject.contains("correo")
                && m.body.contains("j***@nuevo.cl")),
        "the old address is told"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.recipient == "juan@nuevo.cl" && m.body.contains("/verificar-correo?token="))
    );
    // The secret answer was kept (left blank); the new CUS goes to the new address once it
    // is verified.
    verify_email(&app, "juan@nuevo.cl").await;
    let (_, page) = answer_step(&app, &app.browser(), "escuela republica de chile").await;
    assert!(page.contains("j***@nuevo.cl"), "{page}");
}

async fn pending_messages_survive_a_restart(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    register(&first).await;
    let config = first.config.clone();
    first.server.abort();
    let _ = first.server.await;
    assert_eq!(
        files_in(&config.outbox.dir.join("mail")).len(),
        0,
        "not delivered before the stop"
    );

    let mut restarted = config.clone();
    restarted.server.listen = "127.0.0.1:0".parse().expect("address");
    restarted.outbox.poll_seconds = 1;
    let second = TestApp::spawn_with(restarted).await;
    for _ in 0..200 {
        if outbox(&second).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(outbox(&second).await.is_empty(), "everything delivered");
    let mails = files_in(&config.outbox.dir.join("mail"));
    assert_eq!(mails.len(), 1);
    let eml = std::fs::read_to_string(&mails[0]).expect("eml");
    assert!(
        eml.contains("To: juan.perez@gmail.com")
            && eml.contains("multipart/alternative")
            && eml.contains("text/html")
    );
    let sms = files_in(&config.outbox.dir.join("sms"));
    assert_eq!(sms.len(), 1);
    let sms: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sms[0]).expect("sms")).expect("json");
    assert_eq!(sms["to"], "+56987654321");
}
