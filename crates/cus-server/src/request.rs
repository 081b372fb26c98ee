//! What services may know about a request: who sent it, from where. Never the raw request:
//! `http::meta` reads it off the connection and headers (the client address through
//! `server.trusted_proxies`), and services take this plain value.

#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The client's address, as the rate limits and the audit trail know it.
    pub ip: Option<String>,
    /// The browser's `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
    /// When the request arrived, by the server's clock: the one time of everything the
    /// request writes (its change, the tokens it revokes, its audit events), so they agree.
    pub now: time::OffsetDateTime,
}

impl RequestMeta {
    /// The client address as per-address rate limits count it: an IPv4 address as it is,
    /// an IPv6 address by its /64 — one subscriber's network, in which a client may pick
    /// any of 2^64 addresses and so would otherwise get as many budgets. The audit trail
    /// keeps the full address (`ip`).
    pub fn limit_address(&self) -> String {
        let Some(ip) = self.ip.as_deref() else {
            return String::new();
        };
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                format!("{}/64", std::net::Ipv6Addr::from(segments))
            }
            _ => ip.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> String {
        RequestMeta {
            ip: Some(ip.to_owned()),
            user_agent: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
        }
        .limit_address()
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(
            from("2800:150:1:2:aaaa:bbbb:cccc:dddd"),
            "2800:150:1:2::/64"
        );
        assert_eq!(from("2800:150:1:2::1"), from("2800:150:1:2:ffff::9"));
        assert_ne!(from("2800:150:1:2::1"), from("2800:150:1:3::1"));
        assert_eq!(from("200.27.1.9"), "200.27.1.9");
        assert_eq!(from("::ffff:200.27.1.9"), "::ffff:200.27.1.9");
    }
}
