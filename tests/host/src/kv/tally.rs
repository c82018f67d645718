//! Per-request counts of store use: what one request read and wrote, in the
//! units the rate caps count ([`super::limits`]), and what a limit refused.

use std::sync::{Arc, Mutex};

use super::Region;

/// What one request did with the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvTally {
    /// The region the request was routed to (always `A` without replication).
    pub region: Region,
    /// Read units of the calls that succeeded.
    pub reads: u64,
    /// Write units of the calls that succeeded.
    pub writes: u64,
    /// Calls a limit refused.
    pub refused: u64,
}

/// The live counts of one request, shared by the buckets it opens.
#[derive(Debug, Default)]
pub struct Tally(Mutex<KvTally>);

impl Tally {
    pub fn new(region: Region) -> Arc<Tally> {
        Arc::new(Tally(Mutex::new(KvTally {
            region,
            ..KvTally::default()
        })))
    }

    pub fn snapshot(&self) -> KvTally {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_region(&self, region: Region) {
        self.add(|t| t.region = region);
    }

    pub(super) fn add(&self, f: impl FnOnce(&mut KvTally)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
