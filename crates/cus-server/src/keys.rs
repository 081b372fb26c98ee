//! Signing keys: generated on first start, sealed in the store, published in JWKS, rotated
//! with a publication lead time and pruned once every token they signed has expired.
//! The only module that touches josekit's signing API.

use std::sync::{Arc, RwLock};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cus_store::{SigningKey, Store};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{self, ES256, EdDSA, JwsHeader, JwsSigner, JwsVerifier, RS256};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};
use time::OffsetDateTime;

use crate::secrets::Kek;

/// The algorithms CUS signs with: RS256 (OpenID's default for ID tokens), ES256 (access
/// tokens, cheaper), EdDSA (per client).
pub const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

struct LoadedKey {
    kid: String,
    alg: String,
    active_from: OffsetDateTime,
    public_jwk: Jwk,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
}

/// The keys of this node, reloaded from the store so every node follows a rotation.
pub struct Keyring {
    store: Arc<dyn Store>,
    kek: Kek,
    keys: RwLock<Arc<Vec<LoadedKey>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
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
            keys: RwLock::new(Arc::new(Vec::new())),
        };
        keyring.reload().await?;
        Ok(keyring)
    }

    /// Re-reads the keys from the store (after a rotation or a prune by any node).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let mut loaded = Vec::new();
        for key in self.store.keys().await? {
            loaded.push(
                self.unseal(&key)
                    .with_context(|| format!("signing key {}", key.kid))?,
            );
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    fn unseal(&self, key: &SigningKey) -> anyhow::Result<LoadedKey> {
        let private = Jwk::from_bytes(self.kek.open(&key.private_sealed)?)?;
        let public_jwk = Jwk::from_bytes(key.public_jwk.as_bytes())?;
        let (signer, verifier): (Box<dyn JwsSigner>, Box<dyn JwsVerifier>) = match key.alg.as_str()
        {
            "RS256" => (
                Box::new(RS256.signer_from_jwk(&private)?),
                Box::new(RS256.verifier_from_jwk(&public_jwk)?),
            ),
            "ES256" => (
                Box::new(ES256.signer_from_jwk(&private)?),
                Box::new(ES256.verifier_from_jwk(&public_jwk)?),
            ),
            "EdDSA" => (
                Box::new(EdDSA.signer_from_jwk(&private)?),
                Box::new(EdDSA.verifier_from_jwk(&public_jwk)?),
            ),
            other => anyhow::bail!("unsupported algorithm {other}"),
        };
        Ok(LoadedKey {
            kid: key.kid.clone(),
            alg: key.alg.clone(),
            active_from: key.active_from,
            public_jwk,
            signer,
            verifier,
        })
    }

    fn snapshot(&self) -> Arc<Vec<LoadedKey>> {
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
        let keys = self.snapshot();
        let key = keys
            .iter()
            .filter(|k| k.alg == alg && k.active_from <= now)
            .max_by_key(|k| k.active_from)
            .with_context(|| format!("no active {alg} signing key"))?;
        let mut header = JwsHeader::new();
        header.set_key_id(key.kid.clone());
        header.set_token_type(typ);
        let payload = serde_json::to_vec(claims)?;
        Ok(jws::serialize_compact(
            &payload,
            &header,
            key.signer.as_ref(),
        )?)
    }

    /// Verifies a compact JWS signed by one of our keys; returns its claims and header.
    pub fn verify(&self, token: &str) -> Result<(Value, JwsHeader), VerifyError> {
        let keys = self.snapshot();
        let known = std::cell::Cell::new(true);
        let result = jws::deserialize_compact_with_selector(token, |header| {
            let found = keys.iter().find(|k| {
                Some(k.kid.as_str()) == header.key_id()
                    && Some(k.alg.as_str()) == header.algorithm()
            });
            known.set(found.is_some());
            Ok(found.map(|k| k.verifier.as_ref()))
        });
        match result {
            Ok((payload, header)) => {
                let claims =
                    serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)?;
                Ok((claims, header))
            }
            Err(_) if !known.get() => Err(VerifyError::UnknownKey),
            Err(josekit::JoseError::InvalidSignature(_)) => Err(VerifyError::BadSignature),
            Err(_) => Err(VerifyError::Malformed),
        }
    }

    /// JWKS: every stored public key (upcoming, current and retired-but-not-pruned).
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .snapshot()
            .iter()
            .map(|k| serde_json::to_value(&k.public_jwk).unwrap_or(Value::Null))
            .collect();
        json!({ "keys": keys })
    }
}

/// OpenID Core §3.1.3.6 `at_hash` / `c_hash`: left half of the hash matching `alg`.
pub fn half_hash(alg: &str, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        "ES384" | "RS384" => Sha384::digest(value.as_bytes()).to_vec(),
        "EdDSA" | "ES512" | "RS512" => Sha512::digest(value.as_bytes()).to_vec(),
        _ => Sha256::digest(value.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn generate(
    kek: &Kek,
    alg: &str,
    now: OffsetDateTime,
    active_from: OffsetDateTime,
) -> anyhow::Result<SigningKey> {
    let mut pair = match alg {
        "RS256" => RS256.generate_key_pair(2048)?.to_jwk_key_pair(),
        "ES256" => ES256.generate_key_pair()?.to_jwk_key_pair(),
        "EdDSA" => EdDSA.generate_key_pair(EdCurve::Ed25519)?.to_jwk_key_pair(),
        other => anyhow::bail!("unsupported algorithm {other}"),
    };
    let kid = format!(
        "{}-{}",
        alg.to_lowercase(),
        &crate::secrets::random_token()[..16]
    );
    pair.set_key_id(kid.clone());
    pair.set_key_use("sig");
    pair.set_algorithm(alg);
    let public = public_only(&pair)?;
    Ok(SigningKey {
        kid,
        alg: alg.to_owned(),
        public_jwk: serde_json::to_string(&public)?,
        private_sealed: kek.seal(serde_json::to_string(&pair)?.as_bytes())?,
        created_at: now,
        active_from,
        retired_at: None,
    })
}

/// The public members of a key pair, with `kid`, `use` and `alg`; never `d`, `p`, `q`….
fn public_only(pair: &Jwk) -> anyhow::Result<Jwk> {
    const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];
    let mut map = pair.as_ref().clone();
    map.retain(|k, _| !PRIVATE.contains(&k.as_str()));
    Ok(Jwk::from_map(map)?)
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
