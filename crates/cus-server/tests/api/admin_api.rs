//! The admin API and dynamic registration (RFC 7591/7592), on both backends.

use serde_json::{Value, json};

use crate::helpers::api::client_credentials_works;
use crate::helpers::api::{admin_token, call, initial_token, register};
use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(
    admin_api_needs_a_token_with_the_admin_scope,
    admin_api_manages_clients,
    admin_api_refuses_bad_input_and_changes_nothing,
    dynamic_registration_needs_a_valid_initial_token,
    dynamic_registration_and_rfc7592_management,
);

async fn admin_api_needs_a_token_with_the_admin_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/admin/api/v1/clients"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("www-authenticate").is_some());
    let (status, body) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients",
        Some("not.a.token"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let without_scope = admin_token(&app, "").await;
    let (status, body) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients",
        Some(&without_scope),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // A person's access token is not an admin token either.
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/v1/clients",
        Some(&without_scope),
        Some(json!({"client_name": "x"})),
    )
    .await;
    assert_eq!(status, 403);
}

async fn admin_api_manages_clients(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = admin_token(&app, "cus:admin").await;
    let t = Some(token.as_str());
    let (status, created) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/v1/clients",
        t,
        Some(json!({
            "client_id": "portal-cursos",
            "client_name": "Portal de Cursos",
            "redirect_uris": ["https://cursos.sence.cl/cb"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "contacts": ["dev@sence.cl"],
            "first_party": true
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["client_id"], "portal-cursos");
    assert_eq!(created["first_party"], true);
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &secret).await,
        200
    );

    let (status, list) = call(&app, reqwest::Method::GET, "/admin/api/v1/clients", t, None).await;
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|c| c["client_id"] == "portal-cursos")
    );
    assert!(!list.to_string().contains("sha256$"), "no secret material");
    let (status, one) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients/portal-cursos",
        t,
        None,
    )
    .await;
    assert_eq!(
        (status, one["client_name"].as_str()),
        (200, Some("Portal de Cursos"))
    );

    let (status, patched) = call(
        &app,
        reqwest::Method::PATCH,
        "/admin/api/v1/clients/portal-cursos",
        t,
        Some(json!({"client_name": "Cursos SENCE"})),
    )
    .await;
    assert_eq!(
        (status, patched["client_name"].as_str()),
        (200, Some("Cursos SENCE"))
    );
    assert_eq!(
        patched["redirect_uris"],
        json!(["https://cursos.sence.cl/cb"])
    );

    let (status, rotated) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/v1/clients/portal-cursos/rotate-secret",
        t,
        Some(json!({"overlap_seconds": 600})),
    )
    .await;
    assert_eq!(status, 200);
    let new_secret = rotated["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &new_secret).await,
        200
    );
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &secret).await,
        200,
        "the old secret works during the overlap"
    );
    app.clock.advance(601);
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &secret).await,
        401,
        "and not after"
    );
    let token = admin_token(&app, "cus:admin").await;
    let t = Some(token.as_str());

    let (status, disabled) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/v1/clients/portal-cursos/disable",
        t,
        None,
    )
    .await;
    assert_eq!((status, disabled["enabled"].as_bool()), (200, Some(false)));
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &new_secret).await,
        401,
        "a disabled client cannot authenticate"
    );
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/admin/api/v1/clients/portal-cursos/enable",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        client_credentials_works(&app, "portal-cursos", &new_secret).await,
        200
    );

    let (status, _) = call(
        &app,
        reqwest::Method::DELETE,
        "/admin/api/v1/clients/portal-cursos",
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients/portal-cursos",
        t,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let trail = app
        .state
        .store
        .audit_events(&cus_store::AuditFilter {
            subject: Some("portal-cursos".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        trail.len(),
        6,
        "created, updated, rotated, disabled, enabled, deleted: {trail:?}"
    );
    let operators: Vec<_> = trail.iter().map(|e| e.operator.as_deref()).collect();
    assert!(
        operators
            .iter()
            .all(|o| o.is_some_and(|o| o.starts_with("client:cus-"))),
        "every change names the admin client as its operator: {operators:?}"
    );
}

async fn admin_api_refuses_bad_input_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = admin_token(&app, "cus:admin").await;
    let t = Some(token.as_str());
    let (_, before) = call(&app, reqwest::Method::GET, "/admin/api/v1/clients", t, None).await;
    let cases = [
        (
            json!({"client_name": "A", "redirect_uris": ["http://portal.sence.cl/cb"]}),
            400,
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "A", "redirect_uris": ["https://*.sence.cl/cb"]}),
            400,
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "A", "redirect_uris": ["https://a.sence.cl/cb"], "grant_types": ["password"]}),
            400,
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "", "redirect_uris": ["https://a.sence.cl/cb"]}),
            400,
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "A", "redirect_uris": "https://a.sence.cl/cb"}),
            400,
            "invalid_request",
        ),
        (
            json!({"client_id": "dup", "client_name": "A", "redirect_uris": ["https://a.sence.cl/cb"]}),
            201,
            "",
        ),
        (
            json!({"client_id": "dup", "client_name": "B", "redirect_uris": ["https://b.sence.cl/cb"]}),
            409,
            "already_exists",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(
            &app,
            reqwest::Method::POST,
            "/admin/api/v1/clients",
            t,
            Some(body.clone()),
        )
        .await;
        assert_eq!(got, status, "{body} → {answer}");
        if !code.is_empty() {
            assert_eq!(answer["error"]["code"], code, "{body}");
        }
    }
    let (_, after) = call(&app, reqwest::Method::GET, "/admin/api/v1/clients", t, None).await;
    assert_eq!(
        after.as_array().map(Vec::len),
        before.as_array().map(|b| b.len() + 1),
        "only the one valid client was added"
    );
    let (_, dup) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients/dup",
        t,
        None,
    )
    .await;
    assert_eq!(dup["client_name"], "A", "the duplicate changed nothing");
    let (status, _) = call(
        &app,
        reqwest::Method::PATCH,
        "/admin/api/v1/clients/dup",
        t,
        Some(json!({"redirect_uris": ["ftp://x"]})),
    )
    .await;
    assert_eq!(status, 400);
    let (_, dup) = call(
        &app,
        reqwest::Method::GET,
        "/admin/api/v1/clients/dup",
        t,
        None,
    )
    .await;
    assert_eq!(dup["redirect_uris"], json!(["https://a.sence.cl/cb"]));
}

