//! Decoding of query strings and form bodies for protocol endpoints. OAuth parameters must
//! not repeat (RFC 6749 §3.1); a repeated one is rejected rather than guessed at.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

/// Why parameters could not be decoded.
#[derive(Debug)]
pub struct BadParams(pub String);

/// Decodes `a=1&b=2` into `T` (a struct of `Option<String>` fields).
pub fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T, BadParams> {
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
