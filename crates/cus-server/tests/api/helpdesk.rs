//! The help desk: its operations through the admin API (`cus:helpdesk`) and through the
//! `cus account` commands, the scopes that keep accounts and clients apart, a disabled
//! account at every door, and the operator every event names.

use std::process::{Command, Output};

use cus_core::notification::Channel;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::api::{call, helpdesk_token, operator_token};
use crate::helpers::browse::{login, signed_in};
use crate::helpers::cli::Cli;
use crate::helpers::forms::{form_of, post};
use crate::helpers::juridica::{self, register_company};
use crate::helpers::natural::{self, answer_step, change_cus, open_update, validate_step};
use crate::helpers::oidc::{authorize_url, code_of, token, userinfo};
use crate::helpers::{Backend, TestApp, on_both_backends, outbox, test_config};

on_both_backends!(
    scopes_keep_clients_and_accounts_apart,
    disabling_ends_sessions_and_closes_every_door,
    unlock_after_a_lockout_lets_the_right_cus_in,
    set_representative_changes_where_the_next_new_cus_goes,
    delete_removes_the_account_and_keeps_its_trail,
    contact_data_is_masked_unless_revealed_and_a_reveal_is_audited,
    the_cli_runs_every_operation_as_its_operator,
);

const DISABLED: &str = "está deshabilitada";

/// The events of `rut` (compact) as (kind, operator), oldest first.
async fn trail(app: &TestApp, rut: &str) -> Vec<(String, Option<String>)> {
    app.state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some(rut.into()),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.kind.as_str().to_owned(), e.operator))
        .collect()
}

/// The operator of every event of `kind` for `rut`.
async fn operators_of(app: &TestApp, rut: &str, kind: &str) -> Vec<Option<String>> {
    trail(app, rut)
        .await
        .into_iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, operator)| operator)
        .collect()
}

/// The generated-CUS SMS in the outbox, by recipient.
async fn new_cus_sms(app: &TestApp) -> Vec<String> {
    outbox(app)
        .await
        .into_iter()
        .filter(|m| m.channel == Channel::Sms && m.body.contains("nueva Clave"))
        .map(|m| m.recipient)
        .collect()
}

/// "Genere nueva CUS" for the company, answered right; the page.
async fn company_generates(app: &TestApp) -> (u16, String) {
    let browser = app.browser();
    let (_, page) = validate_step(app, &browser, "/juridica/generar", juridica::RUT).await;
    let form = form_of(app, page).await;
    post(
        app,
        &browser,
        "/juridica/generar",
        &[
            ("csrf", form.csrf),
            ("rut", juridica::RUT.into()),
            ("respuesta", "asistente CONTABLE".into()),
            ("captcha_id", form.captcha_id),
            ("captcha", form.captcha),
            ("action", "generar".into()),
        ],
    )
    .await
}

async fn scopes_keep_clients_and_accounts_apart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let (desk, _) = helpdesk_token(&app, "ana").await;
    let (status, admin) = operator_token(&app, "cus:admin", None).await;
    assert_eq!(status, 200, "{admin}");
    let admin = admin["access_token"].as_str().expect("token").to_owned();
    let accounts = "/admin/api/v1/accounts?rut=12.345.678-5";

    let (status, body) = call(&app, Method::GET, accounts, Some(&admin), None).await;
    assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")));
    let (status, body) = call(
        &app,
        Method::GET,
        "/admin/api/v1/clients",
        Some(&desk),
        None,
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")));
    let path = "/admin/api/v1/accounts/12345678-5/disable";
    let (status, _) = call(&app, Method::POST, path, Some(&admin), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, Method::POST, path, None, None).await;
    assert_eq!(status, 401);

    let (status, found) = call(&app, Method::GET, accounts, Some(&desk), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().map(Vec::len), Some(1));

    // Only a help-desk token names an operator, and only a name the trail can keep.
    let (status, body) = operator_token(&app, "cus:admin", Some("ana")).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
    let (status, body) = operator_token(&app, "cus:helpdesk", Some("ana maría")).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
    // No self-service client can hold the scope.
    let meta = cus_server::clients::ClientMetadata {
        scope: Some("cus:helpdesk".into()),
        ..Default::default()
    };
    assert!(meta.self_service().is_err());

    // Nor can an admin client grant the scope it lacks, to another client or to itself.
    let created = json!({"client_name": "Mesa", "grant_types": ["client_credentials"],
                         "scope": "cus:helpdesk"});
    let clients = "/admin/api/v1/clients";
    let (status, body) = call(&app, Method::POST, clients, Some(&admin), Some(created)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_client_metadata")),
        "{body}"
    );
    let (status, listed) = call(&app, Method::GET, clients, Some(&admin), None).await;
    assert_eq!(status, 200);
    let own_id = listed
        .as_array()
        .and_then(|all| all.iter().find(|c| c["scope"] == "cus:admin"))
        .and_then(|c| c["client_id"].as_str())
        .expect("the admin client")
        .to_owned();
    let widened = json!({"scope": "cus:admin cus:helpdesk"});
    let own = format!("{clients}/{own_id}");
    let (status, body) = call(&app, Method::PATCH, &own, Some(&admin), Some(widened)).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(&app, Method::GET, &own, Some(&admin), None).await;
    assert_eq!((status, &body["scope"]), (200, &json!("cus:admin")));
}

