//! Contact data as people type it on the forms: e-mail, the "+56 9" mobile, phones, the
//! secret questions and answers; and how they are shown back masked.

use serde::Serialize;
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

/// An e-mail address as typed on a form or given to the CLI, checked once where it comes
/// in: one `@`, a local part, a dotted domain, no spaces, at most 254 bytes (RFC 5321
/// §4.5.3.1.3), without the spaces around it. Code that holds an `Email` need not check
/// it again. Stored as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why a text is not an [`Email`]; the Spanish text is shown beside the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Ingrese su correo electrónico.")]
    Empty,
    #[error("El correo electrónico no es válido (ejemplo: nombre@gmail.com).")]
    Invalid,
}

impl Email {
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let email = text.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
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
            Ok(Self(email.to_owned()))
        } else {
            Err(EmailError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Accounts keep the address as text (what the database holds), so an `Email` becomes
/// that text when it is stored.
impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

/// An address compares with the stored one as it is: both are the trimmed text.
impl PartialEq<String> for Email {
    fn eq(&self, text: &String) -> bool {
        self.0 == *text
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
    use proptest::prelude::*;

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
        assert_eq!(
            Email::parse(" maria@gmail.com ").map(String::from),
            Ok("maria@gmail.com".into())
        );
        assert_eq!(Email::parse("  "), Err(EmailError::Empty));
        for bad in [
            "maria",
            "maria@",
            "@gmail.com",
            "maria@gmail",
            "maria@.gmail.com",
            "maria@gmail.com.",
            "maria@x@gmail.com",
            "ma ria@gmail.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
        let long = format!("{}@gmail.com", "a".repeat(245));
        assert_eq!(Email::parse(&long), Err(EmailError::Invalid));
        assert!(Email::parse(&long[1..]).is_ok(), "254 bytes is the limit");
        assert_eq!(mask_email("juan@gmail.com"), "j***@gmail.com");
        assert_eq!(mask_celular("+56912345678"), "+56 9 ****5678");
    }

    proptest! {
        /// What `parse` accepts is already in its normal form: parsing it again gives the
        /// same address, so storing and re-reading an address never changes it.
        #[test]
        fn an_accepted_address_parses_to_itself(
            text in prop_oneof![
                "[ \t]{0,2}[a-z0-9._+-]{1,12}@[a-z0-9-]{1,8}[.][a-z]{2,4}[ \t]{0,2}",
                "[ \t]{0,2}[a-zA-Z0-9._%+@ -]{1,20}@?[a-z0-9.@-]{0,20}[ \t]{0,2}",
            ]
        ) {
            if let Ok(email) = Email::parse(&text) {
                prop_assert_eq!(email.as_str(), text.trim());
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                let (local, domain) = email.as_str().split_once('@').expect("one @");
                prop_assert!(!local.is_empty() && domain.contains('.') && !domain.contains('@'));
            }
        }

        /// Anything at all is an address or a message, never a panic (the forms take
        /// whatever is posted).
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = Email::parse(&text);
        }
    }
}