async fn dynamic_registration_needs_a_valid_initial_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"client_name": "App", "redirect_uris": ["https://app.example.cl/cb"]});
    let (status, answer) = register(&app, None, body.clone()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _) = register(&app, Some("made-up"), body.clone()).await;
    assert_eq!(status, 401);
    let token = initial_token(&app, time::Duration::hours(1)).await;
    app.clock.advance(3601);
    let (status, _) = register(&app, Some(&token), body).await;
    assert_eq!(status, 401, "expired");
    assert!(
        app.state
            .store
            .list_clients()
            .await
            .expect("list")
            .is_empty(),
        "nothing registered"
    );
}

async fn dynamic_registration_and_rfc7592_management(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["registration_endpoint"],
        format!("{}/register", app.base)
    );
    let token = initial_token(&app, time::Duration::hours(1)).await;
    let t = Some(token.as_str());
    let (status, answer) = register(
        &app,
        t,
        json!({"client_name": "App", "redirect_uris": ["http://app.example.cl/cb"]}),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    let (status, answer) = register(&app, t, json!({"client_name": "App", "redirect_uris": ["https://app.example.cl/cb"], "first_party": true})).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let (status, answer) = register(&app, t, json!({"client_name": "App", "redirect_uris": ["https://app.example.cl/cb"], "scope": "openid cus:admin"})).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );

    let (status, created) = register(&app, t, json!({"client_name": "App", "redirect_uris": ["https://app.example.cl/cb"], "token_endpoint_auth_method": "client_secret_post", "software_id": "ignored"})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().expect("id").to_owned();
    assert!(created["client_secret"].is_string());
    assert_eq!(created["client_secret_expires_at"], 0);
    assert_eq!(created["first_party"], false);
    let rat = created["registration_access_token"]
        .as_str()
        .expect("rat")
        .to_owned();
    let uri = created["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let path = uri.strip_prefix(&app.base).expect("ours").to_owned();

    let (status, read) = call(&app, reqwest::Method::GET, &path, Some(&rat), None).await;
    assert_eq!((status, read["client_name"].as_str()), (200, Some("App")));
    let (status, _) = call(&app, reqwest::Method::GET, &path, Some(&token), None).await;
    assert_eq!(
        status, 401,
        "the initial token is not a registration access token"
    );
    let (status, _) = call(
        &app,
        reqwest::Method::GET,
        "/register/cus-unknown",
        Some(&rat),
        None,
    )
    .await;
    assert_eq!(status, 401);

    let (status, updated) = call(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&rat),
        Some(json!({"client_name": "App 2", "redirect_uris": ["https://app.example.cl/cb2"]})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.cl/cb2"])
    );
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&rat),
        Some(json!({"first_party": true})),
    )
    .await;
    assert_eq!(status, 400);

    let (status, _) = call(&app, reqwest::Method::DELETE, &path, Some(&rat), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, reqwest::Method::GET, &path, Some(&rat), None).await;
    assert_eq!(status, 401);
    assert!(
        app.state
            .store
            .client(&cus_core::ClientId(id))
            .await
            .expect("read")
            .is_none()
    );
}

/// The OpenAPI document is generated from the code; this snapshot keeps it from drifting
/// unnoticed (update with `INSTA_UPDATE=always scripts/test` after a deliberate change).
#[test]
fn openapi_document_matches_its_snapshot() {
    let document = serde_json::to_value(cus_server::http::admin::openapi()).expect("json");
    assert_eq!(document["openapi"], "3.1.0");
    insta::assert_json_snapshot!("admin_openapi", document);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let served: Value = app
        .get("/admin/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        served,
        serde_json::to_value(cus_server::http::admin::openapi()).expect("json")
    );
    assert!(served["paths"]["/admin/api/v1/clients/{client_id}/rotate-secret"]["post"].is_object());
}