async fn disabling_ends_sessions_and_closes_every_door(backend: Backend) {
    let app = natural::roomy(backend).await;
    natural::register(&app).await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let start = authorize_url(&app, &client.id, &[("scope", "openid")]);
    let callback = app
        .browse_to_callback(&browser, &start, natural::RUT, natural::CUS)
        .await;
    let tokens = app.redeem(&client, &code_of(&callback)).await;
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("rt").to_owned();
    assert_eq!(userinfo(&app, &access).await.0, 200);
    assert!(signed_in(&app, &browser, &client).await);
    app.clock.advance(1);

    let (desk, actor) = helpdesk_token(&app, "ana").await;
    let path = "/admin/api/v1/accounts/15555555-6";
    let body = json!({"reason": "suplantación denunciada"});
    let disable = format!("{path}/disable");
    let (status, view) = call(&app, Method::POST, &disable, Some(&desk), Some(body)).await;
    assert_eq!(status, 200, "{view}");
    assert!(view["disabled_at"].is_i64());

    // Everything the login gave ends.
    assert!(!signed_in(&app, &browser, &client).await, "prompt=none");
    let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let (status, body, _) = token(&app, &client, &form).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    assert_eq!(userinfo(&app, &access).await.0, 401);
    // No door opens, even with the right CUS or answer.
    let response = login(&app, &app.browser(), natural::RUT, natural::CUS).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.expect("page").contains(DISABLED));
    let (status, page) = change_cus(
        &app,
        "/natural/cambiar",
        natural::RUT,
        natural::CUS,
        "una clave completamente nueva",
    )
    .await;
    assert!(status == 422 && page.contains(DISABLED), "{status} {page}");
    let (status, page) = open_update(&app, &app.browser(), natural::RUT, natural::CUS).await;
    assert!(status == 422 && page.contains(DISABLED), "{status} {page}");
    let (_, page) = answer_step(&app, &app.browser(), "Escuela República de Chile").await;
    assert!(page.contains(DISABLED), "{page}");
    assert!(new_cus_sms(&app).await.is_empty(), "no CUS was sent");

    let enable = format!("{path}/enable");
    let (status, view) = call(&app, Method::POST, &enable, Some(&desk), None).await;
    assert_eq!(status, 200, "{view}");
    assert!(view["disabled_at"].is_null());
    let response = login(&app, &app.browser(), natural::RUT, natural::CUS).await;
    assert_eq!(response.status(), 200, "enabled: the CUS works again");
    assert!(
        !signed_in(&app, &browser, &client).await,
        "what ended stays ended"
    );
    let (status, body, _) = token(&app, &client, &form).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));

    for kind in ["account_disabled", "account_enabled"] {
        assert_eq!(
            operators_of(&app, "15555555-6", kind).await,
            [Some(actor.clone())],
            "{kind}"
        );
    }
}

