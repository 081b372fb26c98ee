//! Configuration: `config/default.toml` (compiled in), then an optional file, then `CUS_…`
//! environment variables, with `*_FILE` variables for secrets. Secrets are `SecretString`
//! and are never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

mod geoip;
mod telemetry;
pub use geoip::Geoip;
pub use telemetry::Telemetry;

pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub environment: Environment,
    pub server: Server,
    pub log: Log,
    pub database: Database,
    pub cache: Cache,
    pub outbox: Outbox,
    pub keys: Keys,
    pub tls: Tls,
    pub oidc: Oidc,
    pub hash: Hash,
    pub captcha: Captcha,
    pub limits: Limits,
    pub lockout: Lockout,
    pub accounts: Accounts,
    pub audit: Audit,
    pub telemetry: Telemetry,
    pub geoip: Geoip,
}

/// `max` requests per `window` seconds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub max: u64,
    pub window: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub form_per_ip: Limit,
    pub form_per_rut: Limit,
    pub token_per_client: Limit,
    pub register_per_ip: Limit,
    pub client_auth_failures_per_ip: Limit,
    /// Pending `/authorize` requests created per client IP.
    pub authorize_per_ip: Limit,
    /// New captchas and captcha audio served per client IP.
    pub captcha_per_ip: Limit,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub captcha_after: u64,
    pub lock_after: u64,
    pub window: u64,
    pub ladder: Vec<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    /// Where `/metrics` and the detailed health checks are served; `None`: nowhere.
    #[serde(
        deserialize_with = "optional_address",
        serialize_with = "address_or_empty"
    )]
    pub management_listen: Option<SocketAddr>,
    pub issuer: String,
    pub shutdown_grace_seconds: u64,
    pub request_timeout_seconds: u64,
    /// Load balancers and proxies whose `X-Forwarded-For` is believed (addresses or CIDR
    /// ranges). Empty: the peer address is the client's.
    #[serde(deserialize_with = "networks", serialize_with = "all_displayed")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address and port, or the empty string for none.
fn optional_address<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "\"{text}\" is not an address and port like 127.0.0.1:9090"
        ))
    })
}

/// A list of networks, each an address (`10.0.0.7`) or a CIDR range (`10.0.0.0/16`).
fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "\"{text}\" is neither an IP address nor a CIDR range"
                    ))
                })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    #[serde(serialize_with = "redacted")]
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    #[serde(serialize_with = "redacted")]
    pub url: SecretString,
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    pub dir: PathBuf,
    #[serde(serialize_with = "redacted")]
    pub smtp_url: SecretString,
    pub from: String,
    pub poll_seconds: u64,
    #[serde(serialize_with = "redacted")]
    pub sms_webhook_url: SecretString,
    pub give_up_hours: u64,
    /// Production only: writing e-mail and SMS to files is meant (e.g. a gateway picks them up).
    pub allow_files: bool,
    /// In production, back-channel logout POSTs never reach private, loopback, link-local
    /// or other internal addresses, except those in these networks (addresses or CIDR
    /// ranges) the operator names.
    #[serde(deserialize_with = "networks", serialize_with = "all_displayed")]
    pub backchannel_allowed_networks: Vec<ipnet::IpNet>,
    /// Days a delivered or abandoned message is kept; 0: forever.
    pub keep_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(serialize_with = "masked")]
    pub kek: SecretString,
    pub dev_kek_path: PathBuf,
    pub publish_lead_seconds: u64,
    /// How often each node re-reads the signing keys.
    pub reload_seconds: Seconds,
    pub access_token_alg: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert_file: String,
    pub key_file: String,
}

/// A span of time, written in the configuration as whole seconds (`code_ttl = 60`). A span
/// longer than a century is refused when the configuration loads, so every reading below
/// is exact: no caller converts, clamps or falls back to a default of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "u64", into = "i64")]
pub struct Seconds(i64);

impl Seconds {
    /// The longest span accepted: a century (a timestamp plus it stays representable).
    const MAX: i64 = 100 * 366 * 24 * 3600;

    /// Whole seconds, for arithmetic on Unix timestamps.
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// For timers and cache TTLs.
    pub const fn std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0.unsigned_abs())
    }

    /// For arithmetic on `OffsetDateTime`s.
    pub const fn time(self) -> time::Duration {
        time::Duration::seconds(self.0)
    }
}

impl TryFrom<u64> for Seconds {
    type Error = String;

