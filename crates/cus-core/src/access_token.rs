//! The claims of CUS's access tokens (`at+jwt`, RFC 9068 §2.2) as the token's readers use
//! them: userinfo, introspection, revocation and the admin API. A token whose claims do not
//! read as this was not minted by CUS and is not live.

use serde::Deserialize;

/// The claims of a verified access token. A person's token carries the time of the login
/// it stems from (`auth_time`); a client's own token (client_credentials) does not.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The account id, or the client id for a client's own token.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    /// Space-separated granted scopes (RFC 9068 §2.2.3).
    pub scope: String,
    /// Unix seconds.
    pub iat: i64,
    /// Unix seconds.
    pub exp: i64,
    /// The id a revocation names (RFC 7009 for access tokens).
    pub jti: String,
    /// Unix seconds of the login; absent on a client's own token.
    pub auth_time: Option<i64>,
    /// The milliseconds within `auth_time`, so a CUS changed in the same second as the login
    /// is told apart from it.
    #[serde(default)]
    pub auth_ms: i64,
    /// The claims the `claims` request parameter asked for at userinfo (OpenID Core §5.5).
    #[serde(default)]
    pub userinfo_claims: Vec<String>,
    /// The person at the keyboard of a help-desk tool, as its client named them at the
    /// token endpoint (a client's own token with `cus:helpdesk` only).
    #[serde(default)]
    pub operator: Option<String>,
}

impl AccessTokenClaims {
    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + Clone {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_client_token_has_no_login() {
        let claims: AccessTokenClaims = serde_json::from_value(json!({
            "iss": "https://cus.sence.cl", "sub": "c", "aud": "c", "client_id": "c",
            "iat": 1, "exp": 2, "jti": "j", "scope": "cus:admin",
        }))
        .expect("a client_credentials token reads");
        assert_eq!((claims.auth_time, claims.auth_ms), (None, 0));
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["cus:admin"]);
        assert!(claims.userinfo_claims.is_empty());
    }

    #[test]
    fn a_token_without_its_jti_is_not_ours() {
        let read = serde_json::from_value::<AccessTokenClaims>(json!({
            "iss": "i", "sub": "s", "aud": "c", "client_id": "c", "iat": 1, "exp": 2,
            "scope": "openid",
        }));
        assert!(read.is_err());
    }

    proptest! {
        /// What the token endpoint writes for a person reads back field for field.
        #[test]
        fn a_person_token_reads_back(
            sub in "[0-9a-f-]{1,36}",
            scope in prop::collection::vec("[a-z:]{1,8}", 0..4),
            iat in 0i64..4_000_000_000,
            ms in 0i64..1000,
            requested in prop::collection::vec("[a-z_]{1,12}", 0..3),
        ) {
            let mut minted = json!({
                "iss": "https://cus.sence.cl", "sub": sub, "aud": "p", "client_id": "p",
                "iat": iat, "exp": iat + 600, "jti": "j", "scope": scope.join(" "),
                "auth_time": iat, "auth_ms": ms, "sid": null, "acr": "1",
            });
            if !requested.is_empty() {
                minted["userinfo_claims"] = json!(requested);
            }
            let claims: AccessTokenClaims = serde_json::from_value(minted).expect("reads");
            prop_assert_eq!(&claims.sub, &sub);
            prop_assert_eq!((claims.iat, claims.exp, claims.auth_time, claims.auth_ms), (iat, iat + 600, Some(iat), ms));
            prop_assert_eq!(claims.scopes().collect::<Vec<_>>(), scope.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(claims.userinfo_claims, requested);
        }
    }
}
