//! CUS's forms as a person fills them: the CSRF token, the captcha solved from the cache,
//! the fields posted.

use cus_cache::{Key, Namespace};

use super::TestApp;
use super::html::{html_of, input_value};

/// A page's form: its CSRF token, and its captcha with the answer read from the cache.
pub struct FormPage {
    pub html: String,
    pub csrf: String,
    pub captcha_id: String,
    pub captcha: String,
}

/// The form at `path`, its captcha solved.
pub async fn open_form(app: &TestApp, browser: &reqwest::Client, path: &str) -> FormPage {
    form_of(app, html_of(browser, app.url(path)).await).await
}

/// Opens the form at `path` and posts it as a person would: its CSRF token, its captcha
/// solved, and `fields`; the status and the page.
pub async fn submit(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&'static str, String)],
) -> (u16, String) {
    let form = open_form(app, browser, path).await;
    let mut all = vec![
        ("csrf", form.csrf),
        ("captcha_id", form.captcha_id),
        ("captcha", form.captcha),
    ];
    all.extend_from_slice(fields);
    post(app, browser, path, &all).await
}

/// The form in `html`, its captcha solved.
pub async fn form_of(app: &TestApp, html: String) -> FormPage {
    let csrf = input_value(&html, "csrf").expect("csrf");
    let captcha_id = input_value(&html, "captcha_id").unwrap_or_default();
    let captcha = match app
        .state
        .cache
        .get(&Key::new(Namespace::Captcha, &captcha_id))
        .await
        .expect("cache")
    {
        Some(bytes) => String::from_utf8(bytes).expect("utf-8"),
        None => String::new(),
    };
    FormPage {
        html,
        csrf,
        captcha_id,
        captcha,
    }
}

/// `fields` with each of `changes` put in place of the field of the same name.
pub fn with(
    mut fields: Vec<(&'static str, String)>,
    changes: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    for (key, value) in changes {
        fields.retain(|(k, _)| k != key);
        fields.push((key, (*value).to_owned()));
    }
    fields
}

/// Posts `fields` to `path`; the status and the page.
pub async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&'static str, String)],
) -> (u16, String) {
    let response = browser
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.text().await.expect("html"))
}
