//! What services may know about a request: who sent it, from where. Never the raw request:
//! `http::meta` reads it off the connection and headers (the client address through
//! `server.trusted_proxies`), and services take this plain value.

#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client's address, as the rate limits and the audit trail know it.
    pub ip: Option<String>,
    /// The browser's `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
}
