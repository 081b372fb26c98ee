//! Structured logs with `tracing`: pretty on a terminal, JSON for collectors; and what
//! of a URL may be shown in them, in stored errors and in `cus config check`.

use tracing_subscriber::EnvFilter;

use crate::config::{Log, LogFormat};

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(log: &Log) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a file or a collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(ansi);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// A URL as it may be shown anywhere (logs, stored delivery errors, `cus config check`):
/// user-info and the values of the query (and any fragment) masked, since gateways take
/// credentials there (`https://user:pass@…`, `?api_key=…`); scheme, host, port, path and
/// the query's parameter names stay, to tell where it points.
pub fn redact_url(url: &str) -> String {
    const MASK: &str = "********";
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL: it could be anything, show nothing of it.
        return if url.is_empty() || url == "memory" {
            url.to_owned()
        } else {
            MASK.to_owned()
        };
    };
    // An `@` the parser did not take as the end of the user-info means a password written
    // without percent-encoding (`postgres://cus:ab/cd@db/cus` parses as host `cus`, the
    // password in the path): nothing of such a URL can be told apart from its secret.
    let userinfo_at = usize::from(!parsed.username().is_empty() || parsed.password().is_some());
    if url.matches('@').count() > userinfo_at {
        return MASK.to_owned();
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    if let Some(query) = parsed.query() {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}={MASK}"),
                None if pair.is_empty() => String::new(),
                None => MASK.to_owned(),
            })
            .collect();
        parsed.set_query(Some(&masked.join("&")));
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some(MASK));
    }
    // Web gateways also take keys in the path (`/v1/<key>/send`): of an http(s) URL only
    // where it points stays. A database's path is its name, and stays.
    if matches!(parsed.scheme(), "http" | "https") && parsed.path() != "/" {
        parsed.set_path(&format!("/{MASK}"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_password_not_percent_encoded_masks_the_whole_url() {
        for url in [
            "postgres://cus:ab/cd@db.internal/cus",
            "postgres://cus:83/kq+Z@db.internal/cus",
            "redis://:p@ss@cache:6379",
        ] {
            let shown = redact_url(url);
            assert_eq!(shown, "********", "{url} shown as {shown}");
        }
        assert_eq!(
            redact_url("postgres://cus:s3cret@db.internal/cus"),
            "postgres://********:********@db.internal/cus"
        );
    }

    #[test]
    fn urls_are_shown_without_their_credentials() {
        assert_eq!(
            redact_url("postgres://cus:hunter2@db:5432/cus"),
            "postgres://********:********@db:5432/cus"
        );
        assert_eq!(
            redact_url("https://gw:s3cr3t@sms.example/send?api_key=s3cr3t&to&from=CUS#s3cr3t"),
            "https://********:********@sms.example/********?api_key=********&********&from=********#********"
        );
        assert_eq!(
            redact_url("https://token@hooks.example/x"),
            "https://********@hooks.example/********"
        );
        assert_eq!(
            redact_url("https://sms.example/v1/k3y-s3cr3t/send"),
            "https://sms.example/********"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis+cluster://cus:s3cr3t@h1:7000,h2:7000/"),
            "********"
        );
        assert_eq!(
            redact_url("redis+sentinel://:s3cr3t@s1:26379/mymaster"),
            "redis+sentinel://:********@s1:26379/mymaster"
        );
        assert_eq!(redact_url("memory"), "memory");
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("not a url s3cr3t"), "********");
    }
}