    fn try_from(seconds: u64) -> Result<Self, String> {
        i64::try_from(seconds)
            .ok()
            .filter(|s| *s <= Self::MAX)
            .map(Self)
            .ok_or_else(|| format!("{seconds} seconds is more than a century"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    pub code_ttl: Seconds,
    pub access_token_ttl: Seconds,
    pub id_token_ttl: Seconds,
    pub refresh_token_ttl: Seconds,
    pub refresh_grace: Seconds,
    pub session_idle: Seconds,
    pub session_absolute: Seconds,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// How long a generated CUS works if it is never used.
    pub generated_cus_ttl: Seconds,
    /// A new CUS goes by e-mail only to a verified address.
    pub new_cus_requires_verified_email: bool,
    /// "Mis datos" downloads only for a login this recent (else the CUS again).
    pub export_max_auth_age: Seconds,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// Days the trail keeps an event; 0: forever.
    pub keep_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hash {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashing threads of the node; 0: one per core.
    pub max_concurrent: usize,
    /// Requests that may wait for a hashing thread; one more is refused with 503.
    pub max_queue: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Captcha {
    #[serde(serialize_with = "masked_text")]
    pub test_answer: String,
}

/// Secret settings that may come from a file: (dotted key, env variable naming the file).
const SECRET_FILES: [(&str, &str); 5] = [
    ("outbox.sms_webhook_url", "CUS_OUTBOX__SMS_WEBHOOK_URL_FILE"),
    ("database.url", "CUS_DATABASE__URL_FILE"),
    ("cache.url", "CUS_CACHE__URL_FILE"),
    ("outbox.smtp_url", "CUS_OUTBOX__SMTP_URL_FILE"),
    ("keys.kek", "CUS_KEYS__KEK_FILE"),
];

impl Config {
    /// Defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(
            Env::prefixed("CUS_")
                .split("__")
                // `CUS_KEYS__KEK_FILE` and its kind name a file to read (below), not a
                // setting; `CUS_TLS__CERT_FILE` is a setting whose name ends the same way.
                // (The key arrives here split: `KEYS.KEK_FILE`.)
                .filter(|k| {
                    !SECRET_FILES
                        .iter()
                        .any(|(key, _)| format!("{key}_file").eq_ignore_ascii_case(k.as_str()))
                }),
        );
        for (key, var) in SECRET_FILES {
            if let Ok(path) = std::env::var(var) {
                let value = std::fs::read_to_string(&path)
                    .with_context(|| format!("{var}: cannot read {path}"))?;
                figment = figment.merge((key, value.trim().to_owned()));
            }
        }
        let config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.environment == Environment::Production {
            let unsafe_settings = self.unsafe_in_production();
            if !unsafe_settings.is_empty() {
                bail!(
                    "refused in production:\n{}",
                    unsafe_settings
                        .iter()
                        .map(|line| format!("  {line}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
        if !self.server.issuer.is_empty() {
            let issuer = url::Url::parse(&self.server.issuer)
                .map_err(|e| anyhow::anyhow!("server.issuer is not a URL: {e}"))?;
            if issuer.query().is_some()
                || issuer.fragment().is_some()
                || self.server.issuer.ends_with('/')
            {
                bail!("server.issuer must have no query, fragment or trailing slash");
            }
        }
        if self.accounts.generated_cus_ttl.secs() == 0 {
            bail!("accounts.generated_cus_ttl must be at least 1 second");
        }
        if self.outbox.give_up_hours == 0 {
            bail!("outbox.give_up_hours must be at least 1");
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            bail!("tls.cert_file and tls.key_file must be set together");
        }
        self.telemetry.check().map_err(anyhow::Error::msg)?;
        self.geoip.check().map_err(anyhow::Error::msg)?;
        Ok(())
    }

    /// What production allows but an operator should know about: one line each, logged
    /// at `warn` when `cus serve` starts (what production refuses is
    /// [`Self::unsafe_in_production`]).
    pub fn cautions(&self) -> Vec<&'static str> {
        let mut lines = Vec::new();
        if self.environment == Environment::Production && self.telemetry.exports_in_clear() {
            // Warned, not refused: a node-local collector (an agent on the host's address)
            // is commonly plain http, and spans carry no secret by construction.
            lines.push(
                "telemetry.otlp_endpoint: spans go to another machine over plain http://; use https:// unless the collector is on a trusted node-local network",
            );
        }
        lines
    }

    /// What the embedded, development set-up allows and production must not: one line each.
    fn unsafe_in_production(&self) -> Vec<&'static str> {
        let mut lines = Vec::new();
        let database = self.database.url.expose_secret();
        if !database.starts_with("postgres://") && !database.starts_with("postgresql://") {
            lines.push("database.url: SQLite keeps the data on one node; use postgres://…");
        }
        if !self.cache.url.expose_secret().starts_with("redis") {
            lines.push("cache.url: the in-process cache is one node's; use redis://…");
        }
        if !self.server.issuer.starts_with("https://") {
            lines.push("server.issuer: must be the public https:// URL");
        }
        if self.outbox.smtp_url.expose_secret().is_empty() && !self.outbox.allow_files {
            lines.push(
                "outbox.smtp_url: e-mail would be written to files (set outbox.allow_files = true to mean it)",
            );
        }
        if self.outbox.sms_webhook_url.expose_secret().is_empty() && !self.outbox.allow_files {
            lines.push(
                "outbox.sms_webhook_url: SMS would be written to files (set outbox.allow_files = true to mean it)",
            );
        }
        if self.keys.kek.expose_secret().is_empty() {
            lines.push("keys.kek: must be configured (CUS_KEYS__KEK or CUS_KEYS__KEK_FILE)");
        }
        if !self.captcha.test_answer.is_empty() {
            lines.push("captcha.test_answer: for tests only");
        }
        lines
    }

    pub fn tls_enabled(&self) -> bool {
        !self.tls.cert_file.is_empty()
    }

    /// The effective configuration as TOML, secrets masked (`cus config check`): the
    /// structs themselves, so a new setting is shown without anyone listing it, and each
    /// secret field says how it is masked where it is declared.
    pub fn masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

impl From<Seconds> for i64 {
    fn from(seconds: Seconds) -> i64 {
        seconds.0
    }
}

/// A secret as `cus config check` shows it: whether it is set, never what it is.
fn masked<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    masked_text(secret.expose_secret(), s)
}

fn masked_text<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if text.is_empty() { "" } else { "********" })
}

/// A URL without its password (or query and path, which may carry tokens).
fn redacted<S: Serializer>(url: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::telemetry::redact_url(url.expose_secret()))
}

fn redacted_text<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::telemetry::redact_url(url))
}

fn all_displayed<S: Serializer>(networks: &[ipnet::IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(networks.iter().map(ToString::to_string))
}

fn address_or_empty<S: Serializer>(address: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&address.map(|a| a.to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/operations.md lists every setting with its variable and default: a setting
    /// added to the defaults without a row there fails here.
    #[test]
    fn the_operations_guide_lists_every_setting() {
        fn keys(table: &toml::Table, prefix: &str, out: &mut Vec<(String, String)>) {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                match value.as_table() {
                    Some(inner) => keys(inner, &format!("{path}."), out),
                    None => {
                        let shown = match value {
                            toml::Value::String(text) => format!("`\"{text}\"`"),
                            other => format!("`{other}`"),
                        };
                        out.push((path, shown));
                    }
                }
            }
        }
        let guide = include_str!("../../../docs/operations.md");
        let defaults: toml::Table = DEFAULT_TOML.parse().expect("TOML");
        let mut settings = Vec::new();
        keys(&defaults, "", &mut settings);
        for (key, default) in settings {
            let env = format!("CUS_{}", key.to_uppercase().replace('.', "__"));
            let row = format!("| `{key}` | `{env}` | {default} |");
            assert!(
                guide.contains(&row),
                "docs/operations.md lacks the row {row}"
            );
        }
        for (key, env) in SECRET_FILES {
            assert!(guide.contains(&format!("`{key}`")), "{env}");
        }
    }

    /// Every setting of the defaults, at the same place, with its secrets masked.
    #[test]
    fn the_masked_view_shows_every_setting_and_no_secret() {
        let mut config: Config = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("defaults parse");
        config.keys.kek = SecretString::from("a-kek-nobody-may-read");
        config.database.url = SecretString::from("postgres://cus:hunter2@db.internal/cus");
        config.captcha.test_answer = "letters".into();
        let shown = config.masked_toml();
        for secret in ["a-kek-nobody-may-read", "hunter2", "letters"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
        let shown: toml::Table = shown.parse().expect("TOML");
        let defaults: toml::Table = DEFAULT_TOML.parse().expect("TOML");
        for (section, settings) in &defaults {
            let Some(settings) = settings.as_table() else {
                assert!(shown.contains_key(section), "{section}");
                continue;
            };
            for key in settings.keys() {
                assert!(
                    shown[section].get(key).is_some(),
                    "{section}.{key} not shown"
                );
            }
        }
        assert_eq!(shown["keys"]["kek"].as_str(), Some("********"));
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config: Config = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("defaults parse");
        assert_eq!(config.database.url.expose_secret(), "sqlite://data/cus.db");
        assert_eq!(config.cache.url.expose_secret(), "memory");
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.environment, Environment::Development);
    }

    #[test]
    fn spans_are_read_as_durations_and_a_century_is_the_most() {
        let defaults = || Figment::from(Toml::string(DEFAULT_TOML));
        let config: Config = defaults().extract().expect("defaults parse");
        assert_eq!(
            config.oidc.code_ttl.std(),
            std::time::Duration::from_secs(60)
        );
        assert_eq!(config.oidc.code_ttl.time(), time::Duration::seconds(60));
        assert_eq!(config.oidc.code_ttl.secs(), 60);
        let century = 100 * 366 * 24 * 3600_u64;
        let at_most: Config = defaults()
            .merge(("oidc.refresh_token_ttl", century))
            .extract()
            .expect("a century is accepted");
        assert_eq!(at_most.oidc.refresh_token_ttl.std().as_secs(), century);
        for too_long in [century + 1, u64::MAX] {
            let refused = defaults()
                .merge(("oidc.refresh_token_ttl", too_long))
                .extract::<Config>()
                .expect_err("more than a century");
            assert!(
                refused.to_string().contains("more than a century"),
                "{refused}"
            );
        }
    }
}
