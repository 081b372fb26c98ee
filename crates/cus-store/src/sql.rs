//! The SQL both backends share. `impl_store!` writes the trait implementations once; the
//! SQLite and PostgreSQL stores instantiate it with their pool type. Dialect differences
//! live in the migrations, not here: the same `$n` placeholders, `RETURNING` and
//! `ON CONFLICT` run on both. The one exception is a parameter of the macro: PostgreSQL
//! claims outbox rows `FOR UPDATE SKIP LOCKED`, which SQLite (one writer) has no need of.

macro_rules! account_columns {
    () => {
        "id, rut, tipo, nombres, apellido_paterno, \
    apellido_materno, razon_social, email, email_verified, celular, telefono_particular, \
    telefono_trabajo, calle, numero, block, departamento, codigo_comuna, secret_question, \
    cus_hash, secret_answer_hash, cus_must_change, created_at, updated_at, tokens_valid_after, \
            pending_cus_hash, email_verify_hash, email_verify_expires, giro, rep_rut, rep_nombres, \
            rep_apellidos, rep_email, rep_celular, pending_cus_expires"
    };
}
pub(crate) use account_columns;

macro_rules! client_columns {
    () => {
        "client_id, name, kind, secret_hash, redirect_uris, \
    post_logout_redirect_uris, grant_types, scopes, token_endpoint_auth_method, \
    id_token_signed_response_alg, first_party, enabled, created_at, updated_at, \
    previous_secret_hash, previous_secret_expires, backchannel_logout_uri, contacts, logo_uri, \
    client_uri, registration_token_hash, jwks"
    };
}
pub(crate) use client_columns;

macro_rules! key_columns {
    () => {
        "kid, alg, public_jwk, private_sealed, created_at, active_from, retired_at"
    };
}
pub(crate) use key_columns;

macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, account_id, client_id, \
    grant_json, created_at, expires_at, rotated_at, revoked_at"
    };
}
pub(crate) use refresh_columns;

