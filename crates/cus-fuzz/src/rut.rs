//! `Rut::parse` on any text: never panics, and whatever it accepts survives its own
//! display forms and carries the check digit modulo 11 gives its body.

use cus_core::Rut;
use cus_core::rut::check_digit;

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(text: &str) {
    let Ok(rut) = Rut::parse(text) else {
        return;
    };
    assert_eq!(rut.dv(), check_digit(rut.body()));
    assert_eq!(Rut::from_body(rut.body()), Ok(rut));
    assert_eq!(Rut::parse(&rut.to_string()), Ok(rut));
    assert_eq!(Rut::parse(&rut.compact()), Ok(rut));
}
