//! Persona jurídica registration: a company account, with its legal representative. The
//! other flows (generate, change, login) are the persona natural ones, keyed by the
//! company's RUT: a jurídica account is an account of another kind, not a parallel system.

use cus_core::contact::Email;
use cus_core::{Account, AccountId, Representante, Rut, TipoPersona};
use time::OffsetDateTime;
use uuid::Uuid;

use super::natural::{self, Sent};
use super::{FieldErrors, FlowError, messages};
use crate::app::AppState;
use crate::request::RequestMeta;
use cus_core::contact_form::{self, ContactInput};

/// The jurídica registration form as typed. `contact.email` is the company's,
/// `contact.telefono_particular` the company phone, `contact.celular` the representative's.
#[derive(Debug, Default, Clone)]
pub struct JuridicaInput {
    pub rut: String,
    pub razon_social: String,
    pub giro: String,
    pub contact: ContactInput,
    pub rep_rut: String,
    pub rep_nombres: String,
    pub rep_apellidos: String,
    pub rep_email: String,
    pub cus: String,
    pub cus_repetida: String,
}

pub async fn register(
    app: &AppState,
    input: &JuridicaInput,
    meta: &RequestMeta,
) -> Result<Sent, FlowError> {
    let mut errors = FieldErrors::new();
    let company = validate(
        input,
        true,
        AccountId(Uuid::now_v7()),
        meta.now,
        &mut errors,
    );
    let ((account, answer), cus) = super::with_new_cus(
        company,
        errors,
        &input.rut,
        &input.contact,
        (&input.cus, &input.cus_repetida),
    )?;
    let now = meta.now;
    let name = account.display_name();
    let extra = match &account.representante {
        Some(representante) if representante.email != account.email => {
            vec![messages::registered_as_representative(
                &representante.email,
                &representante.nombre(),
                &name,
                now,
            )]
        }
        _ => Vec::new(),
    };
    natural::save_registration(app, account, &cus, &answer.unwrap_or_default(), extra, meta).await
}

/// Everything the persona jurídica registration checks but the CUS, the one home of those
/// rules (the web form and `cus account import` both come here): the company account
/// `input` describes, made with `id` at `now`, and its normalised secret answer; `None` when
/// something is wrong, each problem in `errors` beside its field. `answer_required` is
/// false only where the answer comes already hashed (an import).
pub fn validate(
    input: &JuridicaInput,
    answer_required: bool,
    id: AccountId,
    now: OffsetDateTime,
    errors: &mut FieldErrors,
) -> Option<(Account, Option<String>)> {
    let rut = Rut::parse(&input.rut)
        .map_err(|e| errors.insert("rut", e.to_string()))
        .ok();
    let razon_social = contact_form::required(
        errors,
        "razon_social",
        &input.razon_social,
        "Ingrese la razón social.",
        150,
    )
    .to_owned();
    let giro = contact_form::optional(errors, "giro", &input.giro, 150);
    let contact = contact_form::parse(&input.contact, answer_required, errors);
    let rep_rut = Rut::parse(&input.rep_rut)
        .map_err(|e| errors.insert("rep_rut", e.to_string()))
        .ok();
    if rut.is_some() && rut == rep_rut {
        errors.insert(
            "rep_rut",
            "El RUT del representante debe ser el de una persona, no el de la empresa.".into(),
        );
    }
    let rep_nombres = contact_form::required(
        errors,
        "rep_nombres",
        &input.rep_nombres,
        "Ingrese los nombres del representante.",
        80,
    )
    .to_owned();
    let rep_apellidos = contact_form::required(
        errors,
        "rep_apellidos",
        &input.rep_apellidos,
        "Ingrese los apellidos del representante.",
        80,
    )
    .to_owned();
    let rep_email = Email::parse(&input.rep_email)
        .map_err(|e| errors.insert("rep_email", e.to_string()))
        .ok();
    let (Some(rut), Some(contact), Some(rep_rut), Some(rep_email), true) =
        (rut, contact, rep_rut, rep_email, errors.is_empty())
    else {
        return None;
    };
    let representante = Representante {
        rut: rep_rut,
        nombres: rep_nombres,
        apellidos: rep_apellidos,
        email: rep_email.into(),
        celular: contact.celular.clone(),
    };
    let account = Account {
        id,
        rut,
        tipo: TipoPersona::Juridica,
        nombres: razon_social.clone(),
        apellido_paterno: String::new(),
        apellido_materno: None,
        razon_social: Some(razon_social),
        giro,
        representante: Some(representante),
        email: contact.email.into(),
        email_verified: false,
        celular: contact.celular,
        telefono_particular: contact.telefono_particular,
        telefono_trabajo: None,
        address: Some(contact.address),
        secret_question: Some(contact.question),
        cus_must_change: false,
        created_at: now,
        updated_at: now,
        tokens_valid_after: now,
        disabled_at: None,
    };
    Some((account, contact.answer))
}
