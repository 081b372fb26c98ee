//! The claim catalogue: which claims each scope releases, and their values for an account.
//! Standard OpenID claims plus ClaveÚnica-compatible Chilean ones (`RolUnico`, the `name`
//! object), so a portal that integrates ClaveÚnica only changes its URLs.

use serde_json::{Map, Value, json};

use crate::account::{Account, TipoPersona};
use crate::territory::Catalogue;

/// Scopes CUS understands.
pub const SCOPES: [&str; 7] = [
    "openid", "profile", "email", "phone", "address", "run", "name",
];

/// Every claim CUS can release (for discovery's `claims_supported`).
pub const CLAIMS: [&str; 18] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "RolUnico",
];

/// Chilean claims also released, by name.
pub const EXTRA_CLAIMS: [&str; 4] = ["rut", "tipo_persona", "razon_social", "representante_legal"];

/// The claims a scope releases (OpenID Core §5.4, and CUS's `run` and `name`).
pub fn claims_of_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "openid" => &["sub"],
        "profile" => &["name", "given_name", "family_name", "updated_at"],
        "email" => &["email", "email_verified"],
        "phone" => &["phone_number", "phone_number_verified"],
        "address" => &["address"],
        "run" => &[
            "RolUnico",
            "rut",
            "tipo_persona",
            "razon_social",
            "representante_legal",
        ],
        "name" => &["name"],
        _ => &[],
    }
}

/// The value of one claim for `account`, or `None` when it has none. `name` is the
/// ClaveÚnica object when the `name` scope is granted, the OpenID string otherwise.
pub fn claim_value(account: &Account, claim: &str, clave_unica_name: bool) -> Option<Value> {
    let value = match claim {
        "sub" => json!(account.id.to_string()),
        "name" if clave_unica_name => json!({
            "nombres": account.nombres.split_whitespace().collect::<Vec<_>>(),
            "apellidos": account.apellidos(),
        }),
        "name" => json!(account.display_name()),
        "given_name" if account.tipo == TipoPersona::Natural => json!(account.nombres),
        "family_name" if account.tipo == TipoPersona::Natural => {
            json!(account.apellidos().join(" "))
        }
        "updated_at" => json!(account.updated_at.unix_timestamp()),
        "email" => json!(account.email),
        "email_verified" => json!(account.email_verified),
        "phone_number" => json!(account.celular.as_ref()?),
        "phone_number_verified" => {
            account.celular.as_ref()?;
            json!(false)
        }
        "address" => address(account)?,
        "RolUnico" => json!({
            "numero": account.rut.body(),
            "DV": account.rut.dv().to_string(),
            "tipo": match account.tipo {
                TipoPersona::Natural => "RUN",
                TipoPersona::Juridica => "RUT",
            },
        }),
        "rut" => json!(account.rut.compact()),
        "tipo_persona" => json!(account.tipo.as_str()),
        "razon_social" => json!(account.razon_social.as_ref()?),
        "representante_legal" => {
            let rep = account.representante.as_ref()?;
            json!({ "rut": rep.rut.compact(), "nombre": rep.nombre() })
        }
        _ => return None,
    };
    Some(value)
}

fn address(account: &Account) -> Option<Value> {
    let address = account.address.as_ref()?;
    let catalogue = Catalogue::chile();
    let comuna = catalogue.comuna(address.codigo_comuna)?;
    let region = catalogue.region(comuna.codigo_region)?;
    let mut street = format!("{} {}", address.calle, address.numero);
    if let Some(block) = address.block.as_deref().filter(|b| !b.is_empty()) {
        street.push_str(&format!(", block {block}"));
    }
    if let Some(depto) = address.departamento.as_deref().filter(|d| !d.is_empty()) {
        street.push_str(&format!(", depto. {depto}"));
    }
    Some(json!({
        "formatted": format!("{street}, {}, {}, Chile", comuna.nombre, region.nombre),
        "street_address": street,
        "locality": comuna.nombre,
        "region": region.nombre,
        "country": "CL",
    }))
}

/// Where released claims go: the two places OpenID Core lets claims be asked for (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The ID token: only the claims asked for it by name (beyond the protocol's own).
    IdToken,
    /// The userinfo response: every claim of the granted scopes (§5.4).
    Userinfo,
}

/// The one rule for which claims leave CUS: a claim is released only when one of the
/// `granted` scopes carries it. `granted` are the scopes the client is allowed and the
/// person consented to (or a first-party client was given); the `claims` request parameter
/// (`requested`) only chooses among those, it never widens them. Nothing here depends on
/// the person: a claim they have no value for is simply left out later.
pub fn released<'a>(
    granted: impl IntoIterator<Item = &'a str>,
    requested: impl IntoIterator<Item = &'a str>,
    to: Destination,
) -> Vec<&'static str> {
    let carried: Vec<&'static str> = granted
        .into_iter()
        .flat_map(|s| claims_of_scope(s).iter().copied())
        .collect();
    let mut out: Vec<&'static str> = Vec::new();
    let chosen: Vec<&'static str> = match to {
        Destination::Userinfo => carried.clone(),
        Destination::IdToken => requested
            .into_iter()
            .filter_map(|name| carried.iter().copied().find(|c| *c == name))
            .collect(),
    };
    for name in chosen {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The values of the [`released`] claims for `account`.
pub fn release<'a>(
    account: &Account,
    granted: impl IntoIterator<Item = &'a str> + Clone,
    requested: impl IntoIterator<Item = &'a str>,
    to: Destination,
) -> Map<String, Value> {
    let clave_unica_name = granted.clone().into_iter().any(|s| s == "name");
    let mut out = Map::new();
    for name in released(granted, requested, to) {
        if let Some(value) = claim_value(account, name, clave_unica_name) {
            out.insert(name.to_owned(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_asked_by_name_never_widen_the_granted_scopes() {
        let asked = ["email", "rut", "phone_number", "RolUnico", "address"];
        assert!(released(["openid"], asked, Destination::IdToken).is_empty());
        assert_eq!(
            released(["openid"], asked, Destination::Userinfo),
            ["sub"],
            "userinfo: only what openid carries"
        );
        assert_eq!(
            released(["openid", "email"], asked, Destination::IdToken),
            ["email"]
        );
        assert_eq!(
            released(["openid", "email"], asked, Destination::Userinfo),
            ["sub", "email", "email_verified"]
        );
    }

    #[test]
    fn unknown_names_and_scopes_release_nothing() {
        assert!(released(["nope"], ["email", "x"], Destination::IdToken).is_empty());
        assert!(released(["nope"], [], Destination::Userinfo).is_empty());
        assert!(released(["email"], ["x", "sub"], Destination::IdToken).is_empty());
    }
}
