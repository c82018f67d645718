//! [`Bucket`] and [`Cas`]: the guest-facing calls of
//! `wasi:keyvalue/{store,atomics,batch}`, with Spin's semantics. Each call
//! reads and writes its region's replica, passes the platform limits first
//! (when set), and adds to its request's tally.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::store::State;
use super::{KvFailure, KvMode, KvOp, KvResult, KvStore, Region, SwapFailure, Tally};

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
    region: Region,
    tally: Option<Arc<Tally>>,
}

impl Bucket {
    pub(super) fn new(
        store: KvStore,
        label: &str,
        region: Region,
        tally: Option<Arc<Tally>>,
    ) -> Self {
        Bucket {
            store,
            label: label.to_string(),
            region,
            tally,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The region whose replica this bucket reads and writes.
    pub fn region(&self) -> Region {
        self.region
    }

    fn add(&self, f: impl FnOnce(&mut super::KvTally)) {
        if let Some(t) = &self.tally {
            t.add(f);
        }
    }

    /// The read rate cap, and the request's tally.
    fn admit_read(&self, st: &mut State, units: u64) -> KvResult<()> {
        match st.admit_read(units) {
            Ok(()) => {
                self.add(|t| t.reads += units);
                Ok(())
            }
            Err(e) => {
                self.add(|t| t.refused += 1);
                Err(e)
            }
        }
    }

    /// Sizes, key cap and write rate cap, and the request's tally.
    fn admit_write(
        &self,
        st: &mut State,
        label: &str,
        items: &[(&str, Option<&[u8]>)],
    ) -> KvResult<()> {
        match st.admit_write(self.region, label, items) {
            Ok(()) => {
                self.add(|t| t.writes += items.len() as u64);
                Ok(())
            }
            Err(e) => {
                self.add(|t| t.refused += 1);
                Err(e)
            }
        }
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Get)?;
        self.admit_read(&mut st, 1)?;
        let v = st.bucket(self.region, &self.label).get(key).cloned();
        if v.is_some() {
            st.keys_read += 1;
        }
        Ok(v)
    }

    pub async fn set(&self, key: &str, value: Vec<u8>) -> KvResult<()> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Set)?;
        self.admit_write(&mut st, &self.label, &[(key, Some(&value))])?;
        st.write(self.region, &self.label, key.to_string(), Some(value));
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> KvResult<()> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Delete)?;
        self.admit_write(&mut st, &self.label, &[(key, None)])?;
        st.write(self.region, &self.label, key.to_string(), None);
        Ok(())
    }

    pub async fn exists(&self, key: &str) -> KvResult<bool> {
        self.store.pause().await;
        let mut st = self.store.begin(KvOp::Exists)?;
        self.admit_read(&mut st, 1)?;
        Ok(st.bucket(self.region, &self.label).contains_key(key))
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
        self.admit_read(&mut st, 1)?;
        Ok((
            st.bucket(self.region, &self.label)
                .keys()
                .cloned()
                .collect(),
            None,
        ))
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
        self.admit_read(&mut st, 1)?;
        let v = st.bucket(self.region, &cas.label).get(&cas.key).cloned();
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
        self.admit_write(&mut st, &cas.label, &[(&cas.key, Some(&value))])
            .map_err(SwapFailure::Store)?;
        let mode = st.mode;
        let always_fail = st.cas_always_fails;
        let stored = st.bucket(self.region, &cas.label).get(&cas.key);
        let wrote = !always_fail
            && match &cas.snapshot {
                None => true,
                Some(snap) => stored == Some(snap),
            };
        if wrote {
            st.write(self.region, &cas.label, cas.key.clone(), Some(value));
            if mode == KvMode::Sqlite {
                return Ok(());
            }
        }
        // Spin opens a fresh cas on the same key and calls `current` on it.
        let now = st.bucket(self.region, &cas.label).get(&cas.key).cloned();
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
        let current = st.bucket(self.region, &self.label).get(key).cloned();
        let new = match mode {
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
                (new, new.to_le_bytes().to_vec())
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
                (new, new.to_string().into_bytes())
            }
        };
        self.admit_write(&mut st, &self.label, &[(key, Some(&new.1))])?;
        st.write(self.region, &self.label, key.to_string(), Some(new.1));
        Ok(new.0)
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
        self.admit_read(&mut st, wanted.len() as u64)?;
        let bucket = st.bucket(self.region, &self.label);
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
        let checked: Vec<(&str, Option<&[u8]>)> = items
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
            .collect();
        self.admit_write(&mut st, &self.label, &checked)?;
        for (k, v) in items {
            st.write(self.region, &self.label, k, Some(v));
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
        let checked: Vec<(&str, Option<&[u8]>)> = keys.iter().map(|k| (k.as_str(), None)).collect();
        self.admit_write(&mut st, &self.label, &checked)?;
        for k in keys {
            st.write(self.region, &self.label, k.clone(), None);
        }
        Ok(())
    }
}
