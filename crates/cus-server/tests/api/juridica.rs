//! Persona jurídica over HTTP on both backends: registration and its rules, the
//! natural/jurídica exclusion, generate and change keyed by the company RUT, and signing in
//! to a portal as a company.

use cus_core::notification::Channel;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::helpers::browse::login;
use crate::helpers::forms::{form_of, open_form, post, with};
use crate::helpers::juridica::{CUS, RUT, company, register_company};
use crate::helpers::natural::{validate_step, verify_email};
use crate::helpers::oidc::{code_of, payload, rp_http};
use crate::helpers::{Backend, REDIRECT, TestApp, on_both_backends, outbox};

on_both_backends!(
    company_registers_with_its_representative,
    every_company_rule_is_explained,
    a_rut_is_either_natural_or_juridica,
    company_generates_and_changes_its_cus,
    company_signs_in_to_a_portal,
);

async fn company_registers_with_its_representative(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/juridica/registro").await;
    let (status, page) = post(&app, &browser, "/juridica/registro", &company(&form)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("c***@capsur.cl") && page.contains("+56 9 ****2222"));
    let rut = cus_core::Rut::parse(RUT).expect("rut");
    let (account, _) = app
        .state
        .store
        .account_by_rut(&rut)
        .await
        .expect("read")
        .expect("created");
    assert_eq!(account.tipo, cus_core::TipoPersona::Juridica);
    assert_eq!(
        account.razon_social.as_deref(),
        Some("Capacitaciones del Sur SpA")
    );
    assert_eq!(account.giro.as_deref(), Some("Otec"));
    let rep = account.representante.expect("representative");
    assert_eq!(
        (rep.rut.compact(), rep.email.as_str()),
        ("12345678-5".to_owned(), "ana.rojas@capsur.cl")
    );
    assert_eq!(account.celular.as_deref(), Some("+56911112222"));
    let messages = outbox(&app).await;
    let recipients: Vec<&str> = messages.iter().map(|m| m.recipient.as_str()).collect();
    assert!(
        recipients.contains(&"contacto@capsur.cl")
            && recipients.contains(&"ana.rojas@capsur.cl")
            && recipients.contains(&"+56911112222"),
        "{recipients:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.body.contains("/verificar-correo?token="))
    );
    assert_eq!(login(&app, &app.browser(), RUT, CUS).await.status(), 200);
}

