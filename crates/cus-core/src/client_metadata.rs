//! Client metadata (RFC 7591 §2) as the CLI, the admin API and dynamic registration send
//! it, and the one rule set that turns it into a valid [`Client`]. Pure, so the fuzz target
//! and the property tests drive exactly what the server runs; the server keeps the I/O
//! (store, secrets, audit).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use crate::client::{validate_backchannel_logout_uri, validate_redirect_uri};
use crate::{Client, ClientId, ClientKind, GrantType, TokenAuthMethod};

/// The scope that lets a client manage clients through the admin API (with
/// client_credentials).
pub const ADMIN_SCOPE: &str = "cus:admin";

/// The scope that lets a client use the admin API's help-desk operations on accounts
/// (`/admin/api/v1/accounts…`), and name the operator at the keyboard in its token.
pub const HELPDESK_SCOPE: &str = "cus:helpdesk";

/// The scopes only an operator grants (through the CLI or the admin API).
pub const OPERATOR_SCOPES: [&str; 2] = [ADMIN_SCOPE, HELPDESK_SCOPE];

/// Client metadata as RFC 7591 §2 names it (plus `first_party`, for operators only).
/// Absent fields keep their current value on update, their default on create.
/// Unknown members are ignored (RFC 7591 §2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<Value>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    /// One of SENCE's own portals: consent is not asked. Operators only.
    pub first_party: Option<bool>,
}

/// Why metadata was refused, by its RFC 7591 §3.2.2 error code; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// RFC 7591 §3.2.2 `invalid_redirect_uri`.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2 `invalid_client_metadata`.
    #[error("{0}")]
    InvalidClientMetadata(String),
}

fn invalid(text: impl Into<String>) -> MetadataError {
    MetadataError::InvalidClientMetadata(text.into())
}

/// What the signing side supports. cus-core knows no JOSE (josekit needs OpenSSL), so the
/// caller hands in its algorithms and its JWK Set check; the server and the fuzz target
/// both pass cus-jose's.
pub struct Signing<'a> {
    /// The algorithms an ID token can be signed with.
    pub id_token_algs: &'a [&'a str],
    /// Whether a JWK Set holds usable client keys (the reason if not).
    pub check_jwks: &'a dyn Fn(&Value) -> Result<(), String>,
}

/// A client id chosen by an operator: letters, digits, `-`, `_`, `.`, at most 100, so it
/// is safe in URLs and logs as it is.
pub fn parse_client_id(id: String) -> Result<ClientId, MetadataError> {
    let valid = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if valid {
        Ok(ClientId(id))
    } else {
        Err(invalid(
            "client_id may use letters, digits, '-', '_' and '.' (at most 100)",
        ))
    }
}

/// A client before its metadata is applied: what an absent field defaults to on create
/// (a confidential web portal with `client_secret_basic`, every OpenID scope, RS256).
pub fn new_client(client_id: ClientId, now: OffsetDateTime) -> Client {
    Client {
        client_id,
        name: String::new(),
        kind: ClientKind::Confidential,
        secret_hash: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: crate::claims::SCOPES
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
    }
}

/// Whether the client authenticates with a secret we issue. A client that does not holds
/// no secret hash, current or previous ([`ClientMetadata::apply`] clears them), and client
/// authentication accepts a secret only from a client that does.
pub fn uses_secret(client: &Client) -> bool {
    client.kind == ClientKind::Confidential
        && client.token_endpoint_auth_method != TokenAuthMethod::PrivateKeyJwt
}

