//! Every web form POST body through the decoder its handler uses (`forms::web`), then
//! the pure checks the handlers run on what was typed: RUT, CUS policy, secret question
//! and answer, región/comuna, e-mail and phones. Nothing may panic.

use cus_core::contact_form::{self, ContactInput};
use cus_core::forms::{
    self, ConsentForm, EndOwnSessionForm, EndSessionParams, LifecycleForm, LoginForm, WithdrawForm,
};
use cus_core::{Catalogue, Rut, contact, policy};

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(input: (u8, &[u8])) {
    let (which, body) = input;
    match which % 5 {
        0 => {
            if let Ok(form) = forms::web::<LifecycleForm>(body) {
                lifecycle(&form);
            }
        }
        1 => {
            if let Ok(form) = forms::web::<LoginForm>(body) {
                let _ = form.rut.as_deref().map(Rut::parse);
            }
        }
        2 => {
            let _ = forms::web::<ConsentForm>(body);
        }
        3 => {
            let _ = forms::web::<WithdrawForm>(body);
            let _ = forms::web::<EndOwnSessionForm>(body);
        }
        _ => {
            let _ = forms::web::<EndSessionParams>(body);
        }
    }
}
fn lifecycle(form: &LifecycleForm) {
    let rut = Rut::parse(&form.rut);
    let _ = Rut::parse(&form.rep_rut);
    let email = contact::Email::parse(&form.email);
    let _ = contact::Email::parse(&form.rep_email);
    if let Ok(rut) = &rut {
        for (cus, repeated) in [
            (&form.cus, &form.cus_repetida),
            (&form.cus_nueva, &form.cus_repetida),
        ] {
            if let Ok(normalised) = policy::check_cus(
                cus,
                repeated,
                rut,
                email.as_ref().ok().map(contact::Email::as_str),
                policy::is_common,
            ) {
                let length = normalised.chars().count();
                assert!((policy::MIN_LEN..=policy::MAX_LEN).contains(&length));
            }
        }
    }
    let _ = form
        .pregunta
        .trim()
        .parse::<i16>()
        .ok()
        .and_then(contact::secret_question);
    let answer = contact::normalize_answer(&form.respuesta);
    assert_eq!(
        contact::normalize_answer(&answer),
        answer,
        "normalising twice changed it"
    );
    let _ = contact::parse_celular(&form.celular);
    let _ = contact::parse_phone(&form.telefono_particular);
    let _ = contact::parse_phone(&form.telefono_trabajo);
    // The very parser the registration and update flows call.
    for answer_required in [true, false] {
        let mut errors = contact_form::FieldErrors::new();
        let parsed = contact_form::parse(&ContactInput::from(form), answer_required, &mut errors);
        assert_eq!(
            parsed.is_some(),
            errors.is_empty(),
            "a result or its reasons"
        );
        if let Some(contact) = parsed {
            let comuna = Catalogue::chile()
                .comuna(contact.address.codigo_comuna)
                .expect("an accepted comuna exists");
            assert_eq!(
                form.region.trim().parse::<u16>().ok(),
                Some(comuna.codigo_region),
                "an accepted comuna lies in the chosen región"
            );
            assert!(contact::secret_question(contact.question).is_some());
        }
    }
}
