//! Signing keys: the public JWK in the clear, the private one sealed by the caller.

use async_trait::async_trait;
use time::OffsetDateTime;

use uuid::Uuid;

use super::{Backend, outbox};
use crate::model::{SigningKey, SigningKeyRow};
use crate::{Result, StoreError};

macro_rules! columns {
    () => {
        "kid, alg, public_jwk, private_sealed, created_at, active_from, retired_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO signing_keys (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);
const ALL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM signing_keys ORDER BY created_at, kid"
);
const RETIRE_EXCEPT: &str = "UPDATE signing_keys SET retired_at = $1 \
     WHERE alg = $2 AND kid <> $3 AND retired_at IS NULL";
const DELETE: &str = "DELETE FROM signing_keys WHERE kid = $1";
const RESEAL: &str = "UPDATE signing_keys SET private_sealed = $1 WHERE kid = $2";

#[async_trait]
impl crate::SigningKeys for Backend {
    async fn insert_key(&self, k: &SigningKey) -> Result<()> {
        sqlx::query(INSERT)
            .bind(&k.kid)
            .bind(&k.alg)
            .bind(&k.public_jwk)
            .bind(&k.private_sealed)
            .bind(k.created_at)
            .bind(k.active_from)
            .bind(k.retired_at)
            .execute(&self.writer)
            .await
            .map_err(StoreError::on_insert("signing key"))?;
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<SigningKey>> {
        Ok(sqlx::query_as::<_, SigningKeyRow>(ALL)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(SigningKey::from)
            .collect())
    }

    async fn retire_keys_except(&self, alg: &str, kid: &str, at: OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query(RETIRE_EXCEPT)
            .bind(at)
            .bind(alg)
            .bind(kid)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    async fn delete_key(&self, kid: &str) -> Result<bool> {
        Ok(sqlx::query(DELETE)
            .bind(kid)
            .execute(&self.writer)
            .await?
            .rows_affected()
            > 0)
    }

    async fn reseal(&self, keys: &[(String, String)], messages: &[(Uuid, String)]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for (kid, sealed) in keys {
            let updated = sqlx::query(RESEAL)
                .bind(sealed)
                .bind(kid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound("signing key"));
            }
        }
        for (id, body) in messages {
            outbox::reseal(&mut *tx, *id, body).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
