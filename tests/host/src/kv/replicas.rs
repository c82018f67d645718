//! The store's data: one replica, or two [`Region`]s that replicate to each
//! other after a lag (the `akamai` profile).
//!
//! With replication on, a write applies to its own region's replica at once
//! and reaches the other region `lag` later. Every write (a delete too) gets a
//! write time from one counter for the whole store, and a replicated write
//! lands only if it is newer than what the receiving region last wrote or
//! received for that key: the last writer wins, by write time, in both
//! regions. Deliveries happen when a store call or a raw read runs (or
//! [`super::KvStore::replicate_now`]), so the lag is a lower bound.
//! With replication off there is one replica and both regions read it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A region of the replicated store. Without replication both are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    #[default]
    A,
    B,
}

impl Region {
    pub fn other(self) -> Region {
        match self {
            Region::A => Region::B,
            Region::B => Region::A,
        }
    }
    fn index(self) -> usize {
        match self {
            Region::A => 0,
            Region::B => 1,
        }
    }
}

impl std::str::FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a" => Ok(Region::A),
            "b" => Ok(Region::B),
            other => Err(format!("unknown region {other:?} (a|b)")),
        }
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Region::A => "a",
            Region::B => "b",
        })
    }
}

/// One region's copy: label -> key -> value.
pub(super) type Replica = HashMap<String, BTreeMap<String, Vec<u8>>>;

#[derive(Debug)]
struct Delivery {
    due: Instant,
    to: Region,
    label: String,
    key: String,
    value: Option<Vec<u8>>,
    written: u64,
}

#[derive(Debug, Default)]
pub(super) struct Replicas {
    data: [Replica; 2],
    /// `Some(lag)`: two regions.
    lag: Option<Duration>,
    clock: u64,
    /// Per region, the write time of the newest write it holds for a
    /// (label, key), deletes included.
    written: [HashMap<(String, String), u64>; 2],
    in_flight: VecDeque<Delivery>,
}

impl Replicas {
    fn slot(&self, region: Region) -> usize {
        if self.lag.is_some() {
            region.index()
        } else {
            0
        }
    }

    pub(super) fn lag(&self) -> Option<Duration> {
        self.lag
    }

    /// Turn replication on (`Some(lag)`, region B starting as a copy of A)
    /// or off (everything in flight delivered, then B is dropped).
    pub(super) fn set_lag(&mut self, lag: Option<Duration>) {
        match (self.lag, lag) {
            (None, Some(_)) => {
                self.data[1] = self.data[0].clone();
                self.written[1] = self.written[0].clone();
            }
            (Some(_), None) => {
                self.deliver(None);
                self.data[1].clear();
                self.written = Default::default();
            }
            _ => {}
        }
        self.lag = lag;
    }

    pub(super) fn replica(&self, region: Region) -> &Replica {
        &self.data[self.slot(region)]
    }

    pub(super) fn bucket(&mut self, region: Region, label: &str) -> &mut BTreeMap<String, Vec<u8>> {
        let slot = self.slot(region);
        self.data[slot].entry(label.to_string()).or_default()
    }

    /// A write by a guest in `region`: there at once, in the other region
    /// after the lag.
    pub(super) fn write(
        &mut self,
        region: Region,
        label: &str,
        key: String,
        value: Option<Vec<u8>>,
    ) {
        let Some(lag) = self.lag else {
            put(&mut self.data[0], label, key, value);
            return;
        };
        self.clock += 1;
        let written = self.clock;
        let slot = region.index();
        self.written[slot].insert((label.to_string(), key.clone()), written);
        put(&mut self.data[slot], label, key.clone(), value.clone());
        self.in_flight.push_back(Delivery {
            due: Instant::now() + lag,
            to: region.other(),
            label: label.to_string(),
            key,
            value,
            written,
        });
    }

    /// A write in every region at once (test setup through the raw helpers).
    pub(super) fn write_everywhere(&mut self, label: &str, key: &str, value: Option<Vec<u8>>) {
        self.clock += 1;
        for slot in 0..if self.lag.is_some() { 2 } else { 1 } {
            self.written[slot].insert((label.to_string(), key.to_string()), self.clock);
            put(&mut self.data[slot], label, key.to_string(), value.clone());
        }
    }

    /// Drop a label everywhere, with its writes in flight.
    pub(super) fn clear(&mut self, label: &str) {
        for slot in 0..2 {
            self.data[slot].remove(label);
            self.written[slot].retain(|(l, _), _| l != label);
        }
        self.in_flight.retain(|d| d.label != label);
    }

    /// Deliver what is due at `now` (`None`: everything in flight).
    pub(super) fn deliver(&mut self, now: Option<Instant>) {
        let mut kept = VecDeque::with_capacity(self.in_flight.len());
        while let Some(d) = self.in_flight.pop_front() {
            if now.is_some_and(|now| d.due > now) {
                kept.push_back(d);
                continue;
            }
            let slot = d.to.index();
            let id = (d.label.clone(), d.key.clone());
            if self.written[slot].get(&id).is_some_and(|w| *w >= d.written) {
                continue; // the receiving region holds a newer write
            }
            self.written[slot].insert(id, d.written);
            put(&mut self.data[slot], &d.label, d.key, d.value);
        }
        self.in_flight = kept;
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

fn put(replica: &mut Replica, label: &str, key: String, value: Option<Vec<u8>>) {
    let bucket = replica.entry(label.to_string()).or_default();
    match value {
        Some(v) => {
            bucket.insert(key, v);
        }
        None => {
            bucket.remove(&key);
        }
    }
}
