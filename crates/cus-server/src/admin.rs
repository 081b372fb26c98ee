//! Operator actions shared by the `cus` CLI and the tests: registering clients, creating
//! accounts for people helped in person.

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::client::validate_redirect_uri;
use cus_core::{
    Account, AccountId, Client, ClientId, ClientKind, Credentials, GrantType, NewAccount, Rut,
    TipoPersona, TokenAuthMethod,
};
use cus_store::Store;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hashing::Hasher;
use crate::oidc::client_auth::hash_client_secret;
use crate::secrets::random_token;

/// What an operator asks for when registering a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub client_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub id_token_alg: String,
    pub auth_method: Option<TokenAuthMethod>,
}

/// Registers a client; returns it and, for a confidential one, its secret (shown once).
pub async fn create_client(
    store: &dyn Store,
    spec: ClientSpec,
    now: OffsetDateTime,
) -> anyhow::Result<(Client, Option<String>)> {
    if spec.name.trim().is_empty() {
        anyhow::bail!("the client needs a name");
    }
    for uri in spec
        .redirect_uris
        .iter()
        .chain(&spec.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri)?;
    }
    if spec.grant_types.contains(&GrantType::AuthorizationCode) && spec.redirect_uris.is_empty() {
        anyhow::bail!("authorization_code needs at least one --redirect-uri");
    }
    if spec.public && spec.grant_types.contains(&GrantType::ClientCredentials) {
        anyhow::bail!("a public client cannot use client_credentials");
    }
    if !crate::keys::ALGORITHMS.contains(&spec.id_token_alg.as_str()) {
        anyhow::bail!("id_token alg must be one of {:?}", crate::keys::ALGORITHMS);
    }
    let secret = (!spec.public).then(random_token);
    let client = Client {
        client_id: ClientId(
            spec.client_id
                .unwrap_or_else(|| format!("cus-{}", &random_token()[..20])),
        ),
        name: spec.name,
        kind: if spec.public {
            ClientKind::Public
        } else {
            ClientKind::Confidential
        },
        secret_hash: secret.as_deref().map(hash_client_secret),
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        grant_types: spec.grant_types,
        scopes: spec.scopes,
        token_endpoint_auth_method: match (spec.public, spec.auth_method) {
            (true, _) => TokenAuthMethod::None,
            (false, Some(m)) => m,
            (false, None) => TokenAuthMethod::ClientSecretBasic,
        },
        id_token_signed_response_alg: spec.id_token_alg,
        first_party: spec.first_party,
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    let mut event = AuditEvent::new(
        AuditKind::ClientCreated,
        now,
        Some(client.client_id.0.clone()),
    );
    event.detail = Some("created by operator".into());
    store.create_client(&client, &event).await?;
    Ok((client, secret))
}

/// A persona natural account created by an operator (help desk), with a CUS they chose or
/// one generated for them (which must then be changed at first login).
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub rut: Rut,
    pub nombres: String,
    pub apellidos: Vec<String>,
    pub email: String,
    pub celular: Option<String>,
    pub address: Option<cus_core::Address>,
}

pub async fn create_account(
    store: &dyn Store,
    hasher: &Hasher,
    spec: AccountSpec,
    cus: &str,
    generated: bool,
    now: OffsetDateTime,
) -> anyhow::Result<Account> {
    if spec.nombres.trim().is_empty() || spec.apellidos.is_empty() {
        anyhow::bail!("nombres and at least one apellido are required");
    }
    if !spec.email.contains('@') {
        anyhow::bail!("email is not an e-mail address");
    }
    let normalized = if generated {
        cus.to_owned()
    } else {
        cus_core::policy::check_cus(cus, cus, &spec.rut, Some(&spec.email), |_| false)?
    };
    let account = Account {
        id: AccountId(Uuid::now_v7()),
        rut: spec.rut,
        tipo: TipoPersona::Natural,
        nombres: spec.nombres.trim().to_owned(),
        apellido_paterno: spec.apellidos[0].trim().to_owned(),
        apellido_materno: spec.apellidos.get(1).map(|a| a.trim().to_owned()),
        razon_social: None,
        giro: None,
        representante: None,
        email: spec.email.trim().to_owned(),
        email_verified: false,
        celular: spec.celular,
        telefono_particular: None,
        telefono_trabajo: None,
        address: spec.address,
        secret_question: None,
        cus_must_change: generated,
        created_at: now,
        updated_at: now,
        tokens_valid_after: now,
    };
    let credentials = Credentials {
        cus_hash: hasher.hash(&normalized).await?,
        ..Credentials::default()
    };
    let mut event = AuditEvent::new(AuditKind::AccountCreated, now, Some(account.rut.compact()));
    event.detail = Some("created by operator".into());
    store
        .create_account(
            &NewAccount {
                account: account.clone(),
                credentials,
            },
            &[],
            &event,
        )
        .await
        .map_err(|e| match e {
            cus_store::StoreError::AlreadyExists(_) => {
                anyhow::anyhow!("RUT {} already has an account", account.rut)
            }
            other => other.into(),
        })?;
    Ok(account)
}

/// A CUS generated for a person: 4 groups of 4 letters and digits, without look-alikes.
pub fn generate_cus() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = rand::random::<[u8; 16]>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}
