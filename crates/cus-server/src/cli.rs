//! The `cus` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{self, Application};

#[derive(Debug, Parser)]
#[command(
    name = "cus",
    version,
    about = "Clave Única SENCE: the identity provider"
)]
pub struct Cli {
    /// Configuration file, applied over config/default.toml and under CUS_… variables.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the identity provider (applies pending migrations first).
    Serve {
        /// Address and port to listen on, overriding server.listen.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets masked.
    Check,
}

/// Runs one command; every error comes back to `main` to be printed on one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            crate::telemetry::init(&config.log);
            let app = Application::build(config).await?;
            app.run_until_stopped().await
        }
        Command::Migrate => {
            crate::telemetry::init(&config.log);
            let store = startup::open_store(&config).await?;
            tracing::info!(store = store.backend(), "migrations applied");
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print_out(&config.masked_toml());
            Ok(())
        }
    }
}

/// Command output (not logs) goes to standard output.
#[expect(
    clippy::print_stdout,
    reason = "CLI output is the point of the command"
)]
pub fn print_out(text: &str) {
    println!("{text}");
}
