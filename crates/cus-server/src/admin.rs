//! Operator actions shared by the `cus` CLI and the tests: creating accounts for people
//! helped in person. (Clients: see `clients`.)

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::contact::Email;
use cus_core::{Account, AccountId, Credentials, NewAccount, Rut, TipoPersona};
use cus_store::{Change, Store};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hashing::Hasher;

/// A persona natural account created by an operator (help desk), with a CUS they chose or
/// one generated for them (which must then be changed at first login).
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub rut: Rut,
    pub nombres: String,
    pub apellidos: Vec<String>,
    /// Checked where the operator typed it (the CLI's `--email`).
    pub email: Email,
    pub celular: Option<String>,
    pub address: Option<cus_core::Address>,
}

pub async fn create_account(
    store: &dyn Store,
    hasher: &Hasher,
    spec: AccountSpec,
    cus: &str,
    generated: bool,
    operator: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Account> {
    if spec.nombres.trim().is_empty() || spec.apellidos.is_empty() {
        anyhow::bail!("nombres and at least one apellido are required");
    }
    let normalized = if generated {
        cus.to_owned()
    } else {
        cus_core::policy::check_cus(cus, cus, &spec.rut, Some(spec.email.as_str()), |_| false)?
    };
    let account = Account {
        id: AccountId(Uuid::now_v7()),
        rut: spec.rut,
        tipo: TipoPersona::Natural,
        nombres: spec.nombres.trim().to_owned(),
        apellido_paterno: spec.apellidos[0].trim().to_owned(),
        apellido_materno: spec.apellidos.get(1).map(|a| a.trim().to_owned()),
        razon_social: None,
        giro: None,
        representante: None,
        email: spec.email.into(),
        email_verified: false,
        celular: spec.celular,
        telefono_particular: None,
        telefono_trabajo: None,
        address: spec.address,
        secret_question: None,
        cus_must_change: generated,
        created_at: now,
        updated_at: now,
        tokens_valid_after: now,
    };
    let credentials = Credentials {
        cus_hash: hasher.hash(&normalized).await?,
        ..Credentials::default()
    };
    let event =
        AuditEvent::new(AuditKind::AccountCreated, now, Some(account.rut.compact())).by(operator);
    store
        .create_account(
            &NewAccount {
                account: account.clone(),
                credentials,
            },
            Change::audited(&event),
        )
        .await
        .map_err(|e| match e {
            cus_store::StoreError::AlreadyExists(_) => {
                anyhow::anyhow!("RUT {} already has an account", account.rut)
            }
            other => other.into(),
        })?;
    Ok(account)
}

/// A CUS generated for a person: 4 groups of 4 letters and digits, without look-alikes.
pub fn generate_cus() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = rand::random::<[u8; 16]>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}
