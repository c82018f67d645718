//! In-memory key-value store with Spin's `wasi:keyvalue@0.2.0-draft2` semantics.
//!
//! One [`KvStore`] is shared by every instance a host creates (it is a cheap
//! `Arc` handle), so state survives across requests like Spin's SQLite file.
//! What it reproduces (SPEC section 6, checked against Spin's
//! `key-value-spin` SQLite store and `factor-key-value` dispatch):
//!
//! - `cas::new` takes no snapshot. `cas.current()` reads the key and keeps what
//!   it read as the snapshot (every call reads again). `swap` with no snapshot
//!   (never called `current`, or `current` saw no value) is an unconditional
//!   upsert; otherwise it writes only when the stored value still equals the
//!   snapshot (a key deleted since then does not). On failure the guest gets a
//!   fresh `cas` whose snapshot is the value now stored.
//! - `increment` keeps an 8-byte little-endian i64 (SQLite) or decimal text
//!   (Redis). In SQLite mode a value of any other length panics Spin's host
//!   while it holds the connection lock: here that is a trap, and the store is
//!   poisoned, so every later call that touches the data traps until
//!   [`KvStore::restart`] (a host restart; the data survives, as the SQLite
//!   file would).
//! - `get-many` leaves missing keys out, answers in key order and folds
//!   duplicate keys, like `SELECT .. WHERE key IN (..)`. In Redis mode it
//!   traps: Spin's Redis store sends `KEYS` instead of `MGET` and its host
//!   task panics ("entered unreachable code"), failing the whole request.
//! - `list-keys` answers every key at once with no cursor; a cursor is an
//!   error (`list_keys: cursor not supported`).
//! - Batch calls with an empty list answer at once without touching the store.
//! - [`KvMode::Redis`]: `swap` reports `cas-failed` every time, whether it wrote
//!   or not (it writes exactly when the SQLite rules say so); `increment` keeps
//!   decimal text and a non-integer value is an ordinary error.
//!
//! Tests steer it at run time: faults ([`KvStore::fail_nth`],
//! [`KvStore::fail_from_nth`], [`KvStore::set_outage`],
//! [`KvStore::set_open_fails`], [`KvStore::set_cas_always_fails`]), latency,
//! call counters and raw access.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The label of the store tests read with the `raw_*` helpers.
pub const DEFAULT_LABEL: &str = "default";

/// Which Spin backend to imitate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvMode {
    /// Spin's default SQLite store (`spin up`).
    #[default]
    Sqlite,
    /// Spin's Redis store, with its `swap` defect.
    Redis,
}

impl std::str::FromStr for KvMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "spin" => Ok(KvMode::Sqlite),
            "redis" | "valkey" => Ok(KvMode::Redis),
            other => Err(format!("unknown kv mode {other:?} (sqlite|redis)")),
        }
    }
}

/// The kinds of call the guest makes, for counters and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvOp {
    Open,
    Get,
    Set,
    Delete,
    Exists,
    ListKeys,
    CasNew,
    CasCurrent,
    Swap,
    Increment,
    GetMany,
    SetMany,
    DeleteMany,
}

impl KvOp {
    /// Every call on a bucket or cas (everything but [`KvOp::Open`]).
    pub const DATA: [KvOp; 12] = [
        KvOp::Get,
        KvOp::Set,
        KvOp::Delete,
        KvOp::Exists,
        KvOp::ListKeys,
        KvOp::CasNew,
        KvOp::CasCurrent,
        KvOp::Swap,
        KvOp::Increment,
        KvOp::GetMany,
        KvOp::SetMany,
        KvOp::DeleteMany,
    ];
    /// Calls that write.
    pub const WRITES: [KvOp; 6] = [
        KvOp::Set,
        KvOp::Delete,
        KvOp::Swap,
        KvOp::Increment,
        KvOp::SetMany,
        KvOp::DeleteMany,
    ];
    /// Calls that read values or keys.
    pub const READS: [KvOp; 5] = [
        KvOp::Get,
        KvOp::Exists,
        KvOp::ListKeys,
        KvOp::CasCurrent,
        KvOp::GetMany,
    ];
}

/// `wasi:keyvalue/store.error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NoSuchStore => f.write_str("no-such-store"),
            KvError::AccessDenied => f.write_str("access-denied"),
            KvError::Other(m) => write!(f, "other({m})"),
        }
    }
}

/// What a call can end in besides success: an error the guest sees, or a
/// trap (the host panicked, or the store is poisoned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvFailure {
    Error(KvError),
    Trap(String),
}

impl KvFailure {
    fn other(msg: impl Into<String>) -> Self {
        KvFailure::Error(KvError::Other(msg.into()))
    }
    /// True for a trap.
    pub fn is_trap(&self) -> bool {
        matches!(self, KvFailure::Trap(_))
    }
}

