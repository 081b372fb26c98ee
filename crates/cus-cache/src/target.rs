//! What a `cache.url` names: the in-process cache, one Redis, a Redis Cluster or a master
//! found through Redis Sentinel. Parsed before anything connects, so a mistyped URL is one
//! clear line at start-up rather than a connection error later; no message here repeats
//! the URL, which may carry a password.

use crate::{CacheError, Result};

/// A parsed `cache.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `memory`: this process only.
    Memory,
    /// `redis://…` or `rediss://…`, handed to the redis crate as written.
    Standalone(String),
    /// `redis+cluster://[user:password@]h1:p1,h2:p2/`: the seed nodes, as `redis://` URLs
    /// carrying the credentials. The client learns the rest of the cluster from them.
    Cluster { nodes: Vec<String> },
    /// `redis+sentinel://[user:password@]s1:p1,s2:p2/mastername`: the Sentinels, as
    /// `redis://` URLs without credentials (they are the master's, see [`Credentials`]), and
    /// the name they monitor the master by.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        credentials: Credentials,
    },
}

/// The user-info of a cluster or sentinel URL, still percent-encoded as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub user: String,
    pub password: String,
}

const FORMS: &str = "\"memory\", redis://host:port, redis+cluster://host:port,host:port/ or \
                     redis+sentinel://host:port,host:port/mastername";

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if url == "memory" || url.starts_with("memory:") {
            return Ok(Self::Memory);
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(config(format!("cache.url must be one of {FORMS}")));
        };
        match scheme {
            "redis" | "rediss" => Ok(Self::Standalone(url.to_owned())),
            // The master behind a Sentinel would be reached without TLS, and the cluster's
            // TLS is untested: refused, so a password never travels in clear by surprise.
            "rediss+cluster" | "rediss+sentinel" => Err(config(format!(
                "cache.url: {scheme}:// (TLS to a Redis Cluster or Sentinel) is not supported yet; \
                 use one of {FORMS}"
            ))),
            "redis+cluster" => {
                let (credentials, nodes, path) = split(rest, "redis+cluster")?;
                if !path.is_empty() {
                    return Err(config(
                        "cache.url: redis+cluster:// takes no database or path (a cluster has \
                         database 0 only)",
                    ));
                }
                let base = "redis";
                Ok(Self::Cluster {
                    nodes: nodes
                        .iter()
                        .map(|node| format!("{base}://{}{node}", credentials.user_info()))
                        .collect(),
                })
            }
            "redis+sentinel" => {
                let (credentials, sentinels, path) = split(rest, "redis+sentinel")?;
                if path.is_empty() || path.contains('/') {
                    return Err(config(
                        "cache.url: redis+sentinel:// must end with the master's name, as in \
                         redis+sentinel://host:26379,host:26379/mymaster",
                    ));
                }
                let base = "redis";
                Ok(Self::Sentinel {
                    sentinels: sentinels
                        .iter()
                        .map(|node| format!("{base}://{node}"))
                        .collect(),
                    master: path.to_owned(),
                    credentials,
                })
            }
            _ => Err(config(format!("cache.url must be one of {FORMS}"))),
        }
    }

    /// The password the URL carries, as written and percent-decoded, to keep it out of
    /// error messages.
    pub(crate) fn secrets(url: &str) -> Vec<String> {
        let Some((_, rest)) = url.split_once("://") else {
            return Vec::new();
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let Some((user_info, _)) = authority.rsplit_once('@') else {
            return Vec::new();
        };
        let password = user_info
            .split_once(':')
            .map_or(user_info, |(_, password)| password);
        if password.is_empty() {
            return Vec::new();
        }
        vec![password.to_owned(), percent_decode(password)]
    }
}

impl Credentials {
    pub(crate) fn user_info(&self) -> String {
        match (self.user.is_empty(), self.password.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{}@", self.user),
            (true, false) => format!(":{}@", self.password),
            (false, false) => format!("{}:{}@", self.user, self.password),
        }
    }
}

