//! The persona natural of the lifecycle tests, registered through the forms as a person
//! would, and the steps of its flows: "Genere nueva CUS", e-mail verification, the outbox
//! as its recipients read it.

use cus_core::notification::Channel;

use super::forms::{FormPage, form_of, open_form, post};
use super::{TestApp, outbox};

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
    let form = open_form(app, browser, path).await;
    let fields = [
        ("csrf", form.csrf),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
        ("rut", rut.to_owned()),
        ("action", "validar".to_owned()),
    ];
    post(app, browser, path, &fields).await
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
