//! [`KvStore`]: the shared store, its switches (faults, latency, poison),
//! counters and raw access for tests, and `open`. The platform switches
//! (limits, regions) are in [`super::platform`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::limits::{KvLimits, Meter};
use super::replicas::Replicas;
use super::tally::Tally;
use super::{Bucket, KvError, KvFailure, KvMode, KvOp, Region, DEFAULT_LABEL};

#[derive(Debug)]
struct Fault {
    ops: BTreeSet<KvOp>,
    /// Matching calls still to let through before the failing one, plus one.
    countdown: u64,
    sticky: bool,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) mode: KvMode,
    pub(super) replicas: Replicas,
    pub(super) limits: KvLimits,
    pub(super) meter: Meter,
    pub(super) poisoned: Option<String>,
    open_fails: Option<String>,
    pub(super) outage: bool,
    pub(super) cas_always_fails: bool,
    faults: Vec<Fault>,
    latency: Duration,
    pub(super) calls: BTreeMap<KvOp, u64>,
    pub(super) keys_read: u64,
}

impl State {
    /// `label`'s data as `region` sees it.
    pub(super) fn bucket(&mut self, region: Region, label: &str) -> &mut BTreeMap<String, Vec<u8>> {
        self.replicas.bucket(region, label)
    }

    /// Count a call and decide whether an injected fault makes it fail.
    pub(super) fn count_and_check_faults(&mut self, op: KvOp) -> bool {
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
            .field(
                "labels",
                &st.replicas.replica(Region::A).keys().collect::<Vec<_>>(),
            )
            .field("limits", &st.limits)
            .field("replication_lag", &st.replicas.lag())
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

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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
        st.meter.refusals.clear();
    }

    // ----- raw access for tests (no counters, faults, poison or limits) -----
    // Reads see region A; writes land in every region at once.

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
        self.lock().replicas.clear(DEFAULT_LABEL);
    }

    pub fn raw_get_in(&self, label: &str, key: &str) -> Option<Vec<u8>> {
        self.raw_get_at(Region::A, label, key)
    }
    pub fn raw_set_in(&self, label: &str, key: &str, value: impl Into<Vec<u8>>) {
        self.lock()
            .replicas
            .write_everywhere(label, key, Some(value.into()));
    }
    pub fn raw_delete_in(&self, label: &str, key: &str) -> bool {
        let mut st = self.lock();
        let existed = st.bucket(Region::A, label).contains_key(key);
        st.replicas.write_everywhere(label, key, None);
        existed
    }
    pub fn keys_in(&self, label: &str) -> Vec<String> {
        self.keys_at(Region::A, label)
    }

    // ----- the guest-facing calls ------------------------------------------

    /// `open(label)`, once the component's `key_value_stores` allowed it
    /// (the instance checks that and answers `access-denied` itself).
    pub async fn open(&self, label: &str) -> Result<Bucket, KvError> {
        self.open_at(label, Region::A, None).await
    }

    /// `open(label)` for a request routed to `region`, counting its calls
    /// in `tally`.
    pub async fn open_at(
        &self,
        label: &str,
        region: Region,
        tally: Option<Arc<Tally>>,
    ) -> Result<Bucket, KvError> {
        {
            let mut st = self.lock();
            let fault = st.count_and_check_faults(KvOp::Open);
            if let Some(msg) = &st.open_fails {
                return Err(KvError::Other(msg.clone()));
            }
            if fault {
                return Err(KvError::Other("injected fault".into()));
            }
            st.bucket(region, label);
        }
        Ok(Bucket::new(self.clone(), label, region, tally))
    }

    /// A handle on `label` without the `open` call (for tests).
    pub fn bucket(&self, label: &str) -> Bucket {
        Bucket::new(self.clone(), label, Region::A, None)
    }

    /// Yield (and sleep when a latency is set) so that concurrent requests
    /// interleave between store calls, as they do against a real backend.
    pub(super) async fn pause(&self) {
        let latency = self.lock().latency;
        if latency.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(latency).await;
        }
    }

    /// Count the call, then poison / outage / injected faults, in that order.
    pub(super) fn begin(&self, op: KvOp) -> Result<MutexGuard<'_, State>, KvFailure> {
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
        if st.replicas.lag().is_some() {
            st.replicas.deliver(Some(Instant::now()));
        }
        Ok(st)
    }
}
