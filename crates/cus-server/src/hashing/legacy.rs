//! The hash formats CUS verifies: its own argon2id, and those an imported account may
//! still carry from the system it came from (`cus account import`). Each verification picks
//! the maintained crate of the hash's family by its prefix; a legacy hash is replaced by
//! argon2id at the person's first successful login (`lifecycle::credentials`).

use argon2::{Argon2, PasswordVerifier};
use pbkdf2::phc::PasswordHash;

/// A stored hash's family, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// CUS's own (at whatever parameters).
    Argon2id,
    Argon2i,
    /// `$pbkdf2-sha256$` and `$pbkdf2-sha512$`.
    Pbkdf2,
    Scrypt,
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
}

const PREFIXES: [(&str, Scheme); 8] = [
    ("$argon2id$", Scheme::Argon2id),
    ("$argon2i$", Scheme::Argon2i),
    ("$pbkdf2-sha256$", Scheme::Pbkdf2),
    ("$pbkdf2-sha512$", Scheme::Pbkdf2),
    ("$scrypt$", Scheme::Scrypt),
    ("$2a$", Scheme::Bcrypt),
    ("$2b$", Scheme::Bcrypt),
    ("$2y$", Scheme::Bcrypt),
];

impl Scheme {
    /// The family of `hash`; `None` for an empty hash (an account imported without a CUS)
    /// and for any format CUS does not verify.
    pub fn of(hash: &str) -> Option<Self> {
        PREFIXES
            .iter()
            .find(|(prefix, _)| hash.starts_with(prefix))
            .map(|(_, scheme)| *scheme)
    }
}

/// Whether an imported hash (a CUS or a secret answer) is one CUS can verify: a known
/// prefix and a well-formed string; the reason, in Spanish, when not.
pub fn check_imported(hash: &str) -> Result<Scheme, &'static str> {
    let scheme = Scheme::of(hash).ok_or(
        "formato de hash desconocido (se aceptan $argon2id$, $argon2i$, $pbkdf2-sha256$, \
         $pbkdf2-sha512$, $scrypt$, $2a$, $2b$ y $2y$)",
    )?;
    let well_formed = match scheme {
        Scheme::Bcrypt => hash.parse::<bcrypt::HashParts>().is_ok(),
        Scheme::Argon2id | Scheme::Argon2i | Scheme::Pbkdf2 | Scheme::Scrypt => {
            PasswordHash::new(hash).is_ok_and(|h| h.salt.is_some() && h.hash.is_some())
        }
    };
    if !well_formed {
        return Err("hash mal formado");
    }
    if !affordable(&Argon2::default(), hash) {
        return Err("hash con un costo mayor que el que CUS verifica (iteraciones o memoria)");
    }
    Ok(scheme)
}

/// The most a stored hash may ask of one verification, whatever its family: about a second
/// of one core and 256 MiB. A hash that states more (a typo, or a file made to stall every
/// login: a verification holds one of the `hash.max_concurrent` hashing threads) is refused at import
/// and never verified.
const MAX_MEMORY_KIB: u64 = 256 * 1024;
const MAX_PBKDF2_ROUNDS: u32 = 1_000_000;
const MAX_BCRYPT_COST: u32 = 14;
const MAX_ARGON2_PASSES: u32 = 10;
const MAX_LANES: u32 = 16;

