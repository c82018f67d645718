//! The tail of a log: appends not yet merged into its sorted pages.
//!
//! `{base}:n` is an `increment` counter of slots, and slot `k`
//! (`{base}:{k}`) holds a JSON array of items: an entry (the image was
//! added), `!` and an entry (a hint that the image may have left the log),
//! or [`SEALED`]. Slot `k` is created once, with `set`, by the writer whose
//! `increment` returned `k`: no first write relies on compare-and-swap,
//! which is an upsert on a missing key in Spin.
//!
//! Appending costs what the backend makes cheap (measured on the real Spin,
//! README "Benchmarks"):
//! - On Spin's SQLite store every write is a disk commit, and a swap on an
//!   existing key is one `UPDATE .. WHERE value = old`. So an append joins
//!   the newest slot by compare-and-swap while it has room: one commit
//!   instead of two (`increment` + `set`).
//! - On Redis every compare-and-swap opens a new connection, while
//!   `increment` and `set` are one round trip each: an append takes a slot
//!   of its own, which no one ever writes again.
//!
//! The counter's encoding tells the two apart: 8-byte little-endian on
//! SQLite, decimal text on Redis. Compaction seals a joinable slot before
//! it merges it, so no append can land in a slot after it was merged.

use super::unavailable;
use crate::core::error::Error;
use crate::core::store::{decode_counter, little_endian_counter, Atomic, SwapError};
use std::time::{Duration, Instant};

/// Items a slot takes before appends open a new one: ~3.6 KB of JSON, small
/// enough that the swap's compare stays cheap.
pub const SLOT_CAPACITY: usize = 64;
/// Compare-and-swap attempts on the newest slot before taking a new one.
const JOIN_ATTEMPTS: u32 = 4;
/// The first item of a slot compaction has merged: appends go elsewhere.
pub const SEALED: &str = "#";
/// A writer whose `set` of its own slot comes this long after the
/// `increment` that handed it out appends again: compaction may have given
/// up waiting for the slot (it forgets one missing for [`compact`]'s
/// `SKIP_MISSING_AFTER_SECS`, three times this).
///
/// [`compact`]: super::compact
pub const WRITER_DEADLINE: Duration = Duration::from_secs(60);

pub fn counter_key(base: &str) -> String {
    format!("{base}:n")
}

pub fn slot_key(base: &str, slot: i64) -> String {
    format!("{base}:{slot}")
}

/// The items a slot's value holds, and whether it is sealed. A value that
/// is not an array of strings holds nothing.
pub fn items(value: &[u8]) -> (bool, Vec<String>) {
    let mut items: Vec<String> = serde_json::from_slice(value).unwrap_or_default();
    let sealed = items.first().is_some_and(|i| i == SEALED);
    if sealed {
        items.remove(0);
    }
    (sealed, items)
}

pub fn encode(sealed: bool, items: &[String]) -> Result<Vec<u8>, Error> {
    let mut all: Vec<&str> = Vec::with_capacity(items.len() + 1);
    if sealed {
        all.push(SEALED);
    }
    all.extend(items.iter().map(String::as_str));
    serde_json::to_vec(&all).map_err(|e| Error::internal(e.to_string()))
}

/// The number of slots handed out, and whether appends join the newest
/// slot (SQLite) or take one each (Redis).
pub fn counter<S: Atomic>(store: &S, base: &str) -> Result<(i64, bool), Error> {
    let key = counter_key(base);
    let raw = store.get(&key).map_err(unavailable)?;
    let len = decode_counter(raw.as_deref())
        .ok_or_else(|| Error::internal(format!("{key} does not hold a counter")))?;
    let joins = raw.as_deref().and_then(little_endian_counter).is_some();
    Ok((len, joins))
}

/// A new slot whose number is a multiple of this makes its writer compact
/// the log: the tail stays within about this many slots (of up to
/// [`SLOT_CAPACITY`] items where appends join slots, of one on Redis).
pub fn compact_every(joins: bool) -> i64 {
    if joins {
        4
    } else {
        16
    }
}

/// Append `item` to the tail. `true` when the log is due a compaction,
/// which the caller runs once its own write is done.
pub fn append<S: Atomic>(store: &S, base: &str, item: &str) -> Result<bool, Error> {
    let (len, joins) = counter(store, base)?;
    if joins && len > 0 && join(store, &slot_key(base, len), item)? {
        return Ok(false);
    }
    loop {
        let handed_out = Instant::now();
        let slot = store
            .increment(&counter_key(base), 1)
            .map_err(unavailable)?;
        // This writer alone was handed `slot`: a plain set cannot clobber anyone.
        store
            .set(&slot_key(base, slot), &encode(false, &[item.to_string()])?)
            .map_err(unavailable)?;
        if handed_out.elapsed() < WRITER_DEADLINE {
            return Ok(slot % compact_every(joins) == 0);
        }
    }
}

