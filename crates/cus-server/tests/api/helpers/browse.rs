//! A person at a browser: signing in at `/Account`, consenting, following redirects until
//! the relying party's callback.

use super::html::{html_of, input_value, location};
use super::oidc::{authorize_url, code_of, query_of};
use super::{CUS, RUT, TestApp, TestClient};

/// A browser of its own: cookies kept, redirects not followed (the tests look at each).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .danger_accept_invalid_certs(true)
        .build()
        .expect("browser")
}

impl TestApp {
    /// A new browser, with no session yet.
    pub fn browser(&self) -> reqwest::Client {
        browser()
    }

    /// Follows redirects like a browser until one leaves this server, logging in with
    /// `rut`/`cus` and consenting when asked. Returns the URL the relying party receives.
    pub async fn browse_to_callback(
        &self,
        browser: &reqwest::Client,
        start: &str,
        rut: &str,
        cus: &str,
    ) -> url::Url {
        self.browse_collecting_consent(browser, start, rut, cus)
            .await
            .0
    }

    /// Like [`TestApp::browse_to_callback`], and also the consent pages seen on the way.
    pub async fn browse_collecting_consent(
        &self,
        browser: &reqwest::Client,
        start: &str,
        rut: &str,
        cus: &str,
    ) -> (url::Url, Vec<String>) {
        let mut consents = Vec::new();
        let mut next = start.to_owned();
        for _ in 0..12 {
            if next.starts_with('/') {
                next = self.url(&next);
            } else if !next.starts_with(&self.base) {
                return (url::Url::parse(&next).expect("callback URL"), consents);
            }
            let response = browser.get(&next).send().await.expect("GET");
            if response.status().is_redirection() {
                next = location(&response);
                continue;
            }
            let page = response.text().await.expect("page");
            let (action, form) = if page.contains("action=\"/Account\"") {
                (
                    "/Account",
                    vec![
                        ("csrf", input_value(&page, "csrf").expect("csrf")),
                        ("rid", input_value(&page, "rid").unwrap_or_default()),
                        ("rut", rut.to_owned()),
                        ("cus", cus.to_owned()),
                    ],
                )
            } else if page.contains("action=\"/consent\"") {
                let form = vec![
                    ("csrf", input_value(&page, "csrf").expect("csrf")),
                    ("rid", input_value(&page, "rid").expect("rid")),
                    ("decision", "allow".to_owned()),
                ];
                consents.push(page);
                ("/consent", form)
            } else {
                panic!("unexpected page at {next}: {page}");
            };
            let response = browser
                .post(self.url(action))
                .form(&form)
                .send()
                .await
                .expect("POST");
            assert!(
                response.status().is_redirection(),
                "{action} answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
            next = location(&response);
        }
        panic!("too many redirects");
    }

    /// Signs `browser` in to `client` as `rut` (first-party client: no consent); the ID
    /// token it receives.
    pub async fn id_token(
        &self,
        browser: &reqwest::Client,
        client: &TestClient,
        rut: &str,
        cus: &str,
    ) -> String {
        let url = authorize_url(self, &client.id, &[("scope", "openid")]);
        let callback = self.browse_to_callback(browser, &url, rut, cus).await;
        let tokens = self.redeem(client, &code_of(&callback)).await;
        tokens["id_token"].as_str().expect("id_token").to_owned()
    }
}

/// Posts the login form at `/Account` (no pending request) as `rut` with `cus`.
pub async fn login(
    app: &TestApp,
    browser: &reqwest::Client,
    rut: &str,
    cus: &str,
) -> reqwest::Response {
    let page = html_of(browser, app.url("/Account")).await;
    let csrf = input_value(&page, "csrf").expect("csrf");
    browser
        .post(app.url("/Account"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("rid", ""),
            ("rut", rut),
            ("cus", cus),
        ])
        .send()
        .await
        .expect("login")
}

/// Opens the login page at `path`, checking it is never cached; the page and its CSRF token.
pub async fn login_form(app: &TestApp, browser: &reqwest::Client, path: &str) -> (String, String) {
    let page = browser.get(app.url(path)).send().await.expect("page");
    assert_eq!(
        page.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(page.headers().get("content-security-policy").is_some());
    let html = page.text().await.expect("html");
    (html.clone(), input_value(&html, "csrf").expect("csrf"))
}

/// Posts the login form with `csrf`; the status and the page.
pub async fn post_login(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    rut: &str,
    cus: &str,
) -> (u16, String) {
    let response = browser
        .post(app.url("/Account"))
        .form(&[("csrf", csrf), ("rid", ""), ("rut", rut), ("cus", cus)])
        .send()
        .await
        .expect("login");
    (
        response.status().as_u16(),
        response.text().await.expect("html"),
    )
}

/// A login through [`login`]; the status, the headers and the page.
pub async fn login_attempt(
    app: &TestApp,
    browser: &reqwest::Client,
    rut: &str,
    cus: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = login(app, browser, rut, cus).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("html"))
}

/// A login whose request says it was forwarded for `client`.
pub async fn login_forwarded_for(app: &TestApp, browser: &reqwest::Client, client: &str) -> u16 {
    let page = browser.get(app.url("/Account")).send().await.expect("page");
    let csrf = input_value(&page.text().await.expect("html"), "csrf").expect("csrf");
    browser
        .post(app.url("/Account"))
        // What a client forged itself, then what the balancer appended.
        .header("x-forwarded-for", format!("6.6.6.6, {client}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("rid", ""),
            ("rut", RUT),
            ("cus", CUS),
        ])
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

/// Logs `browser` in without a pending request.
pub async fn sign_in(app: &TestApp, browser: &reqwest::Client, rut: &str, cus: &str) {
    let response = login(app, browser, rut, cus).await;
    assert_eq!(response.status().as_u16(), 200);
}

/// Whether `browser` still has a session (prompt=none gets a code).
pub async fn signed_in(app: &TestApp, browser: &reqwest::Client, client: &TestClient) -> bool {
    let response = browser
        .get(authorize_url(
            app,
            &client.id,
            &[("scope", "openid"), ("prompt", "none")],
        ))
        .send()
        .await
        .expect("authorize");
    query_of(&location(&response)).contains_key("code")
}

/// Opens the consent page of pending request `rid` and posts "allow"; where it sends the
/// browser.
pub async fn allow_consent(app: &TestApp, browser: &reqwest::Client, rid: &str) -> String {
    let page = browser
        .get(app.url(&format!("/consent?rid={rid}")))
        .send()
        .await
        .expect("consent page");
    let csrf = match page.headers().get("location") {
        // The page itself may already send the person elsewhere: take a csrf from the
        // login page, as an attacker posting directly would.
        Some(_) => {
            let login = html_of(browser, app.url("/Account")).await;
            input_value(&login, "csrf").expect("csrf")
        }
        None => input_value(&page.text().await.expect("html"), "csrf").expect("csrf"),
    };
    let response = browser
        .post(app.url("/consent"))
        .form(&[("csrf", csrf.as_str()), ("rid", rid), ("decision", "allow")])
        .send()
        .await
        .expect("consent");
    assert!(response.status().is_redirection(), "{}", response.status());
    location(&response)
}

pub async fn end_session(app: &TestApp, browser: &reqwest::Client, hint: &str) -> (u16, String) {
    let response = browser
        .get(app.url(&format!("/end_session?id_token_hint={hint}")))
        .send()
        .await
        .expect("logout");
    let status = response.status().as_u16();
    (status, response.text().await.expect("page"))
}
