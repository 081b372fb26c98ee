//! The contact part of the registration and update forms (persona natural and jurídica):
//! parsed from what was typed into a `Contact`, or into Spanish messages beside each field.
//! Pure, so the `web_forms` fuzz target drives this very code.

use std::collections::BTreeMap;

use crate::account::Address;
use crate::contact;
use crate::forms::LifecycleForm;
use crate::territory::Catalogue;

/// Spanish messages beside each form field, by field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// The contact part of the registration and update forms, as typed.
#[derive(Debug, Default, Clone)]
pub struct ContactInput {
    pub pregunta: String,
    pub respuesta: String,
    pub calle: String,
    pub numero: String,
    pub block: String,
    pub departamento: String,
    pub region: String,
    pub comuna: String,
    pub email: String,
    pub telefono_particular: String,
    pub telefono_trabajo: String,
    pub celular: String,
    pub sin_celular: bool,
}

/// The contact data, validated.
pub struct Contact {
    pub question: i16,
    /// Normalised answer; `None` when an update leaves it unchanged.
    pub answer: Option<String>,
    pub address: Address,
    pub email: contact::Email,
    pub telefono_particular: Option<String>,
    pub telefono_trabajo: Option<String>,
    pub celular: Option<String>,
}

pub fn required<'a>(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &'a str,
    message: &str,
    max: usize,
) -> &'a str {
    let value = value.trim();
    if value.is_empty() {
        errors.insert(field, message.to_owned());
    } else if value.chars().count() > max {
        errors.insert(field, format!("Use como máximo {max} caracteres."));
    }
    value
}

pub fn optional(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    max: usize,
) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > max {
        errors.insert(field, format!("Use como máximo {max} caracteres."));
    }
    (!value.is_empty()).then(|| value.to_owned())
}

/// Validates the contact fields; `answer_required` is false on updates (blank = keep).
pub fn parse(
    input: &ContactInput,
    answer_required: bool,
    errors: &mut FieldErrors,
) -> Option<Contact> {
    let question = input
        .pregunta
        .trim()
        .parse::<i16>()
        .ok()
        .filter(|q| contact::secret_question(*q).is_some());
    if question.is_none() {
        errors.insert("pregunta", "Seleccione una pregunta secreta.".into());
    }
    let answer = contact::normalize_answer(&input.respuesta);
    if answer_required && answer.is_empty() {
        errors.insert(
            "respuesta",
            "Ingrese la respuesta a su pregunta secreta.".into(),
        );
    } else if !answer.is_empty() && answer.chars().count() < 2 {
        errors.insert(
            "respuesta",
            "La respuesta debe tener al menos 2 caracteres.".into(),
        );
    } else if answer.chars().count() > 100 {
        errors.insert("respuesta", "Use como máximo 100 caracteres.".into());
    }
    let calle = required(
        errors,
        "calle",
        &input.calle,
        "Ingrese su dirección particular (pasaje o calle).",
        120,
    )
    .to_owned();
    let numero = required(
        errors,
        "numero",
        &input.numero,
        "Ingrese el número de su dirección.",
        20,
    )
    .to_owned();
    let block = optional(errors, "block", &input.block, 20);
    let departamento = optional(errors, "departamento", &input.departamento, 20);
    let catalogue = Catalogue::chile();
    let region = input
        .region
        .trim()
        .parse::<u16>()
        .ok()
        .and_then(|r| catalogue.region(r));
    if region.is_none() {
        errors.insert("region", "Seleccione su región.".into());
    }
    let comuna = input
        .comuna
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|c| catalogue.comuna(c));
    match (region, comuna) {
        (_, None) => {
            errors.insert("comuna", "Seleccione su comuna.".into());
        }
        (Some(r), Some(c)) if c.codigo_region != r.codigo => {
            errors.insert(
                "comuna",
                format!(
                    "La comuna {} no pertenece a la región seleccionada.",
                    c.nombre
                ),
            );
        }
        _ => {}
    }
    let email = contact::Email::parse(&input.email)
        .map_err(|e| errors.insert("email", e.to_string()))
        .ok();
    let telefono_particular = contact::parse_phone(&input.telefono_particular)
        .map_err(|e| errors.insert("telefono_particular", e.into()))
        .ok()
        .flatten();
    let telefono_trabajo = contact::parse_phone(&input.telefono_trabajo)
        .map_err(|e| errors.insert("telefono_trabajo", e.into()))
        .ok()
        .flatten();
    let celular = if input.sin_celular {
        None
    } else {
        contact::parse_celular(&input.celular)
            .map_err(|e| errors.insert("celular", e.into()))
            .ok()
    };
    if !errors.is_empty() {
        return None;
    }
    Some(Contact {
        question: question?,
        answer: (!answer.is_empty()).then_some(answer),
        address: Address {
            calle,
            numero,
            block,
            departamento,
            codigo_comuna: comuna?.codigo,
        },
        email: email?,
        telefono_particular,
        telefono_trabajo,
        celular,
    })
}

/// The contact part of a lifecycle form as it was posted.
impl From<&LifecycleForm> for ContactInput {
    fn from(form: &LifecycleForm) -> Self {
        Self {
            pregunta: form.pregunta.clone(),
            respuesta: form.respuesta.clone(),
            calle: form.calle.clone(),
            numero: form.numero.clone(),
            block: form.block.clone(),
            departamento: form.departamento.clone(),
            region: form.region.clone(),
            comuna: form.comuna.clone(),
            email: form.email.clone(),
            telefono_particular: form.telefono_particular.clone(),
            telefono_trabajo: form.telefono_trabajo.clone(),
            celular: form.celular.clone(),
            sin_celular: !form.sin_celular.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> ContactInput {
        ContactInput {
            pregunta: "2".into(),
            respuesta: " Escuela  República ".into(),
            calle: "Avenida Matta".into(),
            numero: "455".into(),
            region: "13".into(),
            comuna: "13101".into(),
            email: "juan.perez@gmail.com".into(),
            celular: "8765 4321".into(),
            ..ContactInput::default()
        }
    }

    #[test]
    fn a_complete_form_parses_to_its_contact() {
        let mut errors = FieldErrors::new();
        let contact = parse(&typed(), true, &mut errors).expect("parses");
        assert!(errors.is_empty());
        assert_eq!(contact.address.codigo_comuna, 13101);
        assert_eq!(contact.celular.as_deref(), Some("+56987654321"));
        assert_eq!(contact.answer.as_deref(), Some("escuela republica"));
    }

    #[test]
    fn every_problem_is_told_beside_its_field() {
        let input = ContactInput {
            comuna: "8101".into(), // Concepción, not in the Región Metropolitana
            email: "no es un correo".into(),
            respuesta: String::new(),
            sin_celular: true,
            celular: "123".into(),
            ..typed()
        };
        let mut errors = FieldErrors::new();
        assert!(parse(&input, true, &mut errors).is_none());
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["comuna", "email", "respuesta"],
            "a mobile is not checked when there is none"
        );
        assert!(errors["comuna"].contains("no pertenece a la región"));
    }
}
