//! Reading CUS's pages the way a browser would: the one HTML scraper (input values and the
//! text after a label), redirects, and the forms with a captcha, solved from the cache.

use cus_cache::{Key, Namespace};

use super::TestApp;

/// The page at `url`, as `browser` gets it.
pub async fn html_of(browser: &reqwest::Client, url: String) -> String {
    browser
        .get(url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html")
}

/// The value of a hidden or text input in an HTML page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(
        rest[start..start + end]
            .replace("&#43;", "+")
            .replace("&amp;", "&"),
    )
}

/// The text that follows `label` in an HTML page, up to the next tag.
pub fn text_after(html: &str, label: &str) -> Option<String> {
    let at = html.find(label)? + label.len();
    html[at..].split('<').next().map(str::to_owned)
}

/// Where a redirect sends the browser (relative to the app when it stays on it).
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

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
