//! `auth_mode = keystone`: a token is valid when Keystone validates it
//! (the token validating itself, which Keystone's default policy allows).
//! Answers are cached in the store under a hash of the token.

use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::identity::Identity;
use serde::{Deserialize, Serialize};

/// The one outbound call: `GET url` with `X-Auth-Token` and
/// `X-Subject-Token` both set to `token`. `Err` when Keystone could not be
/// reached at all.
pub trait TokenValidator {
    fn validate(&self, url: &str, token: &str) -> Result<(u16, Vec<u8>), String>;
}

/// What the store caches for a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedToken {
    project: Option<String>,
    roles: Vec<String>,
    user: Option<String>,
    expires_at: i64,
    cached_until: i64,
}

/// The parts of Keystone's answer we read.
#[derive(Debug, PartialEq, Deserialize)]
struct TokenBody {
    token: Token,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Token {
    expires_at: String,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
    #[serde(default)]
    user: Option<Named>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

pub fn validation_url(base_url: &str) -> String {
    format!("{base_url}/v3/auth/tokens")
}

/// 401 with the challenge that points clients at Keystone.
pub fn unauthorized(base_url: &str) -> Error {
    Error::Unauthorized {
        keystone_uri: Some(base_url.to_string()),
        reason: None,
        detail: None,
    }
}

/// Parse Keystone's 200 answer into what we cache.
fn parse_token(body: &[u8], now: i64, cache_seconds: i64) -> Result<CachedToken, String> {
    let parsed: TokenBody =
        serde_json::from_slice(body).map_err(|e| format!("Keystone token body: {e}"))?;
    let t = parsed.token;
    let expires_at = crate::core::time::parse(&t.expires_at).ok_or_else(|| {
        format!(
            "Keystone expires_at {:?}: not an RFC 3339 date and time",
            t.expires_at
        )
    })?;
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
pub fn identify<B: Backend, V: TokenValidator>(
    store: &B,
    validator: &V,
    base_url: &str,
    token: Option<&str>,
    cache_seconds: i64,
    now: i64,
) -> Result<Identity, Error> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(unauthorized(base_url));
    };
    let cached = store
        .cached_token(token, now)
        .map_err(crate::core::store::unavailable)?
        .and_then(|bytes| serde_json::from_slice::<CachedToken>(&bytes).ok())
        .filter(|c| now < c.cached_until && now < c.expires_at);
    let entry = match cached {
        Some(c) => c,
        None => {
            let (status, body) = validator
                .validate(&validation_url(base_url), token)
                .map_err(|e| Error::unavailable(format!("Keystone unreachable: {e}")))?;
            match status {
                200 => {
                    let entry = parse_token(&body, now, cache_seconds)
                        .map_err(|e| Error::unavailable(format!("Keystone answer: {e}")))?;
                    if entry.expires_at <= now {
                        return Err(unauthorized(base_url));
                    }
                    if cache_seconds > 0 {
                        if let Ok(bytes) = serde_json::to_vec(&entry) {
                            // A cache write that fails only costs a later revalidation.
                            let _ = store.cache_token(token, &bytes, entry.cached_until, now);
                        }
                    }
                    entry
                }
                401 | 403 | 404 => return Err(unauthorized(base_url)),
                other => {
                    return Err(Error::unavailable(format!(
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
    use crate::core::backend::Strong;
    use crate::core::store::MemStore;
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
    fn bodies_take_what_keystone_may_leave_out() {
        let t = parse_token(BODY.as_bytes(), 1_000, 300).unwrap();
        assert_eq!(t.project.as_deref(), Some("pa"));
        assert_eq!(t.roles, vec!["member", "reader"]);
        assert_eq!(t.cached_until, 1_300);
        let bare = parse_token(
            br#"{"token":{"expires_at":"2030-01-01T00:00:00Z"}}"#,
            0,
            300,
        );
        assert!(bare.is_ok_and(|t| t.project.is_none() && t.roles.is_empty()));
        for bad in [
            r#"{"token":{}}"#,
            r#"{"token":{"expires_at":1}}"#,
            "[]",
            "nope",
        ] {
            let err = parse_token(bad.as_bytes(), 0, 300).unwrap_err();
            assert!(err.starts_with("Keystone token body: "), "{err}");
        }
        let err = parse_token(br#"{"token":{"expires_at":"soon"}}"#, 0, 300).unwrap_err();
        assert!(err.contains("not an RFC 3339"), "{err}");
    }

    #[test]
    fn valid_tokens_are_cached_under_a_hash() {
        let store = Strong(MemStore::default());
        let ks = scripted(200, BODY);
        let id = identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_000).unwrap();
        assert_eq!(id.project.as_deref(), Some("pa"));
        assert_eq!(id.roles, vec!["member", "reader"]);
        identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_100).unwrap();
        assert_eq!(ks.calls.get(), 1);
        assert!(store
            .0
            .keys()
            .unwrap()
            .iter()
            .all(|k| !k.contains("s3cr3t")));
        // Past the cache lifetime Keystone is asked again.
        identify(&store, &ks, "http://ks:5000", Some("s3cr3t"), 300, 1_301).unwrap();
        assert_eq!(ks.calls.get(), 2);
    }

    #[test]
    fn invalid_expired_and_missing_tokens_are_401_and_outages_503() {
        let store = Strong(MemStore::default());
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
        assert_eq!(
            err.headers(),
            vec![(
                "www-authenticate".to_string(),
                "Keystone uri=\"http://ks:5000\"".to_string()
            )]
        );
    }
}