/// Splits `[user:password@]h1:p1,h2:p2[/path]` into its credentials, its `host:port`s and
/// its path without the leading `/`.
fn split<'a>(rest: &'a str, form: &str) -> Result<(Credentials, Vec<&'a str>, &'a str)> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => {
            let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
            (
                Credentials {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                hosts,
            )
        }
        None => (Credentials::default(), authority),
    };
    let nodes: Vec<&str> = hosts.split(',').map(str::trim).collect();
    for node in &nodes {
        let port = node
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(port))) if !host.is_empty() && port != 0 => {}
            Some(_) | None => {
                return Err(config(format!(
                    "cache.url: every node of a {form}:// URL must be host:port, comma-separated"
                )));
            }
        }
    }
    Ok((credentials, nodes, path.trim_end_matches('/')))
}

/// `%XX` escapes decoded (what the redis crate does to user-info); anything malformed is
/// kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn config(message: impl Into<String>) -> CacheError {
    CacheError::Config(message.into())
}

#[cfg(test)]
mod tests {
    use super::{Credentials, Target};

    #[test]
    fn each_url_form_names_its_backend() {
        assert_eq!(Target::parse("memory").expect("memory"), Target::Memory);
        assert_eq!(
            Target::parse("rediss://:pw@cache:6380/2").expect("standalone"),
            Target::Standalone("rediss://:pw@cache:6380/2".to_owned())
        );
        assert_eq!(
            Target::parse("redis+cluster://cus:p%40ss@10.0.0.1:7000, 10.0.0.2:7001/")
                .expect("cluster"),
            Target::Cluster {
                nodes: vec![
                    "redis://cus:p%40ss@10.0.0.1:7000".to_owned(),
                    "redis://cus:p%40ss@10.0.0.2:7001".to_owned(),
                ]
            }
        );
        assert_eq!(
            Target::parse("redis+sentinel://:pw@s1:26379,s2:26379/mymaster").expect("sentinel"),
            Target::Sentinel {
                sentinels: vec!["redis://s1:26379".to_owned(), "redis://s2:26379".to_owned()],
                master: "mymaster".to_owned(),
                credentials: Credentials {
                    user: String::new(),
                    password: "pw".to_owned(),
                },
            }
        );
    }

    #[test]
    fn bad_urls_are_one_line_without_the_password() {
        for url in [
            "redis+cluster://:s3cr3t@h1:7000,h2/",
            "redis+cluster://:s3cr3t@h1:7000/3",
            "redis+sentinel://:s3cr3t@h1:26379",
            "redis+sentinel://:s3cr3t@h1:26379/a/b",
            "redis+sentinel://:s3cr3t@h1:99999/mymaster",
            "memcached://:s3cr3t@h1:11211",
            "s3cr3t",
        ] {
            let message = Target::parse(url).expect_err(url).to_string();
            assert!(!message.contains("s3cr3t"), "{message}");
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with("invalid cache configuration: cache.url"),
                "{message}"
            );
        }
    }

    #[test]
    fn secrets_are_found_as_written_and_decoded() {
        assert_eq!(
            Target::secrets("redis+cluster://cus:p%40ss@h1:7000,h2:7000/"),
            ["p%40ss", "p@ss"]
        );
        assert_eq!(Target::secrets("redis://:pw@h:6379/0"), ["pw", "pw"]);
        assert!(Target::secrets("redis://h:6379").is_empty());
        assert!(Target::secrets("memory").is_empty());
    }

    #[test]
    fn tls_to_a_cluster_or_sentinel_is_refused_not_downgraded() {
        for url in [
            "rediss+cluster://:pw@h1:7000,h2:7000/",
            "rediss+sentinel://:pw@s1:26379/mymaster",
        ] {
            let refused = Target::parse(url).expect_err("refused");
            assert!(refused.to_string().contains("not supported"), "{refused}");
            assert!(!refused.to_string().contains("pw"), "{refused}");
        }
    }
}
