//! The `cus` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod accounts;
mod audit;
mod clients;
mod export;
mod import;
mod operator;
mod seed;

pub use operator::Operator;

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
    /// Who is acting, for the audit trail of every change (default: the OS login name).
    #[arg(long, global = true, value_name = "NAME")]
    pub operator: Option<String>,
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
    /// Apply pending database migrations and exit (the only command that does in
    /// production).
    Migrate {
        /// List applied and pending migrations; change nothing.
        #[arg(long)]
        status: bool,
        /// Create the SQLite database when its file does not exist (no command creates
        /// one otherwise, but `cus serve` in development).
        #[arg(long, conflicts_with = "status")]
        create: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage relying-party clients.
    Client {
        #[command(subcommand)]
        command: clients::ClientCommand,
    },
    /// Initial access tokens for dynamic client registration (RFC 7591).
    RegistrationToken {
        #[command(subcommand)]
        command: clients::RegistrationTokenCommand,
    },
    /// Print the audit trail, newest first, a page at a time (--after the last id).
    Audit(audit::AuditArgs),
    /// The outbox, newest first: to whom each message went and how its delivery went
    /// (never its text).
    Outbox {
        /// Only the messages to this e-mail address, mobile (+569…) or client id.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: accounts::AccountCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate new keys: published now, signing after keys.publish_lead_seconds.
    Rotate,
    /// Delete retired keys whose tokens have all expired.
    Prune,
    /// List the stored keys, and whether keys.kek opens each.
    List,
    /// Reseal every private key and waiting sealed message under a new KEK, at once; then
    /// set keys.kek to it and restart every node.
    Rewrap {
        /// The new KEK: base64 of 32 random bytes (`openssl rand -base64 32`).
        #[arg(long, value_name = "FILE")]
        new_kek_file: PathBuf,
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
    let operator = Operator {
        given: cli.operator.as_deref(),
    };
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let spans = crate::telemetry::init_serving(&config.log, &config.telemetry)?;
            let app = Application::build(config).await?;
            let served = app.run_until_stopped().await;
            // After the last request: its spans are in the queue this sends.
            spans.shutdown().await;
            served
        }
        Command::Migrate { status, create } => {
            crate::telemetry::init(&config.log);
            if !create {
                startup::refuse_missing(&config)?;
            }
            let store = startup::connect_store(&config).await?;
            if status {
                let pending = store.pending_migrations().await?;
                print_out(&if pending.is_empty() {
                    "every migration is applied".to_owned()
                } else {
                    format!("pending: {}", pending.join(", "))
                });
                return Ok(());
            }
            store
                .migrate()
                .await
                .context("cannot apply database migrations")?;
            tracing::info!(store = store.backend(), "migrations applied");
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print_out(&config.masked_toml());
            Ok(())
        }
        Command::Keys { command } => keys(&config, command, operator).await,
        Command::Client { command } => clients::run(&config, command, operator).await,
        Command::RegistrationToken { command } => {
            clients::run_registration_token(&config, command).await
        }
        Command::Account { command } => accounts::run(config, command, operator).await,
        Command::Audit(args) => audit::run(&config, args).await,
        Command::Outbox { to, limit, json } => outbox(&config, to, limit, json).await,
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

async fn keys(config: &Config, command: KeysCommand, operator: Operator<'_>) -> anyhow::Result<()> {
    let store = startup::open_existing_store(config).await?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    match command {
        KeysCommand::Rotate => {
            let kek = crate::secrets::Kek::from_config(&config.keys)?;
            let lead = time::Duration::seconds(i64::try_from(config.keys.publish_lead_seconds)?);
            let kids = crate::keys::rotate(store.as_ref(), &kek, now, lead).await?;
            let event =
                cus_core::audit::AuditEvent::new(cus_core::audit::AuditKind::KeyRotated, now, None)
                    .by(&operator.name()?);
            store.append_audit(&event).await?;
            print_out(&format!(
                "new keys {} sign from {}",
                kids.join(", "),
                now + lead
            ));
        }
        KeysCommand::Prune => {
            let oidc = &config.oidc;
            let longest = oidc.access_token_ttl.max(oidc.id_token_ttl).time();
            let pruned = crate::keys::prune(store.as_ref(), now, longest).await?;
            print_out(&format!(
                "pruned {} key(s) {}",
                pruned.len(),
                pruned.join(", ")
            ));
        }
        KeysCommand::List => {
            let kek = crate::secrets::Kek::from_config(&config.keys)?;
            for (key, usable) in crate::keys::list(store.as_ref(), &kek).await? {
                print_out(&format!(
                    "{:<24} {:<6} active from {}{}  {}",
                    key.kid,
                    key.alg,
                    key.active_from,
                    key.retired_at
                        .map(|at| format!(", retired {at}"))
                        .unwrap_or_default(),
                    if usable {
                        "usable"
                    } else {
                        "UNUSABLE: cannot be opened with this keys.kek"
                    }
                ));
            }
        }
        KeysCommand::Rewrap { new_kek_file } => {
            let old = crate::secrets::Kek::from_config(&config.keys)?;
            let new = crate::secrets::Kek::from_file(&new_kek_file).context("--new-kek-file")?;
            let done = crate::keys::rewrap(store.as_ref(), &old, &new).await?;
            print_out(&format!(
                "resealed {} key(s) and {} waiting message(s) under the new KEK: set keys.kek to it and restart every node",
                done.keys, done.messages
            ));
            if !done.skipped_keys.is_empty() || done.skipped_messages > 0 {
                print_out(&format!(
                    "left as they were (the current keys.kek cannot open them): key(s) {}; {} message(s)",
                    done.skipped_keys.join(", "),
                    done.skipped_messages
                ));
            }
        }
    }
    Ok(())
}

async fn outbox(config: &Config, to: Option<String>, limit: u32, json: bool) -> anyhow::Result<()> {
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let store = startup::open_existing_store(config).await?;
    for d in store.deliveries(to.as_deref(), limit).await? {
        let state = match (d.sent_at, d.abandoned_at) {
            (Some(at), _) => format!("sent {}", rfc3339(at)),
            (None, Some(at)) => format!("abandoned {}", rfc3339(at)),
            (None, None) => "pending".to_owned(),
        };
        if json {
            print_out(
                &serde_json::json!({
                    "id": d.id,
                    "channel": d.channel,
                    "recipient": d.recipient,
                    "subject": d.subject,
                    "created_at": rfc3339(d.created_at),
                    "state": state,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                })
                .to_string(),
            );
        } else {
            print_out(&format!(
                "{}  {:<6} {:<30} {:<36} attempts={} {}{}",
                rfc3339(d.created_at),
                d.channel,
                d.recipient,
                state,
                d.attempts,
                d.subject,
                d.last_error
                    .map(|e| format!("  (last error: {e})"))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}
