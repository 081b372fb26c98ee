//! The approximate place of an IP address, from a GeoIP City database (MaxMind DB format:
//! GeoLite2-City, DB-IP "IP to City Lite") the operator names in `geoip.database`. Read
//! whole into memory once at start (no memory map: a file replaced under a running node
//! cannot change what it reads); every lookup is local, so no address leaves the node.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, bail};
use maxminddb::{Reader, geoip2};

/// An open City database.
pub struct Places {
    reader: Reader<Vec<u8>>,
}

/// Where an address is, as a person reads it: a city, its region and country, in Spanish
/// when the database has Spanish names, else in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub city: String,
    /// The largest subdivision (a Chilean región), when known.
    pub region: Option<String>,
    pub country: Option<String>,
}

impl Places {
    /// Reads and checks the database at `path`. The error names `geoip.database` and the
    /// path, for a start-up that stops on it.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let shown = path.display();
        let bytes =
            std::fs::read(path).with_context(|| format!("geoip.database: cannot read {shown}"))?;
        let reader = Reader::from_source(bytes).map_err(|e| {
            anyhow::anyhow!("geoip.database: {shown} is not a MaxMind DB (.mmdb) file: {e}")
        })?;
        let kind = &reader.metadata.database_type;
        // A Country or ASN file opens fine and would just never name a city: say so now.
        let lower = kind.to_ascii_lowercase();
        if !lower.contains("city") && !lower.contains("enterprise") {
            bail!(
                "geoip.database: {shown} is a \"{kind}\" database; a City database is needed (GeoLite2-City, DB-IP IP to City Lite)"
            );
        }
        Ok(Self { reader })
    }

    /// The database's type and build time, for the start-up log.
    pub fn describe(&self) -> (String, u64) {
        let metadata = &self.reader.metadata;
        (metadata.database_type.clone(), metadata.build_epoch)
    }

    /// The place of `ip`, or `None`: for an internal address (private, loopback, CGNAT…),
    /// an address the database does not know, a record without a city, or a record it
    /// cannot decode. Never fails: the caller shows the network instead.
    pub fn place(&self, ip: IpAddr) -> Option<Place> {
        let ip = ip.to_canonical();
        if crate::outbound::is_internal(ip) {
            return None;
        }
        let found = self
            .reader
            .lookup(ip)
            .and_then(|found| found.decode::<geoip2::City<'_>>());
        let record = match found {
            Ok(record) => record?,
            Err(e) => {
                // Never the address: it is personal data, and the error does not need it.
                tracing::debug!(error = %e, "GeoIP lookup failed");
                return None;
            }
        };
        let city = name(&record.city.names)?;
        let region = record
            .subdivisions
            .first()
            .and_then(|s| name(&s.names))
            .filter(|region| *region != city);
        Some(Place {
            city,
            region,
            country: name(&record.country.names),
        })
    }
}

/// The Spanish name, else the English one.
fn name(names: &geoip2::Names<'_>) -> Option<String> {
    names
        .spanish
        .or(names.english)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

impl fmt::Display for Place {
    /// "Santiago, Región Metropolitana de Santiago, Chile".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.city)?;
        for part in [&self.region, &self.country].into_iter().flatten() {
            write!(f, ", {part}")?;
        }
        Ok(())
    }
}
