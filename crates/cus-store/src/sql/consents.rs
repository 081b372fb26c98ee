//! Consent decisions per person and client, written with their audit event.

use async_trait::async_trait;
use cus_core::{AccountId, ClientId};

use super::{Backend, record, refresh_tokens};
use crate::model::{Consent, ConsentRow};
use crate::{Change, Result};

/// A second grant replaces the first: the scopes are the latest the person agreed to.
const UPSERT: &str = "INSERT INTO consents (account_id, client_id, scopes, granted_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, client_id) \
     DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at";
const DELETE: &str = "DELETE FROM consents WHERE account_id = $1 AND client_id = $2";
const ONE: &str = "SELECT account_id, client_id, scopes, granted_at FROM consents \
     WHERE account_id = $1 AND client_id = $2";
const OF_ACCOUNT: &str = "SELECT account_id, client_id, scopes, granted_at FROM consents \
     WHERE account_id = $1 ORDER BY granted_at, client_id";

#[async_trait]
impl crate::Consents for Backend {
    async fn consent(&self, account: AccountId, client: &ClientId) -> Result<Option<Consent>> {
        Ok(sqlx::query_as::<_, ConsentRow>(ONE)
            .bind(account.0)
            .bind(&client.0)
            .fetch_optional(&self.pool)
            .await?
            .map(Consent::from))
    }

    async fn grant_consent(&self, c: &Consent, change: Change<'_>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(UPSERT)
            .bind(c.account_id.0)
            .bind(&c.client_id.0)
            .bind(c.scopes.join(" "))
            .bind(c.granted_at)
            .execute(&mut *tx)
            .await?;
        record(&mut tx, change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn consents_of(&self, account: AccountId) -> Result<Vec<Consent>> {
        Ok(sqlx::query_as::<_, ConsentRow>(OF_ACCOUNT)
            .bind(account.0)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Consent::from)
            .collect())
    }

    async fn withdraw_consent(
        &self,
        account: AccountId,
        client: &ClientId,
        change: Change<'_>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let withdrawn = sqlx::query(DELETE)
            .bind(account.0)
            .bind(&client.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let at = change.revoke_tokens_at.unwrap_or(change.audit.at);
        refresh_tokens::revoke_given_to(&mut *tx, account, client, at).await?;
        if withdrawn {
            record(&mut tx, change).await?;
        }
        tx.commit().await?;
        Ok(withdrawn)
    }
}
