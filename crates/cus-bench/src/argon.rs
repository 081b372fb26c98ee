//! The physical bound of logins: a login verifies one argon2id hash, so a node signs in at
//! most `cores / one hash's time` people a second. Measured in the same run, at the
//! parameters CUS is configured with (config/default.toml's [hash], under CUS_HASH__…),
//! with the argon2 crate as `crates/cus-server/examples/hash_cost.rs` does.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes averaged per measurement.
const ROUNDS: u32 = 8;

pub struct Bound {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub hash_time: Duration,
    pub cores: usize,
}

impl Bound {
    pub fn logins_per_second(&self) -> f64 {
        self.cores as f64 / self.hash_time.as_secs_f64()
    }
}

/// `[hash]` of `defaults`, each value overridden by its CUS_HASH__… variable.
fn parameters(defaults: &Path) -> anyhow::Result<(u32, u32, u32)> {
    let text = std::fs::read_to_string(defaults)
        .with_context(|| format!("reading {}", defaults.display()))?;
    let doc: toml::Table = toml::from_str(&text)?;
    let hash = doc
        .get("hash")
        .and_then(|h| h.as_table())
        .context("[hash] in the defaults")?;
    let value = |key: &str| -> anyhow::Result<u32> {
        if let Ok(v) = std::env::var(format!("CUS_HASH__{}", key.to_uppercase())) {
            return Ok(v.parse()?);
        }
        let v = hash
            .get(key)
            .and_then(toml::Value::as_integer)
            .with_context(|| format!("hash.{key}"))?;
        Ok(u32::try_from(v)?)
    };
    Ok((
        value("memory_kib")?,
        value("iterations")?,
        value("parallelism")?,
    ))
}

pub fn measure(defaults: &Path) -> anyhow::Result<Bound> {
    let (memory_kib, iterations, parallelism) = parameters(defaults)?;
    let params = Params::new(memory_kib, iterations, parallelism, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    let hash = |out: &mut [u8]| {
        argon
            .hash_password_into(b"una clave de ejemplo", &salt, out)
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    hash(&mut out)?;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        hash(&mut out)?;
    }
    Ok(Bound {
        memory_kib,
        iterations,
        parallelism,
        hash_time: started.elapsed() / ROUNDS,
        cores: std::thread::available_parallelism()?.get(),
    })
}
