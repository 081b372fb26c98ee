//! `[telemetry]`: span export to an OpenTelemetry collector, and what start-up checks of it.

use serde::{Deserialize, Serialize};

/// Span export to an OpenTelemetry collector (docs/operations.md, "Tracing").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// Base URL of an OTLP/HTTP collector (`/v1/traces` is appended); empty: no export.
    #[serde(serialize_with = "super::redacted_text")]
    pub otlp_endpoint: String,
    /// `service.name` of every exported span.
    pub service_name: String,
    /// Share of new traces exported, 0.0 to 1.0; a caller's sampling decision is followed.
    pub sample_ratio: f64,
}

impl Telemetry {
    /// Where spans are POSTed, when export is on: the endpoint as checked by
    /// [`super::Config::load`], plus the OTLP/HTTP traces path.
    pub fn traces_url(&self) -> Option<String> {
        (!self.otlp_endpoint.is_empty())
            .then(|| format!("{}/v1/traces", self.otlp_endpoint.trim_end_matches('/')))
    }

    /// One line naming what is wrong with these settings, if anything.
    pub(super) fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(format!(
                "telemetry.sample_ratio must be between 0.0 and 1.0, not {}",
                self.sample_ratio
            ));
        }
        if self.service_name.trim().is_empty() {
            return Err("telemetry.service_name must not be empty".to_owned());
        }
        if self.otlp_endpoint.is_empty() {
            return Ok(());
        }
        let shown = crate::telemetry::redact_url(&self.otlp_endpoint);
        let wrong = || {
            format!(
                "telemetry.otlp_endpoint must be an http:// or https:// collector URL like http://127.0.0.1:4318, not {shown}"
            )
        };
        let url = url::Url::parse(&self.otlp_endpoint).map_err(|_| wrong())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(wrong());
        }
        // Credentials go in OTEL_EXPORTER_OTLP_HEADERS, never in a URL that is shown.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "telemetry.otlp_endpoint must carry no user or password (set OTEL_EXPORTER_OTLP_HEADERS)"
                    .to_owned(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "telemetry.otlp_endpoint must have no query or fragment: {shown}"
            ));
        }
        Ok(())
    }

    /// Plain http:// to another machine: spans (route templates, request and trace ids,
    /// timings; never a query, token or secret) cross the network unencrypted.
    pub(super) fn exports_in_clear(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.otlp_endpoint) else {
            return false;
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => true,
        };
        url.scheme() == "http" && !loopback
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::super::{Config, DEFAULT_TOML, Environment};

    /// A bad telemetry setting stops start-up with one line naming it; a good one passes.
    #[test]
    fn telemetry_settings_are_checked_when_the_configuration_loads() {
        let with = |key: &str, value: figment::value::Value| {
            Figment::from(Toml::string(DEFAULT_TOML))
                .merge((key, value))
                .extract::<Config>()
                .expect("parses")
        };
        for (key, value, says) in [
            ("telemetry.sample_ratio", 1.5.into(), "between 0.0 and 1.0"),
            (
                "telemetry.sample_ratio",
                (-0.1).into(),
                "between 0.0 and 1.0",
            ),
            (
                "telemetry.sample_ratio",
                f64::NAN.into(),
                "between 0.0 and 1.0",
            ),
            ("telemetry.service_name", " ".into(), "service_name"),
            (
                "telemetry.otlp_endpoint",
                "127.0.0.1:4318".into(),
                "http:// or https://",
            ),
            (
                "telemetry.otlp_endpoint",
                "not a url".into(),
                "http:// or https://",
            ),
            (
                "telemetry.otlp_endpoint",
                "grpc://collector:4317".into(),
                "http:// or https://",
            ),
            (
                "telemetry.otlp_endpoint",
                "https://user:s3cret@collector:4318".into(),
                "no user or password",
            ),
            (
                "telemetry.otlp_endpoint",
                "https://collector:4318?key=s3cret".into(),
                "no query",
            ),
        ] {
            let error = with(key, value).validate().expect_err(key).to_string();
            assert!(error.contains(says), "{key}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        let exporting = with("telemetry.otlp_endpoint", "http://127.0.0.1:4318/".into());
        exporting.validate().expect("accepted");
        assert_eq!(
            exporting.telemetry.traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            with("log.level", "info".into()).telemetry.traces_url(),
            None
        );
    }

    /// In production, plain http:// to another machine is warned about, not refused.
    #[test]
    fn production_warns_of_spans_sent_in_clear_to_another_machine() {
        let mut config: Config = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("defaults parse");
        config.environment = Environment::Production;
        for (endpoint, warned) in [
            ("", false),
            ("http://127.0.0.1:4318", false),
            ("http://[::1]:4318", false),
            ("http://localhost:4318", false),
            ("https://collector.internal:4318", false),
            ("http://10.0.0.7:4318", true),
            ("http://collector.internal:4318", true),
        ] {
            config.telemetry.otlp_endpoint = endpoint.to_owned();
            let cautions = config.cautions();
            assert_eq!(
                cautions
                    .iter()
                    .any(|c| c.starts_with("telemetry.otlp_endpoint")),
                warned,
                "{endpoint}: {cautions:?}"
            );
            assert!(
                !config
                    .unsafe_in_production()
                    .iter()
                    .any(|l| l.contains("telemetry")),
                "never refused"
            );
        }
        config.environment = Environment::Development;
        config.telemetry.otlp_endpoint = "http://10.0.0.7:4318".to_owned();
        assert!(config.cautions().is_empty());
    }
}