async fn unlock_after_a_lockout_lets_the_right_cus_in(backend: Backend) {
    let mut config = test_config(backend).await;
    config.lockout.captcha_after = 100;
    config.lockout.lock_after = 3;
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    for _ in 0..3 {
        login(&app, &app.browser(), crate::helpers::RUT, "no es la clave").await;
    }
    let response = login(
        &app,
        &app.browser(),
        crate::helpers::RUT,
        crate::helpers::CUS,
    )
    .await;
    assert_eq!(response.status(), 429, "locked");

    let (desk, actor) = helpdesk_token(&app, "pedro").await;
    let path = "/admin/api/v1/accounts/12.345.678-5/unlock";
    let (status, _) = call(&app, Method::POST, path, Some(&desk), None).await;
    assert_eq!(status, 204);
    let response = login(
        &app,
        &app.browser(),
        crate::helpers::RUT,
        crate::helpers::CUS,
    )
    .await;
    assert_eq!(response.status(), 200, "the right CUS gets in");
    assert_eq!(
        operators_of(&app, "12345678-5", "account_unlocked").await,
        [Some(actor)]
    );
    let unknown = "/admin/api/v1/accounts/11.111.111-1/unlock";
    let (status, body) = call(&app, Method::POST, unknown, Some(&desk), None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}

async fn set_representative_changes_where_the_next_new_cus_goes(backend: Backend) {
    let app = natural::roomy(backend).await;
    register_company(&app).await;
    app.account().await;
    let (desk, actor) = helpdesk_token(&app, "ana").await;
    let path = "/admin/api/v1/accounts/76086428-5";
    let representative = json!({
        "rut": "11.111.111-1",
        "nombres": "Pedro",
        "apellidos": "Soto Lagos",
        "email": "pedro.soto@capsur.cl",
        "celular": "9999 8888",
    });
    let rep = format!("{path}/representative");
    let (status, view) = call(
        &app,
        Method::PUT,
        &rep,
        Some(&desk),
        Some(representative.clone()),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["representante"]["nombre"], "Pedro Soto Lagos");
    assert_eq!(view["celular"], "+56 9 ****8888");
    let told: Vec<_> = outbox(&app)
        .await
        .into_iter()
        .filter(|m| m.subject.contains("representante legal"))
        .map(|m| m.recipient)
        .collect();
    assert!(
        told.contains(&"pedro.soto@capsur.cl".to_owned()),
        "{told:?}"
    );
    assert!(told.contains(&"contacto@capsur.cl".to_owned()), "{told:?}");

    // The help desk's new CUS: one, to the new representative.
    let (status, sent) = call(
        &app,
        Method::POST,
        &format!("{path}/new-cus"),
        Some(&desk),
        None,
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["celular"], "+56 9 ****8888");
    assert_eq!(new_cus_sms(&app).await, ["+56999998888"]);
    // And the company's own "Genere nueva CUS" goes there too, not to the old one.
    let (status, page) = company_generates(&app).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(new_cus_sms(&app).await, ["+56999998888", "+56999998888"]);

    assert_eq!(
        operators_of(&app, "76086428-5", "representative_changed").await,
        [Some(actor.clone())]
    );
    assert_eq!(
        operators_of(&app, "76086428-5", "cus_generated").await,
        [Some(actor), None],
        "the help desk's, then the company's own"
    );
    // A person has no representative.
    let person = "/admin/api/v1/accounts/12.345.678-5/representative";
    let (status, body) = call(&app, Method::PUT, person, Some(&desk), Some(representative)).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("refused")));
    let bad = json!({"rut": "76.086.428-5", "nombres": "X", "apellidos": "Y", "email": "x@y.cl"});
    let (status, body) = call(&app, Method::PUT, &rep, Some(&desk), Some(bad)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_request"))
    );
}

async fn delete_removes_the_account_and_keeps_its_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let client = app.client(false, true).await;
    let browser = app.browser();
    let start = authorize_url(&app, &client.id, &[("scope", "openid")]);
    app.browse_to_callback(&browser, &start, crate::helpers::RUT, crate::helpers::CUS)
        .await;
    assert!(signed_in(&app, &browser, &client).await);

    let (desk, actor) = helpdesk_token(&app, "ana").await;
    let path = "/admin/api/v1/accounts/12.345.678-5";
    let (status, _) = call(&app, Method::DELETE, path, Some(&desk), None).await;
    assert_eq!(status, 204);
    let (status, body) = call(&app, Method::GET, path, Some(&desk), None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert!(
        !signed_in(&app, &browser, &client).await,
        "its session ended"
    );
    let response = login(
        &app,
        &app.browser(),
        crate::helpers::RUT,
        crate::helpers::CUS,
    )
    .await;
    assert_eq!(response.status(), 401);
    let kinds: Vec<_> = trail(&app, "12345678-5").await;
    assert_eq!(
        kinds.first().map(|(k, _)| k.as_str()),
        Some("account_created")
    );
    assert!(kinds.contains(&("account_deleted".to_owned(), Some(actor))));
}

