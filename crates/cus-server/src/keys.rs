//! Signing keys: generated on first start, sealed in the store, published in JWKS, rotated
//! with a publication lead time and pruned once every token they signed has expired.
//! Signing and verifying themselves are `cus-jose`'s.

use std::sync::{Arc, RwLock};

use cus_jose::{Key, KeySet};
use cus_store::{SigningKey, Store};
use josekit::jwk::Jwk;
use josekit::jws::JwsHeader;
use serde_json::Value;
use time::OffsetDateTime;

use crate::secrets::{Kek, MessageKey};

pub use cus_jose::{ALGORITHMS, VerifyError, half_hash};

/// Publishes when the newest key of each algorithm became active (a rotation that stopped
/// happening shows as a growing age).
fn record_ages(keys: &[SigningKey]) {
    for alg in ALGORITHMS {
        let newest = keys
            .iter()
            .filter(|k| k.alg == alg && k.retired_at.is_none())
            .map(|k| k.active_from)
            .max();
        if let Some(active_from) = newest {
            let at = active_from.unix_timestamp() as f64;
            metrics::gauge!(crate::metrics::SIGNING_KEY_ACTIVE_FROM, "alg" => alg).set(at);
        }
    }
}

/// The keys of this node, reloaded from the store so every node follows a rotation.
pub struct Keyring {
    store: Arc<dyn Store>,
    kek: Kek,
    keys: RwLock<Arc<KeySet>>,
    /// The keys the last reload could not open, so each is logged once, not every reload.
    unusable: RwLock<Vec<String>>,
}

