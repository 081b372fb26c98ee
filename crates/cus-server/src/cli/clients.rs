//! `cus client …` and `cus registration-token …`: client management for operators. Text
//! tables by default, `--json` for scripts; a secret is printed once, when it is made.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::print_out;
use crate::clients::{self, ClientError, ClientMetadata, ClientView};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Args)]
pub struct MetadataArgs {
    #[arg(long)]
    name: Option<String>,
    /// Exact redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Exact post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Grant type (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed scope (repeatable); default: every OpenID/CUS scope.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// client_secret_basic (default), client_secret_post, or private_key_jwt (with --jwks).
    #[arg(long)]
    auth_method: Option<String>,
    /// A JSON file with the client's public keys (a JWK Set), for private_key_jwt.
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// One of SENCE's own portals: consent is not asked (`--first-party` or `--first-party false`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    first_party: Option<bool>,
    /// Told (OpenID back-channel logout) when a session that signed in to the portal ends.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Contact e-mail (repeatable).
    #[arg(long = "contact")]
    contacts: Vec<String>,
    #[arg(long)]
    logo_uri: Option<String>,
    #[arg(long)]
    client_uri: Option<String>,
}

impl MetadataArgs {
    fn into_metadata(self, public: bool) -> anyhow::Result<ClientMetadata> {
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        let jwks = match &self.jwks {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(anyhow::Error::from)
                    .and_then(|text| Ok(serde_json::from_str(&text)?))
                    .with_context(|| format!("--jwks {}", path.display()))?,
            ),
            None => None,
        };
        Ok(ClientMetadata {
            client_name: self.name,
            redirect_uris: some(self.redirect_uris),
            post_logout_redirect_uris: some(self.post_logout_redirect_uris),
            grant_types: some(self.grant_types),
            response_types: None,
            scope: some(self.scopes).map(|s| s.join(" ")),
            token_endpoint_auth_method: if public {
                Some("none".into())
            } else {
                self.auth_method
            },
            id_token_signed_response_alg: self.id_token_alg,
            backchannel_logout_uri: self.backchannel_logout_uri,
            contacts: some(self.contacts),
            logo_uri: self.logo_uri,
            client_uri: self.client_uri,
            first_party: self.first_party,
            jwks,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its client_id and (once) its secret.
    Create {
        #[command(flatten)]
        metadata: MetadataArgs,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Choose the client_id instead of generating one.
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List every client.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client's metadata (only the options given; list options replace the list).
    Update {
        client_id: String,
        #[command(flatten)]
        metadata: MetadataArgs,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new secret; the old one keeps working for --overlap (default 24h).
    RotateSecret {
        client_id: String,
        /// How long the previous secret stays valid: 0, 30m, 12h, 7d…
        #[arg(long, default_value = "24h")]
        overlap: String,
        #[arg(long)]
        json: bool,
    },
    /// Refuse the client's logins and tokens (reversible).
    Disable {
        client_id: String,
    },
    Enable {
        client_id: String,
    },
    /// Delete the client, its consents and refresh tokens.
    Delete {
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token for POST /register; printed once.
    Create {
        /// Lifetime: 30m, 12h, 7d…
        #[arg(long, default_value = "7d")]
        expires: String,
    },
}

/// `30m`, `12h`, `7d`, `45s`, or plain seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<time::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{text:?} is not a duration like 30m, 12h or 7d"))?;
    Ok(match unit {
        "" | "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => anyhow::bail!("{text:?} is not a duration like 30m, 12h or 7d"),
    })
}

fn fail(e: ClientError) -> anyhow::Error {
    anyhow::anyhow!("{}: {e}", e.code())
}

fn print_client(view: &ClientView, json: bool) {
    if json {
        print_out(&serde_json::to_string_pretty(view).unwrap_or_default());
        return;
    }
    let rows = [
        ("client_id", view.client_id.clone()),
        ("name", view.client_name.clone()),
        ("kind", view.kind.clone()),
        ("enabled", view.enabled.to_string()),
        ("first_party", view.first_party.to_string()),
        ("redirect_uris", view.redirect_uris.join(" ")),
        ("post_logout", view.post_logout_redirect_uris.join(" ")),
        ("grant_types", view.grant_types.join(" ")),
        ("scope", view.scope.clone()),
        ("auth_method", view.token_endpoint_auth_method.clone()),
        ("id_token_alg", view.id_token_signed_response_alg.clone()),
        ("contacts", view.contacts.join(" ")),
    ];
    for (k, v) in rows {
        print_out(&format!("{k:<14} {v}"));
    }
}

pub async fn run(
    config: &Config,
    command: ClientCommand,
    operator: super::Operator<'_>,
) -> anyhow::Result<()> {
    let store = startup::open_existing_store(config).await?;
    let store = store.as_ref();
    let now = SystemClock.now();
    match command {
        ClientCommand::Create {
            metadata,
            public,
            client_id,
            json,
        } => {
            let created = clients::create(
                store,
                client_id,
                metadata.into_metadata(public)?,
                false,
                &operator.name()?,
                now,
            )
            .await
            .map_err(fail)?;
            if json {
                let mut out = serde_json::to_value(ClientView::from(&created.client))?;
                out["client_secret"] = json!(created.secret);
                print_out(&serde_json::to_string_pretty(&out)?);
            } else {
                print_client(&ClientView::from(&created.client), false);
                if let Some(secret) = created.secret {
                    print_out(&format!(
                        "client_secret  {secret}\n(shown once: store it now)"
                    ));
                }
            }
        }
        ClientCommand::List { json } => {
            let views: Vec<ClientView> = store
                .list_clients()
                .await?
                .iter()
                .map(ClientView::from)
                .collect();
            if json {
                print_out(&serde_json::to_string_pretty(&views)?);
            } else {
                print_out(&format!(
                    "{:<26} {:<13} {:<8} {}",
                    "CLIENT_ID", "KIND", "ENABLED", "NAME"
                ));
                for v in views {
                    print_out(&format!(
                        "{:<26} {:<13} {:<8} {}",
                        v.client_id, v.kind, v.enabled, v.client_name
                    ));
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let client = store
                .client(&cus_core::ClientId(client_id))
                .await?
                .ok_or_else(|| fail(ClientError::NotFound))?;
            print_client(&ClientView::from(&client), json);
        }
        ClientCommand::Update {
            client_id,
            metadata,
            json,
        } => {
            let client = clients::update(
                store,
                &client_id,
                metadata.into_metadata(false)?,
                &operator.name()?,
                now,
            )
            .await
            .map_err(fail)?;
            print_client(&ClientView::from(&client), json);
        }
        ClientCommand::RotateSecret {
            client_id,
            overlap,
            json,
        } => {
            let overlap = parse_duration(&overlap)?;
            let (client, secret) =
                clients::rotate_secret(store, &client_id, overlap, &operator.name()?, now)
                    .await
                    .map_err(fail)?;
            if json {
                print_out(&json!({ "client_id": client.client_id.0, "client_secret": secret, "previous_secret_expires_at": client.previous_secret_expires.map(|t| t.unix_timestamp()) }).to_string());
            } else {
                print_out(&format!(
                    "client_secret  {secret}\n(shown once: store it now; the previous secret works until {})",
                    client
                        .previous_secret_expires
                        .map_or("now".to_owned(), |t| t.to_string())
                ));
            }
        }
        ClientCommand::Disable { client_id } => {
            clients::set_enabled(store, &client_id, false, &operator.name()?, now)
                .await
                .map_err(fail)?;
            print_out(&format!("{client_id} disabled"));
        }
        ClientCommand::Enable { client_id } => {
            clients::set_enabled(store, &client_id, true, &operator.name()?, now)
                .await
                .map_err(fail)?;
            print_out(&format!("{client_id} enabled"));
        }
        ClientCommand::Delete { client_id } => {
            clients::delete(store, &client_id, &operator.name()?, now)
                .await
                .map_err(fail)?;
            print_out(&format!("{client_id} deleted"));
        }
    }
    Ok(())
}

pub async fn run_registration_token(
    config: &Config,
    command: RegistrationTokenCommand,
) -> anyhow::Result<()> {
    let RegistrationTokenCommand::Create { expires } = command;
    let lifetime = parse_duration(&expires)?;
    let store = startup::open_existing_store(config).await?;
    let now = SystemClock.now();
    let token = clients::create_initial_access_token(store.as_ref(), lifetime, now).await?;
    print_out(&format!(
        "initial access token (valid until {}): {token}",
        now + lifetime
    ));
    Ok(())
}
