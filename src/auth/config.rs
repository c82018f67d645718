//! `auth_mode` and the variables of the schemes it lists (SPEC section 5).
//! A bad value is our misconfiguration: 500 with a message naming the
//! variable.

use super::aksk::{self, Credential};
use super::tokens::{self, TokenEntry};
use crate::core::error::Error;

/// `auth_mode`: how identities are established (SPEC section 4).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// `headers`: a trusted proxy in front; stands alone.
    Headers,
    /// A list of `keystone`, `tokens` and `aksk`: at least one is set.
    Schemes(Schemes),
}

/// The schemes a request may be judged by; `None` for those not listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schemes {
    /// Keystone's base URL, without a trailing `/` or `/v3`.
    pub keystone: Option<String>,
    pub tokens: Option<Vec<TokenEntry>>,
    pub aksk: Option<Vec<Credential>>,
}

/// `auth_mode` and the variables of the schemes it lists.
pub fn load(mode: &str, get: &dyn Fn(&str, &str) -> String) -> Result<AuthConfig, Error> {
    if mode == "headers" {
        return Ok(AuthConfig::Headers);
    }
    let mut schemes = Schemes::default();
    for name in mode.split(',').map(str::trim) {
        match name {
            "keystone" => {
                let url = get("keystone_url", "");
                if url.is_empty() {
                    return Err(Error::misconfigured(
                        "keystone_url",
                        "is not set; keystone mode needs it",
                    ));
                }
                schemes.keystone = Some(keystone_base(&url));
            }
            "tokens" => {
                let table = tokens::parse_table(&get("auth_tokens", ""))
                    .map_err(|why| Error::misconfigured("auth_tokens", &why))?;
                schemes.tokens = Some(table);
            }
            "aksk" => {
                let table = aksk::parse_credentials(&get("aksk_credentials", ""))
                    .map_err(|why| Error::misconfigured("aksk_credentials", &why))?;
                schemes.aksk = Some(table);
            }
            "headers" => {
                return Err(Error::misconfigured(
                    "auth_mode",
                    "lists headers with other modes; headers stands alone",
                ))
            }
            _ => {
                return Err(Error::misconfigured(
                    "auth_mode",
                    "is not keystone, tokens, aksk, a comma-separated list of those, or headers",
                ))
            }
        }
    }
    Ok(AuthConfig::Schemes(schemes))
}

/// Accept `auth_url` as OpenStack clients take it: with or without `/v3`,
/// with or without a trailing slash, with a path prefix.
pub fn keystone_base(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    trimmed
        .strip_suffix("/v3")
        .unwrap_or(trimmed)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_auth(vars: &[(&str, &str)]) -> Result<AuthConfig, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |name: &str, default: &str| {
            map.get(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| default.to_string())
        };
        load(&get("auth_mode", "keystone"), &get)
    }

    #[test]
    fn auth_mode_is_one_scheme_a_list_or_headers_alone() {
        let schemes = |vars: &[(&str, &str)]| match load_auth(vars) {
            Ok(AuthConfig::Schemes(s)) => s,
            other => panic!("{other:?}"),
        };
        let s = schemes(&[("auth_mode", "tokens"), ("auth_tokens", "t:p:member")]);
        assert_eq!(s.tokens.map(|t| t.len()), Some(1));
        assert!(s.keystone.is_none() && s.aksk.is_none());
        let s = schemes(&[
            ("auth_mode", " tokens , aksk,keystone"),
            ("auth_tokens", "t:p:member"),
            ("aksk_credentials", "AK1:SK1:p:admin"),
            ("keystone_url", "http://ks:5000/v3"),
        ]);
        assert_eq!(s.keystone.as_deref(), Some("http://ks:5000"));
        assert!(s.tokens.is_some());
        assert_eq!(s.aksk.map(|t| t.len()), Some(1));
        assert!(schemes(&[("auth_mode", "aksk")])
            .aksk
            .is_some_and(|t| t.is_empty()));
        assert_eq!(
            load_auth(&[("auth_mode", "headers")]),
            Ok(AuthConfig::Headers)
        );
        for (vars, variable) in [
            (vec![("auth_mode", "headers,tokens")], "auth_mode"),
            (vec![("auth_mode", "tokens,")], "auth_mode"),
            (vec![("auth_mode", "Tokens")], "auth_mode"),
            (vec![("auth_mode", "tokens,keystone")], "keystone_url"),
            (
                vec![("auth_mode", "aksk"), ("aksk_credentials", "AK:S3CR3T")],
                "aksk_credentials",
            ),
            (
                vec![("auth_mode", "tokens"), ("auth_tokens", "t")],
                "auth_tokens",
            ),
        ] {
            let err = load_auth(&vars).unwrap_err();
            assert_eq!(err.status(), 500);
            assert!(
                err.message().contains(variable),
                "{vars:?}: {}",
                err.message()
            );
            assert!(!err.message().contains("S3CR3T"), "{}", err.message());
        }
    }

    #[test]
    fn keystone_url_forms() {
        for url in [
            "http://127.0.0.1:5000",
            "http://127.0.0.1:5000/",
            "http://127.0.0.1:5000/v3",
            "http://127.0.0.1:5000/v3/",
        ] {
            assert_eq!(keystone_base(url), "http://127.0.0.1:5000");
        }
        assert_eq!(
            keystone_base("https://cloud.example.com/identity/v3"),
            "https://cloud.example.com/identity"
        );
    }
}