/// Try to add `item` to an existing, unsealed slot by compare-and-swap.
/// `false` when the slot is missing (its creator has not written it yet),
/// full, sealed or too contended: the caller then takes a new slot.
fn join<S: Atomic>(store: &S, slot_key: &str, item: &str) -> Result<bool, Error> {
    for _ in 0..JOIN_ATTEMPTS {
        let (current, cas) = store.watch(slot_key).map_err(unavailable)?;
        // Never swap on a missing key: that is an upsert on Spin and could
        // overwrite the slot its creator is about to set.
        let Some(current) = current else {
            return Ok(false);
        };
        let (sealed, mut items) = items(&current);
        if sealed || items.len() >= SLOT_CAPACITY {
            return Ok(false);
        }
        if items.iter().any(|i| i == item) {
            return Ok(true);
        }
        items.push(item.to_string());
        match store.swap(cas, &encode(false, &items)?) {
            Ok(()) => return Ok(true),
            Err(SwapError::Store(e)) => return Err(unavailable(e)),
            // Redis says this whether or not it wrote: the next round's
            // read finds the item if it landed.
            Err(SwapError::CasFailed) => {}
        }
    }
    Ok(false)
}

/// Every item of `slots`, and whether every slot was there. A
/// slot handed out but not yet written (its writer is between `increment`
/// and `set`) holds nothing yet: the record that would need it is written
/// only after the slot.
pub fn read<S: Atomic>(
    store: &S,
    base: &str,
    slots: impl IntoIterator<Item = i64>,
) -> Result<(Vec<String>, bool), Error> {
    let (mut out, mut whole) = (Vec::new(), true);
    for slot in slots {
        match store.get(&slot_key(base, slot)).map_err(unavailable)? {
            Some(value) => out.extend(items(&value).1),
            None => whole = false,
        }
    }
    Ok((out, whole))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::KvStore;
    use crate::core::store::MemStore;

    fn item(n: usize) -> String {
        format!("1970-01-01T00:00:00Z00000000-0000-4000-8000-{n:012}")
    }

    #[test]
    fn sqlite_appends_share_slots_and_redis_appends_take_one_each() {
        let sqlite = MemStore::default();
        let redis = MemStore::redis();
        for n in 0..(SLOT_CAPACITY + 1) {
            append(&sqlite, "l", &item(n)).unwrap();
            append(&redis, "l", &item(n)).unwrap();
        }
        assert_eq!(counter(&sqlite, "l").unwrap(), (2, true));
        assert_eq!(
            counter(&redis, "l").unwrap(),
            (SLOT_CAPACITY as i64 + 1, false)
        );
        let want: Vec<String> = (0..=SLOT_CAPACITY).map(item).collect();
        assert_eq!(read(&sqlite, "l", 1..=2).unwrap().0, want);
        assert_eq!(read(&redis, "l", 1..=65).unwrap().0, want);
    }

    #[test]
    fn sealed_and_unwritten_slots_are_never_joined() {
        let s = MemStore::default();
        // A creator took slot 1 and has not set it yet.
        s.increment(&counter_key("l"), 1).unwrap();
        append(&s, "l", &item(7)).unwrap();
        assert_eq!(
            counter(&s, "l").unwrap().0,
            2,
            "slot 1 is left to its creator"
        );
        s.set(&slot_key("l", 2), &encode(true, &[item(7)]).unwrap())
            .unwrap();
        append(&s, "l", &item(8)).unwrap();
        assert_eq!(counter(&s, "l").unwrap().0, 3, "2 is sealed");
        // The creator's set lands late and loses nobody.
        s.set(&slot_key("l", 1), &encode(false, &[item(1)]).unwrap())
            .unwrap();
        assert_eq!(
            read(&s, "l", 1..=3).unwrap().0,
            vec![item(1), item(7), item(8)]
        );
        assert!(items(b"[1,2]").1.is_empty() && items(b"x").1.is_empty());
    }

    #[test]
    fn concurrent_appends_lose_nobody_on_either_backend() {
        for store in [MemStore::default(), MemStore::redis()] {
            std::thread::scope(|scope| {
                for w in 0..8 {
                    let store = &store;
                    scope.spawn(move || {
                        for n in 0..40 {
                            append(store, "hot", &item(w * 1000 + n)).unwrap();
                        }
                    });
                }
            });
            let (n, _) = counter(&store, "hot").unwrap();
            let mut got = read(&store, "hot", 1..=n).unwrap().0;
            got.sort();
            let mut want: Vec<String> = (0..8)
                .flat_map(|w| (0..40).map(move |n| item(w * 1000 + n)))
                .collect();
            want.sort();
            assert_eq!(got, want);
        }
    }
}
