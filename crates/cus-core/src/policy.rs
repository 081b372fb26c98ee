//! The CUS (password) policy, after NIST SP 800-63B §3.1.1.2: length, not the person's own
//! data, not a known common password. Any character is allowed; text is NFKC-normalised.

use unicode_normalization::UnicodeNormalization;

use crate::rut::Rut;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 64;

/// Which rule a proposed CUS breaks. Messages are Spanish: they are shown beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CusPolicyError {
    #[error("La Clave CUS debe tener al menos 8 caracteres.")]
    TooShort,
    #[error("La Clave CUS puede tener como máximo 64 caracteres.")]
    TooLong,
    #[error("Las dos Claves CUS ingresadas no coinciden.")]
    Mismatch,
    #[error("La Clave CUS no puede contener su RUT.")]
    ContainsRut,
    #[error("La Clave CUS no puede contener su correo electrónico.")]
    ContainsEmail,
    #[error("La Clave CUS es demasiado común; elija otra.")]
    Common,
}

const COMMON_PASSWORDS: &str = include_str!("../../../config/common-passwords.txt");

static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    });

/// Whether a lower-cased candidate is on the shipped list of common passwords.
pub fn is_common(lowercase: &str) -> bool {
    COMMON.contains(lowercase)
}

/// NFKC form of a secret, the form that is hashed.
pub fn normalize(secret: &str) -> String {
    secret.nfkc().collect()
}

/// Checks a proposed CUS and its repetition; returns the normalised CUS to hash.
/// `is_common` answers whether a (lower-cased) candidate is on the blocklist.
pub fn check_cus(
    cus: &str,
    repeated: &str,
    rut: &Rut,
    email: Option<&str>,
    is_common: impl Fn(&str) -> bool,
) -> Result<String, CusPolicyError> {
    let cus = normalize(cus);
    let length = cus.chars().count();
    if length < MIN_LEN {
        return Err(CusPolicyError::TooShort);
    }
    if length > MAX_LEN {
        return Err(CusPolicyError::TooLong);
    }
    if cus != normalize(repeated) {
        return Err(CusPolicyError::Mismatch);
    }
    let lower = cus.to_lowercase();
    if lower.contains(&rut.body().to_string()) {
        return Err(CusPolicyError::ContainsRut);
    }
    if let Some(local) = email.and_then(|e| e.split('@').next())
        && local.chars().count() >= 3
        && lower.contains(&local.to_lowercase())
    {
        return Err(CusPolicyError::ContainsEmail);
    }
    if is_common(&lower) {
        return Err(CusPolicyError::Common);
    }
    Ok(cus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rut() -> Rut {
        Rut::parse("12.345.678-5").expect("valid")
    }

    #[test]
    fn says_which_rule_failed() {
        let never = |_: &str| false;
        assert_eq!(
            check_cus("corta", "corta", &rut(), None, never),
            Err(CusPolicyError::TooShort)
        );
        let long = "x".repeat(65);
        assert_eq!(
            check_cus(&long, &long, &rut(), None, never),
            Err(CusPolicyError::TooLong)
        );
        assert_eq!(
            check_cus("caballo azul", "caballo rojo", &rut(), None, never),
            Err(CusPolicyError::Mismatch)
        );
        assert_eq!(
            check_cus("mi12345678!", "mi12345678!", &rut(), None, never),
            Err(CusPolicyError::ContainsRut)
        );
        assert_eq!(
            check_cus(
                "Juanito.Perez#1",
                "Juanito.Perez#1",
                &rut(),
                Some("juanito.perez@gmail.com"),
                never
            ),
            Err(CusPolicyError::ContainsEmail)
        );
        assert_eq!(
            check_cus("password1", "password1", &rut(), None, |c| c == "password1"),
            Err(CusPolicyError::Common)
        );
        assert_eq!(
            check_cus(
                "caballo azul de Ñuble",
                "caballo azul de Ñuble",
                &rut(),
                None,
                never
            ),
            Ok("caballo azul de Ñuble".to_owned())
        );
    }

    #[test]
    fn ships_a_large_common_password_list() {
        assert!(COMMON.len() >= 10_000);
        assert!(is_common("password1") && is_common("contraseña") && is_common("iloveyou"));
        assert_eq!(
            check_cus("Password1", "Password1", &rut(), None, is_common),
            Err(CusPolicyError::Common)
        );
    }

    #[test]
    fn normalises_compatibility_forms() {
        // Full-width letters are the same CUS as their ASCII forms.
        assert_eq!(normalize("ｃａｂａｌｌｏ"), "caballo");
    }
}
