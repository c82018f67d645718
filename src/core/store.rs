//! The key-value store as the core sees it: the operations of
//! `wasi:keyvalue@0.2.0-draft2` that Spin offers on every backend. The
//! component wires the real bucket; unit tests use [`MemStore`].

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

/// A store fault as every caller answers it: 503, naming the store.
pub fn unavailable(e: StoreError) -> crate::core::error::Error {
    crate::core::error::Error::unavailable(format!("key-value store: {}", e.0))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapError {
    /// The key changed since it was watched, or so the backend says: on
    /// Redis Spin reports this even when the write landed (SPEC section 6).
    CasFailed,
    Store(StoreError),
}

/// What every Spin key-value store offers, the managed platforms' included
/// (`wasi:keyvalue/store`).
pub trait KvStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Remove a key; a missing key is no error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Every key in the store (`list-keys`, all cursor pages). Only the edge
    /// build lists keys: its store has no atomics to keep an index with.
    fn list_keys(&self) -> Result<Vec<String>, StoreError>;
    // No `get-many`: on Spin's Redis store it sends `KEYS` instead of `MGET`
    // and the host task panics, failing the request (SPEC section 6). Keys
    // are read one `get` at a time on every backend.
}

/// The atomics of `wasi:keyvalue/atomics`, which Spin links on every backend
/// and the managed platforms do not: the strong build's layout needs them.
pub trait Atomic: KvStore {
    /// A compare-and-swap handle on one key.
    type Cas;

    /// Atomic add; the only primitive that is safe on a missing key. Never
    /// used on a key written with `set`. Read a counter with `get` and
    /// [`decode_counter`]: `increment(key, 0)` is a write on Spin's SQLite.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Open a CAS handle and read the value it guards.
    fn watch(&self, key: &str) -> Result<(Option<Vec<u8>>, Self::Cas), StoreError>;
    /// Write if unchanged since `watch`. On a key that was missing this is an
    /// unconditional upsert on Spin: callers must not rely on it there.
    fn swap(&self, cas: Self::Cas, value: &[u8]) -> Result<(), SwapError>;
}

/// A counter as `get` returns it: Spin keeps `increment` counters in the
/// backend's own encoding, 8-byte little-endian on SQLite and decimal text
/// on Redis. A missing key is 0; anything else is not a counter (`None`).
pub fn decode_counter(bytes: Option<&[u8]>) -> Option<i64> {
    let Some(bytes) = bytes else {
        return Some(0);
    };
    if let Some(le) = little_endian_counter(bytes) {
        return Some(le);
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The value of a counter kept as Spin's SQLite store keeps it, 8 bytes
/// little-endian. Eight ASCII digits are also eight bytes: those are decimal
/// text (Redis), which no counter below 2^61 looks like.
pub fn little_endian_counter(bytes: &[u8]) -> Option<i64> {
    let le = <[u8; 8]>::try_from(bytes).ok()?;
    (!bytes.iter().all(|b| b.is_ascii_digit() || *b == b'-')).then(|| i64::from_le_bytes(le))
}

/// An in-memory store with Spin's semantics, weaknesses included, for the
/// unit tests of the core. The integration tests use the test host's store.
#[derive(Default)]
pub struct MemStore {
    map: std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
    /// Redis: `swap` reports `CasFailed` whether or not it wrote.
    pub redis_cas_defect: bool,
    /// Redis: counters are decimal text rather than 8-byte little-endian.
    pub decimal_counters: bool,
    /// Every call fails, as when the store's files are unwritable.
    pub down: std::sync::atomic::AtomicBool,
}

impl MemStore {
    /// Every key, for tests that look at the layout.
    pub fn keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.map()?.keys().cloned().collect())
    }

    pub fn redis() -> Self {
        MemStore {
            redis_cas_defect: true,
            decimal_counters: true,
            ..Default::default()
        }
    }

    fn map(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>>, StoreError>
    {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError("store is down".into()));
        }
        self.map
            .lock()
            .map_err(|_| StoreError("store lock poisoned".into()))
    }
}

pub struct MemCas {
    key: String,
    seen: Option<Vec<u8>>,
}

impl KvStore for MemStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map()?.get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.map()?.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.map()?.contains_key(key))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.map()?.remove(key);
        Ok(())
    }

    fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        self.keys()
    }
}

impl Atomic for MemStore {
    type Cas = MemCas;

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut map = self.map()?;
        let current = match map.get(key) {
            None => 0,
            Some(bytes) if self.decimal_counters => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StoreError("increment on a non-counter".into()))?,
            Some(bytes) => i64::from_le_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError("increment on a non-counter".into()))?,
            ),
        };
        let next = current + delta;
        let encoded = if self.decimal_counters {
            next.to_string().into_bytes()
        } else {
            next.to_le_bytes().to_vec()
        };
        map.insert(key.to_string(), encoded);
        Ok(next)
    }

    fn watch(&self, key: &str) -> Result<(Option<Vec<u8>>, MemCas), StoreError> {
        let seen = self.map()?.get(key).cloned();
        Ok((
            seen.clone(),
            MemCas {
                key: key.to_string(),
                seen,
            },
        ))
    }

    fn swap(&self, cas: MemCas, value: &[u8]) -> Result<(), SwapError> {
        let mut map = self.map().map_err(SwapError::Store)?;
        let unchanged = cas.seen.is_none() || map.get(&cas.key) == cas.seen.as_ref();
        if unchanged {
            map.insert(cas.key, value.to_vec());
        }
        if unchanged && !self.redis_cas_defect {
            Ok(())
        } else {
            Err(SwapError::CasFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_on_a_missing_key_is_an_upsert() {
        let s = MemStore::default();
        let (_, first) = s.watch("k").unwrap();
        let (_, second) = s.watch("k").unwrap();
        s.swap(first, b"a").unwrap();
        // Spin's weakness: the second writer overwrites without a conflict.
        s.swap(second, b"b").unwrap();
        assert_eq!(s.get("k").unwrap(), Some(b"b".to_vec()));
    }

    #[test]
    fn counters_decode_in_both_backend_encodings() {
        assert_eq!(decode_counter(None), Some(0));
        assert_eq!(decode_counter(Some(&7i64.to_le_bytes())), Some(7));
        assert_eq!(
            decode_counter(Some(&(1i64 << 40).to_le_bytes())),
            Some(1 << 40)
        );
        assert_eq!(decode_counter(Some(b"7")), Some(7));
        assert_eq!(decode_counter(Some(b"12345678")), Some(12_345_678));
        assert_eq!(decode_counter(Some(b"-3")), Some(-3));
        assert_eq!(decode_counter(Some(b"{\"a\":1}")), None);
        let s = MemStore::default();
        s.increment("n", 5).unwrap();
        assert_eq!(decode_counter(s.get("n").unwrap().as_deref()), Some(5));
    }

    #[test]
    fn redis_reports_failure_even_when_written() {
        let s = MemStore::redis();
        s.set("k", b"a").unwrap();
        let (_, cas) = s.watch("k").unwrap();
        assert_eq!(s.swap(cas, b"b"), Err(SwapError::CasFailed));
        assert_eq!(s.get("k").unwrap(), Some(b"b".to_vec()));
    }
}
