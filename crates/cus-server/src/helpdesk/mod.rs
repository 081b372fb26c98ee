//! The help desk's operations on accounts, one service for both of its tools: the `cus
//! account` commands and the admin API's `/admin/api/v1/accounts`. Every operation takes
//! the operator who acts (`cli:<name>`, `client:<id>[/<name>]`) and writes it into the audit
//! event of what it does, in the same transaction as the change.
//!
//! Searching and showing are here; the changes are in `actions` (disable, enable, unlock,
//! a new CUS, delete) and `contact` (contact data, a company's legal representative).

mod actions;
mod contact;

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::contact::{mask_celular, mask_email};
use cus_core::{Account, Rut};
use cus_store::AccountSearch;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::lifecycle::FlowError;

pub use actions::{delete, disable, enable, new_cus, unlock};
pub use contact::{ContactChange, RepresentativeInput, set_contact, set_representative};

/// The most accounts one search returns.
pub const MAX_RESULTS: u32 = 100;

/// Why a help-desk operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HelpdeskError {
    /// No account has this RUT.
    #[error("no account has this RUT")]
    NotFound,
    /// The operator's input is not valid (the message says which and why).
    #[error("{0}")]
    Invalid(String),
    /// The account is not in a state that allows it (a person's account asked for a
    /// representative, a disabled account asked for a new CUS…).
    #[error("{0}")]
    Refused(String),
    /// The store or the cache failed.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<cus_store::StoreError> for HelpdeskError {
    fn from(e: cus_store::StoreError) -> Self {
        match e {
            cus_store::StoreError::NotFound(_) => Self::NotFound,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for HelpdeskError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<cus_cache::CacheError> for HelpdeskError {
    fn from(e: cus_cache::CacheError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<FlowError> for HelpdeskError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Invalid(fields) => Self::Invalid(
                fields
                    .into_iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            FlowError::Refused(message) => Self::Refused(message),
            FlowError::Busy => Self::Internal(crate::hashing::Busy.into()),
            FlowError::Internal(e) => Self::Internal(e),
        }
    }
}

/// How to look for accounts: exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Rut(Rut),
    /// The account's e-mail or its representative's, ignoring case.
    Email(String),
    /// A mobile, `+569XXXXXXXX` or its 8 last digits.
    Celular(String),
    /// The start of an apellido paterno, of nombres, or of a razón social.
    Name(String),
}

impl Search {
    /// The search `field` names (`rut`, `email`, `celular`, `name`) for what was typed.
    pub fn parse(field: &str, text: &str) -> Result<Self, HelpdeskError> {
        let text = text.trim();
        let invalid = |m: &str| HelpdeskError::Invalid(format!("{field}: {m}"));
        match field {
            "rut" => Rut::parse(text)
                .map(Self::Rut)
                .map_err(|e| invalid(&e.to_string())),
            "email" if text.contains('@') && text.len() <= 254 => Ok(Self::Email(text.to_owned())),
            "email" => Err(invalid("an e-mail address is required")),
            "celular" => parse_celular(text).map(Self::Celular).map_err(invalid),
            // At least three letters: a shorter prefix lists people by the thousand.
            "name" if (3..=80).contains(&text.chars().count()) => Ok(Self::Name(text.to_owned())),
            "name" => Err(invalid("3 to 80 characters are required")),
            _ => Err(HelpdeskError::Invalid(format!(
                "unknown search {field}: use rut, email, celular or name"
            ))),
        }
    }
}

/// A mobile as the help desk types it: `+56 9 1234 5678`, `912345678` or `12345678`.
pub fn parse_celular(text: &str) -> Result<String, &'static str> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let local = digits
        .strip_prefix("+569")
        .or_else(|| digits.strip_prefix("569").filter(|d| d.len() == 8))
        .or_else(|| digits.strip_prefix('9').filter(|d| d.len() == 8))
        .unwrap_or(&digits);
    cus_core::contact::parse_celular(local)
        .map_err(|_| "a mobile is 8 digits after +56 9 (e.g. +56912345678)")
}

/// An account as the help desk sees it. Contact data is masked unless revealed (which is
/// audited); the RUT, names and state are always shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// The account id (the OIDC `sub`).
    pub id: String,
    /// As printed: `12.345.678-5`.
    pub rut: String,
    /// `natural` or `juridica`.
    pub tipo: String,
    /// Nombres and apellidos, or the razón social.
    pub nombre: String,
    pub email: String,
    pub email_verified: bool,
    /// Where SMS go: the person's mobile, or a company's legal representative's.
    pub celular: Option<String>,
    pub telefono_particular: Option<String>,
    pub telefono_trabajo: Option<String>,
    /// CUT code of the comuna of the address.
    pub comuna: Option<u32>,
    pub representante: Option<RepresentativeView>,
    /// Unix seconds; absent while the account is usable.
    pub disabled_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// Whether the contact data above is masked.
    pub masked: bool,
}

/// A company's legal representative.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentativeView {
    pub rut: String,
    pub nombre: String,
    pub email: String,
    pub celular: Option<String>,
}

/// `+56221234567` → `****4567`.
fn mask_phone(phone: &str) -> String {
    let last: Vec<char> = phone.chars().rev().take(4).collect();
    format!("****{}", last.into_iter().rev().collect::<String>())
}

