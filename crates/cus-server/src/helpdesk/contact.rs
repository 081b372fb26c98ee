//! The help desk's changes to contact data: a person's or company's e-mail and phones, and
//! a company's legal representative (the person whose mobile receives its every new CUS;
//! changed only here, never online: docs/security.md).

use cus_core::audit::AuditKind;
use cus_core::contact::{Email, mask_email};
use cus_core::{Account, Credentials, Representante, Rut, TipoPersona};
use cus_store::{Change, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AccountView, HelpdeskError, event, parse_celular, with_credentials};
use crate::app::AppState;
use crate::lifecycle::{messages, natural};

/// New contact data: only what is given changes; an empty text removes a phone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChange {
    /// A new e-mail must be verified again: a link goes to it, the old one is told.
    pub email: Option<String>,
    /// `+569XXXXXXXX` (or the 8 digits); empty for "Sin celular". Not for a company, whose
    /// mobile is its representative's.
    pub celular: Option<String>,
    pub telefono_particular: Option<String>,
    pub telefono_trabajo: Option<String>,
}

/// A company's new legal representative.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepresentativeInput {
    pub rut: String,
    pub nombres: String,
    pub apellidos: String,
    pub email: String,
    /// `+569XXXXXXXX` (or the 8 digits): where the company's new CUS go by SMS.
    pub celular: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> HelpdeskError {
    HelpdeskError::Invalid(format!("{field}: {message}"))
}

/// A phone as given: empty removes it.
fn phone(field: &str, text: &str) -> Result<Option<String>, HelpdeskError> {
    cus_core::contact::parse_phone(text).map_err(|e| invalid(field, e))
}

/// Saves the account and its credentials as changed, with the event and notices; a CUS
/// change in between (the person, at the same moment) refuses rather than undo it.
async fn save(
    app: &AppState,
    account: &Account,
    credentials: &Credentials,
    change: Change<'_>,
) -> Result<(), HelpdeskError> {
    match app.store.update_account(account, credentials, change).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(HelpdeskError::Refused(
            "the account changed meanwhile (its CUS); try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Changes contact data. A new e-mail is unverified until its link is followed (the same
/// link and mail as "Actualice sus datos"), and the old address is told; a new e-mail or
/// mobile cancels a generated CUS still waiting (it went to the old ones).
pub async fn set_contact(
    app: &AppState,
    rut: &Rut,
    change: &ContactChange,
    operator: &str,
) -> Result<AccountView, HelpdeskError> {
    let (mut account, mut credentials) = with_credentials(app, rut).await?;
    let email = match change.email.as_deref() {
        Some(text) => Some(Email::parse(text).map_err(|e| invalid("email", e))?),
        None => None,
    };
    let celular = match change.celular.as_deref().map(str::trim) {
        Some(_) if account.tipo == TipoPersona::Juridica => {
            return Err(invalid(
                "celular",
                "a company's mobile is its legal representative's: set the representative",
            ));
        }
        Some("") => Some(None),
        Some(text) => Some(Some(
            parse_celular(text).map_err(|e| invalid("celular", e))?,
        )),
        None => None,
    };
    let particular = match change.telefono_particular.as_deref() {
        Some(text) => Some(phone("telefono_particular", text)?),
        None => None,
    };
    let trabajo = match change.telefono_trabajo.as_deref() {
        Some(text) => Some(phone("telefono_trabajo", text)?),
        None => None,
    };
    let mut event = event(app, AuditKind::DataUpdated, rut, operator);
    let now = event.at;
    let name = account.display_name();
    let mut changed = Vec::new();
    let mut notices = Vec::new();
    if let Some(email) = email.filter(|e| *e != account.email) {
        let link = natural::verification_link(app, now, &mut credentials);
        notices.push(messages::email_changed(
            &account.email,
            &mask_email(email.as_str()),
            &name,
            now,
        ));
        notices.push(messages::verify_new_email(
            email.as_str(),
            &name,
            &link,
            now,
        ));
        account.email = email.into();
        account.email_verified = false;
        changed.push("email");
    }
    if let Some(celular) = celular.filter(|c| *c != account.celular) {
        account.celular = celular;
        changed.push("celular");
    }
    if let Some(particular) = particular {
        account.telefono_particular = particular;
        changed.push("telefono_particular");
    }
    if let Some(trabajo) = trabajo {
        account.telefono_trabajo = trabajo;
        changed.push("telefono_trabajo");
    }
    if changed.is_empty() {
        return Ok(AccountView::of(&account, false));
    }
    if changed.contains(&"email") || changed.contains(&"celular") {
        credentials.pending_cus_hash = None;
        credentials.pending_cus_expires = None;
    }
    account.updated_at = now;
    event.detail = Some(format!("help desk changed {}", changed.join(", ")));
    let write = Change::audited(&event).with_notices(&notices);
    save(app, &account, &credentials, write).await?;
    Ok(AccountView::of(&account, false))
}

/// Names a company's legal representative: the account's mobile becomes theirs, so the
/// next new CUS of the company goes to them (`natural::send_new_cus` sends to the account's
/// mobile); a generated CUS still waiting is cancelled (it went to the previous one). The
/// company and the new representative are told by e-mail.
pub async fn set_representative(
    app: &AppState,
    rut: &Rut,
    input: &RepresentativeInput,
    operator: &str,
) -> Result<AccountView, HelpdeskError> {
    let (mut account, mut credentials) = with_credentials(app, rut).await?;
    if account.tipo != TipoPersona::Juridica {
        return Err(HelpdeskError::Refused(
            "only a persona jurídica has a legal representative".into(),
        ));
    }
    let rep_rut = Rut::parse(&input.rut).map_err(|e| invalid("rut", e))?;
    if rep_rut == account.rut {
        return Err(invalid(
            "rut",
            "the representative is a person, not the company itself",
        ));
    }
    let text = |field: &str, value: &str| {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 80 {
            Err(invalid(field, "1 to 80 characters are required"))
        } else {
            Ok(value.to_owned())
        }
    };
    let nombres = text("nombres", &input.nombres)?;
    let apellidos = text("apellidos", &input.apellidos)?;
    let email = Email::parse(&input.email).map_err(|e| invalid("email", e))?;
    let celular = match input.celular.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(typed) => Some(parse_celular(typed).map_err(|e| invalid("celular", e))?),
    };
    let representante = Representante {
        rut: rep_rut,
        nombres,
        apellidos,
        email: email.into(),
        celular: celular.clone(),
    };
    let mut event = event(app, AuditKind::RepresentativeChanged, rut, operator);
    let now = event.at;
    event.detail = Some(format!(
        "representative RUT {}",
        representante.rut.compact()
    ));
    let company = account.display_name();
    let nombre = representante.nombre();
    let mut notices = vec![messages::representative_named(
        &account.email,
        &nombre,
        &company,
        now,
    )];
    if representante.email != account.email {
        notices.push(messages::representative_named(
            &representante.email,
            &nombre,
            &company,
            now,
        ));
    }
    account.representante = Some(representante);
    account.celular = celular;
    account.updated_at = now;
    credentials.pending_cus_hash = None;
    credentials.pending_cus_expires = None;
    let write = Change::audited(&event).with_notices(&notices);
    save(app, &account, &credentials, write).await?;
    Ok(AccountView::of(&account, false))
}
