//! `auth_mode = keystone`: a token is valid when Keystone validates it
//! (the token validating itself, which Keystone's default policy allows).
//! Answers are cached in the store under a hash of the token.

use crate::core::error::Error;
use crate::core::fields::{self, Fields};
use crate::core::identity::Identity;
use crate::core::keys;
use crate::core::store::KvStore;
use serde::Serialize;
use serde_json::Value;

/// The one outbound call: `GET url` with `X-Auth-Token` and
/// `X-Subject-Token` both set to `token`. `Err` when Keystone could not be
/// reached at all.
pub trait TokenValidator {
    fn validate(&self, url: &str, token: &str) -> Result<(u16, Vec<u8>), String>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
struct CachedToken {
    project: Option<String>,
    roles: Vec<String>,
    user: Option<String>,
    expires_at: i64,
    cached_until: i64,
}

/// The parts of Keystone's answer we read, as serde would read these types
/// (`fields` reads them; the derive is kept for the tests that compare).
#[cfg_attr(test, derive(serde::Deserialize, Debug, PartialEq))]
struct TokenBody {
    token: Token,
}

#[cfg_attr(test, derive(serde::Deserialize, Debug, PartialEq))]
struct Token {
    expires_at: String,
    #[cfg_attr(test, serde(default))]
    project: Option<Named>,
    #[cfg_attr(test, serde(default))]
    roles: Vec<Named>,
    #[cfg_attr(test, serde(default))]
    user: Option<Named>,
}

#[cfg_attr(test, derive(serde::Deserialize, Debug, PartialEq))]
struct Named {
    #[cfg_attr(test, serde(default))]
    id: Option<String>,
    #[cfg_attr(test, serde(default))]
    name: Option<String>,
}

impl CachedToken {
    fn read(v: &Value) -> Result<CachedToken, String> {
        let m = fields::object(v, "struct CachedToken")?;
        Ok(CachedToken {
            project: fields::opt_string(m, "project")?,
            roles: fields::strings(m, "roles", true)?,
            user: fields::opt_string(m, "user")?,
            expires_at: fields::i64(m, "expires_at")?,
            cached_until: fields::i64(m, "cached_until")?,
        })
    }
}

impl TokenBody {
    fn read(v: &Value) -> Result<TokenBody, String> {
        let m = fields::object(v, "struct TokenBody")?;
        let token = m.get("token").ok_or("missing field `token`")?;
        let t = fields::object(token, "struct Token")?;
        Ok(TokenBody {
            token: Token {
                expires_at: fields::string(t, "expires_at")?,
                project: Named::optional(t, "project")?,
                roles: fields::list(t, "roles", false)?
                    .iter()
                    .map(Named::read)
                    .collect::<Result<_, _>>()?,
                user: Named::optional(t, "user")?,
            },
        })
    }
}

impl Named {
    fn read(v: &Value) -> Result<Named, String> {
        let m = fields::object(v, "struct Named")?;
        Ok(Named {
            id: fields::opt_string(m, "id")?,
            name: fields::opt_string(m, "name")?,
        })
    }

    fn optional(m: &Fields, key: &str) -> Result<Option<Named>, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Named::read(v).map(Some),
        }
    }
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
    let parsed =
        fields::parse(body, TokenBody::read).map_err(|e| format!("Keystone token body: {e}"))?;
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
pub fn identify<S: KvStore, V: TokenValidator>(
    store: &S,
    validator: &V,
    base_url: &str,
    token: Option<&str>,
    cache_seconds: i64,
    now: i64,
) -> Result<Identity, Error> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(unauthorized(base_url));
    };
    let key = keys::token(token);
    let cached = store
        .get(&key)
        .map_err(crate::core::store::unavailable)?
        .and_then(|bytes| fields::parse(&bytes, CachedToken::read).ok())
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
                            let _ = store.set(&key, &bytes);
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

    /// The readers accept and reject what the derived `Deserialize` does.
    #[test]
    fn bodies_are_read_as_serde_would() {
        let mut cases = vec![
            BODY.to_string(),
            r#"{"token":{"expires_at":"x"}}"#.into(),
            r#"{"token":{"expires_at":"x","project":null,"user":null,"roles":[]}}"#.into(),
            r#"{"token":{"expires_at":"x","project":{},"user":{"id":null},"roles":[{}]}}"#.into(),
            r#"{"token":{"expires_at":"x","project":{"id":"p","domain":{"id":"d"}},"extra":1}}"#
                .into(),
            r#"{"token":null}"#.into(),
            r#"{"token":{}}"#.into(),
            r#"{}"#.into(),
            r#"[]"#.into(),
            r#"nope"#.into(),
        ];
        for (key, bad) in [
            ("expires_at", "null"),
            ("expires_at", "1"),
            ("project", "1"),
            ("project", r#"{"id":1}"#),
            ("project", r#"{"name":[]}"#),
            ("user", "\"u\""),
            ("roles", "null"),
            ("roles", "{}"),
            ("roles", "[null]"),
            ("roles", r#"[{"name":1}]"#),
        ] {
            cases.push(format!(r#"{{"token":{{"expires_at":"x","{key}":{bad}}}}}"#));
        }
        for case in &cases {
            let derived = serde_json::from_str::<TokenBody>(case).ok();
            let ours = fields::parse(case.as_bytes(), TokenBody::read).ok();
            assert_eq!(ours, derived, "{case}");
        }
        assert!(
            cases
                .iter()
                .filter(|c| serde_json::from_str::<TokenBody>(c).is_ok())
                .count()
                >= 5
        );
        let cached = CachedToken {
            project: Some("p".into()),
            roles: vec!["r".into()],
            user: None,
            expires_at: -5,
            cached_until: 7,
        };
        let stored = serde_json::to_string(&cached).unwrap();
        for case in [
            stored.clone(),
            stored.replace("-5", "5.0"),
            stored.replace("-5", "9223372036854775808"),
            stored.replace(r#""user":null,"#, ""),
            stored.replace(r#""roles":["r"],"#, ""),
            stored.replace(r#""p""#, "3"),
            "{}".into(),
        ] {
            let derived = serde_json::from_str::<CachedToken>(&case).ok();
            let ours = fields::parse(case.as_bytes(), CachedToken::read).ok();
            assert_eq!(ours, derived, "{case}");
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
        assert_eq!(
            err.headers(),
            vec![(
                "www-authenticate".to_string(),
                "Keystone uri=\"http://ks:5000\"".to_string()
            )]
        );
    }
}
