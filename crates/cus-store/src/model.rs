//! Stored records that are not domain aggregates of their own, and the private row
//! structs that map SQL rows back to domain types.

use cus_core::account::{Account, AccountId, Address, Credentials, Representante, TipoPersona};
use cus_core::audit::{AuditEvent, AuditKind, AuditOutcome};
use cus_core::client::{Client, ClientId, ClientKind, GrantType, TokenAuthMethod};
use cus_core::notification::{Channel, Notification};
use cus_core::rut::Rut;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// A signing key: public JWK in the clear, private JWK sealed under the KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub private_sealed: String,
    /// Published in JWKS from here.
    pub created_at: OffsetDateTime,
    /// Signs from here: later than `created_at` by the publication lead time.
    pub active_from: OffsetDateTime,
    /// Superseded by a newer key: verifies only, pruned once its tokens expired.
    pub retired_at: Option<OffsetDateTime>,
}

/// A refresh token by hash. `grant_json` is the serialized grant it renews (owned by the
/// server: scopes, auth time, session id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: Uuid,
    pub account_id: AccountId,
    pub client_id: ClientId,
    pub grant_json: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub account_id: AccountId,
    pub client_id: ClientId,
    pub scopes: Vec<String>,
    pub granted_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotification {
    pub notification: Notification,
    pub attempts: i32,
}

/// What operators may see of a message: where it went and how its delivery went, never
/// its body.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryStatus {
    pub id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub abandoned_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Whether the store still holds the body (only while it is undelivered).
    pub body_kept: bool,
}

/// The messages of one channel waiting for delivery (neither sent nor abandoned).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Backlog {
    /// `email`, `sms` or `logout`.
    pub channel: String,
    pub pending: i64,
    /// When the oldest of them was queued.
    pub oldest: OffsetDateTime,
}

/// The connection pool's state, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or in use.
    pub open: u32,
    pub idle: u32,
    /// `database.max_connections`.
    pub max: u32,
}

/// Which audit events to read back: every condition given must hold. A page is read
/// newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject: Option<String>,
    /// From this time on (inclusive).
    pub since: Option<OffsetDateTime>,
    /// Before this time (exclusive).
    pub until: Option<OffsetDateTime>,
    /// Any of these kinds; every kind when empty.
    pub kinds: Vec<AuditKind>,
    /// The cursor: only events with an id below this one, i.e. older than the last event
    /// of the page before. Ids only grow, so a page never shifts when events are added.
    pub before_id: Option<i64>,
    /// At most this many (0: the store's default, 1000).
    pub limit: u32,
}

/// An audit event as stored, with its id: the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: Uuid,
    pub rut: String,
    pub tipo: String,
    pub nombres: String,
    pub apellido_paterno: String,
    pub apellido_materno: Option<String>,
    pub razon_social: Option<String>,
    pub email: String,
    pub email_verified: bool,
    pub celular: Option<String>,
    pub telefono_particular: Option<String>,
    pub telefono_trabajo: Option<String>,
    pub calle: Option<String>,
    pub numero: Option<String>,
    pub block: Option<String>,
    pub departamento: Option<String>,
    pub codigo_comuna: Option<i32>,
    pub secret_question: Option<i16>,
    pub cus_hash: String,
    pub secret_answer_hash: Option<String>,
    pub pending_cus_hash: Option<String>,
    pub pending_cus_expires: Option<OffsetDateTime>,
    pub email_verify_hash: Option<String>,
    pub email_verify_expires: Option<OffsetDateTime>,
    pub giro: Option<String>,
    pub rep_rut: Option<String>,
    pub rep_nombres: Option<String>,
    pub rep_apellidos: Option<String>,
    pub rep_email: Option<String>,
    pub rep_celular: Option<String>,
    pub cus_must_change: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub tokens_valid_after: OffsetDateTime,
}

impl AccountRow {
    pub(crate) fn into_domain(self) -> Result<(Account, Credentials), StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt("account", what.to_owned());
        let address = match (self.calle, self.numero, self.codigo_comuna) {
            (Some(calle), Some(numero), Some(comuna)) => Some(Address {
                calle,
                numero,
                block: self.block,
                departamento: self.departamento,
                codigo_comuna: u32::try_from(comuna).map_err(|_| corrupt("comuna"))?,
            }),
            _ => None,
        };
        let representante = match (
            self.rep_rut,
            self.rep_nombres,
            self.rep_apellidos,
            self.rep_email,
        ) {
            (Some(rut), Some(nombres), Some(apellidos), Some(email)) => Some(Representante {
                rut: Rut::parse(&rut).map_err(|_| corrupt("rep_rut"))?,
                nombres,
                apellidos,
                email,
                celular: self.rep_celular,
            }),
            _ => None,
        };
        let account = Account {
            id: AccountId(self.id),
            rut: Rut::parse(&self.rut).map_err(|_| corrupt("rut"))?,
            tipo: TipoPersona::parse(&self.tipo).ok_or_else(|| corrupt("tipo"))?,
            nombres: self.nombres,
            apellido_paterno: self.apellido_paterno,
            apellido_materno: self.apellido_materno,
            razon_social: self.razon_social,
            giro: self.giro,
            representante,
            email: self.email,
            email_verified: self.email_verified,
            celular: self.celular,
            telefono_particular: self.telefono_particular,
            telefono_trabajo: self.telefono_trabajo,
            address,
            secret_question: self.secret_question,
            cus_must_change: self.cus_must_change,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tokens_valid_after: self.tokens_valid_after,
        };
        let credentials = Credentials {
            cus_hash: self.cus_hash,
            secret_answer_hash: self.secret_answer_hash,
            pending_cus_hash: self.pending_cus_hash,
            pending_cus_expires: self.pending_cus_expires,
            email_verify_hash: self.email_verify_hash,
            email_verify_expires: self.email_verify_expires,
        };
        Ok((account, credentials))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub first_party: bool,
    pub enabled: bool,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires: Option<OffsetDateTime>,
    pub backchannel_logout_uri: Option<String>,
    pub contacts: String,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub registration_token_hash: Option<String>,
    pub jwks: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

fn json_field<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt("client", format!("{what}: {e}")))
}