async fn contact_data_is_masked_unless_revealed_and_a_reveal_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account().await;
    app.other_account().await;
    let (desk, actor) = helpdesk_token(&app, "ana").await;
    let path = "/admin/api/v1/accounts/12.345.678-5";
    let (status, masked) = call(&app, Method::GET, path, Some(&desk), None).await;
    assert_eq!(status, 200, "{masked}");
    assert_eq!(
        (&masked["email"], &masked["celular"], &masked["masked"]),
        (
            &json!("m***@example.cl"),
            &json!("+56 9 ****5678"),
            &json!(true)
        )
    );
    assert!(
        operators_of(&app, "12345678-5", "contact_revealed")
            .await
            .is_empty()
    );
    let (status, shown) = call(
        &app,
        Method::GET,
        &format!("{path}?reveal=true"),
        Some(&desk),
        None,
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        (&shown["email"], &shown["celular"]),
        (&json!("maria@example.cl"), &json!("+56912345678"))
    );
    assert_eq!(
        operators_of(&app, "12345678-5", "contact_revealed").await,
        [Some(actor.clone())]
    );

    // The searches, every one masked.
    let find = |query: &str| {
        let desk = desk.clone();
        let app = &app;
        let path = format!("/admin/api/v1/accounts?{query}");
        async move { call(app, Method::GET, &path, Some(&desk), None).await }
    };
    for query in [
        "email=MARIA@example.cl",
        "celular=%2B56%209%201234%205678",
        "name=del%20r",
        "name=mar",
    ] {
        let (status, found) = find(query).await;
        assert_eq!(status, 200, "{query}: {found}");
        let ruts: Vec<_> = found
            .as_array()
            .expect("list")
            .iter()
            .map(|a| a["rut"].clone())
            .collect();
        assert_eq!(ruts, [json!("12.345.678-5")], "{query}");
        assert_eq!(found[0]["email"], "m***@example.cl");
    }
    let (status, found) = find("name=soto").await;
    assert_eq!(
        (status, found[0]["rut"].clone()),
        (200, json!("11.111.111-1"))
    );
    for bad in [
        "",
        "name=a&email=b@c.cl",
        "rut=12.345.678-0",
        "telefono=1",
        "name=ma",
    ] {
        let (status, body) = find(bad).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_request")),
            "{bad}"
        );
    }
    // Every search is in the trail, with its operator and how many it found.
    let searches = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            kinds: vec![cus_core::audit::AuditKind::AccountsSearched],
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(searches.len(), 5, "{searches:?}");
    assert!(
        searches
            .iter()
            .all(|e| e.operator.as_deref() == Some(actor.as_str()))
    );
    assert_eq!(searches[0].detail.as_deref(), Some("by email: 1 found"));
}