/// Every audit event written is also a structured log event, for log collectors.
pub(crate) fn log_audit(event: &cus_core::audit::AuditEvent) {
    let subject = event.subject.as_deref().unwrap_or("");
    let ip = event.ip.as_deref().unwrap_or("");
    tracing::info!(
        target: "cus::audit",
        { audit.kind = %event.kind, audit.subject = subject, audit.outcome = %event.outcome, audit.ip = ip },
        "audit event"
    );
}

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal, $skip_locked:literal) => {
        use ::async_trait::async_trait;
        use ::cus_core::audit::AuditEvent;
        use ::cus_core::notification::Notification;
        use ::cus_core::{Account, AccountId, Client, ClientId, Credentials, NewAccount, Rut};
        use ::time::OffsetDateTime;
        use ::uuid::Uuid;

        use $crate::model::*;
        use $crate::sql::*;
        use $crate::{Result, StoreError};

        async fn insert_audit<'c, E>(executor: E, event: &AuditEvent) -> Result<()>
        where
            E: ::sqlx::Executor<'c, Database = $db>,
        {
            $crate::sql::log_audit(event);
            ::sqlx::query(
                "INSERT INTO audit_events (at, kind, subject, ip, user_agent, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(event.at)
            .bind(&event.kind)
            .bind(&event.subject)
            .bind(&event.ip)
            .bind(&event.user_agent)
            .bind(&event.outcome)
            .bind(&event.detail)
            .execute(executor)
            .await?;
            Ok(())
        }

        async fn insert_notification<'c, E>(executor: E, n: &Notification) -> Result<()>
        where
            E: ::sqlx::Executor<'c, Database = $db>,
        {
            ::sqlx::query(
                "INSERT INTO outbox (id, channel, recipient, subject, body, sealed, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(n.id)
            .bind(n.channel.as_str())
            .bind(&n.recipient)
            .bind(&n.subject)
            .bind(&n.body)
            .bind(n.sealed)
            .bind(n.created_at)
            .execute(executor)
            .await?;
            Ok(())
        }

        #[async_trait]
        impl $crate::Accounts for $store {
            async fn create_account(
                &self,
                new: &NewAccount,
                notifications: &[Notification],
                audit: &AuditEvent,
            ) -> Result<()> {
                let a = &new.account;
                let address = a.address.as_ref();
                let mut tx = self.pool.begin().await?;
                ::sqlx::query(concat!("INSERT INTO accounts (", account_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, \
                     $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
                     $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34)"))
                .bind(a.id.0)
                .bind(a.rut.compact())
                .bind(a.tipo.as_str())
                .bind(&a.nombres)
                .bind(&a.apellido_paterno)
                .bind(&a.apellido_materno)
                .bind(&a.razon_social)
                .bind(&a.email)
                .bind(a.email_verified)
                .bind(&a.celular)
                .bind(&a.telefono_particular)
                .bind(&a.telefono_trabajo)
                .bind(address.map(|d| d.calle.clone()))
                .bind(address.map(|d| d.numero.clone()))
                .bind(address.and_then(|d| d.block.clone()))
                .bind(address.and_then(|d| d.departamento.clone()))
                .bind(address.and_then(|d| i32::try_from(d.codigo_comuna).ok()))
                .bind(a.secret_question)
                .bind(&new.credentials.cus_hash)
                .bind(&new.credentials.secret_answer_hash)
                .bind(a.cus_must_change)
                .bind(a.created_at)
                .bind(a.updated_at)
                .bind(a.tokens_valid_after)
                .bind(&new.credentials.pending_cus_hash)
                .bind(&new.credentials.email_verify_hash)
                .bind(new.credentials.email_verify_expires)
                .bind(&a.giro)
                .bind(a.representante.as_ref().map(|r| r.rut.compact()))
                .bind(a.representante.as_ref().map(|r| r.nombres.clone()))
                .bind(a.representante.as_ref().map(|r| r.apellidos.clone()))
                .bind(a.representante.as_ref().map(|r| r.email.clone()))
                .bind(a.representante.as_ref().and_then(|r| r.celular.clone()))
                .bind(new.credentials.pending_cus_expires)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::on_insert("account"))?;
                for n in notifications {
                    insert_notification(&mut *tx, n).await?;
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn account_by_rut(&self, rut: &Rut) -> Result<Option<(Account, Credentials)>> {
                ::sqlx::query_as::<_, AccountRow>(concat!("SELECT ", account_columns!(), " FROM accounts WHERE rut = $1"))
                .bind(rut.compact())
                .fetch_optional(&self.pool)
                .await?
                .map(AccountRow::into_domain)
                .transpose()
            }

            async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
                ::sqlx::query_as::<_, AccountRow>(concat!("SELECT ", account_columns!(), " FROM accounts WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.into_domain().map(|(account, _)| account))
                .transpose()
            }

            async fn update_account(
                &self,
                a: &Account,
                c: &Credentials,
                notifications: &[Notification],
                audit: &AuditEvent,
                revoke_tokens_at: Option<OffsetDateTime>,
            ) -> Result<()> {
                let address = a.address.as_ref();
                let mut tx = self.pool.begin().await?;
                let done = ::sqlx::query(
                    "UPDATE accounts SET nombres = $1, apellido_paterno = $2, apellido_materno = $3, \
                     razon_social = $4, email = $5, email_verified = $6, celular = $7, \
                     telefono_particular = $8, telefono_trabajo = $9, calle = $10, numero = $11, \
                     block = $12, departamento = $13, codigo_comuna = $14, secret_question = $15, \
                     cus_hash = $16, secret_answer_hash = $17, cus_must_change = $18, \
                     updated_at = $19, tokens_valid_after = $20, pending_cus_hash = $21, \
                     email_verify_hash = $22, email_verify_expires = $23, giro = $24, \
                     rep_rut = $25, rep_nombres = $26, rep_apellidos = $27, rep_email = $28, \
                     rep_celular = $29, pending_cus_expires = $30 \
                     WHERE id = $31 AND ($32 OR tokens_valid_after = $20)",
                )
                .bind(&a.nombres)
                .bind(&a.apellido_paterno)
                .bind(&a.apellido_materno)
                .bind(&a.razon_social)
                .bind(&a.email)
                .bind(a.email_verified)
                .bind(&a.celular)
                .bind(&a.telefono_particular)
                .bind(&a.telefono_trabajo)
                .bind(address.map(|d| d.calle.clone()))
                .bind(address.map(|d| d.numero.clone()))
                .bind(address.and_then(|d| d.block.clone()))
                .bind(address.and_then(|d| d.departamento.clone()))
                .bind(address.and_then(|d| i32::try_from(d.codigo_comuna).ok()))
                .bind(a.secret_question)
                .bind(&c.cus_hash)
                .bind(&c.secret_answer_hash)
                .bind(a.cus_must_change)
                .bind(a.updated_at)
                .bind(a.tokens_valid_after)
                .bind(&c.pending_cus_hash)
                .bind(&c.email_verify_hash)
                .bind(c.email_verify_expires)
                .bind(&a.giro)
                .bind(a.representante.as_ref().map(|r| r.rut.compact()))
                .bind(a.representante.as_ref().map(|r| r.nombres.clone()))
                .bind(a.representante.as_ref().map(|r| r.apellidos.clone()))
                .bind(a.representante.as_ref().map(|r| r.email.clone()))
                .bind(a.representante.as_ref().and_then(|r| r.celular.clone()))
                .bind(c.pending_cus_expires)
                .bind(a.id.0)
                .bind(revoke_tokens_at.is_some())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::on_insert("e-mail verification"))?;
                if done.rows_affected() == 0 {
                    let exists = ::sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
                        .bind(a.id.0)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    return Err(if exists {
                        StoreError::Conflict("account")
                    } else {
                        StoreError::NotFound("account")
                    });
                }
                if let Some(at) = revoke_tokens_at {
                    ::sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $1 \
                         WHERE account_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(at)
                    .bind(a.id.0)
                    .execute(&mut *tx)
                    .await?;
                }
                for n in notifications {
                    insert_notification(&mut *tx, n).await?;
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn account_by_email_verification(
                &self,
                token_hash: &str,
            ) -> Result<Option<(Account, Credentials)>> {
                ::sqlx::query_as::<_, AccountRow>(concat!(
                    "SELECT ", account_columns!(), " FROM accounts WHERE email_verify_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                .map(AccountRow::into_domain)
                .transpose()
            }
        }

        #[async_trait]
        impl $crate::Clients for $store {
            async fn create_client(&self, c: &Client, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                ::sqlx::query(concat!("INSERT INTO clients (", client_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, \
                     $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"))
                .bind(&c.client_id.0)
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
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(&c.previous_secret_hash)
                .bind(c.previous_secret_expires)
                .bind(&c.backchannel_logout_uri)
                .bind(json_text(&c.contacts))
                .bind(&c.logo_uri)
                .bind(&c.client_uri)
                .bind(&c.registration_token_hash)
                .bind(&c.jwks)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::on_insert("client"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_client(&self, c: &Client, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                let done = ::sqlx::query(
                    "UPDATE clients SET name = $1, kind = $2, secret_hash = $3, redirect_uris = $4, \
                     post_logout_redirect_uris = $5, grant_types = $6, scopes = $7, \
                     token_endpoint_auth_method = $8, id_token_signed_response_alg = $9, \
                     first_party = $10, enabled = $11, updated_at = $12, previous_secret_hash = $13, \
                     previous_secret_expires = $14, backchannel_logout_uri = $15, contacts = $16, \
                     logo_uri = $17, client_uri = $18, registration_token_hash = $19, jwks = $20 \
                     WHERE client_id = $21",
                )
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
                .bind(&c.client_id.0)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound("client"));
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_client(&self, id: &ClientId, audit: &AuditEvent) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let deleted = ::sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(&id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if deleted {
                    insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn insert_initial_access_token(
                &self,
                token_hash: &str,
                created_at: OffsetDateTime,
                expires_at: OffsetDateTime,
            ) -> Result<()> {
                ::sqlx::query(
                    "INSERT INTO initial_access_tokens (token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(token_hash)
                .bind(created_at)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(StoreError::on_insert("initial access token"))?;
                Ok(())
            }

            async fn initial_access_token_valid(&self, token_hash: &str, now: OffsetDateTime) -> Result<bool> {
                Ok(::sqlx::query("SELECT 1 FROM initial_access_tokens WHERE token_hash = $1 AND expires_at > $2")
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
            }

            async fn client(&self, id: &ClientId) -> Result<Option<Client>> {
                ::sqlx::query_as::<_, ClientRow>(concat!("SELECT ", client_columns!(), " FROM clients WHERE client_id = $1"))
                .bind(&id.0)
                .fetch_optional(&self.pool)
                .await?
                .map(ClientRow::into_domain)
                .transpose()
            }

            async fn list_clients(&self) -> Result<Vec<Client>> {
                ::sqlx::query_as::<_, ClientRow>(concat!("SELECT ", client_columns!(), " FROM clients ORDER BY created_at, client_id"))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(ClientRow::into_domain)
                .collect()
            }
        }

        #[async_trait]
        impl $crate::SigningKeys for $store {
            async fn insert_key(&self, k: &SigningKey) -> Result<()> {
                ::sqlx::query(concat!("INSERT INTO signing_keys (", key_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(&k.public_jwk)
                .bind(&k.private_sealed)
                .bind(k.created_at)
                .bind(k.active_from)
                .bind(k.retired_at)
                .execute(&self.pool)
                .await
                .map_err(StoreError::on_insert("signing key"))?;
                Ok(())
            }

            async fn keys(&self) -> Result<Vec<SigningKey>> {
                Ok(::sqlx::query_as::<_, SigningKeyRow>(concat!("SELECT ", key_columns!(), " FROM signing_keys ORDER BY created_at, kid"))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(SigningKey::from)
                .collect())
            }

            async fn retire_keys_except(
                &self,
                alg: &str,
                kid: &str,
                at: OffsetDateTime,
            ) -> Result<u64> {
                Ok(::sqlx::query(
                    "UPDATE signing_keys SET retired_at = $1 \
                     WHERE alg = $2 AND kid <> $3 AND retired_at IS NULL",
                )
                .bind(at)
                .bind(alg)
                .bind(kid)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn delete_key(&self, kid: &str) -> Result<bool> {
                Ok(::sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }
        }

        #[async_trait]
        impl $crate::Audit for $store {
            async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
                insert_audit(&self.pool, event).await
            }

            async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
                let limit = if filter.limit == 0 { 1000 } else { filter.limit };
                Ok(::sqlx::query_as::<_, AuditRow>(
                    "SELECT at, kind, subject, ip, user_agent, outcome, detail FROM audit_events \
                     WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR at >= $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(&filter.subject)
                .bind(filter.since)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(AuditEvent::from)
                .collect())
            }
        }

        #[async_trait]
        impl $crate::Outbox for $store {
            async fn queue_notifications(&self, notifications: &[Notification]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for n in notifications {
                    insert_notification(&mut *tx, n).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn deliveries(&self, recipient: Option<&str>, limit: u32) -> Result<Vec<$crate::DeliveryStatus>> {
                Ok(::sqlx::query_as::<_, $crate::DeliveryStatus>(
                    "SELECT id, channel, recipient, subject, created_at, sent_at, abandoned_at, \
                     attempts, last_error, (body <> '') AS body_kept FROM outbox \
                     WHERE ($1 IS NULL OR recipient = $1) ORDER BY created_at DESC LIMIT $2",
                )
                .bind(recipient)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn pending_notifications(&self, limit: u32) -> Result<Vec<StoredNotification>> {
                ::sqlx::query_as::<_, OutboxRow>(
                    "SELECT id, channel, recipient, subject, body, sealed, created_at, attempts \
                     FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL \
                     ORDER BY created_at LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OutboxRow::into_domain)
                .collect()
            }

            async fn claim_notifications(
                &self,
                limit: u32,
                now: OffsetDateTime,
                lease: ::time::Duration,
            ) -> Result<Vec<StoredNotification>> {
                // One statement: rows due and not leased are leased to this node, so two
                // nodes never deliver the same message at once. On PostgreSQL the rows are
                // picked `FOR UPDATE SKIP LOCKED`: a row another node is leasing right now
                // is skipped, not waited for and then leased twice (the subquery's picks
                // are not re-run when the row changes under it). The lease condition is
                // also checked again on the row being updated, as the last word. SQLite
                // has one writer at a time; the statement is its own transaction.
                ::sqlx::query_as::<_, OutboxRow>(concat!(
                    "UPDATE outbox SET locked_until = $1 WHERE id IN ( \
                       SELECT id FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL \
                       AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
                       AND (locked_until IS NULL OR locked_until <= $2) \
                       ORDER BY created_at LIMIT $3", $skip_locked, ") \
                     AND sent_at IS NULL AND abandoned_at IS NULL \
                     AND (locked_until IS NULL OR locked_until <= $2) \
                     RETURNING id, channel, recipient, subject, body, sealed, created_at, attempts",
                ))
                .bind(now + lease)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OutboxRow::into_domain)
                .collect()
            }

            async fn mark_sent(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
                // The body goes: once delivered it is the recipient's, and the store keeps
                // no copy of a message (nor of a secret in it) longer than delivery needs.
                ::sqlx::query("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, locked_until = NULL, body = '' WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn mark_abandoned(&self, id: Uuid, at: OffsetDateTime, reason: &str) -> Result<()> {
                ::sqlx::query(
                    "UPDATE outbox SET abandoned_at = $1, last_error = $2, body = '', \
                     locked_until = NULL WHERE id = $3",
                )
                .bind(at)
                .bind(reason)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_failed(&self, id: Uuid, error: &str, retry_at: OffsetDateTime) -> Result<()> {
                ::sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
                     next_attempt_at = $2, locked_until = NULL WHERE id = $3",
                )
                .bind(error)
                .bind(retry_at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl $crate::Consents for $store {
            async fn consent(&self, account: AccountId, client: &ClientId) -> Result<Option<Consent>> {
                Ok(::sqlx::query_as::<_, ConsentRow>(
                    "SELECT account_id, client_id, scopes, granted_at FROM consents \
                     WHERE account_id = $1 AND client_id = $2",
                )
                .bind(account.0)
                .bind(&client.0)
                .fetch_optional(&self.pool)
                .await?
                .map(Consent::from))
            }

            async fn grant_consent(&self, c: &Consent) -> Result<()> {
                ::sqlx::query(
                    "INSERT INTO consents (account_id, client_id, scopes, granted_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, client_id) \
                     DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
                )
                .bind(c.account_id.0)
                .bind(&c.client_id.0)
                .bind(c.scopes.join(" "))
                .bind(c.granted_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consents_of(&self, account: AccountId) -> Result<Vec<Consent>> {
                Ok(::sqlx::query_as::<_, ConsentRow>(
                    "SELECT account_id, client_id, scopes, granted_at FROM consents \
                     WHERE account_id = $1 ORDER BY granted_at, client_id",
                )
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
                at: OffsetDateTime,
            ) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let withdrawn = ::sqlx::query("DELETE FROM consents WHERE account_id = $1 AND client_id = $2")
                    .bind(account.0)
                    .bind(&client.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                ::sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 \
                     WHERE account_id = $2 AND client_id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(account.0)
                .bind(&client.0)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(withdrawn)
            }
        }

        #[async_trait]
        impl $crate::RefreshTokens for $store {
            async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<()> {
                ::sqlx::query(concat!("INSERT INTO refresh_tokens (", refresh_columns!(), ") \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                .bind(&t.token_hash)
                .bind(t.family_id)
                .bind(t.account_id.0)
                .bind(&t.client_id.0)
                .bind(&t.grant_json)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.rotated_at)
                .bind(t.revoked_at)
                .execute(&self.pool)
                .await
                .map_err(StoreError::on_insert("refresh token"))?;
                Ok(())
            }

            async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
                Ok(::sqlx::query_as::<_, RefreshTokenRow>(concat!("SELECT ", refresh_columns!(), " FROM refresh_tokens WHERE token_hash = $1"))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                .map(RefreshToken::from))
            }

            async fn rotate_refresh_token(&self, token_hash: &str, at: OffsetDateTime) -> Result<bool> {
                Ok(::sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1 \
                     WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(token_hash)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn revoke_refresh_family(&self, family: Uuid, at: OffsetDateTime) -> Result<u64> {
                Ok(::sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 \
                     WHERE family_id = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(family)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn revoke_account_refresh_tokens(
                &self,
                account: AccountId,
                at: OffsetDateTime,
            ) -> Result<u64> {
                Ok(::sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 \
                     WHERE account_id = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(account.0)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }
        }

        #[async_trait]
        impl $crate::Store for $store {
            async fn ping(&self) -> Result<()> {
                ::sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn migrate(&self) -> Result<()> {
                let mut migrator = Self::MIGRATOR;
                migrator.set_ignore_missing(true);
                migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn pending_migrations(&self) -> Result<Vec<String>> {
                // No table yet: nothing applied (a new database).
                let applied: Vec<i64> =
                    ::sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(&self.pool)
                        .await
                        .unwrap_or_default();
                Ok(Self::MIGRATOR
                    .iter()
                    .filter(|m| !applied.contains(&m.version))
                    .map(|m| format!("{} {}", m.version, m.description))
                    .collect())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }
    };
}

pub(crate) use impl_store;