impl AccountView {
    pub fn of(account: &Account, reveal: bool) -> Self {
        let email = |e: &str| if reveal { e.to_owned() } else { mask_email(e) };
        let celular = |c: &String| {
            if reveal { c.clone() } else { mask_celular(c) }
        };
        let phone = |p: &String| if reveal { p.clone() } else { mask_phone(p) };
        Self {
            id: account.id.to_string(),
            rut: account.rut.to_string(),
            tipo: account.tipo.as_str().to_owned(),
            nombre: account.display_name(),
            email: email(&account.email),
            email_verified: account.email_verified,
            celular: account.celular.as_ref().map(celular),
            telefono_particular: account.telefono_particular.as_ref().map(phone),
            telefono_trabajo: account.telefono_trabajo.as_ref().map(phone),
            comuna: account.address.as_ref().map(|a| a.codigo_comuna),
            representante: account.representante.as_ref().map(|r| RepresentativeView {
                rut: r.rut.to_string(),
                nombre: r.nombre(),
                email: email(&r.email),
                celular: r.celular.as_ref().map(celular),
            }),
            disabled_at: account.disabled_at.map(|t| t.unix_timestamp()),
            created_at: account.created_at.unix_timestamp(),
            updated_at: account.updated_at.unix_timestamp(),
            masked: !reveal,
        }
    }
}

/// The accounts a search finds (at most `limit`, up to [`MAX_RESULTS`]), masked. Every
/// search is audited, naming `operator`: a list of people is an access to their data.
pub async fn find(
    app: &AppState,
    search: &Search,
    limit: u32,
    operator: &str,
) -> Result<Vec<AccountView>, HelpdeskError> {
    let limit = limit.clamp(1, MAX_RESULTS);
    let accounts = match search {
        Search::Rut(rut) => app
            .store
            .account_by_rut(rut)
            .await?
            .map(|(account, _)| account)
            .into_iter()
            .collect(),
        Search::Email(email) => {
            let by = AccountSearch::Email(email.clone());
            app.store.find_accounts(&by, limit).await?
        }
        Search::Celular(celular) => {
            let by = AccountSearch::Celular(celular.clone());
            app.store.find_accounts(&by, limit).await?
        }
        Search::Name(prefix) => {
            let by = AccountSearch::NamePrefix(prefix.clone());
            app.store.find_accounts(&by, limit).await?
        }
    };
    let (subject, by) = match search {
        Search::Rut(rut) => (Some(rut.compact()), "rut"),
        Search::Email(_) => (None, "email"),
        Search::Celular(_) => (None, "celular"),
        Search::Name(_) => (None, "name"),
    };
    let mut event = AuditEvent::new(AuditKind::AccountsSearched, app.clock.now(), subject);
    event.detail = Some(format!("by {by}: {} found", accounts.len()));
    app.store.append_audit(&event.by(operator)).await?;
    Ok(accounts.iter().map(|a| AccountView::of(a, false)).collect())
}

/// One account, its contact data masked unless `reveal`; a reveal is audited first, so no
/// one sees the data without the trail saying who did.
pub async fn show(
    app: &AppState,
    rut: &Rut,
    reveal: bool,
    operator: &str,
) -> Result<AccountView, HelpdeskError> {
    let account = account(app, rut).await?;
    if reveal {
        let event = event(app, AuditKind::ContactRevealed, rut, operator);
        app.store.append_audit(&event).await?;
    }
    Ok(AccountView::of(&account, reveal))
}

/// The account of `rut`, or [`HelpdeskError::NotFound`].
async fn account(app: &AppState, rut: &Rut) -> Result<Account, HelpdeskError> {
    Ok(with_credentials(app, rut).await?.0)
}

async fn with_credentials(
    app: &AppState,
    rut: &Rut,
) -> Result<(Account, cus_core::Credentials), HelpdeskError> {
    app.store
        .account_by_rut(rut)
        .await?
        .ok_or(HelpdeskError::NotFound)
}

/// The audit event of a help-desk action on `rut`, now, by `operator`.
fn event(app: &AppState, kind: AuditKind, rut: &Rut, operator: &str) -> AuditEvent {
    AuditEvent::new(kind, app.clock.now(), Some(rut.compact())).by(operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_read_as_the_help_desk_types_them() {
        for typed in ["+56912345678", "+56 9 1234 5678", "912345678", "12345678"] {
            assert_eq!(
                parse_celular(typed).as_deref(),
                Ok("+56912345678"),
                "{typed}"
            );
        }
        for bad in ["", "1234", "+5691234567x", "+56 2 2123 4567"] {
            assert!(parse_celular(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn searches_name_their_field_and_refuse_what_is_not_one() {
        assert!(matches!(
            Search::parse("rut", "12.345.678-5"),
            Ok(Search::Rut(_))
        ));
        assert!(Search::parse("rut", "12.345.678-0").is_err());
        assert!(Search::parse("email", "nadie").is_err());
        assert!(Search::parse("name", " ").is_err());
        assert!(Search::parse("telefono", "1").is_err());
        assert_eq!(
            Search::parse("name", " Gonz ").ok(),
            Some(Search::Name("Gonz".into()))
        );
    }
}
