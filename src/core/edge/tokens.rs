//! The edge build's Keystone cache: one key for every cached token, so
//! that Fermyon Cloud's 1,024 keys go to images, and a validation is kept
//! for the token's life (500 outbound requests an hour per app there).
//!
//! Bounded: entries past their time are dropped at every write, and past
//! [`MAX_TOKENS`] the ones that end soonest go first. A write lost to a
//! concurrent one only costs a later revalidation.

use crate::core::keys::sha256_hex;
use crate::core::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const KEY: &str = "tokens";
pub const MAX_TOKENS: usize = 64;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    /// A hash of the token to its validation and the time it ends.
    #[serde(default)]
    tokens: BTreeMap<String, Cached>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    until: i64,
    entry: Value,
}

/// Tokens are cached under a hash, never in the clear; a shorter one than
/// the strong build's key: 128 bits is plenty to tell 64 tokens apart.
fn slot(token: &str) -> String {
    let mut hash = sha256_hex(token);
    hash.truncate(32);
    hash
}

fn read<S: KvStore>(store: &S) -> Result<Cache, StoreError> {
    Ok(store
        .get(KEY)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default())
}

/// The cached validation of `token`, if still good at `now`.
pub fn get<S: KvStore>(store: &S, token: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let cache = read(store)?;
    Ok(cache
        .tokens
        .get(&slot(token))
        .filter(|c| now < c.until)
        .and_then(|c| serde_json::to_vec(&c.entry).ok()))
}

/// Cache `entry` for `token` until `until`, evicting what has ended.
pub fn put<S: KvStore>(
    store: &S,
    token: &str,
    entry: &[u8],
    until: i64,
    now: i64,
) -> Result<(), StoreError> {
    let entry: Value = serde_json::from_slice(entry).map_err(|e| StoreError(e.to_string()))?;
    let mut cache = read(store)?;
    cache.tokens.retain(|_, c| now < c.until);
    cache.tokens.insert(slot(token), Cached { until, entry });
    while cache.tokens.len() > MAX_TOKENS {
        let soonest = cache
            .tokens
            .iter()
            .min_by_key(|(_, c)| c.until)
            .map(|(k, _)| k.clone());
        if let Some(k) = soonest {
            cache.tokens.remove(&k);
        }
    }
    let bytes = serde_json::to_vec(&cache).map_err(|e| StoreError(e.to_string()))?;
    store.set(KEY, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::MemStore;

    #[test]
    fn a_token_is_kept_until_its_time_and_never_stored_in_the_clear() {
        let store = MemStore::default();
        put(&store, "secret-token", br#"{"p":1}"#, 100, 10).unwrap();
        assert_eq!(
            get(&store, "secret-token", 99).unwrap(),
            Some(br#"{"p":1}"#.to_vec())
        );
        assert_eq!(get(&store, "secret-token", 100).unwrap(), None);
        assert_eq!(get(&store, "other", 50).unwrap(), None);
        let raw = String::from_utf8(store.get(KEY).unwrap().unwrap()).unwrap();
        assert!(!raw.contains("secret-token"));
    }

    #[test]
    fn the_cache_is_one_key_and_bounded() {
        let store = MemStore::default();
        for n in 0..(MAX_TOKENS as i64 + 20) {
            put(
                &store,
                &format!("t{n}"),
                n.to_string().as_bytes(),
                1_000 + n,
                0,
            )
            .unwrap();
        }
        let cache = read(&store).unwrap();
        assert_eq!(cache.tokens.len(), MAX_TOKENS);
        assert_eq!(
            get(&store, "t0", 1).unwrap(),
            None,
            "the soonest to end went first"
        );
        assert!(get(&store, &format!("t{}", MAX_TOKENS + 19), 1)
            .unwrap()
            .is_some());
        // Ended entries go at the next write.
        put(&store, "late", b"0", 5_000, 2_000).unwrap();
        assert_eq!(read(&store).unwrap().tokens.len(), 1);
        assert_eq!(store.keys().unwrap(), vec![KEY.to_string()]);
    }
}
