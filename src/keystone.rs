//! `auth_mode = keystone`: a token is valid when Keystone validates it
//! (the token validating itself, which Keystone's default policy allows).
//! Answers are cached in the store under a hash of the token.

use crate::http::ApiError;
use crate::identity::Identity;
use crate::keys;
use crate::store::KvStore;
use serde::{Deserialize, Serialize};

/// The one outbound call: `GET url` with `X-Auth-Token` and
/// `X-Subject-Token` both set to `token`. `Err` when Keystone could not be
/// reached at all.
pub trait TokenValidator {
    fn validate(&self, url: &str, token: &str) -> Result<(u16, Vec<u8>), String>;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedToken {
    project: Option<String>,
    roles: Vec<String>,
    user: Option<String>,
    expires_at: i64,
    cached_until: i64,
}

#[derive(Deserialize)]
struct TokenBody {
    token: Token,
}

#[derive(Deserialize)]
struct Token {
    expires_at: String,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
    #[serde(default)]
    user: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

pub fn validation_url(base_url: &str) -> String {
    format!("{base_url}/v3/auth/tokens")
}

fn unauthorized(base_url: &str) -> ApiError {
    ApiError::Unauthorized {
        keystone_uri: Some(base_url.to_string()),
    }
}

/// Parse Keystone's 200 answer into what we cache.
fn parse_token(body: &[u8], now: i64, cache_seconds: i64) -> Result<CachedToken, String> {
    let parsed: TokenBody =
        serde_json::from_slice(body).map_err(|e| format!("Keystone token body: {e}"))?;
    let t = parsed.token;
    let expires_at = chrono::DateTime::parse_from_rfc3339(&t.expires_at)
        .map_err(|e| format!("Keystone expires_at {:?}: {e}", t.expires_at))?
        .timestamp();
    Ok(CachedToken {
        project: t.project.and_then(|p| p.id),
        roles: t
            .roles
            .into_iter()
            .filter_map(|r| r.name)
            .map(|r| r.to_ascii_lowercase())
            .collect(),
        user: t.user.and_then(|u| u.id),
        expires_at,
        cached_until: (now + cache_seconds).min(expires_at),
    })
}

/// Establish the caller's identity from `X-Auth-Token`.
pub fn identify<S: KvStore, V: TokenValidator>(
    store: &S,
    validator: &V,
    base_url: &str,
    token: Option<&str>,
    cache_seconds: i64,
    now: i64,
) -> Result<Identity, ApiError> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(unauthorized(base_url));
    };
    let key = keys::token(token);
    let cached = store
        .get(&key)
        .map_err(|e| ApiError::unavailable(format!("key-value store: {}", e.0)))?
        .and_then(|bytes| serde_json::from_slice::<CachedToken>(&bytes).ok())
        .filter(|c| now < c.cached_until && now < c.expires_at);
    let entry = match cached {
        Some(c) => c,
        None => {
            let (status, body) = validator
                .validate(&validation_url(base_url), token)
                .map_err(|e| ApiError::unavailable(format!("Keystone unreachable: {e}")))?;
            match status {
                200 => {
                    let entry = parse_token(&body, now, cache_seconds)
                        .map_err(|e| ApiError::unavailable(format!("Keystone answer: {e}")))?;
                    if entry.expires_at <= now {
                        return Err(unauthorized(base_url));
                    }
                    if cache_seconds > 0 {
                        if let Ok(bytes) = serde_json::to_vec(&entry) {
                            // A cache write that fails only costs a later revalidation.
                            let _ = store.set(&key, &bytes);
                        }
                    }
                    entry
                }
                401 | 403 | 404 => return Err(unauthorized(base_url)),
                other => {
                    return Err(ApiError::unavailable(format!(
                        "Keystone answered {other} to token validation"
                    )))
                }
            }
        }
    };
    Ok(Identity {
        project: entry.project,
        roles: entry.roles,
        user: entry.user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use std::cell::{Cell, RefCell};

    /// A scripted Keystone answer: the real one is exercised by the
    /// integration tests against a running Keystone.
    struct Scripted {
        answer: RefCell<Result<(u16, Vec<u8>), String>>,
        calls: Cell<u32>,
    }

    impl TokenValidator for Scripted {
        fn validate(&self, url: &str, _token: &str) -> Result<(u16, Vec<u8>), String> {
            assert_eq!(url, "http://ks:5000/v3/auth/tokens");
            self.calls.set(self.calls.get() + 1);
            self.answer.borrow().clone()
        }
    }

    const BODY: &str = r#"{"token":{"expires_at":"2030-01-01T00:00:00.000000Z","project":{"id":"pa","name":"proj-a"},"roles":[{"id":"1","name":"Member"},{"id":"2","name":"reader"}],"user":{"id":"u1"}}}"#;

    fn scripted(status: u16, body: &str) -> Scripted {
        Scripted {
            answer: RefCell::new(Ok((status, body.as_bytes().to_vec()))),
            calls: Cell::new(0),
        }
    }

    #[test]
    fn valid_tokens_are_cached_under_a_hash() {
        let store = MemStore::default();
        let ks = scripted(200, BODY);
        let id = identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_000).unwrap();
        assert_eq!(id.project.as_deref(), Some("pa"));
        assert_eq!(id.roles, vec!["member", "reader"]);
        identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_100).unwrap();
        assert_eq!(ks.calls.get(), 1);
        assert!(store.keys().unwrap().iter().all(|k| !k.contains("s3cr3t")));
        // Past the cache lifetime Keystone is asked again.
        identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_301).unwrap();
        assert_eq!(ks.calls.get(), 2);
    }

    #[test]
    fn invalid_expired_and_missing_tokens_are_401_and_outages_503() {
        let store = MemStore::default();
        let status = |s: u16, body: &str, now: i64| {
            identify(
                &store,
                &scripted(s, body),
                "http://ks:5000",
                Some("t"),
                300,
                now,
            )
            .unwrap_err()
            .status()
        };
        assert_eq!(status(404, "", 0), 401);
        assert_eq!(status(401, "", 0), 401);
        assert_eq!(status(500, "", 0), 503);
        assert_eq!(status(200, BODY, 2_000_000_000), 401);
        let unreachable = Scripted {
            answer: RefCell::new(Err("connection refused".into())),
            calls: Cell::new(0),
        };
        let err = identify(&store, &unreachable, "http://ks:5000", Some("t"), 300, 0).unwrap_err();
        assert_eq!(err.status(), 503);
        let err = identify(&store, &unreachable, "http://ks:5000", None, 300, 0).unwrap_err();
        let r = err.to_response("req-x");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Keystone uri=\"http://ks:5000\"")
        );
    }
}
