//! argon2id for CUS and secret answers: PHC strings that carry their parameters, computed
//! on a dedicated bounded pool (`pool`) that refuses at once when saturated ([`Busy`])
//! rather than letting latency grow without limit. The one place a stored hash is
//! verified, imported legacy formats included (`legacy`).

pub mod legacy;
mod memory;
mod pool;

use std::sync::Arc;

use argon2::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use legacy::Scheme;

use crate::config::Hash as HashConfig;
pub use pool::{Busy, is_busy};

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    pool: Arc<pool::Pool>,
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
        let workers = match config.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Ok(Self {
            params,
            pool: pool::Pool::new(workers, config.max_queue)?,
            dummy: Arc::new(dummy),
        })
    }

    /// Admits one request to hashing, or refuses it at once when the pool is saturated. A
    /// request that hashes more than once (a login: the CUS, then the generated one) takes
    /// one ticket first, so it is never refused halfway.
    pub fn admit(&self) -> Result<Ticket, Busy> {
        Ok(Ticket {
            ticket: self.pool.admit()?,
            hasher: self.clone(),
        })
    }

    /// Hashes `secret` under its own ticket: [`Busy`] (inside the error) when saturated.
    pub async fn hash(&self, secret: &str) -> anyhow::Result<String> {
        self.admit()?.hash(secret).await
    }

    /// [`Ticket::verify`] under its own ticket.
    pub async fn verify(&self, secret: &str, stored: Option<&str>) -> Result<bool, Busy> {
        Ok(self.admit()?.verify(secret, stored).await)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
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
}

/// A request admitted to hashing ([`Hasher::admit`]); its place is given back when dropped.
pub struct Ticket {
    ticket: pool::Ticket,
    hasher: Hasher,
}

impl Ticket {
    pub async fn hash(&self, secret: &str) -> anyhow::Result<String> {
        let argon = self.hasher.argon();
        let secret = secret.to_owned();
        let hashed = self.ticket.run(move || {
            let started = std::time::Instant::now();
            let hashed = memory::hash(&argon, secret.as_bytes());
            timed(started);
            hashed
        });
        hashed
            .await
            .unwrap_or_else(|| Err(anyhow::anyhow!("the hashing worker failed")))
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
        let scheme = stored.and_then(Scheme::of);
        let hash = match (scheme, stored) {
            (Some(_), Some(stored)) => stored.to_owned(),
            _ => self.hasher.dummy.as_ref().clone(),
        };
        let dummy = Arc::clone(&self.hasher.dummy);
        let secret = secret.to_owned();
        let argon = self.hasher.argon();
        let matched = self.ticket.run(move || {
            let started = std::time::Instant::now();
            let matched = legacy::verify(&argon, secret.as_bytes(), &hash);
            timed(started);
            if scheme.is_some_and(|s| s != Scheme::Argon2id) {
                let _ = memory::verify(
                    secret.as_bytes(),
                    dummy.as_str(),
                    argon.params().block_count(),
                );
            }
            matched
        });
        let matched = matched.await.unwrap_or(false);
        scheme.is_some() && matched
    }
}

/// Records one argon2id computation (the figure to size `hash.max_concurrent` and `hash.max_queue` by).
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
            max_queue: 8,
        };
        let old = Hasher::new(&config(1024, 1)).expect("hasher");
        let new = Hasher::new(&config(2048, 2)).expect("hasher");
        let phc = old.hash("una clave").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(!old.needs_rehash(&phc));
        assert!(new.needs_rehash(&phc));
        assert!(
            new.verify("una clave", Some(&phc)).await.expect("admitted"),
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
            max_queue: 8,
        })
        .expect("hasher");
        let bcrypt = bcrypt::hash("una clave", 4).expect("hash");
        assert!(
            hasher
                .verify("una clave", Some(&bcrypt))
                .await
                .expect("admitted")
        );
        assert!(hasher.needs_rehash(&bcrypt));
        assert!(
            !hasher
                .verify("otra clave", Some(&bcrypt))
                .await
                .expect("admitted")
        );
        assert!(
            !hasher.verify("", Some("")).await.expect("admitted"),
            "an empty hash matches nothing"
        );
        assert!(!hasher.verify("x", Some("$md5$x")).await.expect("admitted"));
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
            max_queue: 8,
        })
        .expect("hasher");
        let argon = hasher.hash("clave").await.expect("hash");
        let bcrypt = bcrypt::hash("clave", 4).expect("hash");
        let time = |hash: String| {
            let hasher = hasher.clone();
            async move {
                let started = std::time::Instant::now();
                for _ in 0..3 {
                    hasher.verify("otra", Some(&hash)).await.expect("admitted");
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

    /// `max_concurrent + max_queue` requests are admitted; the next is refused at once,
    /// and a place given back admits one again.
    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let hasher = Hasher::new(&HashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
            max_queue: 1,
        })
        .expect("hasher");
        let first = hasher.admit().expect("a worker is free");
        let second = hasher.admit().expect("the queue has room");
        assert!(hasher.admit().is_err(), "a third is refused");
        let refused = hasher.hash("clave").await.expect_err("refused");
        assert!(is_busy(&refused), "{refused:#}");
        assert!(matches!(hasher.verify("clave", None).await, Err(Busy)));
        let phc = first
            .hash("clave")
            .await
            .expect("an admitted request hashes");
        drop(first);
        assert!(second.verify("clave", Some(&phc)).await);
        assert!(hasher.admit().is_ok(), "a place was given back");
    }
}