/// Whether `hash` states a cost within the ceilings above (or within `own`'s parameters,
/// for CUS's own argon2id when an operator configured more). Unparsable costs are not
/// affordable.
fn affordable(own: &Argon2<'_>, hash: &str) -> bool {
    if let Ok(parts) = hash.parse::<bcrypt::HashParts>() {
        return parts.get_cost() <= MAX_BCRYPT_COST;
    }
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let param = |name: &str| phc.params.get_decimal(name);
    match Scheme::of(hash) {
        Some(Scheme::Argon2id | Scheme::Argon2i) => {
            let own = own.params();
            let (Some(m), Some(t), Some(p)) = (param("m"), param("t"), param("p")) else {
                return false;
            };
            u64::from(m) <= MAX_MEMORY_KIB.max(u64::from(own.m_cost()))
                && t <= MAX_ARGON2_PASSES.max(own.t_cost())
                && p <= MAX_LANES.max(own.p_cost())
        }
        Some(Scheme::Pbkdf2) => param("i").is_some_and(|i| i <= MAX_PBKDF2_ROUNDS),
        Some(Scheme::Scrypt) => {
            let (Some(ln), Some(r), Some(p)) = (param("ln"), param("r"), param("p")) else {
                return false;
            };
            // scrypt's memory: 128 · r · 2^ln bytes.
            let kib = (ln < 40).then(|| (1u64 << ln) * u64::from(r) / 8);
            kib.is_some_and(|kib| kib <= MAX_MEMORY_KIB) && p <= MAX_LANES
        }
        Some(Scheme::Bcrypt) | None => false,
    }
}

/// `true` when `secret` matches `hash`, by the crate of its family (blocking: run it off the
/// async runtime). Each crate compares in constant time.
pub fn verify(argon: &Argon2<'_>, secret: &[u8], hash: &str) -> bool {
    if !affordable(argon, hash) {
        return false;
    }
    let phc = || PasswordHash::new(hash).ok();
    match Scheme::of(hash) {
        Some(Scheme::Argon2id | Scheme::Argon2i) => {
            super::memory::verify(secret, hash, argon.params().block_count())
        }
        Some(Scheme::Pbkdf2) => phc().is_some_and(|h| {
            pbkdf2::Pbkdf2::default()
                .verify_password(secret, &h)
                .is_ok()
        }),
        Some(Scheme::Scrypt) => phc().is_some_and(|h| {
            scrypt::Scrypt::default()
                .verify_password(secret, &h)
                .is_ok()
        }),
        Some(Scheme::Bcrypt) => bcrypt::verify(secret, hash).unwrap_or(false),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_prefix_and_checked_for_shape() {
        assert_eq!(Scheme::of(""), None);
        assert_eq!(
            Scheme::of("$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
            None
        );
        assert_eq!(Scheme::of("$2y$04$abc"), Some(Scheme::Bcrypt));
        assert_eq!(
            Scheme::of("$pbkdf2-sha512$i=1$c2FsdA$aGFzaA"),
            Some(Scheme::Pbkdf2)
        );
        assert!(check_imported("$md5$abc").is_err());
        assert!(check_imported("$2b$04$short").is_err());
        assert!(check_imported("$scrypt$ln=4,r=8,p=1$").is_err());
        let bcrypt = bcrypt::hash("clave", 4).expect("hash");
        assert_eq!(check_imported(&bcrypt), Ok(Scheme::Bcrypt));
        assert!(verify(&Argon2::default(), b"clave", &bcrypt));
        assert!(!verify(&Argon2::default(), b"otra", &bcrypt));
    }

    /// A hash stating a ruinous cost is refused at import and never run at login.
    #[test]
    fn hashes_that_would_stall_a_login_are_refused_and_never_verified() {
        let salt = "c2FsdHNhbHRzYWx0";
        let digest = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        for ruinous in [
            format!("$pbkdf2-sha256$i=4000000000${salt}${digest}"),
            format!("$scrypt$ln=40,r=8,p=1${salt}${digest}"),
            format!("$scrypt$ln=20,r=8,p=1${salt}${digest}"),
            format!("$argon2id$v=19$m=4194304,t=2,p=1${salt}${digest}"),
            format!("$argon2i$v=19$m=19456,t=1000,p=1${salt}${digest}"),
            "$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234".to_owned(),
        ] {
            assert!(check_imported(&ruinous).is_err(), "{ruinous} was accepted");
            assert!(!affordable(&Argon2::default(), &ruinous), "{ruinous}");
        }
        for fair in [
            format!("$pbkdf2-sha256$i=600000${salt}${digest}"),
            format!("$scrypt$ln=17,r=8,p=1${salt}${digest}"),
            format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${digest}"),
        ] {
            assert!(affordable(&Argon2::default(), &fair), "{fair}");
        }
    }
}
