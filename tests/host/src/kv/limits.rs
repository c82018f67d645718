//! The managed platforms' store limits ([`KvLimits`]) and the one-second
//! windows that count calls against their rate caps.
//!
//! A call past a limit fails the way any store error does: the guest gets
//! `error::other("..")` of `wasi:keyvalue/store`, nothing is written, and the
//! refusal is counted ([`super::KvStore::refusals`]). What counts:
//!
//! - key and value sizes in bytes, on every key a call writes (reads are not
//!   checked: a longer key is simply never found);
//! - the key cap on writes that would add keys to a store already at it
//!   (overwrites and deletes always pass);
//! - the rate caps over the last second, across every region and request of
//!   the app, in units: `set`, `delete`, `swap`, `increment` 1 write each,
//!   `set-many`/`delete-many` one per key; `get`, `exists`, `list-keys`,
//!   `cas.current` 1 read each, `get-many` one per distinct key asked. A
//!   refused call uses none of the window.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Which limit refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    KeyCount,
    KeySize,
    ValueSize,
    WriteRate,
    ReadRate,
}

/// Limits a platform puts on the store. `None` is no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvLimits {
    /// Named in the error messages.
    pub platform: &'static str,
    /// Keys one store (label) may hold.
    pub max_keys: Option<usize>,
    pub max_key_bytes: Option<usize>,
    pub max_value_bytes: Option<usize>,
    /// Write units per second across the app.
    pub writes_per_sec: Option<u32>,
    /// Read units per second across the app.
    pub reads_per_sec: Option<u32>,
}

/// 1 MB as the platforms' quota pages use it for values (1 MiB here).
pub const ONE_MB: usize = 1024 * 1024;

impl KvLimits {
    /// Spin's own stores: no limits.
    pub fn none() -> Self {
        KvLimits::default()
    }

    /// Fermyon Cloud: at most 1,024 keys, key <= 255 bytes, value <= 1 MB.
    pub fn fermyon_cloud() -> Self {
        KvLimits {
            platform: "fermyon-cloud",
            max_keys: Some(1024),
            max_key_bytes: Some(255),
            max_value_bytes: Some(ONE_MB),
            writes_per_sec: None,
            reads_per_sec: None,
        }
    }

    /// Fermyon Wasm Functions / Akamai Functions: key <= 8 KB, value <= 1 MB,
    /// 50 writes and 1,000 reads per second per app.
    pub fn akamai() -> Self {
        KvLimits {
            platform: "akamai",
            max_keys: None,
            max_key_bytes: Some(8 * 1024),
            max_value_bytes: Some(ONE_MB),
            writes_per_sec: Some(50),
            reads_per_sec: Some(1000),
        }
    }

    pub(super) fn check_sizes(&self, key: &str, value: Option<&[u8]>) -> Result<(), Refusal> {
        if let Some(max) = self.max_key_bytes.filter(|m| key.len() > *m) {
            return Err(self.refusal(
                Limit::KeySize,
                format!("key of {} bytes is over the {max}-byte limit", key.len()),
            ));
        }
        match (self.max_value_bytes, value) {
            (Some(max), Some(v)) if v.len() > max => Err(self.refusal(
                Limit::ValueSize,
                format!("value of {} bytes is over the {max}-byte limit", v.len()),
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn check_key_count(&self, held: usize, added: usize) -> Result<(), Refusal> {
        match self.max_keys {
            Some(max) if added > 0 && held + added > max => Err(self.refusal(
                Limit::KeyCount,
                format!(
                    "the store holds {held} keys and {added} more would pass its {max}-key limit"
                ),
            )),
            _ => Ok(()),
        }
    }

    fn refusal(&self, limit: Limit, what: String) -> Refusal {
        Refusal {
            limit,
            message: format!("{} limit: {what}", self.platform),
        }
    }
}

/// A call a limit refused: which, and the message the guest gets.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) limit: Limit,
    pub(super) message: String,
}

/// Units admitted over the last second, and the refusals so far.
#[derive(Debug, Default)]
pub(super) struct Meter {
    writes: VecDeque<(Instant, u64)>,
    reads: VecDeque<(Instant, u64)>,
    pub(super) refusals: BTreeMap<Limit, u64>,
}

const WINDOW: Duration = Duration::from_secs(1);

/// Admit `units` into a one-second window holding at most `cap`.
fn admit(window: &mut VecDeque<(Instant, u64)>, cap: u32, units: u64, now: Instant) -> bool {
    while window
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
    {
        window.pop_front();
    }
    let used: u64 = window.iter().map(|(_, n)| n).sum();
    if used + units > u64::from(cap) {
        return false;
    }
    window.push_back((now, units));
    true
}

impl Meter {
    pub(super) fn admit_writes(&mut self, limits: &KvLimits, units: u64) -> Result<(), Refusal> {
        match limits.writes_per_sec {
            Some(cap) if !admit(&mut self.writes, cap, units, Instant::now()) => Err(limits
                .refusal(
                    Limit::WriteRate,
                    format!("more than {cap} writes in one second"),
                )),
            _ => Ok(()),
        }
    }

    pub(super) fn admit_reads(&mut self, limits: &KvLimits, units: u64) -> Result<(), Refusal> {
        match limits.reads_per_sec {
            Some(cap) if !admit(&mut self.reads, cap, units, Instant::now()) => Err(limits
                .refusal(
                    Limit::ReadRate,
                    format!("more than {cap} reads in one second"),
                )),
            _ => Ok(()),
        }
    }

    pub(super) fn count(&mut self, refusal: &Refusal) {
        *self.refusals.entry(refusal.limit).or_insert(0) += 1;
    }
}
