//! The Chilean RUT/RUN (Rol Único Tributario / Nacional): parsing, the modulo-11 check
//! digit, and its display forms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest body accepted: nine digits.
const MAX_BODY: u32 = 999_999_999;

/// A RUT whose check digit has been verified. Identifies a persona natural (RUN) or a
/// persona jurídica alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rut {
    body: u32,
    dv: char,
}

/// Why a text is not a RUT. The messages are shown beside form fields, so they are Spanish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RutError {
    #[error("Ingrese su RUT.")]
    Empty,
    #[error("El RUT solo puede contener números, puntos, un guion y el dígito verificador.")]
    InvalidCharacters,
    #[error("El RUT tiene demasiados dígitos.")]
    TooLong,
    #[error("El RUT no puede ser cero.")]
    Zero,
    #[error("El dígito verificador del RUT no es correcto.")]
    WrongCheckDigit,
}

impl Rut {
    /// Builds a RUT from its body, computing the check digit.
    pub fn from_body(body: u32) -> Result<Self, RutError> {
        match body {
            0 => Err(RutError::Zero),
            b if b > MAX_BODY => Err(RutError::TooLong),
            b => Ok(Self {
                body: b,
                dv: check_digit(b),
            }),
        }
    }

    /// Parses `12.345.678-5`, `12345678-5`, `123456785`, `1-9`, with `k` or `K` and
    /// surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, RutError> {
        let input = input.trim();
        // A dash may only separate the body from the digit; dots only group the body.
        // (`i + 2`, not `len - 2`: a lone "-" must not underflow; found by fuzzing.)
        if input.matches('-').count() > 1 || input.rfind('-').is_some_and(|i| i + 2 != input.len())
        {
            return Err(RutError::InvalidCharacters);
        }
        let compact: String = input.chars().filter(|c| !matches!(c, '.' | '-')).collect();
        let mut chars = compact.chars();
        let Some(dv) = chars.next_back() else {
            return Err(RutError::Empty);
        };
        let body_text = chars.as_str();
        if body_text.is_empty() {
            return Err(RutError::Empty);
        }
        if !body_text.chars().all(|c| c.is_ascii_digit()) {
            return Err(RutError::InvalidCharacters);
        }
        let dv = dv.to_ascii_uppercase();
        if !(dv.is_ascii_digit() || dv == 'K') {
            return Err(RutError::InvalidCharacters);
        }
        let significant = body_text.trim_start_matches('0');
        if significant.len() > 9 {
            return Err(RutError::TooLong);
        }
        let body: u32 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| RutError::TooLong)?
        };
        let rut = Self::from_body(body)?;
        if rut.dv != dv {
            return Err(RutError::WrongCheckDigit);
        }
        Ok(rut)
    }

    /// The number without its check digit.
    pub fn body(&self) -> u32 {
        self.body
    }

    /// The check digit, `0`–`9` or `K`.
    pub fn dv(&self) -> char {
        self.dv
    }

    /// `12345678-5`: the form stored and sent in claims.
    pub fn compact(&self) -> String {
        format!("{}-{}", self.body, self.dv)
    }
}

/// The modulo-11 check digit of a RUT body.
pub fn check_digit(body: u32) -> char {
    let mut sum = 0u32;
    let mut factor = 2;
    let mut rest = body;
    while rest > 0 {
        sum += (rest % 10) * factor;
        rest /= 10;
        factor = if factor == 7 { 2 } else { factor + 1 };
    }
    match 11 - (sum % 11) {
        11 => '0',
        10 => 'K',
        d => char::from_digit(d, 10).unwrap_or('0'),
    }
}

/// `12.345.678-5`.
impl fmt::Display for Rut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.body.to_string();
        let mut grouped = String::with_capacity(digits.len() + 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(c);
        }
        write!(f, "{grouped}-{}", self.dv)
    }
}

impl FromStr for Rut {
    type Err = RutError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Rut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.compact())
    }
}

impl<'de> Deserialize<'de> for Rut {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_accepted_spelling() {
        for input in ["12.345.678-5", "12345678-5", "123456785", " 12345678-5 "] {
            let rut = Rut::parse(input).expect(input);
            assert_eq!(rut.body(), 12_345_678);
            assert_eq!(rut.dv(), '5');
        }
        assert_eq!(Rut::parse("1-9").map(|r| r.to_string()), Ok("1-9".into()));
        // 6.000.000 + …: a body whose digit is K, in both cases.
        let with_k = (1..100_000)
            .find(|b| check_digit(*b) == 'K')
            .expect("some body has K");
        assert!(Rut::parse(&format!("{with_k}-k")).is_ok());
        assert!(Rut::parse(&format!("{with_k}-K")).is_ok());
    }

    #[test]
    fn rejects_bad_input_with_the_reason() {
        assert_eq!(Rut::parse("12.345.678-4"), Err(RutError::WrongCheckDigit));
        assert_eq!(Rut::parse(""), Err(RutError::Empty));
        assert_eq!(Rut::parse("   "), Err(RutError::Empty));
        assert_eq!(Rut::parse("-5"), Err(RutError::Empty));
        assert_eq!(Rut::parse("5"), Err(RutError::Empty));
        assert_eq!(Rut::parse("12a45678-5"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("12345678-X"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("1-2-3"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("1234567890-1"), Err(RutError::TooLong));
        assert_eq!(Rut::parse("0-0"), Err(RutError::Zero));
        // Found by fuzzing: a lone dash once underflowed the position check.
        assert_eq!(Rut::parse("-"), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse(" - "), Err(RutError::InvalidCharacters));
        assert_eq!(Rut::parse("5-"), Err(RutError::InvalidCharacters));
    }

    #[test]
    fn displays_canonically() {
        let rut = Rut::parse("123456785").expect("valid");
        assert_eq!(rut.to_string(), "12.345.678-5");
        assert_eq!(rut.compact(), "12345678-5");
        assert_eq!(
            serde_json::to_string(&rut).expect("serialises"),
            "\"12345678-5\""
        );
    }

    proptest! {
        #[test]
        fn any_body_with_its_digit_round_trips(body in 1u32..=MAX_BODY) {
            let text = format!("{body}-{}", check_digit(body));
            let rut = Rut::parse(&text).expect("computed digit is valid");
            prop_assert_eq!(rut.body(), body);
            prop_assert_eq!(Rut::parse(&rut.to_string()), Ok(rut));
            prop_assert_eq!(Rut::parse(&rut.compact()), Ok(rut));
        }

        #[test]
        fn any_other_digit_is_rejected(body in 1u32..=MAX_BODY, dv in "[0-9K]") {
            let dv = dv.chars().next().expect("one char");
            prop_assume!(dv != check_digit(body));
            prop_assert_eq!(Rut::parse(&format!("{body}-{dv}")), Err(RutError::WrongCheckDigit));
        }
    }
}