/// Runs a `cus` command off the async workers; its output.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined")
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn the_cli_runs_every_operation_as_its_operator(backend: Backend) {
    let app = natural::roomy(backend).await;
    register_company(&app).await;
    let cli = Cli::new();
    let cus = |args: &[&str]| {
        let mut cmd = cli.on_app(&app);
        cmd.args(["--operator", "mesa"]).arg("account").args(args);
        cmd
    };
    let rut = "76.086.428-5";

    let found = succeeded(&run(cus(&["find", "--name", "capacitaciones"])).await);
    assert!(
        found.contains(rut) && found.contains("c***@capsur.cl"),
        "{found}"
    );
    let masked = succeeded(&run(cus(&["show", rut])).await);
    assert!(!masked.contains("contacto@capsur.cl"), "{masked}");
    let shown = succeeded(&run(cus(&["show", rut, "--reveal", "--json"])).await);
    let shown: Value = serde_json::from_str(shown.trim()).expect("json");
    assert_eq!(shown["email"], "contacto@capsur.cl");

    // A new e-mail is verified again, through the same link a person gets.
    succeeded(&run(cus(&["set-contact", rut, "--email", "nuevo@capsur.cl"])).await);
    let (account, _) = app
        .state
        .store
        .account_by_rut(&cus_core::Rut::parse(rut).expect("rut"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (account.email.as_str(), account.email_verified),
        ("nuevo@capsur.cl", false)
    );
    natural::verify_email(&app, "nuevo@capsur.cl").await;
    let refused = run(cus(&["set-contact", rut, "--celular", "12345678"])).await;
    assert!(
        !refused.status.success(),
        "a company's mobile is its representative's"
    );

    succeeded(
        &run(cus(&[
            "set-representative",
            rut,
            "--rep-rut",
            "11.111.111-1",
            "--nombres",
            "Pedro",
            "--apellidos",
            "Soto",
            "--email",
            "pedro@capsur.cl",
            "--celular",
            "99998888",
        ]))
        .await,
    );
    let sent = succeeded(&run(cus(&["new-cus", rut])).await);
    assert!(sent.contains("+56 9 ****8888"), "{sent}");
    assert_eq!(new_cus_sms(&app).await, ["+56999998888"]);

    succeeded(&run(cus(&["disable", rut, "--reason", "poder vencido"])).await);
    let response = login(&app, &app.browser(), juridica::RUT, juridica::CUS).await;
    assert_eq!(response.status(), 403);
    let (_, page) = company_generates(&app).await;
    assert!(page.contains(DISABLED), "{page}");
    let (_, page) = change_cus(
        &app,
        "/juridica/cambiar",
        juridica::RUT,
        juridica::CUS,
        "otra clave de la empresa",
    )
    .await;
    assert!(page.contains(DISABLED), "{page}");
    let refused = run(cus(&["new-cus", rut])).await;
    assert!(!refused.status.success(), "no CUS for a disabled account");
    succeeded(&run(cus(&["enable", rut])).await);
    let response = login(&app, &app.browser(), juridica::RUT, juridica::CUS).await;
    assert_eq!(response.status(), 200);

    let unlocked = run(cus(&["unlock", rut])).await;
    match backend {
        // The in-process cache is the server's own: the CLI says so and changes nothing.
        Backend::Embedded => {
            assert!(!unlocked.status.success());
            assert!(String::from_utf8_lossy(&unlocked.stderr).contains("admin API"));
        }
        Backend::Production | Backend::RedisCluster | Backend::RedisSentinel => {
            succeeded(&unlocked);
        }
    }
    let unconfirmed = run(cus(&["delete", rut])).await;
    assert!(!unconfirmed.status.success(), "delete asks for --yes");
    succeeded(&run(cus(&["delete", rut, "--yes"])).await);
    assert!(succeeded(&run(cus(&["find", "--rut", rut])).await).contains("no account"));

    let by_cli: Vec<_> = trail(&app, "76086428-5")
        .await
        .into_iter()
        .filter(|(_, operator)| operator.as_deref() == Some("cli:mesa"))
        .map(|(kind, _)| kind)
        .collect();
    let mut expected = vec![
        "contact_revealed",
        "data_updated",
        "representative_changed",
        "cus_generated",
        "account_disabled",
        "account_enabled",
    ];
    if backend != Backend::Embedded {
        expected.push("account_unlocked");
    }
    // The search that finds it gone is in the trail too.
    expected.extend(["account_deleted", "accounts_searched"]);
    assert_eq!(by_cli, expected);
    // Nothing the help desk did went unnamed: the unnamed events are the company's own.
    let own = [
        "account_created",
        "email_verified",
        "login_succeeded",
        "login_failed",
        // The login after `enable` cancelled the CUS the help desk had sent.
        "cus_changed",
    ];
    let unnamed: Vec<_> = trail(&app, "76086428-5")
        .await
        .into_iter()
        .filter(|(kind, operator)| operator.is_none() && !own.contains(&kind.as_str()))
        .collect();
    assert!(unnamed.is_empty(), "{unnamed:?}");
}
