//! The account lifecycle of the guide: Regístrese, Genere nueva CUS, Cambie su CUS,
//! Actualice sus datos, and e-mail verification. Services here; pages in
//! `http::lifecycle`.

pub mod captcha;
pub mod captcha_audio;
pub mod credentials;
pub mod juridica;
pub mod lockout;
pub mod messages;
pub mod natural;

use std::collections::BTreeMap;

use cus_core::Rut;
use cus_core::policy::{self, CusPolicyError};

pub use cus_core::contact_form::FieldErrors;

/// What can go wrong in a lifecycle flow, as the pages need to tell it.
#[derive(Debug)]
pub enum FlowError {
    /// Field-by-field problems: the form is shown again with them.
    Invalid(FieldErrors),
    /// A message for the whole form.
    Refused(String),
    /// Hashing is saturated ([`crate::hashing::Busy`]): nothing was written; the form is
    /// shown again, answered 503 with `Retry-After`.
    Busy,
    /// The store or cache failed: logged, shown as "service unavailable".
    Internal(anyhow::Error),
}

// Only the failures of the store, the cache and the services built on them become
// `Internal`, each named: a blanket conversion would let any error — a parse error of the
// person's input, say — pass as "service unavailable" instead of a message on the form.
impl From<anyhow::Error> for FlowError {
    fn from(e: anyhow::Error) -> Self {
        if crate::hashing::is_busy(&e) {
            return FlowError::Busy;
        }
        FlowError::Internal(e)
    }
}

impl From<crate::hashing::Busy> for FlowError {
    fn from(_: crate::hashing::Busy) -> Self {
        FlowError::Busy
    }
}

impl From<cus_store::StoreError> for FlowError {
    fn from(e: cus_store::StoreError) -> Self {
        FlowError::Internal(e.into())
    }
}

impl From<cus_cache::CacheError> for FlowError {
    fn from(e: cus_cache::CacheError) -> Self {
        FlowError::Internal(e.into())
    }
}

/// A new CUS, typed twice, under the CUS policy (`cus_core::policy::check_cus`, with the
/// blocklist): the normalised CUS to hash, or the message and the field it goes beside —
/// `field`, where the CUS was typed, or `cus_repetida` when the two differ. Every form that
/// sets a CUS goes through here.
pub fn new_cus(
    cus: &str,
    repeated: &str,
    rut: &Rut,
    email: &str,
    field: &'static str,
) -> Result<String, (&'static str, String)> {
    policy::check_cus(cus, repeated, rut, Some(email), policy::is_common).map_err(|e| {
        let beside = match e {
            CusPolicyError::Mismatch => "cus_repetida",
            CusPolicyError::TooShort
            | CusPolicyError::TooLong
            | CusPolicyError::ContainsRut
            | CusPolicyError::ContainsEmail
            | CusPolicyError::Common => field,
        };
        (beside, e.to_string())
    })
}

/// A registration form's new CUS, judged beside what its `validate` made of the rest of
/// the form (`validated`, with its problems in `errors`): both, or every problem beside its
/// field. The CUS is checked by [`new_cus`] once the RUT and the e-mail it must not contain
/// are readable (while they are not, their own errors tell).
pub fn with_new_cus<T>(
    validated: Option<T>,
    mut errors: FieldErrors,
    rut: &str,
    contact: &cus_core::contact_form::ContactInput,
    (cus, repeated): (&str, &str),
) -> Result<(T, String), FlowError> {
    let cus = match (
        Rut::parse(rut),
        cus_core::contact::Email::parse(&contact.email),
    ) {
        (Ok(rut), Ok(email)) => new_cus(cus, repeated, &rut, email.as_str(), "cus")
            .map_err(|(field, message)| errors.insert(field, message))
            .ok(),
        _ => None,
    };
    match (validated, cus) {
        (Some(validated), Some(cus)) if errors.is_empty() => Ok((validated, cus)),
        _ => Err(FlowError::Invalid(errors)),
    }
}

/// One field error.
pub fn invalid(field: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::Invalid(BTreeMap::from([(field, message.into())]))
}
