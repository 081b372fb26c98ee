//! The hardening every answer of CUS carries, checked one answer at a time: security
//! headers, no inline script or style, forms never cached.

/// The pages seen so far: how many were HTML, and how many of those had a form.
#[derive(Default)]
pub struct Seen {
    pub html: usize,
    pub forms: usize,
}

impl Seen {
    /// Checks one answer's headers; returns its body.
    pub async fn check(&mut self, path: &str, response: reqwest::Response) -> String {
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        let body = response.text().await.expect("body");
        if header("content-type").starts_with("text/html") {
            self.html += 1;
            assert!(
                !body.contains("<script>") && !body.contains("style="),
                "{path}: no inline script or style"
            );
            if body.contains("<form") {
                self.forms += 1;
                assert_eq!(header("cache-control"), "no-store", "{path}");
            }
        }
        body
    }
}

/// Every `{placeholder}` of a route filled with the values a browser would send.
pub fn concrete_paths(path: &str, client_id: &str) -> Vec<String> {
    if path.contains("{persona}") {
        return ["natural", "juridica"]
            .iter()
            .map(|persona| path.replace("{persona}", persona))
            .collect();
    }
    vec![
        path.replace("{codigo}", "13")
            .replace("{client_id}", client_id),
    ]
}
