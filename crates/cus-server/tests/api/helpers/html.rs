//! The one HTML scraper of the tests (input values, the text after a label) and reading a
//! page or a redirect. Nothing here needs a `TestApp`, so `log_secrets`, a test binary of
//! its own, reads pages with it too.

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
