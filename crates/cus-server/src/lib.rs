//! The CUS identity provider: configuration, start-up, the HTTP surface and the services
//! behind it. The `cus` binary (`main.rs`) is a thin command-line front.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod startup;
pub mod telemetry;
