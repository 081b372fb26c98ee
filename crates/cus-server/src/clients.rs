//! Relying-party clients: one set of rules for registering, changing, rotating, disabling
//! and deleting them, shared by the `cus client` CLI, the admin API and dynamic
//! registration (RFC 7591/7592). Every change is an audit event.

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::client_metadata::{MetadataError, Signing, new_client, parse_client_id};
use cus_core::{Client, ClientId, ClientKind};
use cus_jose::assertion::ClientKeys;
use cus_store::{Change, Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::oidc::client_auth::hash_client_secret;
use crate::secrets::{random_token, token_hash};

pub use cus_core::client_metadata::{ADMIN_SCOPE, ClientMetadata, uses_secret};

/// A client as shown to operators and developers: never its secret or hashes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_name: String,
    /// `confidential` or `public`.
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
    pub token_endpoint_auth_method: String,
    /// The public keys of a `private_key_jwt` client.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub id_token_signed_response_alg: String,
    pub backchannel_logout_uri: Option<String>,
    pub contacts: Vec<String>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub first_party: bool,
    pub enabled: bool,
    /// Unix seconds.
    pub client_id_issued_at: i64,
    pub updated_at: i64,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.client_id.0.clone(),
            client_name: c.name.clone(),
            kind: match c.kind {
                ClientKind::Confidential => "confidential".into(),
                ClientKind::Public => "public".into(),
            },
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            response_types: vec!["code".into()],
            scope: c.scopes.join(" "),
            token_endpoint_auth_method: c.token_endpoint_auth_method.as_str().to_owned(),
            jwks: c.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            id_token_signed_response_alg: c.id_token_signed_response_alg.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            contacts: c.contacts.clone(),
            logo_uri: c.logo_uri.clone(),
            client_uri: c.client_uri.clone(),
            first_party: c.first_party,
            enabled: c.enabled,
            client_id_issued_at: c.created_at.unix_timestamp(),
            updated_at: c.updated_at.unix_timestamp(),
        }
    }
}

/// Why a client change was refused (RFC 7591 §3.2.2 codes where they exist).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidMetadata(String),
    #[error("a client with this client_id already exists")]
    AlreadyExists,
    #[error("no such client")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(_) => ClientError::AlreadyExists,
            StoreError::NotFound(_) => ClientError::NotFound,
            other => ClientError::Store(other),
        }
    }
}

impl From<MetadataError> for ClientError {
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::InvalidRedirectUri(text) => ClientError::InvalidRedirectUri(text),
            MetadataError::InvalidClientMetadata(text) => ClientError::InvalidMetadata(text),
        }
    }
}

impl ClientError {
    /// The RFC 7591 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidMetadata(_) => "invalid_client_metadata",
            Self::AlreadyExists => "already_exists",
            Self::NotFound => "not_found",
            Self::Store(_) => "server_error",
        }
    }
}

/// What the signing side of this server supports: the ID token algorithms of its keys, and
/// cus-jose's reading of a client's JWK Set.
const SIGNING: Signing<'static> = Signing {
    id_token_algs: &crate::keys::ALGORITHMS,
    check_jwks: &|jwks| ClientKeys::from_jwks(jwks).map(drop),
};

fn event(
    kind: AuditKind,
    now: OffsetDateTime,
    client: &ClientId,
    actor: &str,
    what: &str,
) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now, Some(client.0.clone())).by(actor);
    e.detail = Some(what.to_owned());
    e
}

/// A new client and its secrets, shown once.
pub struct Created {
    pub client: Client,
    pub secret: Option<String>,
    /// RFC 7592 token, for dynamically registered clients.
    pub registration_access_token: Option<String>,
}

/// Registers a client. `client_id` is generated unless given; `actor` is who asked (for
/// the audit trail).
pub async fn create(
    store: &dyn Store,
    client_id: Option<String>,
    meta: ClientMetadata,
    dynamic: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Created, ClientError> {
    let client_id = match client_id {
        Some(id) => parse_client_id(id)?,
        None => ClientId(format!("cus-{}", &random_token()[..20])),
    };
    let mut client = new_client(client_id, now);
    if dynamic {
        meta.self_service()?;
    }
    meta.apply(&mut client, &SIGNING)?;
    let secret = uses_secret(&client).then(random_token);
    client.secret_hash = secret.as_deref().map(hash_client_secret);
    let registration_access_token = dynamic.then(random_token);
    client.registration_token_hash = registration_access_token.as_deref().map(token_hash);
    store
        .create_client(
            &client,
            Change::audited(&event(
                AuditKind::ClientCreated,
                now,
                &client.client_id,
                actor,
                "created",
            )),
        )
        .await?;
    Ok(Created {
        client,
        secret,
        registration_access_token,
    })
}

/// Saves a changed client with the audit event saying `what` changed, in one transaction.
async fn save(
    store: &dyn Store,
    client: &Client,
    actor: &str,
    what: &str,
    now: OffsetDateTime,
) -> Result<(), ClientError> {
    let audit = event(
        AuditKind::ClientChanged,
        now,
        &client.client_id,
        actor,
        what,
    );
    store.update_client(client, Change::audited(&audit)).await?;
    Ok(())
}

async fn load(store: &dyn Store, id: &str) -> Result<Client, ClientError> {
    store
        .client(&ClientId(id.to_owned()))
        .await?
        .ok_or(ClientError::NotFound)
}

/// Changes the given metadata of a client.
pub async fn update(
    store: &dyn Store,
    id: &str,
    meta: ClientMetadata,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Client, ClientError> {
    let mut client = load(store, id).await?;
    meta.apply_change(&mut client, &SIGNING)?;
    client.updated_at = now;
    save(store, &client, actor, "updated", now).await?;
    Ok(client)
}

/// A new secret; the previous one keeps working for `overlap` (zero: stops at once).
pub async fn rotate_secret(
    store: &dyn Store,
    id: &str,
    overlap: time::Duration,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(Client, String), ClientError> {
    let mut client = load(store, id).await?;
    if !uses_secret(&client) {
        return Err(ClientError::InvalidMetadata(
            "this client has no secret (public, or private_key_jwt)".into(),
        ));
    }
    let secret = random_token();
    client.previous_secret_hash = client.secret_hash.take().filter(|_| overlap.is_positive());
    client.previous_secret_expires = client.previous_secret_hash.as_ref().map(|_| now + overlap);
    client.secret_hash = Some(hash_client_secret(&secret));
    client.updated_at = now;
    save(store, &client, actor, "secret rotated", now).await?;
    Ok((client, secret))
}

pub async fn set_enabled(
    store: &dyn Store,
    id: &str,
    enabled: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Client, ClientError> {
    let mut client = load(store, id).await?;
    client.enabled = enabled;
    client.updated_at = now;
    let what = if enabled { "enabled" } else { "disabled" };
    save(store, &client, actor, what, now).await?;
    Ok(client)
}

pub async fn delete(
    store: &dyn Store,
    id: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), ClientError> {
    let client_id = ClientId(id.to_owned());
    if store
        .delete_client(
            &client_id,
            Change::audited(&event(
                AuditKind::ClientChanged,
                now,
                &client_id,
                actor,
                "deleted",
            )),
        )
        .await?
    {
        Ok(())
    } else {
        Err(ClientError::NotFound)
    }
}

/// `cus registration-token create`: an initial access token for RFC 7591 registration.
pub async fn create_initial_access_token(
    store: &dyn Store,
    lifetime: time::Duration,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let token = random_token();
    store
        .insert_initial_access_token(&token_hash(&token), now, now + lifetime)
        .await?;
    Ok(token)
}
