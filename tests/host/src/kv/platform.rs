//! The store as the managed platforms run it: limits ([`KvLimits`]) and two
//! replicated regions ([`Region`]). Off by default (Spin's own stores); the
//! host's profiles ([`crate::profile`]) turn them on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::{KvLimits, Limit, Refusal};
use super::store::State;
use super::{Bucket, KvFailure, KvResult, KvStore, Region, Tally};

impl KvStore {
    /// Limit the store as a platform does (see [`super::limits`]).
    pub fn set_limits(&self, limits: KvLimits) {
        self.lock().limits = limits;
    }

    pub fn limits(&self) -> KvLimits {
        self.lock().limits.clone()
    }

    /// `Some(lag)`: two regions, each write reaching the other region after
    /// `lag` (see [`super::replicas`]); `None`: one store (the default).
    pub fn set_replication(&self, lag: Option<Duration>) {
        self.lock().replicas.set_lag(lag);
    }

    pub fn replication_lag(&self) -> Option<Duration> {
        self.lock().replicas.lag()
    }

    /// Deliver every write still in flight between the regions now.
    pub fn replicate_now(&self) {
        self.lock().replicas.deliver(None);
    }

    /// Writes on their way to the other region.
    pub fn in_flight(&self) -> usize {
        self.lock().replicas.in_flight()
    }

    /// Calls each limit refused (zeroed by [`KvStore::reset_counts`]).
    pub fn refusals(&self) -> BTreeMap<Limit, u64> {
        self.lock().meter.refusals.clone()
    }

    /// Calls `limit` refused.
    pub fn refused(&self, limit: Limit) -> u64 {
        self.lock().meter.refusals.get(&limit).copied().unwrap_or(0)
    }

    /// A value as `region` sees it now (writes due by now delivered; no
    /// counters, faults or limits).
    pub fn raw_get_at(&self, region: Region, label: &str, key: &str) -> Option<Vec<u8>> {
        let mut st = self.lock();
        st.replicas.deliver(Some(Instant::now()));
        st.replicas
            .replica(region)
            .get(label)
            .and_then(|b| b.get(key).cloned())
    }

    /// Every key of `label` as `region` sees it now, in order.
    pub fn keys_at(&self, region: Region, label: &str) -> Vec<String> {
        let mut st = self.lock();
        st.replicas.deliver(Some(Instant::now()));
        st.replicas
            .replica(region)
            .get(label)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A handle on `label` in `region` without the `open` call (for tests).
    pub fn bucket_at(&self, label: &str, region: Region) -> Bucket {
        Bucket::new(self.clone(), label, region, None)
    }

    /// A handle on `label` in `region` whose calls count in `tally`.
    pub fn bucket_in(&self, label: &str, region: Region, tally: &Arc<Tally>) -> Bucket {
        Bucket::new(self.clone(), label, region, Some(tally.clone()))
    }
}

impl State {
    fn refuse(&mut self, refusal: Refusal) -> KvFailure {
        self.meter.count(&refusal);
        KvFailure::other(refusal.message)
    }

    /// Admit a read of `units` against the read rate cap.
    pub(super) fn admit_read(&mut self, units: u64) -> KvResult<()> {
        let limits = self.limits.clone();
        match self.meter.admit_reads(&limits, units) {
            Ok(()) => Ok(()),
            Err(r) => Err(self.refuse(r)),
        }
    }

    /// Admit writes of `items` (key, value or `None` for a delete) by a guest
    /// in `region`: sizes, the key cap, then the write rate cap.
    pub(super) fn admit_write(
        &mut self,
        region: Region,
        label: &str,
        items: &[(&str, Option<&[u8]>)],
    ) -> KvResult<()> {
        let limits = self.limits.clone();
        if let Err(r) = items
            .iter()
            .try_for_each(|(k, v)| limits.check_sizes(k, *v))
        {
            return Err(self.refuse(r));
        }
        if limits.max_keys.is_some() {
            let bucket = self.bucket(region, label);
            let mut added: Vec<&str> = items
                .iter()
                .filter(|(k, v)| v.is_some() && !bucket.contains_key(*k))
                .map(|(k, _)| *k)
                .collect();
            added.sort_unstable();
            added.dedup();
            let held = bucket.len();
            if let Err(r) = limits.check_key_count(held, added.len()) {
                return Err(self.refuse(r));
            }
        }
        match self.meter.admit_writes(&limits, items.len() as u64) {
            Ok(()) => Ok(()),
            Err(r) => Err(self.refuse(r)),
        }
    }

    /// Write (`Some`) or delete (`None`) as a guest in `region`.
    pub(super) fn write(
        &mut self,
        region: Region,
        label: &str,
        key: String,
        value: Option<Vec<u8>>,
    ) {
        self.replicas.write(region, label, key, value);
    }
}
