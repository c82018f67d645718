//! [`Bucket`] and [`Cas`]: the guest-facing calls of
//! `wasi:keyvalue/{store,atomics,batch}`, with Spin's semantics.

use std::collections::BTreeSet;

use super::{KvFailure, KvMode, KvOp, KvResult, KvStore, SwapFailure};

/// A compare-and-swap handle (`wasi:keyvalue/atomics.cas`).
#[derive(Clone, Debug)]
pub struct Cas {
    label: String,
    key: String,
    /// What `current()` last read; `None` until then (or when it read none).
    snapshot: Option<Vec<u8>>,
}

impl Cas {
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The snapshot `swap` compares against (what `current` last read).
    pub fn snapshot(&self) -> Option<&[u8]> {
        self.snapshot.as_deref()
    }
}

/// An open bucket (`wasi:keyvalue/store.bucket`).
#[derive(Clone, Debug)]
pub struct Bucket {
    store: KvStore,
    label: String,
}

impl Bucket {
    pub(super) fn new(store: KvStore, label: &str) -> Self {
        Bucket {
            store,
            label: label.to_string(),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Get)?;
        let v = st.bucket(&self.label).get(key).cloned();
        if v.is_some() {
            st.keys_read += 1;
        }
        Ok(v)
    }

    pub async fn set(&self, key: &str, value: Vec<u8>) -> KvResult<()> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Set)?;
        st.bucket(&self.label).insert(key.to_string(), value);
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> KvResult<()> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Delete)?;
        st.bucket(&self.label).remove(key);
        Ok(())
    }

    pub async fn exists(&self, key: &str) -> KvResult<bool> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Exists)?;
        Ok(st.bucket(&self.label).contains_key(key))
    }

    /// `list-keys(cursor)`: every key in one answer, cursor none.
    pub async fn list_keys(&self, cursor: Option<&str>) -> KvResult<(Vec<String>, Option<String>)> {
        self.store.pause().await;
        if cursor.is_some() {
            // Spin answers this before it touches the store.
            *self.store.lock().calls.entry(KvOp::ListKeys).or_insert(0) += 1;
            return Err(KvFailure::other("list_keys: cursor not supported"));
        }
        let mut st = self.store.begin(KvOp::ListKeys)?;
        Ok((st.bucket(&self.label).keys().cloned().collect(), None))
    }

    /// `atomics::cas::new`: no read happens here (Spin reads in `current`).
    pub async fn cas(&self, key: &str) -> KvResult<Cas> {
        self.store.pause().await;
        // Spin's `new_compare_and_swap` does not touch the connection, so even
        // a poisoned store answers it; faults still apply.
        let mut st = self.store.lock();
        let fault = st.count_and_check_faults(KvOp::CasNew);
        if st.outage {
            return Err(KvFailure::other("injected fault: outage"));
        }
        if fault {
            return Err(KvFailure::other("injected fault"));
        }
        Ok(Cas {
            label: self.label.clone(),
            key: key.to_string(),
            snapshot: None,
        })
    }

    /// `cas.current()`: reads the key and keeps it as the cas's snapshot.
    pub async fn cas_current(&self, cas: &mut Cas) -> KvResult<Option<Vec<u8>>> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::CasCurrent)?;
        let v = st.bucket(&cas.label).get(&cas.key).cloned();
        if v.is_some() {
            st.keys_read += 1;
        }
        cas.snapshot = v.clone();
        Ok(v)
    }

    /// `atomics::swap(cas, value)`.
    pub async fn swap(&self, cas: Cas, value: Vec<u8>) -> Result<(), SwapFailure> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Swap).map_err(SwapFailure::Store)?;
        let mode = st.mode;
        let always_fail = st.cas_always_fails;
        let bucket = st.bucket(&cas.label);
        let wrote = if always_fail {
            false
        } else {
            match &cas.snapshot {
                None => {
                    bucket.insert(cas.key.clone(), value);
                    true
                }
                Some(snap) => match bucket.get_mut(&cas.key) {
                    Some(cur) if cur == snap => {
                        *cur = value;
                        true
                    }
                    _ => false,
                },
            }
        };
        if wrote && mode == KvMode::Sqlite {
            return Ok(());
        }
        // Spin opens a fresh cas on the same key and calls `current` on it.
        let now = bucket.get(&cas.key).cloned();
        Err(SwapFailure::CasFailed(Cas {
            label: cas.label,
            key: cas.key,
            snapshot: now,
        }))
    }

    /// `atomics::increment(bucket, key, delta)`.
    pub async fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Increment)?;
        let mode = st.mode;
        let current = st.bucket(&self.label).get(key).cloned();
        match mode {
            KvMode::Sqlite => {
                let n = match current {
                    None => 0,
                    Some(v) => match <[u8; 8]>::try_from(v.as_slice()) {
                        Ok(bytes) => i64::from_le_bytes(bytes),
                        Err(_) => {
                            let why = format!(
                                "increment of {key:?}: stored value of {} bytes is not an 8-byte counter \
                                 (Spin: `incorrect length` panic)",
                                v.len()
                            );
                            st.poisoned = Some(why.clone());
                            return Err(KvFailure::Trap(why));
                        }
                    },
                };
                let new = n.wrapping_add(delta);
                st.bucket(&self.label)
                    .insert(key.to_string(), new.to_le_bytes().to_vec());
                Ok(new)
            }
            KvMode::Redis => {
                let n = match current {
                    None => 0,
                    Some(v) => match std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                    {
                        Some(n) => n,
                        None => {
                            return Err(KvFailure::other(
                                "ERR value is not an integer or out of range",
                            ))
                        }
                    },
                };
                let new = n
                    .checked_add(delta)
                    .ok_or_else(|| KvFailure::other("ERR increment or decrement would overflow"))?;
                st.bucket(&self.label)
                    .insert(key.to_string(), new.to_string().into_bytes());
                Ok(new)
            }
        }
    }

    /// `batch::get-many`: found keys only, in key order, duplicates folded.
    pub async fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        self.store.pause().await;
        if keys.is_empty() {
            *self.store.lock().calls.entry(KvOp::GetMany).or_insert(0) += 1;
            return Ok(Vec::new());
        }
        let mut st = self.store.begin(KvOp::GetMany)?;
        if st.mode == KvMode::Redis {
            return Err(KvFailure::Trap(
                "get-many on Spin's Redis store: it sends KEYS instead of MGET and the host \
                 task panics (entered unreachable code)"
                    .into(),
            ));
        }
        let wanted: BTreeSet<&String> = keys.iter().collect();
        let bucket = st.bucket(&self.label);
        let out: Vec<(String, Option<Vec<u8>>)> = wanted
            .into_iter()
            .filter_map(|k| bucket.get(k).map(|v| (k.clone(), Some(v.clone()))))
            .collect();
        st.keys_read += out.len() as u64;
        Ok(out)
    }

    /// `batch::set-many`: all or nothing.
    pub async fn set_many(&self, items: Vec<(String, Vec<u8>)>) -> KvResult<()> {
        self.store.pause().await;
        if items.is_empty() {
            *self.store.lock().calls.entry(KvOp::SetMany).or_insert(0) += 1;
            return Ok(());
        }
        let mut st = self.store.begin(KvOp::SetMany)?;
        let bucket = st.bucket(&self.label);
        for (k, v) in items {
            bucket.insert(k, v);
        }
        Ok(())
    }

    /// `batch::delete-many`.
    pub async fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.store.pause().await;
        if keys.is_empty() {
            *self.store.lock().calls.entry(KvOp::DeleteMany).or_insert(0) += 1;
            return Ok(());
        }
        let mut st = self.store.begin(KvOp::DeleteMany)?;
        let bucket = st.bucket(&self.label);
        for k in keys {
            bucket.remove(k);
        }
        Ok(())
    }
}