impl ClientMetadata {
    /// What a client may ask for itself (RFC 7591 registration and RFC 7592 changes): not
    /// `first_party` (skips consent) nor `cus:admin` (manages every client) nor
    /// `cus:helpdesk` (acts on every account) — those only an operator grants, through the
    /// CLI or the admin API.
    pub fn self_service(&self) -> Result<(), MetadataError> {
        let admin_scope = self
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| OPERATOR_SCOPES.contains(&x)));
        if self.first_party.is_some() || admin_scope {
            return Err(invalid(
                "first_party, cus:admin and cus:helpdesk are for operators only",
            ));
        }
        Ok(())
    }

    /// What an admin API caller may grant: no operator scope it does not hold itself, so a
    /// `cus:admin` client cannot give itself (or another) `cus:helpdesk` and act on every
    /// account. `held` says whether the caller's token carries a scope.
    pub fn grantable_by(&self, held: impl Fn(&str) -> bool) -> Result<(), MetadataError> {
        let asked = self.scope.as_deref().unwrap_or_default().split(' ');
        match asked
            .filter(|s| OPERATOR_SCOPES.contains(s))
            .find(|s| !held(s))
        {
            Some(scope) => Err(invalid(format!(
                "{scope} is granted only by an operator who holds it (cus client update \
                 --scope …)"
            ))),
            None => Ok(()),
        }
    }

    /// Applies the metadata over `client` and checks the result as a whole: `client` is
    /// valid afterwards, or the error says why (and `client` must be dropped).
    pub fn apply(self, client: &mut Client, signing: &Signing<'_>) -> Result<(), MetadataError> {
        if let Some(name) = self.client_name {
            client.name = name.trim().to_owned();
        }
        if let Some(uris) = self.redirect_uris {
            client.redirect_uris = uris;
        }
        if let Some(uris) = self.post_logout_redirect_uris {
            client.post_logout_redirect_uris = uris;
        }
        if let Some(grants) = self.grant_types {
            client.grant_types = grants
                .iter()
                .map(|g| {
                    GrantType::parse(g).ok_or_else(|| invalid(format!("unknown grant type {g}")))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(types) = self.response_types
            && types.iter().any(|t| t != "code")
        {
            return Err(invalid("only the response type code is supported"));
        }
        if let Some(scope) = self.scope {
            client.scopes = crate::oauth::split_scopes(&scope);
        }
        if let Some(method) = self.token_endpoint_auth_method {
            client.token_endpoint_auth_method = match method.as_str() {
                "client_secret_basic" => TokenAuthMethod::ClientSecretBasic,
                "client_secret_post" => TokenAuthMethod::ClientSecretPost,
                "private_key_jwt" => TokenAuthMethod::PrivateKeyJwt,
                "none" => TokenAuthMethod::None,
                other => {
                    return Err(invalid(format!(
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
        if let Some(jwks) = self.jwks {
            client.jwks = Some(jwks.to_string());
        }
        if let Some(alg) = self.id_token_signed_response_alg {
            client.id_token_signed_response_alg = alg;
        }
        if self.backchannel_logout_uri.is_some() {
            client.backchannel_logout_uri = self.backchannel_logout_uri;
        }
        if let Some(contacts) = self.contacts {
            client.contacts = contacts;
        }
        if self.logo_uri.is_some() {
            client.logo_uri = self.logo_uri;
        }
        if self.client_uri.is_some() {
            client.client_uri = self.client_uri;
        }
        if let Some(first_party) = self.first_party {
            client.first_party = first_party;
        }
        if !uses_secret(client) {
            // Moved to private_key_jwt (or public): the old secret, and one a rotation left
            // alive, must stop working now, not linger in the row.
            client.secret_hash = None;
            client.previous_secret_hash = None;
            client.previous_secret_expires = None;
        }
        validate(client, signing)
    }

    /// [`apply`](Self::apply) to a registered client: a client cannot turn public or
    /// confidential, since its tokens and consents were issued to what it was.
    pub fn apply_change(
        self,
        client: &mut Client,
        signing: &Signing<'_>,
    ) -> Result<(), MetadataError> {
        let was_public = client.kind == ClientKind::Public;
        self.apply(client, signing)?;
        if was_public != (client.kind == ClientKind::Public) {
            return Err(invalid(
                "a client cannot change between public and confidential; register a new one",
            ));
        }
        Ok(())
    }
}

/// A page about the client (shown, never fetched by CUS): https, or http on localhost.
fn optional_uri(uri: Option<&str>, what: &str) -> Result<(), MetadataError> {
    let web = |p: Url| {
        p.scheme() == "https"
            || (p.scheme() == "http" && matches!(p.host_str(), Some("localhost" | "127.0.0.1")))
    };
    match uri {
        Some(u) if !Url::parse(u).is_ok_and(web) => {
            Err(invalid(format!("{what} must be an https URL")))
        }
        _ => Ok(()),
    }
}

/// The rules a client must satisfy as a whole, in the order their errors are reported.
fn validate(c: &Client, signing: &Signing<'_>) -> Result<(), MetadataError> {
    if c.name.is_empty() || c.name.chars().count() > 100 {
        return Err(invalid("client_name is required (at most 100 characters)"));
    }
    for uri in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
        validate_redirect_uri(uri).map_err(|e| MetadataError::InvalidRedirectUri(e.to_string()))?;
    }
    if c.grant_types.is_empty() {
        return Err(invalid("at least one grant type is required"));
    }
    if c.grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(MetadataError::InvalidRedirectUri(
            "authorization_code needs at least one redirect URI".into(),
        ));
    }
    if c.kind == ClientKind::Public && c.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(invalid("a public client cannot use client_credentials"));
    }
    if !signing
        .id_token_algs
        .contains(&c.id_token_signed_response_alg.as_str())
    {
        return Err(invalid(format!(
            "id_token_signed_response_alg must be one of {}",
            signing.id_token_algs.join(", ")
        )));
    }
    let known = |s: &String| {
        crate::claims::SCOPES.contains(&s.as_str()) || OPERATOR_SCOPES.contains(&s.as_str())
    };
    if let Some(unknown) = c.scopes.iter().find(|s| !known(s)) {
        return Err(invalid(format!("unknown scope {unknown}")));
    }
    if c.contacts
        .iter()
        .any(|e| crate::contact::Email::parse(e).is_err())
    {
        return Err(invalid("contacts must be e-mail addresses"));
    }
    match (&c.jwks, c.token_endpoint_auth_method) {
        (Some(jwks), _) => {
            let value = serde_json::from_str(jwks).map_err(|e| invalid(e.to_string()))?;
            (signing.check_jwks)(&value).map_err(invalid)?;
        }
        (None, TokenAuthMethod::PrivateKeyJwt) => {
            return Err(invalid(
                "private_key_jwt needs jwks (the keys themselves; jwks_uri is not supported)",
            ));
        }
        (None, _) => {}
    }
    if let Some(uri) = &c.backchannel_logout_uri {
        validate_backchannel_logout_uri(uri, &c.redirect_uris)
            .map_err(|e| invalid(e.to_string()))?;
    }
    optional_uri(c.logo_uri.as_deref(), "logo_uri")?;
    optional_uri(c.client_uri.as_deref(), "client_uri")?;
    Ok(())
}

#[cfg(test)]
mod tests;
