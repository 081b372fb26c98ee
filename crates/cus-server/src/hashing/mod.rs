//! argon2id for CUS, secret answers and client secrets: PHC strings that carry their
//! parameters, computed off the async runtime behind a bounded semaphore. The one place a
//! stored hash is verified, imported legacy formats included (`legacy`).

pub mod legacy;

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{PasswordHasher, PasswordVerifier};
use legacy::Scheme;
use tokio::sync::Semaphore;

use crate::config::Hash as HashConfig;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of nothing anyone knows: verified against when a RUT is unknown, so an
    /// unknown RUT takes as long as a wrong CUS.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new(config: &HashConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid hash parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = argon
            .hash_password(crate::secrets::random_token().as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub async fn hash(&self, secret: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let argon = self.argon();
        let secret = secret.to_owned();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let hashed = argon
                .hash_password(secret.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("cannot hash: {e}"));
            timed(started);
            hashed
        })
        .await?
    }

    /// Whether a stored hash was made with other parameters than the configured ones (or
    /// another algorithm): it is rehashed at the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let mut parts = phc.split('$');
        let (Some(""), Some(alg), Some(_version), Some(params)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return true;
        };
        let wanted = format!(
            "m={},t={},p={}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        );
        alg != "argon2id" || params != wanted
    }

    /// `true` when `secret` matches `stored`, in any format [`legacy::Scheme`] knows.
    /// `None`, an empty hash (an account imported without a CUS) and a format CUS does not
    /// know verify against the dummy hash and return `false`, taking the time of a wrong
    /// CUS.
    ///
    /// A hash of another family costs what its own parameters say — a cheap bcrypt far
    /// less than argon2id — so it is followed by a check against the dummy argon2id hash:
    /// a RUT whose imported hash was not replaced yet never answers faster than any other,
    /// and the response time does not single out imported accounts.
    pub async fn verify(&self, secret: &str, stored: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let scheme = stored.and_then(Scheme::of);
        let hash = match (scheme, stored) {
            (Some(_), Some(stored)) => stored.to_owned(),
            _ => self.dummy.as_ref().clone(),
        };
        let dummy = Arc::clone(&self.dummy);
        let secret = secret.to_owned();
        let argon = self.argon();
        let matched = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let matched = legacy::verify(&argon, secret.as_bytes(), &hash);
            timed(started);
            if scheme.is_some_and(|s| s != Scheme::Argon2id) {
                let _ = argon.verify_password(secret.as_bytes(), dummy.as_str());
            }
            matched
        })
        .await
        .unwrap_or(false);
        scheme.is_some() && matched
    }
}

/// Records one argon2id computation (the figure to size `hashing.max_concurrent` by).
fn timed(started: std::time::Instant) {
    let seconds = started.elapsed().as_secs_f64();
    metrics::histogram!(crate::metrics::ARGON2_SECONDS).record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_carry_their_parameters_and_older_ones_need_rehashing() {
        let config = |m, t| HashConfig {
            memory_kib: m,
            iterations: t,
            parallelism: 1,
            max_concurrent: 2,
        };
        let old = Hasher::new(&config(1024, 1)).expect("hasher");
        let new = Hasher::new(&config(2048, 2)).expect("hasher");
        let phc = old.hash("una clave").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(!old.needs_rehash(&phc));
        assert!(new.needs_rehash(&phc));
        assert!(
            new.verify("una clave", Some(&phc)).await,
            "old hashes still verify"
        );
        assert!(new.needs_rehash("$argon2i$v=19$m=2048,t=2,p=1$c2FsdA$aGFzaA"));
    }

    #[tokio::test]
    async fn legacy_and_empty_hashes() {
        let hasher = Hasher::new(&HashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        })
        .expect("hasher");
        let bcrypt = bcrypt::hash("una clave", 4).expect("hash");
        assert!(hasher.verify("una clave", Some(&bcrypt)).await);
        assert!(hasher.needs_rehash(&bcrypt));
        assert!(!hasher.verify("otra clave", Some(&bcrypt)).await);
        assert!(
            !hasher.verify("", Some("")).await,
            "an empty hash matches nothing"
        );
        assert!(!hasher.verify("x", Some("$md5$x")).await);
    }

    /// A cheap legacy hash (bcrypt at cost 4 takes about a millisecond) is not checked
    /// faster than an argon2id one: the dummy argon2id check follows it. Measured as a
    /// ratio with a wide margin, so a loaded machine slows both alike.
    #[tokio::test]
    async fn a_cheap_legacy_hash_takes_as_long_as_argon2id() {
        let hasher = Hasher::new(&HashConfig {
            memory_kib: 16 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 1,
        })
        .expect("hasher");
        let argon = hasher.hash("clave").await.expect("hash");
        let bcrypt = bcrypt::hash("clave", 4).expect("hash");
        let time = |hash: String| {
            let hasher = hasher.clone();
            async move {
                let started = std::time::Instant::now();
                for _ in 0..3 {
                    hasher.verify("otra", Some(&hash)).await;
                }
                started.elapsed()
            }
        };
        let (argon, legacy) = (time(argon).await, time(bcrypt).await);
        assert!(
            legacy * 2 > argon,
            "bcrypt {legacy:?} against argon2id {argon:?}"
        );
    }
}
