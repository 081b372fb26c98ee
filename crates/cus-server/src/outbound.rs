//! Where CUS may send a request whose address a client chose (back-channel logout): in
//! production never to an internal address — private, shared (CGNAT), loopback,
//! link-local, unspecified, multicast, documentation or reserved; IPv4 or IPv6, IPv4-mapped
//! and NAT64 forms included — unless the operator allow-listed it
//! (`outbox.backchannel_allowed_networks`). The addresses are checked where the connection
//! gets them, in a resolver of our own, so a DNS answer that changes between a check and
//! the connection (rebinding) cannot slip past.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;

/// Networks that are not the public internet (IANA special-purpose registries).
static INTERNAL: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",       // "this network", unspecified
        "10.0.0.0/8",      // private
        "100.64.0.0/10",   // shared address space (carrier-grade NAT)
        "127.0.0.0/8",     // loopback
        "169.254.0.0/16",  // link-local (cloud metadata services live here)
        "172.16.0.0/12",   // private
        "192.0.0.0/24",    // IETF protocol assignments
        "192.0.2.0/24",    // documentation
        "192.88.99.0/24",  // 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  // private
        "198.18.0.0/15",   // benchmarking
        "198.51.100.0/24", // documentation
        "203.0.113.0/24",  // documentation
        "224.0.0.0/4",     // multicast
        "240.0.0.0/4",     // reserved, and the broadcast address
        "::/96",           // unspecified, loopback, IPv4-compatible (deprecated)
        "100::/64",        // discard-only
        "2001:db8::/32",   // documentation
        "2001::/32",       // Teredo: carries an IPv4 address that may be internal
        "2002::/16",       // 6to4: likewise
        "64:ff9b:1::/48",  // local-use IPv4/IPv6 translation (RFC 8215)
        "fc00::/7",        // unique local
        "fe80::/10",       // link-local
        "fec0::/10",       // site-local (deprecated)
        "ff00::/8",        // multicast
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// An IPv6 address that carries an IPv4 one (IPv4-mapped, or the NAT64 well-known prefix
/// `64:ff9b::/96`) stands for that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Whether `ip` is not on the public internet.
pub fn is_internal(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    INTERNAL.iter().any(|net| net.contains(&ip))
}

/// A request to an internal address, refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "refused: {host} is {addr}, an internal address (allow it with outbox.backchannel_allowed_networks)"
)]
pub struct Refused {
    pub host: String,
    pub addr: IpAddr,
}

/// The production rule: public addresses, and internal ones the operator named.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: Vec<IpNet>,
}

impl Policy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        !is_internal(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Refuses `host` (a name, for the message) if any of `addrs` is not permitted: a
    /// name that resolves to one internal address among public ones is not trusted.
    pub fn check(&self, host: &str, addrs: &[IpAddr]) -> Result<(), Refused> {
        match addrs.iter().find(|ip| !self.permits(**ip)) {
            Some(addr) => Err(Refused {
                host: host.to_owned(),
                addr: *addr,
            }),
            None => Ok(()),
        }
    }

    /// Checks a URL whose host is an IP literal (no resolver is asked for those).
    pub fn check_literal(&self, url: &url::Url) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) | None => return Ok(()),
        };
        self.check(&ip.to_string(), &[ip])
    }

    /// An HTTP client that connects only to addresses this policy permits: it resolves
    /// names itself and refuses before connecting; it ignores proxy settings (a proxy
    /// would resolve the name again, unchecked). IP literals are checked by the caller
    /// ([`Policy::check_literal`]).
    pub fn http_client(self, builder: reqwest::ClientBuilder) -> reqwest::Result<reqwest::Client> {
        builder
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver(self)))
            .build()
    }
}

struct CheckedResolver(Policy);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port in.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            policy.check(&host, &ips)?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The first [`Refused`] among an error's causes.
pub fn refused_in(error: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    }

    #[test]
    fn internal_addresses_are_told_from_public_ones() {
        assert_eq!(INTERNAL.len(), 25, "every listed network parses");
        for internal in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.2.10",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:a00:1::1",
            "2001:0:a00:1::1",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in [
            "200.1.123.4",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2800:150::1",
            "2001:4860:4860::8888",
            "::ffff:200.1.123.4",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn the_allow_list_opens_only_what_it_names() {
        let policy = Policy::new(vec!["10.20.0.0/16".parse().expect("net")]);
        assert!(policy.permits(ip("10.20.1.2")));
        assert!(policy.permits(ip("::ffff:10.20.1.2")), "mapped form too");
        assert!(!policy.permits(ip("10.21.1.2")));
        assert!(!policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("200.1.123.4")));
        let refused = policy
            .check("portal.example", &[ip("200.1.123.4"), ip("127.0.0.1")])
            .expect_err("one internal address is enough");
        assert_eq!(refused.addr, ip("127.0.0.1"));
        let url = url::Url::parse("http://[::1]:9/bcl").expect("url");
        assert!(policy.check_literal(&url).is_err());
        let url = url::Url::parse("https://localhost/bcl").expect("url");
        assert!(
            policy.check_literal(&url).is_ok(),
            "names go to the resolver"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_of_an_internal_address() {
        let client = Policy::default()
            .http_client(reqwest::Client::builder())
            .expect("client");
        let error = client
            .get("http://localhost:9/")
            .send()
            .await
            .expect_err("refused");
        let refused = refused_in(&error).expect("the cause is the policy");
        assert_eq!(refused.host, "localhost");
        assert!(refused.addr.is_loopback());
    }
}
