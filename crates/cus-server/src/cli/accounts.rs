//! `cus account …`: creating an account for a person helped in person, and the help desk's
//! operations (`crate::helpdesk`, the same service as the admin API's accounts part), each
//! audited as the operator (`--operator`, or the OS login name).

use clap::Subcommand;
use cus_core::Rut;

use super::{Operator, print_out};
use crate::config::Config;
use crate::helpdesk::{self, AccountView, ContactChange, RepresentativeInput, Search};
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a persona natural account. The CUS is read from standard input, or generated
    /// and printed with --generate (then it must be changed at first login).
    Create {
        #[arg(long)]
        rut: String,
        #[arg(long)]
        nombres: String,
        /// Apellido paterno, then materno (repeat the flag).
        #[arg(long = "apellidos", num_args = 1..=2, required = true)]
        apellidos: Vec<String>,
        #[arg(long)]
        email: String,
        /// Mobile as +569XXXXXXXX.
        #[arg(long)]
        celular: Option<String>,
        /// Street of the home address (with --numero and --comuna).
        #[arg(long, requires_all = ["numero", "comuna"])]
        calle: Option<String>,
        #[arg(long)]
        numero: Option<String>,
        /// CUT code of the comuna, e.g. 13101 for Santiago.
        #[arg(long)]
        comuna: Option<u32>,
        #[arg(long)]
        generate: bool,
    },
    /// Find accounts by RUT, e-mail, mobile or the start of a name (contact data masked).
    Find {
        #[command(flatten)]
        by: FindBy,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show an account; its contact data masked unless --reveal (which is audited).
    Show {
        rut: String,
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: no login, no lifecycle flow; its sessions and tokens end.
    Disable {
        rut: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable a disabled account again.
    Enable { rut: String },
    /// Clear a RUT's login lockout (its ladder too) and its secret-answer limit.
    Unlock { rut: String },
    /// Change contact data (only what is given); a new e-mail must be verified again.
    SetContact {
        rut: String,
        #[arg(long)]
        email: Option<String>,
        /// +569XXXXXXXX or its 8 digits; "" for none (not for a company: see
        /// set-representative).
        #[arg(long)]
        celular: Option<String>,
        /// 9 digits with the area code; "" for none.
        #[arg(long)]
        telefono_particular: Option<String>,
        #[arg(long)]
        telefono_trabajo: Option<String>,
    },
    /// Name a company's legal representative: its next new CUS goes to their mobile.
    SetRepresentative {
        /// The company's RUT.
        rut: String,
        /// The representative's RUT.
        #[arg(long)]
        rep_rut: String,
        #[arg(long)]
        nombres: String,
        #[arg(long)]
        apellidos: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        celular: Option<String>,
    },
    /// Send a new CUS to the account's registered channels ("Genere nueva CUS").
    NewCus { rut: String },
    /// Delete an account with its sessions, tokens and consents (the audit trail stays).
    Delete {
        rut: String,
        /// Confirms the deletion.
        #[arg(long, required = true)]
        yes: bool,
    },
    /// Bring accounts over from the previous system: a CSV file, validated row by row by
    /// the rules of registration; bad rows are listed in a report, the rest imported.
    Import(super::import::ImportArgs),
    /// FOR LOAD TESTS ONLY: create many synthetic persona natural accounts fast, all with
    /// the same CUS (hashed once and reused). Refused when environment = "production".
    Seed(super::seed::SeedArgs),
    /// Print everything CUS holds about a person as JSON (a personal-data request, Ley
    /// 21.719): audited as an access by the operator.
    Export {
        /// The person's or company's RUT.
        rut: String,
    },
}

/// The one search `account find` makes.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct FindBy {
    #[arg(long)]
    rut: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// +569XXXXXXXX or its 8 digits.
    #[arg(long)]
    celular: Option<String>,
    /// The start of an apellido paterno, of nombres or of a razón social.
    #[arg(long)]
    name: Option<String>,
}

/// Runs one `cus account` command.
pub async fn run(
    config: Config,
    command: AccountCommand,
    operator: Operator<'_>,
) -> anyhow::Result<()> {
    match command {
        AccountCommand::Create {
            rut,
            nombres,
            apellidos,
            email,
            celular,
            calle,
            numero,
            comuna,
            generate,
        } => {
            let address = (calle, numero, comuna);
            create(
                &config, rut, nombres, apellidos, email, celular, address, generate, operator,
            )
            .await
        }
        AccountCommand::Find { by, limit, json } => {
            let search = match by {
                FindBy { rut: Some(t), .. } => Search::parse("rut", &t),
                FindBy { email: Some(t), .. } => Search::parse("email", &t),
                FindBy {
                    celular: Some(t), ..
                } => Search::parse("celular", &t),
                FindBy { name: Some(t), .. } => Search::parse("name", &t),
                FindBy { .. } => anyhow::bail!("give --rut, --email, --celular or --name"),
            }?;
            let operator = operator.name()?;
            let app = startup::command_state(config).await?;
            let found = helpdesk::find(&app, &search, limit, &operator).await?;
            if found.is_empty() && !json {
                print_out("no account found");
            }
            for view in &found {
                print_view(view, json)?;
            }
            Ok(())
        }
        AccountCommand::Show { rut, reveal, json } => {
            let rut = parse_rut(&rut)?;
            // Only a reveal is audited, so only a reveal needs to know who is acting.
            let operator = if reveal {
                operator.name()?
            } else {
                String::new()
            };
            let app = startup::command_state(config).await?;
            let view = helpdesk::show(&app, &rut, reveal, &operator).await?;
            print_view(&view, json)
        }
        AccountCommand::Disable { rut, reason } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let app = startup::command_state(config).await?;
            let view = helpdesk::disable(&app, &rut, reason.as_deref(), &operator).await?;
            print_out(&format!(
                "account {} disabled; its sessions and tokens ended",
                view.rut
            ));
            Ok(())
        }
        AccountCommand::Enable { rut } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let app = startup::command_state(config).await?;
            let view = helpdesk::enable(&app, &rut, &operator).await?;
            print_out(&format!("account {} enabled", view.rut));
            Ok(())
        }
        AccountCommand::Unlock { rut } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            // The lockout lives in the cache: an in-process one is the server's own, out of
            // this command's reach.
            if secrecy::ExposeSecret::expose_secret(&config.cache.url) == "memory" {
                anyhow::bail!(
                    "cache.url is the in-process cache: unlock through the running server's admin API (POST /admin/api/v1/accounts/{{rut}}/unlock)"
                );
            }
            let app = startup::command_state(config).await?;
            helpdesk::unlock(&app, &rut, &operator).await?;
            print_out(&format!("logins for {rut} unlocked"));
            Ok(())
        }
        AccountCommand::SetContact {
            rut,
            email,
            celular,
            telefono_particular,
            telefono_trabajo,
        } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let change = ContactChange {
                email,
                celular,
                telefono_particular,
                telefono_trabajo,
            };
            let app = startup::command_state(config).await?;
            let view = helpdesk::set_contact(&app, &rut, &change, &operator).await?;
            print_view(&view, false)
        }
        AccountCommand::SetRepresentative {
            rut,
            rep_rut,
            nombres,
            apellidos,
            email,
            celular,
        } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let input = RepresentativeInput {
                rut: rep_rut,
                nombres,
                apellidos,
                email,
                celular,
            };
            let app = startup::command_state(config).await?;
            let view = helpdesk::set_representative(&app, &rut, &input, &operator).await?;
            print_view(&view, false)
        }
        AccountCommand::NewCus { rut } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let app = startup::command_state(config).await?;
            let sent = helpdesk::new_cus(&app, &rut, &operator).await?;
            let to: Vec<String> = [sent.email, sent.celular].into_iter().flatten().collect();
            print_out(&format!("a new CUS is on its way to {}", to.join(" and ")));
            Ok(())
        }
        AccountCommand::Delete { rut, yes: _ } => {
            let (rut, operator) = (parse_rut(&rut)?, operator.name()?);
            let app = startup::command_state(config).await?;
            helpdesk::delete(&app, &rut, &operator).await?;
            print_out(&format!("account {rut} deleted; its audit trail stays"));
            Ok(())
        }
        AccountCommand::Export { rut } => super::export::run(&config, &rut, operator).await,
        AccountCommand::Import(args) => super::import::run(&config, args, operator).await,
        AccountCommand::Seed(args) => super::seed::run(&config, args, operator).await,
    }
}

