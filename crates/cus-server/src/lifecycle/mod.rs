//! The account lifecycle of the guide: Regístrese, Genere nueva CUS, Cambie su CUS,
//! Actualice sus datos, and e-mail verification. Services here; pages in
//! `http::lifecycle`.

pub mod captcha;
pub mod credentials;
pub mod juridica;
pub mod lockout;
pub mod messages;
pub mod natural;

use std::collections::BTreeMap;

pub use cus_core::contact_form::FieldErrors;

/// What can go wrong in a lifecycle flow, as the pages need to tell it.
#[derive(Debug)]
pub enum FlowError {
    /// Field-by-field problems: the form is shown again with them.
    Invalid(FieldErrors),
    /// A message for the whole form.
    Refused(String),
    /// The store or cache failed: logged, shown as "service unavailable".
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for FlowError {
    fn from(e: E) -> Self {
        FlowError::Internal(e.into())
    }
}

/// One field error.
pub fn invalid(field: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::Invalid(BTreeMap::from([(field, message.into())]))
}
