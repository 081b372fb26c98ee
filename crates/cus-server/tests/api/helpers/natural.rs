//! The persona natural of the lifecycle tests, registered through the forms as a person
//! would, and the steps of its flows: "Genere nueva CUS", e-mail verification, the outbox
//! as its recipients read it.

use cus_core::notification::Channel;

use super::forms::{FormPage, form_of, open_form, post, submit};
use super::html::input_value;
use super::{Backend, TestApp, TestConfig, outbox, test_config};

pub const RUT: &str = "15.555.555-6";
pub const CUS: &str = "la casa del lago azul";

/// Every field of a valid registration of `RUT`, on `form`.
pub fn registration(form: &FormPage) -> Vec<(&'static str, String)> {
    [
        ("csrf", form.csrf.as_str()),
        ("captcha_id", form.captcha_id.as_str()),
        ("captcha", form.captcha.to_uppercase().as_str()),
        ("rut", RUT),
        ("nombres", "Juan Andrés"),
        ("apellido_paterno", "Pérez"),
        ("apellido_materno", "Soto"),
        ("pregunta", "2"),
        ("respuesta", "  Escuela República de Chile "),
        ("calle", "Avenida Matta"),
        ("numero", "455"),
        ("block", ""),
        ("departamento", "32"),
        ("region", "13"),
        ("comuna", "13101"),
        ("email", "juan.perez@gmail.com"),
        ("telefono_particular", "22 555 1234"),
        ("telefono_trabajo", ""),
        ("celular", "8765 4321"),
        ("cus", CUS),
        ("cus_repetida", CUS),
        ("action", "registrar"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// Registers `RUT` with `CUS` through "Regístrese".
pub async fn register(app: &TestApp) {
    let browser = app.browser();
    let form = open_form(app, &browser, "/natural/registro").await;
    let (status, page) = post(app, &browser, "/natural/registro", &registration(&form)).await;
    assert_eq!(status, 200, "{page}");
}

/// Step 1 of "Genere nueva CUS" at `path` (`/natural/generar` or `/juridica/generar`) for
/// `rut`, its captcha solved.
pub async fn validate_step(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    rut: &str,
) -> (u16, String) {
    submit(
        app,
        browser,
        path,
        &[("rut", rut.to_owned()), ("action", "validar".to_owned())],
    )
    .await
}

/// Opens the newest verification link e-mailed to `recipient`, as its owner would.
pub async fn verify_email(app: &TestApp, recipient: &str) {
    let link = outbox(app)
        .await
        .into_iter()
        .rev()
        .filter(|m| m.recipient == recipient)
        .find_map(|m| {
            let at = m.body.find("/verificar-correo?token=")?;
            let token = m.body[at..].split_whitespace().next()?.to_owned();
            Some(token)
        })
        .expect("a verification link");
    let response = app.get(&link).await;
    assert_eq!(response.status(), 200, "the link verifies");
}

/// The CUS sent in the "nueva CUS" e-mail.
pub async fn generated_cus(app: &TestApp) -> String {
    let messages = outbox(app).await;
    let sms = messages
        .iter()
        .rev()
        .find(|m| m.channel == Channel::Sms && m.body.contains("nueva Clave"))
        .expect("SMS with the CUS");
    let mail = messages
        .iter()
        .rev()
        .find(|m| m.subject == "Su nueva Clave Única SENCE")
        .expect("e-mail with the CUS");
    let cus = mail
        .body
        .split("Su nueva CUS es: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("cus in mail")
        .to_owned();
    assert!(sms.body.contains(&cus));
    assert!(cus.len() >= 12);
    // At rest, both wait sealed: the database never holds the CUS in clear.
    assert!(mail.sealed && sms.sealed);
    let stored = app.pending().await;
    assert!(stored.iter().all(|s| !s.notification.body.contains(&cus)));
    cus
}

/// "Genere nueva CUS" for `RUT` up to its secret question, answered with `answer`.
pub async fn answer_step(app: &TestApp, browser: &reqwest::Client, answer: &str) -> (u16, String) {
    let (status, page) = validate_step(app, browser, "/natural/generar", RUT).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("¿Cuál es el nombre de su escuela básica?"));
    let form = form_of(app, page).await;
    post(
        app,
        browser,
        "/natural/generar",
        &[
            ("csrf", form.csrf),
            ("rut", RUT.into()),
            ("respuesta", answer.into()),
            ("captcha_id", form.captcha_id),
            ("captcha", form.captcha),
            ("action", "generar".into()),
        ],
    )
    .await
}

pub const LOCKED: &str = "bloqueado temporalmente";

pub const WRONG: &str = "RUT o Clave CUS incorrectos.";

/// A server whose form limits leave room for the many requests of one test from one
/// address (those limits have tests of their own).
pub async fn roomy(backend: Backend) -> TestApp {
    TestApp::spawn_with(roomy_config(backend).await).await
}

pub async fn roomy_config(backend: Backend) -> TestConfig {
    let mut config = test_config(backend).await;
    config.limits.form_per_ip.max = 100_000;
    config.limits.form_per_rut.max = 100_000;
    config
}

/// Step 1 of "Actualice sus datos": RUT + CUS, captcha solved.
pub async fn open_update(
    app: &TestApp,
    browser: &reqwest::Client,
    rut: &str,
    cus: &str,
) -> (u16, String) {
    submit(
        app,
        browser,
        "/natural/actualizar",
        &[("rut", rut.to_owned()), ("cus", cus.to_owned())],
    )
    .await
}

/// "Cambie su CUS" at `path`, captcha solved.
pub async fn change_cus(
    app: &TestApp,
    path: &str,
    rut: &str,
    cus: &str,
    new: &str,
) -> (u16, String) {
    let browser = app.browser();
    submit(
        app,
        &browser,
        path,
        &[
            ("rut", rut.to_owned()),
            ("cus", cus.to_owned()),
            ("cus_nueva", new.to_owned()),
            ("cus_repetida", new.to_owned()),
        ],
    )
    .await
}

/// Step 2 of "Actualice sus datos" from the opened form `page`, with a new e-mail.
pub async fn save_update(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    email: &str,
) -> (u16, String) {
    let fields: Vec<(&'static str, String)> = [
        ("csrf", input_value(page, "csrf").expect("csrf")),
        ("ticket", input_value(page, "ticket").expect("ticket")),
        ("pregunta", "1".into()),
        ("calle", "Los Aromos".into()),
        ("numero", "12".into()),
        ("region", "13".into()),
        ("comuna", "13101".into()),
        ("email", email.into()),
        ("celular", "87654321".into()),
    ]
    .into_iter()
    .collect();
    post(app, browser, "/natural/actualizar/datos", &fields).await
}

/// `n` wrong logins for the test RUT sent at once, each from its own browser with its own
/// form; their statuses.
pub async fn wrong_logins_at_once(app: &std::sync::Arc<TestApp>, n: usize) -> Vec<u16> {
    let mut forms = Vec::new();
    for _ in 0..n {
        let browser = app.browser();
        let form = open_form(app, &browser, "/Account").await;
        forms.push((browser, form.csrf));
    }
    let mut guesses = tokio::task::JoinSet::new();
    for (i, (browser, csrf)) in forms.into_iter().enumerate() {
        let app = app.clone();
        guesses.spawn(async move {
            let fields = [
                ("csrf", csrf),
                ("rid", String::new()),
                ("rut", crate::helpers::RUT.to_owned()),
                ("cus", format!("intento número {i}")),
            ];
            post(&app, &browser, "/Account", &fields).await.0
        });
    }
    guesses.join_all().await
}