impl fmt::Display for KvFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvFailure::Error(e) => write!(f, "{e}"),
            KvFailure::Trap(m) => write!(f, "trap: {m}"),
        }
    }
}

impl std::error::Error for KvFailure {}

pub type KvResult<T> = Result<T, KvFailure>;

/// The outcome of a failed `swap`.
#[derive(Debug)]
pub enum SwapFailure {
    /// `cas-failed(cas)`: a fresh cas whose snapshot is the value now stored.
    CasFailed(Cas),
    /// `store-error(..)` or a trap.
    Store(KvFailure),
}

impl fmt::Display for SwapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapFailure::CasFailed(c) => write!(f, "cas-failed (key {:?})", c.key),
            SwapFailure::Store(e) => write!(f, "{e}"),
        }
    }
}

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

#[derive(Debug)]
struct Fault {
    ops: BTreeSet<KvOp>,
    /// Matching calls still to let through before the failing one, plus one.
    countdown: u64,
    sticky: bool,
}

#[derive(Debug, Default)]
struct State {
    mode: KvMode,
    data: HashMap<String, BTreeMap<String, Vec<u8>>>,
    poisoned: Option<String>,
    open_fails: Option<String>,
    outage: bool,
    cas_always_fails: bool,
    faults: Vec<Fault>,
    latency: Duration,
    calls: BTreeMap<KvOp, u64>,
    keys_read: u64,
}

impl State {
    fn bucket(&mut self, label: &str) -> &mut BTreeMap<String, Vec<u8>> {
        self.data.entry(label.to_string()).or_default()
    }