fn enum_field<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    json_field(
        &serde_json::Value::String(text.to_owned()).to_string(),
        what,
    )
}

pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl ClientRow {
    pub(crate) fn into_domain(self) -> Result<Client, StoreError> {
        Ok(Client {
            client_id: ClientId(self.client_id),
            name: self.name,
            kind: enum_field::<ClientKind>(&self.kind, "kind")?,
            secret_hash: self.secret_hash,
            redirect_uris: json_field(&self.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: json_field(
                &self.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            grant_types: json_field::<Vec<GrantType>>(&self.grant_types, "grant_types")?,
            scopes: json_field(&self.scopes, "scopes")?,
            token_endpoint_auth_method: enum_field::<TokenAuthMethod>(
                &self.token_endpoint_auth_method,
                "token_endpoint_auth_method",
            )?,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            first_party: self.first_party,
            enabled: self.enabled,
            previous_secret_hash: self.previous_secret_hash,
            previous_secret_expires: self.previous_secret_expires,
            backchannel_logout_uri: self.backchannel_logout_uri,
            contacts: json_field(&self.contacts, "contacts")?,
            logo_uri: self.logo_uri,
            client_uri: self.client_uri,
            registration_token_hash: self.registration_token_hash,
            jwks: self.jwks,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub private_sealed: String,
    pub created_at: OffsetDateTime,
    pub active_from: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl From<SigningKeyRow> for SigningKey {
    fn from(row: SigningKeyRow) -> Self {
        Self {
            kid: row.kid,
            alg: row.alg,
            public_jwk: row.public_jwk,
            private_sealed: row.private_sealed,
            created_at: row.created_at,
            active_from: row.active_from,
            retired_at: row.retired_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub kind: String,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub operator: Option<String>,
}

impl AuditRow {
    pub(crate) fn into_domain(self) -> Result<AuditRecord, StoreError> {
        let id = self.id;
        let event = AuditEvent {
            outcome: AuditOutcome::parse(&self.outcome)
                .ok_or_else(|| StoreError::Corrupt("audit", self.outcome.clone()))?,
            kind: AuditKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt("audit", self.kind.clone()))?,
            at: self.at,
            subject: self.subject,
            ip: self.ip,
            user_agent: self.user_agent,
            detail: self.detail,
            operator: self.operator,
        };
        Ok(AuditRecord { id, event })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    pub id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub sealed: bool,
    pub created_at: OffsetDateTime,
    pub attempts: i32,
}

impl OutboxRow {
    pub(crate) fn into_domain(self) -> Result<StoredNotification, StoreError> {
        Ok(StoredNotification {
            notification: Notification {
                id: self.id,
                channel: Channel::parse(&self.channel)
                    .ok_or_else(|| StoreError::Corrupt("outbox", self.channel.clone()))?,
                recipient: self.recipient,
                subject: self.subject,
                body: self.body,
                sealed: self.sealed,
                created_at: self.created_at,
            },
            attempts: self.attempts,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    pub account_id: Uuid,
    pub client_id: String,
    pub scopes: String,
    pub granted_at: OffsetDateTime,
}

impl From<ConsentRow> for Consent {
    fn from(row: ConsentRow) -> Self {
        Self {
            account_id: AccountId(row.account_id),
            client_id: ClientId(row.client_id),
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            granted_at: row.granted_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: Uuid,
    pub account_id: Uuid,
    pub client_id: String,
    pub grant_json: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(row: RefreshTokenRow) -> Self {
        Self {
            token_hash: row.token_hash,
            family_id: row.family_id,
            account_id: AccountId(row.account_id),
            client_id: ClientId(row.client_id),
            grant_json: row.grant_json,
            created_at: row.created_at,
            expires_at: row.expires_at,
            rotated_at: row.rotated_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, outcome: &str) -> AuditRow {
        AuditRow {
            id: 1,
            at: OffsetDateTime::UNIX_EPOCH,
            kind: kind.into(),
            subject: None,
            ip: None,
            user_agent: None,
            outcome: outcome.into(),
            detail: None,
            operator: None,
        }
    }

    /// A kind or outcome CUS never writes means the trail was edited by hand: say so
    /// rather than guess.
    #[test]
    fn an_audit_row_reads_only_the_texts_cus_writes() {
        let event = row("login_locked", "locked")
            .into_domain()
            .expect("known")
            .event;
        assert_eq!(
            (event.kind, event.outcome),
            (AuditKind::LoginLocked, AuditOutcome::Locked)
        );
        assert!(matches!(
            row("login_hacked", "ok").into_domain(),
            Err(StoreError::Corrupt("audit", text)) if text == "login_hacked"
        ));
        assert!(matches!(
            row("logout", "meh").into_domain(),
            Err(StoreError::Corrupt("audit", text)) if text == "meh"
        ));
    }
}
