//! Random tokens, their hashes, and the key-encryption key (KEK) that seals private
//! signing keys at rest.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use josekit::jwe::{self, Dir, JweHeader};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

/// A fresh 256-bit random value, base64url: session ids, codes, refresh tokens.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// SHA-256, base64url: how tokens are looked up without being stored.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// AES-256-GCM key (JWE `dir` + `A256GCM`) that seals private JWKs.
pub struct Kek([u8; 32]);

impl Kek {
    /// The configured KEK, or in development one generated once into `dev_path`.
    pub fn from_config(keys: &crate::config::Keys) -> anyhow::Result<Self> {
        let configured = keys.kek.expose_secret();
        if !configured.is_empty() {
            return Self::decode(configured).context("keys.kek");
        }
        Self::load_or_create(&keys.dev_kek_path)
    }

    fn decode(text: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
            .context("is not base64")?;
        let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            bail!("must be 32 bytes (base64 of 32 random bytes)");
        };
        Ok(Self(key))
    }

    /// A KEK kept in a file (base64 of 32 bytes): the new one `cus keys rewrap` moves to.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::decode(&text).with_context(|| path.display().to_string())
    }

    fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::from_file(path);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let key = rand::random::<[u8; 32]>();
        write_private(path, &STANDARD.encode(key))?;
        tracing::warn!(path = %path.display(), "generated a development key-encryption key; configure keys.kek in production");
        Ok(Self(key))
    }

    /// A key for another purpose, derived from the KEK (so there is one secret to manage).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"cus-kek-derivation:");
        hasher.update(purpose.as_bytes());
        hasher.update(self.0);
        hasher.finalize().into()
    }

    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<String> {
        seal_with(self.0, plaintext)
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        open_with(self.0, sealed).context("cannot unseal a signing key: wrong keys.kek?")
    }
}

/// Seals the bodies of messages that carry a secret (a generated CUS) while they wait in
/// the outbox, so the database never holds them in clear. A key derived from the KEK.
pub struct MessageKey([u8; 32]);

impl MessageKey {
    pub fn derive(kek: &Kek) -> Self {
        Self(kek.derive("outbox"))
    }

    pub fn seal(&self, text: &str) -> anyhow::Result<String> {
        seal_with(self.0, text.as_bytes())
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let bytes = open_with(self.0, sealed).context("cannot open a sealed message")?;
        Ok(String::from_utf8(bytes)?)
    }
}

/// JWE compact, `dir` + `A256GCM`.
fn seal_with(key: [u8; 32], plaintext: &[u8]) -> anyhow::Result<String> {
    let encrypter = Dir.encrypter_from_bytes(key)?;
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    Ok(jwe::serialize_compact(plaintext, &header, &encrypter)?)
}

fn open_with(key: [u8; 32], sealed: &str) -> anyhow::Result<Vec<u8>> {
    let decrypter = Dir.decrypter_from_bytes(key)?;
    let (plaintext, _) = jwe::deserialize_compact(sealed, &decrypter)?;
    Ok(plaintext)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot create {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let kek = Kek([7; 32]);
        let sealed = kek.seal(b"private jwk").expect("seal");
        assert!(!sealed.contains("private"));
        assert_eq!(kek.open(&sealed).expect("open"), b"private jwk");
        assert!(Kek([8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn message_key_is_not_the_kek() {
        let kek = Kek([7; 32]);
        let key = MessageKey::derive(&kek);
        let sealed = key.seal("Su nueva CUS es: ABCD").expect("seal");
        assert!(!sealed.contains("CUS"));
        assert_eq!(key.open(&sealed).expect("open"), "Su nueva CUS es: ABCD");
        assert!(kek.open(&sealed).is_err(), "a separate key");
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
        assert_eq!(token_hash("abc"), token_hash("abc"));
    }
}

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`, base64url.
pub fn hmac(key: &[u8; 32], message: &[u8]) -> String {
    let mut inner_key = [0x36u8; 64];
    let mut outer_key = [0x5cu8; 64];
    for (i, b) in key.iter().enumerate() {
        inner_key[i] ^= b;
        outer_key[i] ^= b;
    }
    let inner = Sha256::new()
        .chain_update(inner_key)
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(outer_key)
        .chain_update(inner)
        .finalize();
    URL_SAFE_NO_PAD.encode(outer)
}

#[cfg(test)]
mod hmac_tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2_shape() {
        // Key "Jefe" padded to 32 bytes with zeros equals the RFC 4231 case 2 key (HMAC pads
        // short keys with zeros), so the known answer applies.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac(&key, b"what do ya want for nothing?");
        let expected = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM";
        assert_eq!(mac, expected);
    }
}
