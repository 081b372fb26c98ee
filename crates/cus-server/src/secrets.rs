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

    fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            return Self::decode(&text).with_context(|| path.display().to_string());
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

    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<String> {
        let encrypter = Dir.encrypter_from_bytes(self.0)?;
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        Ok(jwe::serialize_compact(plaintext, &header, &encrypter)?)
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let decrypter = Dir.decrypter_from_bytes(self.0)?;
        let (plaintext, _) = jwe::deserialize_compact(sealed, &decrypter)
            .context("cannot unseal a signing key: wrong keys.kek?")?;
        Ok(plaintext)
    }
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
    fn tokens_are_random_and_hash_stably() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
        assert_eq!(token_hash("abc"), token_hash("abc"));
    }
}
