//! The client side of a browser and of a relying party, just enough for the scenarios:
//! one keep-alive connection per worker, a cookie jar kept by hand (so a login can start
//! from an empty one without a new connection), hidden form fields read from the HTML.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A worker's HTTP client: no redirects followed, at most one idle connection kept.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

#[derive(Debug, Default, Clone)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Keeps what `Set-Cookie` headers of `response` set (an empty value deletes).
    pub fn store(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.0.remove(name.trim());
                } else {
                    self.0
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// `request` with this jar's `Cookie` header, if any.
    pub fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.0.is_empty() {
            return request;
        }
        let header: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        request.header(COOKIE, header.join("; "))
    }
}

/// The `Location` of a redirect, absolute (against `base` when it is a path).
pub fn location(response: &reqwest::Response, base: &str) -> Option<String> {
    let to = response.headers().get(LOCATION)?.to_str().ok()?;
    Some(if to.starts_with('/') {
        format!("{base}{to}")
    } else {
        to.to_owned()
    })
}

/// The value of the form field `name` in `html` (`name="…" value="…"`).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let value = &tag[v..];
    Some(value[..value.find('"')?].to_owned())
}

/// A query parameter of an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_are_read_whatever_their_attribute_order() {
        let html = r#"<input type="hidden" name="csrf" value="abc.def"><input name="rid" type="hidden" value="">"#;
        assert_eq!(input_value(html, "csrf").as_deref(), Some("abc.def"));
        assert_eq!(input_value(html, "rid").as_deref(), Some(""));
        assert_eq!(input_value(html, "captcha_id"), None);
    }
}
