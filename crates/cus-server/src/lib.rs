//! The CUS identity provider: configuration, start-up, the HTTP surface and the services
//! behind it. The `cus` binary (`main.rs`) is a thin command-line front.

pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod geoip;
pub mod hashing;
pub mod helpdesk;
pub mod http;
pub mod import;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod outbound;
pub mod personal_data;
pub mod request;
pub mod retention;
pub mod secrets;
pub mod startup;
pub mod telemetry;

/// The CUS version shown in page footers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
