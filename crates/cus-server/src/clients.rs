//! Relying-party clients: one set of rules for registering, changing, rotating, disabling
//! and deleting them, shared by the `cus client` CLI, the admin API and dynamic
//! registration (RFC 7591/7592). Every change is an audit event.

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::client::validate_redirect_uri;
use cus_core::{Client, ClientId, ClientKind, GrantType, TokenAuthMethod};
use cus_jose::assertion::ClientKeys;
use cus_store::{Change, Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::oidc::client_auth::hash_client_secret;
use crate::secrets::{random_token, token_hash};

/// The scope that lets a client use the admin API (with client_credentials).
pub const ADMIN_SCOPE: &str = "cus:admin";

/// Client metadata as RFC 7591 §2 names it (plus `first_party`, for operators only).
/// Absent fields keep their current value on update, their default on create.
/// Unknown members are ignored (RFC 7591 §2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ClientMetadata {
    /// Human-readable name shown on the consent page.
    pub client_name: Option<String>,
    /// Exact redirect URIs: https (http only for localhost), no fragment, no wildcard.
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Option<Vec<String>>,
    /// Only `["code"]`.
    pub response_types: Option<Vec<String>>,
    /// Space-separated scopes the client may ask for.
    pub scope: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` (with
    /// `jwks`; no secret is issued), or `none` (a public client).
    pub token_endpoint_auth_method: Option<String>,
    /// For `private_key_jwt`: the client's public signing keys, a JWK Set
    /// (`{"keys": [...]}`; RS256, PS256, ES256 or EdDSA).
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    /// One of SENCE's own portals: consent is not asked. Operators only.
    pub first_party: Option<bool>,
}

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

fn metadata_error(text: impl Into<String>) -> ClientError {
    ClientError::InvalidMetadata(text.into())
}

/// A page about the client (shown, never fetched by CUS): https, or http on localhost.
fn optional_uri(uri: &Option<String>, what: &str) -> Result<(), ClientError> {
    let web = |p: url::Url| {
        p.scheme() == "https"
            || (p.scheme() == "http" && matches!(p.host_str(), Some("localhost" | "127.0.0.1")))
    };
    match uri {
        Some(u) if !url::Url::parse(u).is_ok_and(web) => {
            Err(metadata_error(format!("{what} must be an https URL")))
        }
        _ => Ok(()),
    }
}

/// Whether the client authenticates with a secret we issue. A client that does not holds
/// no secret hash, current or previous ([`apply`] clears them), and client authentication
/// accepts a secret only from a client that does.
pub fn uses_secret(client: &Client) -> bool {
    client.kind == ClientKind::Confidential
        && client.token_endpoint_auth_method != TokenAuthMethod::PrivateKeyJwt
}

/// Applies `meta` over `client` and checks the result as a whole.
fn apply(client: &mut Client, meta: ClientMetadata) -> Result<(), ClientError> {
    if let Some(name) = meta.client_name {
        client.name = name.trim().to_owned();
    }
    if let Some(uris) = meta.redirect_uris {
        client.redirect_uris = uris;
    }
    if let Some(uris) = meta.post_logout_redirect_uris {
        client.post_logout_redirect_uris = uris;
    }
    if let Some(grants) = meta.grant_types {
        client.grant_types = grants
            .iter()
            .map(|g| {
                GrantType::parse(g).ok_or_else(|| metadata_error(format!("unknown grant type {g}")))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(types) = meta.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(metadata_error("only the response type code is supported"));
    }
    if let Some(scope) = meta.scope {
        client.scopes = crate::oidc::split_scopes(&scope);
    }
    if let Some(method) = meta.token_endpoint_auth_method {
        client.token_endpoint_auth_method = match method.as_str() {
            "client_secret_basic" => TokenAuthMethod::ClientSecretBasic,
            "client_secret_post" => TokenAuthMethod::ClientSecretPost,
            "private_key_jwt" => TokenAuthMethod::PrivateKeyJwt,
            "none" => TokenAuthMethod::None,
            other => {
                return Err(metadata_error(format!(
                    "unsupported token_endpoint_auth_method {other}"
                )));
            }
        };
        client.kind = if client.token_endpoint_auth_method == TokenAuthMethod::None {
            ClientKind::Public
        } else {
            ClientKind::Confidential
        };
    }
    if let Some(jwks) = meta.jwks {
        client.jwks = Some(jwks.to_string());
    }
    if let Some(alg) = meta.id_token_signed_response_alg {
        client.id_token_signed_response_alg = alg;
    }
    if meta.backchannel_logout_uri.is_some() {
        client.backchannel_logout_uri = meta.backchannel_logout_uri;
    }
    if let Some(contacts) = meta.contacts {
        client.contacts = contacts;
    }
    if meta.logo_uri.is_some() {
        client.logo_uri = meta.logo_uri;
    }
    if meta.client_uri.is_some() {
        client.client_uri = meta.client_uri;
    }
    if let Some(first_party) = meta.first_party {
        client.first_party = first_party;
    }
    if !uses_secret(client) {
        // Moved to private_key_jwt (or public): the old secret, and one a rotation left
        // alive, must stop working now, not linger in the row.
        client.secret_hash = None;
        client.previous_secret_hash = None;
        client.previous_secret_expires = None;
    }
    validate(client)
}

fn validate(c: &Client) -> Result<(), ClientError> {
    if c.name.is_empty() || c.name.chars().count() > 100 {
        return Err(metadata_error(
            "client_name is required (at most 100 characters)",
        ));
    }
    for uri in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
        validate_redirect_uri(uri).map_err(|e| ClientError::InvalidRedirectUri(e.to_string()))?;
    }
    if c.grant_types.is_empty() {
        return Err(metadata_error("at least one grant type is required"));
    }
    if c.grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(ClientError::InvalidRedirectUri(
            "authorization_code needs at least one redirect URI".into(),
        ));
    }
    if c.kind == ClientKind::Public && c.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(metadata_error(
            "a public client cannot use client_credentials",
        ));
    }
    if !crate::keys::ALGORITHMS.contains(&c.id_token_signed_response_alg.as_str()) {
        return Err(metadata_error(format!(
            "id_token_signed_response_alg must be one of {}",
            crate::keys::ALGORITHMS.join(", ")
        )));
    }
    let known = |s: &String| cus_core::claims::SCOPES.contains(&s.as_str()) || s == ADMIN_SCOPE;
    if let Some(unknown) = c.scopes.iter().find(|s| !known(s)) {
        return Err(metadata_error(format!("unknown scope {unknown}")));
    }
    if c.contacts
        .iter()
        .any(|e| cus_core::contact::parse_email(e).is_err())
    {
        return Err(metadata_error("contacts must be e-mail addresses"));
    }
    match (&c.jwks, c.token_endpoint_auth_method) {
        (Some(jwks), _) => {
            let value = serde_json::from_str(jwks).map_err(|e| metadata_error(e.to_string()))?;
            ClientKeys::from_jwks(&value).map_err(metadata_error)?;
        }
        (None, TokenAuthMethod::PrivateKeyJwt) => {
            return Err(metadata_error(
                "private_key_jwt needs jwks (the keys themselves; jwks_uri is not supported)",
            ));
        }
        (None, _) => {}
    }
    if let Some(uri) = &c.backchannel_logout_uri {
        cus_core::client::validate_backchannel_logout_uri(uri, &c.redirect_uris)
            .map_err(|e| metadata_error(e.to_string()))?;
    }
    optional_uri(&c.logo_uri, "logo_uri")?;
    optional_uri(&c.client_uri, "client_uri")?;
    Ok(())
}

fn event(
    kind: AuditKind,
    now: OffsetDateTime,
    client: &ClientId,
    actor: &str,
    what: &str,
) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now, Some(client.0.clone()));
    e.detail = Some(format!("{what} by {actor}"));
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
        Some(id)
            if id.is_empty()
                || id.len() > 100
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
        {
            return Err(metadata_error(
                "client_id may use letters, digits, '-', '_' and '.' (at most 100)",
            ));
        }
        Some(id) => id,
        None => format!("cus-{}", &random_token()[..20]),
    };
    let mut client = Client {
        client_id: ClientId(client_id),
        name: String::new(),
        kind: ClientKind::Confidential,
        secret_hash: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: cus_core::claims::SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: "RS256".into(),
        first_party: false,
        enabled: true,
        previous_secret_hash: None,
        previous_secret_expires: None,
        backchannel_logout_uri: None,
        contacts: vec![],
        logo_uri: None,
        client_uri: None,
        registration_token_hash: None,
        jwks: None,
        created_at: now,
        updated_at: now,
    };
    if dynamic {
        self_service(&meta)?;
    }
    apply(&mut client, meta)?;
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

/// What a client may ask for itself (RFC 7591 registration and RFC 7592 changes): not
/// `first_party` (skips consent) nor `cus:admin` (manages every client) — those only an
/// operator grants, through the CLI or the admin API.
pub fn self_service(meta: &ClientMetadata) -> Result<(), ClientError> {
    let admin_scope = meta
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|x| x == ADMIN_SCOPE));
    if meta.first_party.is_some() || admin_scope {
        return Err(metadata_error(
            "first_party and cus:admin are for operators only",
        ));
    }
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
    let was_public = client.kind == ClientKind::Public;
    apply(&mut client, meta)?;
    if was_public != (client.kind == ClientKind::Public) {
        return Err(metadata_error(
            "a client cannot change between public and confidential; register a new one",
        ));
    }
    client.updated_at = now;
    store
        .update_client(
            &client,
            Change::audited(&event(
                AuditKind::ClientChanged,
                now,
                &client.client_id,
                actor,
                "updated",
            )),
        )
        .await?;
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
        return Err(metadata_error(
            "this client has no secret (public, or private_key_jwt)",
        ));
    }
    let secret = random_token();
    client.previous_secret_hash = client.secret_hash.take().filter(|_| overlap.is_positive());
    client.previous_secret_expires = client.previous_secret_hash.as_ref().map(|_| now + overlap);
    client.secret_hash = Some(hash_client_secret(&secret));
    client.updated_at = now;
    store
        .update_client(
            &client,
            Change::audited(&event(
                AuditKind::ClientChanged,
                now,
                &client.client_id,
                actor,
                "secret rotated",
            )),
        )
        .await?;
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
    store
        .update_client(
            &client,
            Change::audited(&event(
                AuditKind::ClientChanged,
                now,
                &client.client_id,
                actor,
                what,
            )),
        )
        .await?;
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