impl Keyring {
    /// Loads the stored keys, generating one per algorithm on first start.
    pub async fn load(
        store: Arc<dyn Store>,
        kek: Kek,
        now: OffsetDateTime,
    ) -> anyhow::Result<Self> {
        let existing = store.keys().await?;
        for alg in ALGORITHMS {
            if !existing.iter().any(|k| k.alg == alg) {
                let key = generate(&kek, alg, now, now)?;
                match store.insert_key(&key).await {
                    // Another node generated it at the same moment: use theirs too.
                    Ok(()) | Err(cus_store::StoreError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(key.kid = %key.kid, key.alg = alg, "generated signing key");
            }
        }
        let keyring = Self {
            store,
            kek,
            keys: RwLock::new(Arc::new(KeySet::default())),
            unusable: RwLock::new(Vec::new()),
        };
        keyring.reload().await?;
        Ok(keyring)
    }

    /// Re-reads the keys from the store (after a rotation or a prune by any node). A key
    /// this node's KEK cannot open (sealed under another KEK, or damaged) is left out and
    /// logged, so one stray key does not stop a node; without a usable key of some
    /// algorithm the node could not sign with it, and that is an error.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let (mut loaded, mut algs, mut unusable) = (Vec::new(), Vec::new(), Vec::new());
        let stored = self.store.keys().await?;
        record_ages(&stored);
        for key in stored {
            match unseal(&self.kek, &key) {
                Ok(usable) => {
                    loaded.push(usable);
                    algs.push(key.alg);
                }
                Err(e) => {
                    if !self.unusable_read().contains(&key.kid) {
                        tracing::warn!(key.kid = %key.kid, key.alg = %key.alg, error = %format!("{e:#}"), "signing key left out: it cannot be opened");
                    }
                    unusable.push(key.kid);
                }
            }
        }
        let unopened = unusable.len();
        *self.unusable.write().unwrap_or_else(|p| p.into_inner()) = unusable;
        for alg in ALGORITHMS {
            if !algs.iter().any(|a| a == alg) {
                anyhow::bail!(
                    "no usable {alg} signing key: {unopened} stored key(s) cannot be opened with this keys.kek"
                );
            }
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(KeySet::new(loaded));
        Ok(())
    }

    fn unusable_read(&self) -> Vec<String> {
        self.unusable
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Signs `claims` with the newest active key of `alg`; `typ` goes in the header.
    pub fn sign(
        &self,
        alg: &str,
        typ: &str,
        claims: &Value,
        now: OffsetDateTime,
    ) -> anyhow::Result<String> {
        Ok(self.snapshot().sign(alg, typ, claims, now)?)
    }

    /// Verifies a compact JWS signed by one of our keys; returns its claims and header.
    pub fn verify(&self, token: &str) -> Result<(Value, JwsHeader), VerifyError> {
        self.snapshot().verify(token)
    }

    /// JWKS: every stored public key (upcoming, current and retired-but-not-pruned).
    pub fn jwks(&self) -> Value {
        self.snapshot().jwks()
    }
}

/// The usable key `key` is under `kek`, or why it is not (wrong KEK, damaged JWK).
fn unseal(kek: &Kek, key: &SigningKey) -> anyhow::Result<Key> {
    let private = Jwk::from_bytes(kek.open(&key.private_sealed)?)?;
    let public = Jwk::from_bytes(key.public_jwk.as_bytes())?;
    Ok(Key::from_jwks(
        &key.kid,
        &key.alg,
        key.active_from,
        &private,
        public,
    )?)
}

fn generate(
    kek: &Kek,
    alg: &str,
    now: OffsetDateTime,
    active_from: OffsetDateTime,
) -> anyhow::Result<SigningKey> {
    let kid = format!(
        "{}-{}",
        alg.to_lowercase(),
        &crate::secrets::random_token()[..16]
    );
    let (private, public) = cus_jose::generate(alg, &kid)?;
    Ok(SigningKey {
        kid,
        alg: alg.to_owned(),
        public_jwk: serde_json::to_string(&public)?,
        private_sealed: kek.seal(serde_json::to_string(&private)?.as_bytes())?,
        created_at: now,
        active_from,
        retired_at: None,
    })
}

/// `cus keys rotate`: a new key per algorithm, published now, signing after `lead`; the
/// previous keys are retired from that moment (they keep verifying until pruned).
pub async fn rotate(
    store: &dyn Store,
    kek: &Kek,
    now: OffsetDateTime,
    lead: time::Duration,
) -> anyhow::Result<Vec<String>> {
    let mut kids = Vec::new();
    for alg in ALGORITHMS {
        let key = generate(kek, alg, now, now + lead)?;
        store.insert_key(&key).await?;
        store.retire_keys_except(alg, &key.kid, now + lead).await?;
        kids.push(key.kid);
    }
    Ok(kids)
}

/// `cus keys prune`: removes retired keys whose every token has expired.
pub async fn prune(
    store: &dyn Store,
    now: OffsetDateTime,
    max_token_lifetime: time::Duration,
) -> anyhow::Result<Vec<String>> {
    let mut pruned = Vec::new();
    for key in store.keys().await? {
        if key.retired_at.is_some_and(|r| r + max_token_lifetime < now)
            && store.delete_key(&key.kid).await?
        {
            pruned.push(key.kid);
        }
    }
    Ok(pruned)
}

/// `cus keys list`: every stored key and whether `kek` opens it (a key sealed under another
/// KEK is reported, not an error: that is what an operator lists keys to find out).
pub async fn list(store: &dyn Store, kek: &Kek) -> anyhow::Result<Vec<(SigningKey, bool)>> {
    Ok(store
        .keys()
        .await?
        .into_iter()
        .map(|key| {
            let usable = unseal(kek, &key).is_ok();
            (key, usable)
        })
        .collect())
}

/// What `cus keys rewrap` did.
pub struct Rewrapped {
    pub keys: usize,
    pub messages: usize,
    /// Keys `old` cannot open: left as they are (they were unusable already).
    pub skipped_keys: Vec<String>,
    /// Waiting sealed messages `old` cannot open: left as they are (undeliverable already).
    pub skipped_messages: usize,
}

/// `cus keys rewrap`: reseals every private key and every waiting sealed message from
/// `old` to `new`, in one store transaction, so a KEK change never leaves the store half
/// under each.
pub async fn rewrap(store: &dyn Store, old: &Kek, new: &Kek) -> anyhow::Result<Rewrapped> {
    let (mut keys, mut skipped_keys) = (Vec::new(), Vec::new());
    for key in store.keys().await? {
        match old.open(&key.private_sealed) {
            Ok(private) => keys.push((key.kid, new.seal(&private)?)),
            Err(_) => skipped_keys.push(key.kid),
        }
    }
    let (old_messages, new_messages) = (MessageKey::derive(old), MessageKey::derive(new));
    let (mut messages, mut skipped_messages) = (Vec::new(), 0);
    for stored in store.pending_notifications(u32::MAX).await? {
        let n = stored.notification;
        if !n.sealed {
            continue;
        }
        match old_messages.open(&n.body) {
            Ok(body) => messages.push((n.id, new_messages.seal(&body)?)),
            Err(_) => skipped_messages += 1,
        }
    }
    store.reseal(&keys, &messages).await?;
    Ok(Rewrapped {
        keys: keys.len(),
        messages: messages.len(),
        skipped_keys,
        skipped_messages,
    })
}
