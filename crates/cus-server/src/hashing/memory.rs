//! argon2id over working memory each hashing thread keeps, instead of 19 MiB asked of the
//! allocator at every hash. The allocator kept those blocks after they were freed: a node
//! under a login burst grew to hundreds of MiB, and with threads per request to over a
//! GiB. With the memory kept here a node holds `hash.max_concurrent` × `hash.memory_kib`,
//! whatever the load (measured in docs/benchmarks.md).

use std::cell::RefCell;

use argon2::password_hash::generate_salt;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

thread_local! {
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` over `count` blocks: this thread's kept blocks up to `keep` of them (the
/// configured parameters' count), fresh ones for a larger hash (an imported one with a
/// greater cost), which go when it is done.
fn with_blocks<T>(count: usize, keep: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if count > keep {
        return f(&mut vec![Block::default(); count]);
    }
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        f(&mut blocks[..count])
    })
}

/// A new PHC string of `secret` under `argon`'s parameters, with a random salt.
pub fn hash(argon: &Argon2<'_>, secret: &[u8]) -> anyhow::Result<String> {
    let salt = generate_salt();
    let params = argon.params();
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    let count = params.block_count();
    with_blocks(count, count, |blocks| {
        argon.hash_password_into_with_memory(secret, &salt, &mut out, blocks)
    })
    .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("{e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `secret` matches an argon2 PHC string (argon2id, argon2i or argon2d, any
/// parameters it states), compared in constant time; `false` for a malformed one. `keep`
/// is the block count of the configured parameters.
pub fn verify(secret: &[u8], phc: &str, keep: usize) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = with_blocks(params.block_count(), keep, |blocks| {
        argon.hash_password_into_with_memory(secret, salt, &mut out, blocks)
    });
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher;

    use super::*;

    fn argon(m: u32, t: u32) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, t, 1, None).expect("params"),
        )
    }

    #[test]
    fn hashes_read_as_the_crates_own_and_verify_both_ways() {
        let ours = hash(&argon(1024, 1), b"una clave").expect("hash");
        assert!(ours.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{ours}");
        // The crate's own verifier accepts ours, and ours accepts the crate's.
        assert!(
            argon2::PasswordVerifier::verify_password(&argon(1024, 1), b"una clave", ours.as_str())
                .is_ok()
        );
        let theirs = argon(2048, 2)
            .hash_password(b"otra clave")
            .expect("hash")
            .to_string();
        assert!(
            verify(b"otra clave", &theirs, 1024),
            "a larger hash, fresh blocks"
        );
        assert!(verify(b"una clave", &ours, 1024), "kept blocks, reused");
        assert!(!verify(b"una clave!", &ours, 1024));
        assert!(!verify(
            b"una clave",
            "$argon2id$v=19$m=1024,t=1,p=1$x$y",
            1024
        ));
        assert!(!verify(b"una clave", "no es un hash", 1024));
    }
}