async fn every_company_rule_is_explained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases: &[(&[(&'static str, &str)], &str)] = &[
        (
            &[("rut", "76.086.428-4")],
            "El dígito verificador del RUT no es correcto.",
        ),
        (&[("razon_social", "")], "Ingrese la razón social."),
        (
            &[("rep_rut", "12.345.678-9")],
            "El dígito verificador del RUT no es correcto.",
        ),
        (
            &[("rep_rut", RUT)],
            "El RUT del representante debe ser el de una persona",
        ),
        (
            &[("rep_nombres", "")],
            "Ingrese los nombres del representante.",
        ),
        (
            &[("rep_apellidos", "")],
            "Ingrese los apellidos del representante.",
        ),
        (
            &[("rep_email", "ana")],
            "El correo electrónico no es válido",
        ),
        (&[("email", "")], "Ingrese su correo electrónico."),
        (
            &[("comuna", "13101")],
            "no pertenece a la región seleccionada.",
        ),
        (&[("celular", "123")], "El celular debe tener 8 dígitos"),
        (
            &[("respuesta", "")],
            "Ingrese la respuesta a su pregunta secreta.",
        ),
        (
            &[("cus", "corta"), ("cus_repetida", "corta")],
            "al menos 8 caracteres",
        ),
        (&[("cus_repetida", "distinta de la otra")], "no coinciden"),
        (
            &[
                ("cus", "76086428 empresa"),
                ("cus_repetida", "76086428 empresa"),
            ],
            "no puede contener su RUT",
        ),
        (&[("captcha", "nope")], "Las letras no coinciden"),
    ];
    for (changes, message) in cases {
        let browser = app.browser();
        let form = open_form(&app, &browser, "/juridica/registro").await;
        let (status, page) = post(
            &app,
            &browser,
            "/juridica/registro",
            &with(company(&form), changes),
        )
        .await;
        assert_eq!(status, 422, "{changes:?}");
        assert!(page.contains(message), "{changes:?} should say {message:?}");
        assert!(
            !page.contains(CUS) && !page.contains("Asistente contable"),
            "secrets are not echoed"
        );
    }
    assert!(outbox(&app).await.is_empty(), "nothing written");
}

async fn a_rut_is_either_natural_or_juridica(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await; // persona natural 12.345.678-5
    register_company(&app).await;
    let browser = app.browser();
    let form = open_form(&app, &browser, "/juridica/registro").await;
    let (status, page) = post(
        &app,
        &browser,
        "/juridica/registro",
        &with(
            company(&form),
            &[("rut", "12.345.678-5"), ("rep_rut", "11.111.111-1")],
        ),
    )
    .await;
    assert_eq!(status, 422);
    // The same words whatever kind holds the RUT (item 15 of the security review).
    assert!(page.contains("Este RUT ya tiene una Clave Única SENCE."));
    assert!(!page.contains("persona natural;"));

    let form = open_form(&app, &browser, "/natural/registro").await;
    let natural: Vec<(&'static str, String)> = [
        ("csrf", form.csrf.clone()),
        ("captcha_id", form.captcha_id.clone()),
        ("captcha", form.captcha.clone()),
        ("rut", RUT.into()),
        ("nombres", "X".into()),
        ("apellido_paterno", "Y".into()),
        ("pregunta", "1".into()),
        ("respuesta", "algo".into()),
        ("calle", "C".into()),
        ("numero", "1".into()),
        ("region", "13".into()),
        ("comuna", "13101".into()),
        ("email", "x@y.cl".into()),
        ("sin_celular", "1".into()),
        ("cus", "una clave bastante larga".into()),
        ("cus_repetida", "una clave bastante larga".into()),
    ]
    .into_iter()
    .collect();
    let (status, page) = post(&app, &browser, "/natural/registro", &natural).await;
    assert_eq!(status, 422);
    assert!(page.contains("Este RUT ya tiene una Clave Única SENCE."));
    assert!(!page.contains("persona jurídica;"));
}

async fn company_generates_and_changes_its_cus(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register_company(&app).await;
    let browser = app.browser();
    verify_email(&app, "contacto@capsur.cl").await;
    let (_, page) = validate_step(&app, &browser, "/juridica/generar", RUT).await;
    assert!(page.contains("persona jurídica"));
    assert!(page.contains("¿Cuál fue su primer trabajo?"));
    let form = form_of(&app, page).await;
    let (status, page) = post(
        &app,
        &browser,
        "/juridica/generar",
        &[
            ("csrf", form.csrf),
            ("rut", RUT.into()),
            ("respuesta", "asistente CONTABLE".into()),
            ("captcha_id", form.captcha_id),
            ("captcha", form.captcha),
            ("action", "generar".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let messages = outbox(&app).await;
    let mail = messages
        .iter()
        .find(|m| m.subject == "Su nueva Clave Única SENCE")
        .expect("mail");
    assert_eq!(
        mail.recipient, "contacto@capsur.cl",
        "to the company's e-mail"
    );
    assert!(
        messages.iter().any(|m| m.channel == Channel::Sms
            && m.recipient == "+56911112222"
            && m.body.contains("nueva Clave")),
        "to the representative's mobile"
    );

    let form = open_form(&app, &browser, "/juridica/cambiar").await;
    let fields = vec![
        ("csrf", form.csrf),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
        ("rut", RUT.into()),
        ("cus", CUS.into()),
        ("cus_nueva", "otra clave de la empresa".into()),
        ("cus_repetida", "otra clave de la empresa".into()),
    ];
    let (status, page) = post(&app, &browser, "/juridica/cambiar", &fields).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        login(&app, &app.browser(), RUT, "otra clave de la empresa")
            .await
            .status(),
        200
    );
}

async fn company_signs_in_to_a_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register_company(&app).await;
    let registered = app.client(false, true).await;
    let http = rp_http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let claims_request = r#"{"id_token":{"tipo_persona":null,"razon_social":null,"representante_legal":null,"rut":null}}"#;
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("run".into()))
        .add_scope(Scope::new("profile".into()))
        .add_extra_param("claims", claims_request)
        .set_pkce_challenge(challenge)
        .url();
    let callback = app
        .browse_to_callback(&app.browser(), auth_url.as_str(), RUT, CUS)
        .await;
    let code = code_of(&callback);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("tokens");
    let id_token = tokens.id_token().expect("id_token");
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("signature and nonce verify");
    let in_token = payload(&id_token.to_string());
    assert_eq!(in_token["tipo_persona"], "juridica");
    assert_eq!(in_token["razon_social"], "Capacitaciones del Sur SpA");
    assert_eq!(in_token["rut"], "76086428-5");
    assert_eq!(
        in_token["representante_legal"],
        serde_json::json!({ "rut": "12345678-5", "nombre": "Ana María Rojas Díaz" })
    );

    let userinfo: Value = http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(userinfo["tipo_persona"], "juridica");
    assert_eq!(userinfo["razon_social"], "Capacitaciones del Sur SpA");
    assert_eq!(
        userinfo["RolUnico"],
        serde_json::json!({ "numero": 76_086_428, "DV": "5", "tipo": "RUT" })
    );
    assert_eq!(userinfo["representante_legal"]["rut"], "12345678-5");
    assert_eq!(userinfo["name"], "Capacitaciones del Sur SpA");
    assert!(
        userinfo.get("given_name").is_none(),
        "a company has no given name"
    );
}
