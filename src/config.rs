//! The Spin variables of SPEC section 5, parsed once per request: the
//! service's own (quotas, limits, the store's label) here, the identity
//! schemes' in `auth::config`. A bad value is our misconfiguration: 500
//! with a message naming the variable.

use crate::auth::{self, config::AuthConfig};
use crate::core::error::Error;

#[derive(Debug, Clone)]
pub struct Config {
    /// Only `/v2` routes need it, so a broken auth setting does not take the
    /// health check or discovery down with it.
    pub auth: Result<AuthConfig, Error>,
    pub token_cache_seconds: Result<i64, Error>,
    /// `None`: unlimited.
    pub image_tag_quota: Result<Option<usize>, Error>,
    /// Tags per image through the IMS key/value routes.
    pub ims_tag_limit: Result<usize, Error>,
    /// Longest request body read; longer is 413 (oslo.middleware's
    /// `sizelimit` default, which OpenStack APIs answer with).
    pub max_request_body_bytes: Result<usize, Error>,
    pub kv_store: String,
}

pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 114_688;

impl Config {
    /// `lookup` answers a Spin variable, `None` when it is undefined.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str, default: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let auth = auth::config::load(&get("auth_mode", "keystone"), &get);
        let token_cache_seconds = get("token_cache_seconds", "300")
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 0)
            .ok_or_else(|| {
                Error::misconfigured("token_cache_seconds", "is not a whole number of seconds")
            });
        let image_tag_quota = get("image_tag_quota", "128")
            .parse::<i64>()
            .map(|q| usize::try_from(q).ok())
            .map_err(|_| Error::misconfigured("image_tag_quota", "is not a whole number"));
        let ims_tag_limit = get("ims_tag_limit", "20")
            .parse::<usize>()
            .map_err(|_| Error::misconfigured("ims_tag_limit", "is not a whole number of tags"));
        let max_request_body_bytes = get(
            "max_request_body_bytes",
            &DEFAULT_MAX_REQUEST_BODY_BYTES.to_string(),
        )
        .parse::<usize>()
        .map_err(|_| {
            Error::misconfigured("max_request_body_bytes", "is not a whole number of bytes")
        });
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
            matches!(&c.auth, Err(Error::Internal { message, .. }) if message.contains("keystone_url"))
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
}
