//! A person at a browser: signing in at `/Account`, consenting, following redirects until
//! the relying party's callback.

use super::html::{html_of, input_value, location};
use super::oidc::{authorize_url, code_of};
use super::{TestApp, TestClient};

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
