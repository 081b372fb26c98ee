//! Contact data as people type it on the forms: e-mail, the "+56 9" mobile, phones, the
//! secret questions and answers; and how they are shown back masked.

use unicode_normalization::UnicodeNormalization;

/// The fixed list of secret questions (index = stored number).
pub const SECRET_QUESTIONS: [&str; 8] = [
    "¿Cuál es el nombre de su primera mascota?",
    "¿En qué ciudad nació su madre?",
    "¿Cuál es el nombre de su escuela básica?",
    "¿Cuál es el segundo nombre de su padre?",
    "¿Cuál fue su primer trabajo?",
    "¿Cuál es el nombre de su mejor amigo de la infancia?",
    "¿En qué calle vivía cuando tenía diez años?",
    "¿Cuál es su comida favorita de la infancia?",
];

pub fn secret_question(index: i16) -> Option<&'static str> {
    usize::try_from(index)
        .ok()
        .and_then(|i| SECRET_QUESTIONS.get(i))
        .copied()
}

/// A secret answer as it is hashed: trimmed, inner spaces collapsed, lower case, without
/// accents ("  Ñuñoa " and "ñunoa" are the same answer, as are "José" and "jose").
pub fn normalize_answer(answer: &str) -> String {
    let folded: String = answer
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A plausible e-mail address: one `@`, a local part, a dotted domain, no spaces.
pub fn parse_email(text: &str) -> Result<String, &'static str> {
    let email = text.trim();
    if email.is_empty() {
        return Err("Ingrese su correo electrónico.");
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err("El correo electrónico no es válido (ejemplo: nombre@gmail.com).")
    }
}

/// The 8 digits typed after "+56 9" → E.164 `+569XXXXXXXX`.
pub fn parse_celular(text: &str) -> Result<String, &'static str> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(format!("+569{digits}"))
    } else {
        Err("El celular debe tener 8 dígitos después de +56 9, o marque \"Sin celular\".")
    }
}

/// An optional landline or other phone: 9 digits (area code included), stored E.164.
pub fn parse_phone(text: &str) -> Result<Option<String>, &'static str> {
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits
        .strip_prefix("56")
        .filter(|_| digits.len() == 11)
        .unwrap_or(&digits)
        .to_owned();
    match digits.len() {
        0 if text.trim().is_empty() => Ok(None),
        9 => Ok(Some(format!("+56{digits}"))),
        _ => Err(
            "El teléfono debe tener 9 dígitos, incluido el código de área (ejemplo: 22 870 6100).",
        ),
    }
}

/// `maria.perez@gmail.com` → `m***@gmail.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// `+56912345678` → `+56 9 ****5678`.
pub fn mask_celular(celular: &str) -> String {
    let last: String = celular
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("+56 9 ****{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_ignore_case_accents_and_spacing() {
        assert_eq!(normalize_answer("  Ñuñoa   Alto "), "nunoa alto");
        assert_eq!(normalize_answer("JOSÉ"), normalize_answer("jose"));
    }

    #[test]
    fn contact_fields() {
        assert_eq!(parse_celular("1234 5678"), Ok("+56912345678".into()));
        assert!(parse_celular("1234567").is_err());
        assert_eq!(parse_phone(""), Ok(None));
        assert_eq!(parse_phone("22 870 6100"), Ok(Some("+56228706100".into())));
        assert_eq!(
            parse_phone("+56 2 2870 6100"),
            Ok(Some("+56228706100".into()))
        );
        assert!(parse_phone("123").is_err());
        assert!(parse_email("maria@gmail.com").is_ok());
        for bad in [
            "",
            "maria",
            "maria@",
            "@gmail.com",
            "maria@gmail",
            "ma ria@gmail.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert_eq!(mask_email("juan@gmail.com"), "j***@gmail.com");
        assert_eq!(mask_celular("+56912345678"), "+56 9 ****5678");
    }
}
