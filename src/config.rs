//! The Spin variables of SPEC section 5, parsed once per request. A bad value
//! is our misconfiguration: 500 with a message naming the variable.

use crate::auth::aksk::{self, Credential};
use crate::auth::tokens::{self, TokenEntry};
use crate::http::ApiError;

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

#[derive(Debug, Clone)]
pub struct Config {
    /// Only `/v2` routes need it, so a broken auth setting does not take the
    /// health check or discovery down with it.
    pub auth: Result<AuthConfig, ApiError>,
    pub token_cache_seconds: Result<i64, ApiError>,
    /// `None`: unlimited.
    pub image_tag_quota: Result<Option<usize>, ApiError>,
    /// Tags per image through the IMS key/value routes.
    pub ims_tag_limit: Result<usize, ApiError>,
    /// Longest request body read; longer is 413 (oslo.middleware's
    /// `sizelimit` default, which OpenStack APIs answer with).
    pub max_request_body_bytes: Result<usize, ApiError>,
    pub kv_store: String,
}

pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 114_688;

fn misconfigured(variable: &str, why: &str) -> ApiError {
    ApiError::Internal {
        message: format!("The service is misconfigured: the Spin variable `{variable}` {why}."),
        detail: format!("variable {variable}: {why}"),
    }
}

impl Config {
    /// `lookup` answers a Spin variable, `None` when it is undefined.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str, default: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let auth = load_auth(&get("auth_mode", "keystone"), &get);
        let token_cache_seconds = get("token_cache_seconds", "300")
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 0)
            .ok_or_else(|| {
                misconfigured("token_cache_seconds", "is not a whole number of seconds")
            });
        let image_tag_quota = get("image_tag_quota", "128")
            .parse::<i64>()
            .map(|q| usize::try_from(q).ok())
            .map_err(|_| misconfigured("image_tag_quota", "is not a whole number"));
        let ims_tag_limit = get("ims_tag_limit", "20")
            .parse::<usize>()
            .map_err(|_| misconfigured("ims_tag_limit", "is not a whole number of tags"));
        let max_request_body_bytes = get(
            "max_request_body_bytes",
            &DEFAULT_MAX_REQUEST_BODY_BYTES.to_string(),
        )
        .parse::<usize>()
        .map_err(|_| misconfigured("max_request_body_bytes", "is not a whole number of bytes"));
        Config {
            auth,
            token_cache_seconds,
            image_tag_quota,
            ims_tag_limit,
            max_request_body_bytes,
            kv_store: get("kv_store", "default"),
        }
    }
}

/// `auth_mode` and the variables of the schemes it lists.
fn load_auth(mode: &str, get: &dyn Fn(&str, &str) -> String) -> Result<AuthConfig, ApiError> {
    if mode == "headers" {
        return Ok(AuthConfig::Headers);
    }
    let mut schemes = Schemes::default();
    for name in mode.split(',').map(str::trim) {
        match name {
            "keystone" => {
                let url = get("keystone_url", "");
                if url.is_empty() {
                    return Err(misconfigured(
                        "keystone_url",
                        "is not set; keystone mode needs it",
                    ));
                }
                schemes.keystone = Some(keystone_base(&url));
            }
            "tokens" => {
                let table = tokens::parse_table(&get("auth_tokens", ""))
                    .map_err(|why| misconfigured("auth_tokens", &why))?;
                schemes.tokens = Some(table);
            }
            "aksk" => {
                let table = aksk::parse_credentials(&get("aksk_credentials", ""))
                    .map_err(|why| misconfigured("aksk_credentials", &why))?;
                schemes.aksk = Some(table);
            }
            "headers" => {
                return Err(misconfigured(
                    "auth_mode",
                    "lists headers with other modes; headers stands alone",
                ))
            }
            _ => {
                return Err(misconfigured(
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

    fn load(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = load(&[]);
        assert!(
            matches!(&c.auth, Err(ApiError::Internal { message, .. }) if message.contains("keystone_url"))
        );
        assert_eq!(c.token_cache_seconds, Ok(300));
        assert_eq!(c.image_tag_quota, Ok(Some(128)));
        assert_eq!(c.ims_tag_limit, Ok(20));
        assert_eq!(c.max_request_body_bytes, Ok(114_688));
        assert_eq!(c.kv_store, "default");
    }

    #[test]
    fn negative_quota_is_unlimited_and_garbage_names_the_variable() {
        assert_eq!(load(&[("image_tag_quota", "-1")]).image_tag_quota, Ok(None));
        let bad = load(&[("image_tag_quota", "lots")])
            .image_tag_quota
            .unwrap_err();
        assert!(bad.message().contains("image_tag_quota"));
        let bad = load(&[("ims_tag_limit", "-1")]).ims_tag_limit.unwrap_err();
        assert!(bad.message().contains("ims_tag_limit"));
        assert_eq!(load(&[("ims_tag_limit", "3")]).ims_tag_limit, Ok(3));
        let bad = load(&[("auth_mode", "ldap")]).auth.unwrap_err();
        assert!(bad.message().contains("auth_mode"));
        assert_eq!(
            load(&[("max_request_body_bytes", " 1024 ")]).max_request_body_bytes,
            Ok(1024)
        );
        for garbage in ["-1", "lots", "1e6"] {
            let bad = load(&[("max_request_body_bytes", garbage)])
                .max_request_body_bytes
                .unwrap_err();
            assert!(
                bad.message().contains("max_request_body_bytes"),
                "{garbage}"
            );
        }
    }

    #[test]
    fn auth_mode_is_one_scheme_a_list_or_headers_alone() {
        let schemes = |vars: &[(&str, &str)]| match load(vars).auth {
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
            load(&[("auth_mode", "headers")]).auth,
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
            let err = load(&vars).auth.unwrap_err();
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
