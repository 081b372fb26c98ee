//! Registered relying parties, and the initial access tokens of dynamic registration.

use std::time::Instant;

use async_trait::async_trait;
use cus_core::{Client, ClientId};
use time::OffsetDateTime;

use super::{Backend, Query, record};
use crate::client_cache::Lookup;
use crate::model::{ClientRow, enum_text, json_text};
use crate::{Change, Result, StoreError};

/// The columns a write sets, in the order `bind_fields` binds them: `$1` to `$20`.
macro_rules! fields {
    () => {
        "name, kind, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes, token_endpoint_auth_method, id_token_signed_response_alg, first_party, \
         enabled, updated_at, previous_secret_hash, previous_secret_expires, \
         backchannel_logout_uri, contacts, logo_uri, client_uri, registration_token_hash, jwks"
    };
}

/// Every column: the fields, then what never changes after creation (`$21`, `$22`).
macro_rules! columns {
    () => {
        concat!(fields!(), ", client_id, created_at")
    };
}

const INSERT: &str = concat!(
    "INSERT INTO clients (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22)"
);

const UPDATE: &str = "UPDATE clients SET name = $1, kind = $2, secret_hash = $3, \
     redirect_uris = $4, post_logout_redirect_uris = $5, grant_types = $6, scopes = $7, \
     token_endpoint_auth_method = $8, id_token_signed_response_alg = $9, first_party = $10, \
     enabled = $11, updated_at = $12, previous_secret_hash = $13, \
     previous_secret_expires = $14, backchannel_logout_uri = $15, contacts = $16, \
     logo_uri = $17, client_uri = $18, registration_token_hash = $19, jwks = $20 \
     WHERE client_id = $21";

const DELETE: &str = "DELETE FROM clients WHERE client_id = $1";
/// Raised by every client write, in its transaction (`crate::client_cache`).
const RAISE_GENERATION: &str = "UPDATE client_changes SET generation = generation + 1 WHERE id = 1";
const GENERATION: &str = "SELECT generation FROM client_changes WHERE id = 1";
const BY_ID: &str = concat!("SELECT ", columns!(), " FROM clients WHERE client_id = $1");
const ALL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM clients ORDER BY created_at, client_id"
);

const INSERT_INITIAL_ACCESS_TOKEN: &str =
    "INSERT INTO initial_access_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)";
const INITIAL_ACCESS_TOKEN_VALID: &str =
    "SELECT 1 FROM initial_access_tokens WHERE token_hash = $1 AND expires_at > $2";

/// Binds every field a write sets, `$1` to `$20` in `fields!` order: the one list both the
/// insert and the update use.
fn bind_fields<'q>(query: Query<'q>, c: &Client) -> Query<'q> {
    query
        .bind(&c.name)
        .bind(enum_text(&c.kind))
        .bind(&c.secret_hash)
        .bind(json_text(&c.redirect_uris))
        .bind(json_text(&c.post_logout_redirect_uris))
        .bind(json_text(&c.grant_types))
        .bind(json_text(&c.scopes))
        .bind(c.token_endpoint_auth_method.as_str())
        .bind(&c.id_token_signed_response_alg)
        .bind(c.first_party)
        .bind(c.enabled)
        .bind(c.updated_at)
        .bind(&c.previous_secret_hash)
        .bind(c.previous_secret_expires)
        .bind(&c.backchannel_logout_uri)
        .bind(json_text(&c.contacts))
        .bind(&c.logo_uri)
        .bind(&c.client_uri)
        .bind(&c.registration_token_hash)
        .bind(&c.jwks)
}

impl Backend {
    /// Commits a client write with the counter raised, then forgets this node's clients:
    /// the next read here sees the write, and other nodes see the counter move.
    async fn commit_client_change(&self, mut tx: super::Transaction) -> Result<()> {
        sqlx::query(RAISE_GENERATION).execute(&mut *tx).await?;
        tx.commit().await?;
        self.client_cache.drop_all();
        Ok(())
    }
}

#[async_trait]
impl crate::Clients for Backend {
    async fn create_client(&self, c: &Client, change: Change<'_>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        bind_fields(sqlx::query(INSERT), c)
            .bind(&c.client_id.0)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("client"))?;
        record(&mut tx, change).await?;
        self.commit_client_change(tx).await
    }

    async fn update_client(&self, c: &Client, change: Change<'_>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let done = bind_fields(sqlx::query(UPDATE), c)
            .bind(&c.client_id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("client"));
        }
        record(&mut tx, change).await?;
        self.commit_client_change(tx).await
    }

    async fn delete_client(&self, id: &ClientId, change: Change<'_>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query(DELETE)
            .bind(&id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            record(&mut tx, change).await?;
            self.commit_client_change(tx).await?;
        }
        Ok(deleted)
    }

    async fn client(&self, id: &ClientId) -> Result<Option<Client>> {
        let now = Instant::now();
        if self.client_cache.due(now) {
            let generation = sqlx::query_scalar::<_, i64>(GENERATION)
                .fetch_one(&self.pool)
                .await
                .inspect_err(|_| self.client_cache.drop_all())?;
            self.client_cache.observe(generation, now);
        }
        let ticket = match self.client_cache.lookup(id) {
            Lookup::Hit(client) => return Ok(Some(Client::clone(&client))),
            Lookup::Miss(ticket) => ticket,
        };
        let client = sqlx::query_as::<_, ClientRow>(BY_ID)
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(ClientRow::into_domain)
            .transpose()?;
        if let Some(client) = &client {
            self.client_cache.fill(ticket, client);
        }
        Ok(client)
    }

    async fn insert_initial_access_token(
        &self,
        token_hash: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(INSERT_INITIAL_ACCESS_TOKEN)
            .bind(token_hash)
            .bind(created_at)
            .bind(expires_at)
            .execute(&self.writer)
            .await
            .map_err(StoreError::on_insert("initial access token"))?;
        Ok(())
    }

    async fn initial_access_token_valid(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        Ok(sqlx::query(INITIAL_ACCESS_TOKEN_VALID)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        sqlx::query_as::<_, ClientRow>(ALL)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ClientRow::into_domain)
            .collect()
    }
}
