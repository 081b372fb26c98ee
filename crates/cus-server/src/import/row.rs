//! One row of an import file to an account, by the rules of registration
//! (`lifecycle::natural::validate`, `lifecycle::juridica::validate`: no second copy of
//! them here) and the hash formats CUS verifies (`hashing::legacy`). What is the import's
//! own: the comuna by CUT code or name, the question by number or text, the hashes, and
//! `email_verificado`.

use cus_core::contact::SECRET_QUESTIONS;
use cus_core::contact_form::{ContactInput, FieldErrors};
use cus_core::{Account, AccountId, Catalogue, TipoPersona};
use time::OffsetDateTime;

use super::columns::Columns;
use crate::hashing::legacy;
use crate::lifecycle::juridica::{self, JuridicaInput};
use crate::lifecycle::natural::{self, RegistrationInput};

/// The secret answer of a row.
#[derive(Debug)]
pub enum Answer {
    /// Typed in the previous system and exported in the clear (normalised): hashed with
    /// argon2id at import.
    Plain(String),
    /// Exported hashed, kept as it is.
    Hashed(String),
}

/// A row that passed every rule.
#[derive(Debug)]
pub struct Valid {
    pub account: Account,
    /// As exported: a format [`legacy::Scheme`] knows, or empty (no usable CUS: the person
    /// uses "Genere nueva CUS").
    pub cus_hash: String,
    pub answer: Answer,
}

/// Reads one row; every problem, as `field: reason`, when it is not valid.
pub fn validate(
    columns: &Columns,
    record: &csv::StringRecord,
    id: AccountId,
    now: OffsetDateTime,
) -> Result<Valid, String> {
    let get = |column| columns.get(record, column);
    let mut errors = FieldErrors::new();
    let cus_hash = get("cus_hash").trim();
    if !cus_hash.is_empty()
        && let Err(e) = legacy::check_imported(cus_hash)
    {
        errors.insert("cus_hash", e.to_owned());
    }
    let respuesta_hash = get("respuesta_hash").trim();
    if !respuesta_hash.is_empty() {
        if !get("respuesta").trim().is_empty() {
            errors.insert(
                "respuesta_hash",
                "dé respuesta o respuesta_hash, no ambas".to_owned(),
            );
        } else if let Err(e) = legacy::check_imported(respuesta_hash) {
            errors.insert("respuesta_hash", e.to_owned());
        }
    }
    let email_verified = match get("email_verificado").trim() {
        "" | "false" => false,
        "true" => true,
        _ => {
            errors.insert("email_verificado", "use true o false".to_owned());
            false
        }
    };
    let comuna = Catalogue::chile().comuna_by_code_or_name(get("comuna"));
    let tipo = TipoPersona::parse(get("tipo").trim());
    let celular = match tipo {
        // A company's mobile is its representative's (the registration form has one).
        Some(TipoPersona::Juridica) => match (get("celular").trim(), get("rep_celular").trim()) {
            (own, "") => own,
            ("", rep) => rep,
            (own, rep) if own == rep => own,
            _ => {
                errors.insert(
                    "rep_celular",
                    "celular y rep_celular difieren: una empresa tiene un celular, el de su \
                     representante"
                        .to_owned(),
                );
                ""
            }
        },
        _ => get("celular").trim(),
    };
    let contact = ContactInput {
        pregunta: question(get("pregunta")),
        respuesta: get("respuesta").to_owned(),
        calle: get("calle").to_owned(),
        numero: get("numero").to_owned(),
        block: get("block").to_owned(),
        departamento: get("departamento").to_owned(),
        // The región follows from the comuna: a file names only the comuna.
        region: comuna
            .map(|c| c.codigo_region.to_string())
            .unwrap_or_default(),
        comuna: comuna.map(|c| c.codigo.to_string()).unwrap_or_default(),
        email: get("email").to_owned(),
        telefono_particular: get("telefono_particular").to_owned(),
        telefono_trabajo: get("telefono_trabajo").to_owned(),
        celular: celular.to_owned(),
        sin_celular: celular.is_empty(),
    };
    let answer_required = respuesta_hash.is_empty();
    let person = match tipo {
        Some(TipoPersona::Natural) => natural::validate(
            &RegistrationInput {
                rut: get("rut").to_owned(),
                nombres: get("nombres").to_owned(),
                apellido_paterno: get("apellido_paterno").to_owned(),
                apellido_materno: get("apellido_materno").to_owned(),
                contact,
                ..RegistrationInput::default()
            },
            answer_required,
            id,
            now,
            &mut errors,
        ),
        Some(TipoPersona::Juridica) => juridica::validate(
            &JuridicaInput {
                rut: get("rut").to_owned(),
                razon_social: get("razon_social").to_owned(),
                giro: get("giro").to_owned(),
                contact,
                rep_rut: get("rep_rut").to_owned(),
                rep_nombres: get("rep_nombres").to_owned(),
                rep_apellidos: get("rep_apellidos").to_owned(),
                rep_email: get("rep_email").to_owned(),
                ..JuridicaInput::default()
            },
            answer_required,
            id,
            now,
            &mut errors,
        ),
        None => {
            errors.insert("tipo", "use natural o juridica".to_owned());
            None
        }
    };
    if comuna.is_none() && tipo.is_some() {
        errors.remove("region");
        let typed = get("comuna").trim();
        errors.insert(
            "comuna",
            if typed.is_empty() {
                "falta la comuna".to_owned()
            } else {
                format!("no hay una comuna «{typed}»: use su código CUT o su nombre")
            },
        );
    }
    match person {
        Some((mut account, answer)) if errors.is_empty() => {
            account.email_verified = email_verified;
            let answer = match answer {
                Some(plain) => Answer::Plain(plain),
                None => Answer::Hashed(respuesta_hash.to_owned()),
            };
            Ok(Valid {
                account,
                cus_hash: cus_hash.to_owned(),
                answer,
            })
        }
        _ => Err(errors
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// The question as the registration form sends it, its number: a file may give the number
/// or the question's text.
fn question(text: &str) -> String {
    let text = text.trim();
    SECRET_QUESTIONS
        .iter()
        .position(|q| *q == text)
        .map_or_else(|| text.to_owned(), |i| i.to_string())
}
