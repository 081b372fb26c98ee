//! The bodies of every POST CUS accepts, and the two decoders they go through: one home,
//! so the handlers and the fuzz targets (`fuzz/`) decode exactly alike.
//!
//! Web forms (`application/x-www-form-urlencoded` from our own pages) decode with
//! `serde_urlencoded`, as axum's `Form` would. Protocol requests (OAuth/OpenID) decode
//! with [`protocol`], which refuses repeated parameters (RFC 6749 §3.1).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Why a web form's body could not be decoded (a form not sent by our pages).
#[derive(Debug, thiserror::Error)]
#[error("malformed form: {0}")]
pub struct BadForm(String);

/// Decodes a web form's body.
pub fn web<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadForm> {
    serde_urlencoded::from_bytes(body).map_err(|e| BadForm(e.to_string()))
}

/// Why parameters could not be decoded.
#[derive(Debug)]
pub struct BadParams(pub String);

/// Decodes a protocol query or body, `a=1&b=2`, into `T` (a struct of `Option<String>` fields).
pub fn protocol<T: DeserializeOwned>(raw: &[u8]) -> Result<T, BadParams> {
    let mut map = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        // Empty values count as absent (OpenID Core §3.1.2.1 treats them so).
        if v.is_empty() {
            continue;
        }
        if map
            .insert(
                k.clone().into_owned(),
                serde_json::Value::String(v.into_owned()),
            )
            .is_some()
        {
            return Err(BadParams(format!("parameter {k} is repeated")));
        }
    }
    serde_json::from_value(serde_json::Value::Object(map.into_iter().collect()))
        .map_err(|e| BadParams(format!("malformed parameters: {e}")))
}

// ---- Web forms ----

/// Every field any of the lifecycle forms (Regístrese, Genere nueva CUS, Cambie su CUS,
/// Actualice sus datos, persona jurídica) posts. The same struct carries the values back to the
/// page on error; secrets (CUS, answer, captcha) are never rendered.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LifecycleForm {
    pub csrf: String,
    pub action: String,
    pub captcha_id: String,
    pub captcha: String,
    pub rut: String,
    pub nombres: String,
    pub apellido_paterno: String,
    pub apellido_materno: String,
    pub pregunta: String,
    pub respuesta: String,
    pub calle: String,
    pub numero: String,
    pub block: String,
    pub departamento: String,
    pub region: String,
    pub comuna: String,
    pub email: String,
    pub telefono_particular: String,
    pub telefono_trabajo: String,
    pub celular: String,
    pub sin_celular: String,
    pub cus: String,
    pub cus_nueva: String,
    pub cus_repetida: String,
    pub ticket: String,
    pub rid: String,
    pub razon_social: String,
    pub giro: String,
    pub rep_rut: String,
    pub rep_nombres: String,
    pub rep_apellidos: String,
    pub rep_email: String,
}

/// `POST /Account`: RUT + CUS.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    pub csrf: Option<String>,
    pub rid: Option<String>,
    pub rut: Option<String>,
    pub cus: Option<String>,
    pub captcha_id: Option<String>,
    pub captcha: Option<String>,
}

/// `POST /Account/consent`.
#[derive(Debug, Default, Deserialize)]
pub struct ConsentForm {
    pub csrf: Option<String>,
    pub rid: Option<String>,
    pub decision: Option<String>,
}

/// `POST /autorizaciones`: withdraw one application's consent.
#[derive(Debug, Default, Deserialize)]
pub struct WithdrawForm {
    pub csrf: Option<String>,
    pub client_id: Option<String>,
}

/// `POST /mis-sesiones/cerrar`: end one of the person's own sessions (by its handle), or
/// every one but this browser's (`/mis-sesiones/cerrar-otras`, no handle).
#[derive(Debug, Default, Deserialize)]
pub struct EndOwnSessionForm {
    pub csrf: Option<String>,
    pub sesion: Option<String>,
}

/// A form whose only field is its CSRF token (`POST /mis-datos/descargar`): what it acts
/// on is the signed-in person, never a parameter.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnlyForm {
    pub csrf: Option<String>,
}

// ---- Protocol requests ----

/// The form of `POST /token`.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    /// The person at the keyboard of a help-desk tool (client_credentials with
    /// `cus:helpdesk` only): copied into the access token, named in every audit event.
    pub operator: Option<String>,
    /// The client's credentials, when sent in the body.
    #[serde(flatten)]
    pub credentials: ClientCredentialsForm,
}

/// Client credentials in a protocol body (`client_secret_post`, `private_key_jwt`).
#[derive(Debug, Default, Deserialize)]
pub struct ClientCredentialsForm {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662).
#[derive(Debug, Default, Deserialize)]
pub struct TokenActionForm {
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    /// The client's credentials, when sent in the body.
    #[serde(flatten)]
    pub credentials: ClientCredentialsForm,
}

/// `POST /userinfo` with the token in the body (RFC 6750 §2.2).
#[derive(Debug, Default, Deserialize)]
pub struct UserinfoForm {
    pub access_token: Option<String>,
}

/// `/end_session` (RP-Initiated Logout 1.0) and its confirmation form.
#[derive(Debug, Default, Deserialize)]
pub struct EndSessionParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub csrf: Option<String>,
}