    /// Count a call and decide whether an injected fault makes it fail.
    fn count_and_check_faults(&mut self, op: KvOp) -> bool {
        *self.calls.entry(op).or_insert(0) += 1;
        let mut fail = false;
        let mut i = 0;
        while i < self.faults.len() {
            let fault = &mut self.faults[i];
            if fault.ops.contains(&op) {
                if fault.countdown > 1 {
                    fault.countdown -= 1;
                } else {
                    fail = true;
                    if !fault.sticky {
                        self.faults.remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
        fail
    }
}

/// The shared store handle. Clone it freely: every clone is the same store.
#[derive(Clone, Default)]
pub struct KvStore {
    inner: Arc<Mutex<State>>,
}

impl fmt::Debug for KvStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("KvStore")
            .field("mode", &st.mode)
            .field("labels", &st.data.keys().collect::<Vec<_>>())
            .field("poisoned", &st.poisoned.is_some())
            .finish()
    }
}

/// Message of the trap a poisoned store gives (Spin: a poisoned mutex).
const POISON_MSG: &str =
    "key-value store poisoned by an earlier panic (PoisonError); restart the host";

impl KvStore {
    /// An empty store imitating `mode`.
    pub fn new(mode: KvMode) -> Self {
        let store = KvStore::default();
        store.lock().mode = mode;
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The store's own mutex is never held across a panic of ours; recover
        // the guard anyway rather than propagate a poisoned std mutex.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- configuration and fault injection -------------------------------

    pub fn mode(&self) -> KvMode {
        self.lock().mode
    }
    pub fn set_mode(&self, mode: KvMode) {
        self.lock().mode = mode;
    }

    /// `open` answers `other("..")` while set.
    pub fn set_open_fails(&self, fails: bool) {
        self.lock().open_fails =
            fails.then(|| "injected fault: store cannot be opened".to_string());
    }

    /// Every data call (all but `open`) answers `other("injected fault: outage")`
    /// while set, like Spin's SQLite store whose files became unwritable.
    pub fn set_outage(&self, outage: bool) {
        self.lock().outage = outage;
    }

    /// `swap` answers `cas-failed` without writing while set.
    pub fn set_cas_always_fails(&self, fails: bool) {
        self.lock().cas_always_fails = fails;
    }

    /// The `n`-th call (1 = the next one) from now whose kind is in `ops`
    /// fails with `other("injected fault")`; the calls after it succeed.
    pub fn fail_nth(&self, ops: &[KvOp], n: u64) {
        self.push_fault(ops, n, false);
    }

    /// The `n`-th matching call from now and every matching call after it
    /// fail with `other("injected fault")`, until [`KvStore::clear_faults`].
    pub fn fail_from_nth(&self, ops: &[KvOp], n: u64) {
        self.push_fault(ops, n, true);
    }

    fn push_fault(&self, ops: &[KvOp], n: u64, sticky: bool) {
        self.lock().faults.push(Fault {
            ops: ops.iter().copied().collect(),
            countdown: n.max(1),
            sticky,
        });
    }

    /// Turn off every fault switch: pending `fail_nth`/`fail_from_nth`, outage,
    /// open failures and `cas_always_fails`. Poisoning stays (see `restart`).
    pub fn clear_faults(&self) {
        let mut st = self.lock();
        st.faults.clear();
        st.outage = false;
        st.open_fails = None;
        st.cas_always_fails = false;
    }

    /// Delay every data call by `latency` (on top of the yield each call
    /// makes), to widen race windows between concurrent requests.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Whether an `increment` on a non-counter poisoned the store.
    pub fn is_poisoned(&self) -> bool {
        self.lock().poisoned.is_some()
    }

    /// What a host restart does: clears the poison. Data is kept, as Spin's
    /// SQLite file would keep it.
    pub fn restart(&self) {
        self.lock().poisoned = None;
    }

    // ----- counters ---------------------------------------------------------

    /// How many calls of kind `op` the guests made (faulted ones included).
    pub fn calls(&self, op: KvOp) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// All counters.
    pub fn call_counts(&self) -> BTreeMap<KvOp, u64> {
        self.lock().calls.clone()
    }

    /// Sum of the counters of `ops`.
    pub fn calls_of(&self, ops: &[KvOp]) -> u64 {
        let st = self.lock();
        ops.iter()
            .map(|op| st.calls.get(op).copied().unwrap_or(0))
            .sum()
    }

    /// Number of stored values handed to guests (`get`, `cas.current`, each
    /// value in a `get-many` answer); `exists` and `list-keys` read none.
    pub fn values_read(&self) -> u64 {
        self.lock().keys_read
    }

    /// Zero every counter.
    pub fn reset_counts(&self) {
        let mut st = self.lock();
        st.calls.clear();
        st.keys_read = 0;
    }

    // ----- raw access for tests (no counters, faults or poison) -------------

    pub fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        self.raw_get_in(DEFAULT_LABEL, key)
    }
    pub fn raw_set(&self, key: &str, value: impl Into<Vec<u8>>) {
        self.raw_set_in(DEFAULT_LABEL, key, value)
    }
    pub fn raw_delete(&self, key: &str) -> bool {
        self.raw_delete_in(DEFAULT_LABEL, key)
    }
    /// Every key of the default store, in order.
    pub fn keys(&self) -> Vec<String> {
        self.keys_in(DEFAULT_LABEL)
    }
    /// Empty the default store.
    pub fn clear(&self) {
        self.lock().data.remove(DEFAULT_LABEL);
    }

    pub fn raw_get_in(&self, label: &str, key: &str) -> Option<Vec<u8>> {
        self.lock()
            .data
            .get(label)
            .and_then(|b| b.get(key).cloned())
    }
    pub fn raw_set_in(&self, label: &str, key: &str, value: impl Into<Vec<u8>>) {
        self.lock()
            .bucket(label)
            .insert(key.to_string(), value.into());
    }
    pub fn raw_delete_in(&self, label: &str, key: &str) -> bool {
        self.lock().bucket(label).remove(key).is_some()
    }
    pub fn keys_in(&self, label: &str) -> Vec<String> {
        self.lock()
            .data
            .get(label)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    // ----- the guest-facing calls ------------------------------------------

    /// `open(label)`, once the component's `key_value_stores` allowed it
    /// (the instance checks that and answers `access-denied` itself).
    pub async fn open(&self, label: &str) -> Result<Bucket, KvError> {
        {
            let mut st = self.lock();
            let fault = st.count_and_check_faults(KvOp::Open);
            if let Some(msg) = &st.open_fails {
                return Err(KvError::Other(msg.clone()));
            }
            if fault {
                return Err(KvError::Other("injected fault".into()));
            }
            st.bucket(label);
        }
        Ok(Bucket {
            store: self.clone(),
            label: label.to_string(),
        })
    }

    /// A handle on `label` without the `open` call (for tests).
    pub fn bucket(&self, label: &str) -> Bucket {
        Bucket {
            store: self.clone(),
            label: label.to_string(),
        }
    }

    /// Yield (and sleep when a latency is set) so that concurrent requests
    /// interleave between store calls, as they do against a real backend.
    async fn pause(&self) {
        let latency = self.lock().latency;
        if latency.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(latency).await;
        }
    }

    /// Count the call, then poison / outage / injected faults, in that order.
    fn begin(&self, op: KvOp) -> Result<MutexGuard<'_, State>, KvFailure> {
        let mut st = self.lock();
        let fault = st.count_and_check_faults(op);
        if let Some(why) = &st.poisoned {
            return Err(KvFailure::Trap(format!("{POISON_MSG} ({why})")));
        }
        if st.outage {
            return Err(KvFailure::other("injected fault: outage"));
        }
        if fault {
            return Err(KvFailure::other("injected fault"));
        }
        Ok(st)
    }
}

/// An open bucket (`wasi:keyvalue/store.bucket`).
#[derive(Clone, Debug)]
pub struct Bucket {
    store: KvStore,
    label: String,
}

impl Bucket {
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
