//! `[geoip]`: the optional location database behind "Mis sesiones"' approximate place, and
//! the attribution its licence may require.

use serde::{Deserialize, Serialize};

/// The GeoIP City database (MaxMind DB format) and its attribution (docs/operations.md,
/// "Approximate place (GeoIP)").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Geoip {
    /// Path of a `.mmdb` City file (GeoLite2-City, DB-IP "IP to City Lite"); empty: off,
    /// and "Mis sesiones" shows the network only.
    pub database: String,
    /// Line shown under the sessions when the database is on (DB-IP's CC BY 4.0 asks for
    /// one); empty: none.
    pub attribution: String,
    /// Where the attribution links to (https://…); empty: plain text.
    pub attribution_url: String,
}

impl Geoip {
    /// Whether a database is configured.
    pub fn enabled(&self) -> bool {
        !self.database.is_empty()
    }

    /// One line naming what is wrong with these settings, if anything. The file itself is
    /// read by `cus serve` at start ([`crate::geoip::Places::open`]).
    pub(super) fn check(&self) -> Result<(), String> {
        if self.attribution_url.is_empty() {
            return Ok(());
        }
        if self.attribution.trim().is_empty() {
            return Err("geoip.attribution_url needs geoip.attribution, the text it links".into());
        }
        match url::Url::parse(&self.attribution_url) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => Ok(()),
            _ => Err(format!(
                "geoip.attribution_url must be an https:// URL, not {}",
                self.attribution_url
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::super::{Config, DEFAULT_TOML};

    /// The attribution link is checked when the configuration loads; off is the default.
    #[test]
    fn the_attribution_link_is_checked_and_geoip_is_off_by_default() {
        let with = |pairs: &[(&str, &str)]| {
            let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
            for (key, value) in pairs {
                figment = figment.merge((*key, *value));
            }
            figment.extract::<Config>().expect("parses")
        };
        assert!(!with(&[]).geoip.enabled());
        for (pairs, says) in [
            (
                &[("geoip.attribution_url", "https://db-ip.com")][..],
                "needs geoip.attribution",
            ),
            (
                &[
                    ("geoip.attribution", "IP Geolocation by DB-IP"),
                    ("geoip.attribution_url", "http://db-ip.com"),
                ][..],
                "https:// URL",
            ),
        ] {
            let error = with(pairs).validate().expect_err(says).to_string();
            assert!(error.contains(says), "{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        let on = with(&[
            ("geoip.database", "/var/lib/cus/dbip-city-lite.mmdb"),
            ("geoip.attribution", "IP Geolocation by DB-IP"),
            ("geoip.attribution_url", "https://db-ip.com"),
        ]);
        on.validate().expect("accepted");
        assert!(on.geoip.enabled());
    }
}
