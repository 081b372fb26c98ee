//! The JSON APIs as their callers use them: the admin API (a client with the admin scope
//! and its token) and dynamic client registration (RFC 7591).

use serde_json::Value;

use super::TestApp;

/// A client allowed to call the admin API, and a token for it.
pub async fn admin_token(app: &TestApp, scope: &str) -> String {
    let meta = cus_server::clients::ClientMetadata {
        client_name: Some("Consola de operaciones".into()),
        grant_types: Some(vec!["client_credentials".into()]),
        scope: Some("cus:admin".into()),
        ..Default::default()
    };
    let client = app.client_from(meta).await;
    let response: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    response["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("token: {response}"))
        .to_owned()
}

/// A tool's client holding `client_scope` (e.g. `cus:helpdesk`), and its client_credentials
/// token for that scope, naming `operator` when given: the answer's status and JSON.
pub async fn operator_token(
    app: &TestApp,
    client_scope: &str,
    operator: Option<&str>,
) -> (u16, Value) {
    let meta = cus_server::clients::ClientMetadata {
        client_name: Some("Mesa de ayuda".into()),
        grant_types: Some(vec!["client_credentials".into()]),
        scope: Some(client_scope.into()),
        ..Default::default()
    };
    let client = app.client_from(meta).await;
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("scope", client_scope),
    ];
    if let Some(operator) = operator {
        form.push(("operator", operator));
    }
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .expect("token");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// A `cus:helpdesk` token naming `operator`, and the operator the audit trail records for
/// it (`client:<id>/<operator>`).
pub async fn helpdesk_token(app: &TestApp, operator: &str) -> (String, String) {
    let (status, body) = operator_token(app, "cus:helpdesk", Some(operator)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let claims = super::oidc::payload(&token);
    let client = claims["client_id"].as_str().expect("client_id");
    assert_eq!(claims["operator"], operator);
    (token, format!("client:{client}/{operator}"))
}

/// Calls a JSON endpoint, with `token` as the Bearer when given; the status and the JSON
/// answer (null when there is none).
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An initial access token for dynamic registration, valid for `lifetime`.
pub async fn initial_token(app: &TestApp, lifetime: time::Duration) -> String {
    cus_server::clients::create_initial_access_token(
        app.state.store.as_ref(),
        lifetime,
        app.state.clock.now(),
    )
    .await
    .expect("token")
}

/// Registers a client by RFC 7591 with `body`, with `token` as the initial access token.
pub async fn register(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    call(app, reqwest::Method::POST, "/register", token, Some(body)).await
}

pub async fn client_credentials_works(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .status()
        .as_u16()
}
