//! Refresh tokens, stored by hash, grouped in rotation families.

use async_trait::async_trait;
use cus_core::{AccountId, ClientId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Backend, Db, SKIP_LOCKED};
use crate::model::{RefreshToken, RefreshTokenRow};
use crate::{Result, StoreError};

macro_rules! columns {
    () => {
        "token_hash, family_id, account_id, client_id, grant_json, created_at, expires_at, \
         rotated_at, revoked_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO refresh_tokens (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
const BY_HASH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM refresh_tokens WHERE token_hash = $1"
);
/// Only a live, unrotated token rotates: of two concurrent rotations one updates nothing.
const ROTATE: &str = "UPDATE refresh_tokens SET rotated_at = $1 \
     WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL";
/// A person's live tokens (neither rotated, revoked nor expired), newest first.
const LIVE_OF: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM refresh_tokens WHERE account_id = $1 AND rotated_at IS NULL \
     AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
);

/// One bounded batch of the retention purge: tokens expired before `$1`, at most `$2`,
/// by the `refresh_tokens_expires` index. An expired token is refused whatever its state,
/// so keeping it proves nothing. PostgreSQL skips rows another node is deleting.
macro_rules! purge {
    ($lock:literal) => {
        concat!(
            "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash \
             FROM refresh_tokens WHERE expires_at < $1 LIMIT $2",
            $lock,
            ")"
        )
    };
}

const PURGE: &str = if SKIP_LOCKED {
    purge!(" FOR UPDATE SKIP LOCKED")
} else {
    purge!("")
};

const REVOKE_FAMILY: &str = "UPDATE refresh_tokens SET revoked_at = $1 \
     WHERE family_id = $2 AND revoked_at IS NULL";
const REVOKE_ACCOUNT: &str = "UPDATE refresh_tokens SET revoked_at = $1 \
     WHERE account_id = $2 AND revoked_at IS NULL";
const REVOKE_GIVEN_TO: &str = "UPDATE refresh_tokens SET revoked_at = $1 \
     WHERE account_id = $2 AND client_id = $3 AND revoked_at IS NULL";

/// Revokes at `at` every live refresh token of the person, in the caller's transaction
/// when it goes with a change (a CUS change ends every session).
pub(super) async fn revoke_account<'c, E>(
    executor: E,
    account: AccountId,
    at: OffsetDateTime,
) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    Ok(sqlx::query(REVOKE_ACCOUNT)
        .bind(at)
        .bind(account.0)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Revokes at `at` every live refresh token the person's login gave `client`, in the
/// transaction of the consent's withdrawal.
pub(super) async fn revoke_given_to<'c, E>(
    executor: E,
    account: AccountId,
    client: &ClientId,
    at: OffsetDateTime,
) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    Ok(sqlx::query(REVOKE_GIVEN_TO)
        .bind(at)
        .bind(account.0)
        .bind(&client.0)
        .execute(executor)
        .await?
        .rows_affected())
}

#[async_trait]
impl crate::RefreshTokens for Backend {
    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<()> {
        sqlx::query(INSERT)
            .bind(&t.token_hash)
            .bind(t.family_id)
            .bind(t.account_id.0)
            .bind(&t.client_id.0)
            .bind(&t.grant_json)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.rotated_at)
            .bind(t.revoked_at)
            .execute(&self.writer)
            .await
            .map_err(StoreError::on_insert("refresh token"))?;
        Ok(())
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        Ok(sqlx::query_as::<_, RefreshTokenRow>(BY_HASH)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(RefreshToken::from))
    }

    async fn rotate_refresh_token(&self, token_hash: &str, at: OffsetDateTime) -> Result<bool> {
        Ok(sqlx::query(ROTATE)
            .bind(at)
            .bind(token_hash)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    async fn revoke_refresh_family(&self, family: Uuid, at: OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query(REVOKE_FAMILY)
            .bind(at)
            .bind(family)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    async fn revoke_account_refresh_tokens(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<u64> {
        revoke_account(&self.writer, account, at).await
    }

    async fn live_refresh_tokens_of(
        &self,
        account: AccountId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshToken>> {
        Ok(sqlx::query_as::<_, RefreshTokenRow>(LIVE_OF)
            .bind(account.0)
            .bind(now)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(RefreshToken::from)
            .collect())
    }

    async fn purge_expired_refresh_tokens(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64> {
        Ok(sqlx::query(PURGE)
            .bind(before)
            .bind(i64::from(batch))
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