fn parse_rut(text: &str) -> anyhow::Result<Rut> {
    Rut::parse(text).map_err(|e| anyhow::anyhow!("RUT {text}: {e}"))
}

/// One account per line: JSON (`--json`), or its fields for a person to read.
fn print_view(view: &AccountView, json: bool) -> anyhow::Result<()> {
    if json {
        print_out(&serde_json::to_string(view)?);
        return Ok(());
    }
    let mut line = format!(
        "{}  {:<8}  {}  email={}{}  celular={}",
        view.rut,
        view.tipo,
        view.nombre,
        view.email,
        if view.email_verified {
            " (verified)"
        } else {
            " (unverified)"
        },
        view.celular.as_deref().unwrap_or("-"),
    );
    if let Some(rep) = &view.representante {
        line.push_str(&format!(
            "  representante={} {} email={} celular={}",
            rep.rut,
            rep.nombre,
            rep.email,
            rep.celular.as_deref().unwrap_or("-")
        ));
    }
    if view.disabled_at.is_some() {
        line.push_str("  DISABLED");
    }
    line.push_str(&format!("  id={}", view.id));
    print_out(&line);
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "the fields of `account create`, as clap parsed them"
)]
async fn create(
    config: &Config,
    rut: String,
    nombres: String,
    apellidos: Vec<String>,
    email: String,
    celular: Option<String>,
    (calle, numero, comuna): (Option<String>, Option<String>, Option<u32>),
    generate: bool,
    operator: Operator<'_>,
) -> anyhow::Result<()> {
    let address = match (calle, numero, comuna) {
        (Some(calle), Some(numero), Some(codigo_comuna)) => {
            if cus_core::Catalogue::chile().comuna(codigo_comuna).is_none() {
                anyhow::bail!("--comuna {codigo_comuna} is not the CUT code of a comuna");
            }
            Some(cus_core::Address {
                calle,
                numero,
                block: None,
                departamento: None,
                codigo_comuna,
            })
        }
        _ => None,
    };
    let rut = cus_core::Rut::parse(&rut).map_err(|e| anyhow::anyhow!("--rut: {e}"))?;
    let email =
        cus_core::contact::Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let cus = if generate {
        crate::admin::generate_cus()
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let operator = operator.name()?;
    let store = startup::open_existing_store(config).await?;
    let hasher = crate::hashing::Hasher::new(&config.hash)?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let spec = crate::admin::AccountSpec {
        rut,
        nombres,
        apellidos,
        email,
        celular,
        address,
    };
    let account = crate::admin::create_account(
        store.as_ref(),
        &hasher,
        spec,
        &cus,
        generate,
        &operator,
        now,
    )
    .await?;
    print_out(&format!(
        "account {} created for RUT {}",
        account.id, account.rut
    ));
    if generate {
        print_out(&format!(
            "generated CUS: {cus}\n(give it to the person; it must be changed at first login)"
        ));
    }
    Ok(())
}
