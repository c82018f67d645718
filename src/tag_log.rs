//! The tag index: one append-only log per tag naming the images that were
//! given the tag. The log may name images that no longer carry it (readers
//! check the record); it never misses one that does, because an image is
//! appended before the record that adds the tag is written.
//!
//! Layout: `tag:{sha256(tag)}:n` is an `increment` counter of slots, and slot
//! `k` (`tag:{sha256(tag)}:{k}`) holds the image ids as a JSON array (or, as
//! written before chunks, one bare id). Slot `k` is created once, with `set`,
//! by the writer whose `increment` returned `k`: no first write relies on
//! compare-and-swap, which is an upsert on a missing key in Spin.
//!
//! The same kind of log, under `tagkey:{sha256(k)}`, names the images given
//! a key/value entry `k=...` (IMS's "any value of key k"). Every function
//! here takes the log's counter key: [`keys::tag_len`] or
//! [`keys::tag_key_len`].
//!
//! Appending costs what the backend makes cheap (measured on the real Spin,
//! README "Benchmarks"):
//! - On Spin's SQLite store every write is a disk commit, and a swap on an
//!   existing key is one `UPDATE .. WHERE value = old`. So an append joins
//!   the newest slot by compare-and-swap while it has room: one commit
//!   instead of two (`increment` + `set`).
//! - On Redis every compare-and-swap opens a new connection, while
//!   `increment` and `set` are one round trip each: an append takes a slot
//!   of its own.
//!
//! The counter's encoding tells the two apart: 8-byte little-endian on
//! SQLite, decimal text on Redis. Either way of appending is safe on every
//! backend; the choice is only about cost.

use crate::http::ApiError;
use crate::keys;
use crate::store::{decode_counter, little_endian_counter, KvStore, StoreError, SwapError};

/// Ids a slot takes before appends open a new one: ~2.4 KB of JSON, small
/// enough that the swap's compare stays cheap.
pub const SLOT_CAPACITY: usize = 64;
/// Compare-and-swap attempts on the newest slot before taking a new one.
const JOIN_ATTEMPTS: u32 = 4;

fn unavailable(e: StoreError) -> ApiError {
    ApiError::unavailable(format!("key-value store: {}", e.0))
}

/// The ids a slot's value names: a JSON array, or one bare id (the layout
/// before slots held several). Anything else names nothing.
pub fn slot_ids(value: &[u8]) -> Vec<String> {
    if value.first() == Some(&b'[') {
        // Read through `Value`, as records are: a derived `Vec<String>`
        // deserializer costs the .wasm several KB more.
        let Ok(serde_json::Value::Array(items)) = serde_json::from_slice(value) else {
            return Vec::new();
        };
        return items
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(id) => Some(id),
                _ => None,
            })
            .collect();
    }
    std::str::from_utf8(value)
        .ok()
        .filter(|id| keys::is_image_id(id))
        .map(|id| vec![id.to_string()])
        .unwrap_or_default()
}

fn encode(ids: &[String]) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(ids).map_err(|e| ApiError::internal(e.to_string()))
}

/// The number of slots handed out, and whether the backend is one where an
/// append should join the newest slot by compare-and-swap.
fn slots_and_mode<S: KvStore>(store: &S, key: &str) -> Result<(i64, bool), ApiError> {
    let raw = store.get(key).map_err(unavailable)?;
    let len = decode_counter(raw.as_deref())
        .ok_or_else(|| ApiError::internal(format!("{key} does not hold a counter")))?;
    let sqlite = raw.as_deref().and_then(little_endian_counter).is_some();
    Ok((len, sqlite))
}

/// Add `image_id` to the log counted by `log` ([`keys::tag_len`] or
/// [`keys::tag_key_len`]).
pub fn append<S: KvStore>(store: &S, log: &str, image_id: &str) -> Result<(), ApiError> {
    let (len, join) = slots_and_mode(store, log)?;
    if join && len > 0 && join_newest(store, &keys::log_slot(log, len), image_id)? {
        return Ok(());
    }
    let slot = store.increment(log, 1).map_err(unavailable)?;
    // This writer alone was handed `slot`: a plain set cannot clobber anyone.
    store
        .set(
            &keys::log_slot(log, slot),
            &encode(&[image_id.to_string()])?,
        )
        .map_err(unavailable)
}

/// Try to add `image_id` to an existing slot by compare-and-swap. `false`
/// when the slot is missing (its creator has not written it yet), full, or
/// too contended: the caller then takes a new slot.
fn join_newest<S: KvStore>(store: &S, slot_key: &str, image_id: &str) -> Result<bool, ApiError> {
    for _ in 0..JOIN_ATTEMPTS {
        let (current, cas) = store.watch(slot_key).map_err(unavailable)?;
        // Never swap on a missing key: that is an upsert on Spin and could
        // overwrite the slot its creator is about to set.
        let Some(current) = current else {
            return Ok(false);
        };
        let mut ids = slot_ids(&current);
        if ids.iter().any(|id| id == image_id) {
            return Ok(true);
        }
        if ids.len() >= SLOT_CAPACITY {
            return Ok(false);
        }
        ids.push(image_id.to_string());
        match store.swap(cas, &encode(&ids)?) {
            Ok(()) => return Ok(true),
            Err(SwapError::Store(e)) => return Err(unavailable(e)),
            // Redis says this whether or not it wrote: the next round's
            // read finds our id if it landed.
            Err(SwapError::CasFailed) => {}
        }
    }
    Ok(false)
}

/// Every image id the log names, oldest first, without duplicates.
pub fn members<S: KvStore>(store: &S, log: &str) -> Result<Vec<String>, ApiError> {
    let (len, _) = slots_and_mode(store, log)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for slot in 1..=len {
        // A slot handed out but not yet written (its writer is between
        // `increment` and `set`, or died there) names nothing: the record
        // that would carry the tag is written only after the slot.
        let Some(value) = store.get(&keys::log_slot(log, slot)).map_err(unavailable)? else {
            continue;
        };
        for id in slot_ids(&value) {
            if seen.insert(id.clone()) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// How many slots the log has handed out (a read, never a write).
pub fn slots<S: KvStore>(store: &S, log: &str) -> Result<i64, ApiError> {
    slots_and_mode(store, log).map(|(len, _)| len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    const A: &str = "6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";

    fn log(tag: &str) -> String {
        keys::tag_len(tag)
    }

    fn id(n: usize) -> String {
        format!("00000000-0000-4000-8000-{n:012}")
    }

    #[test]
    fn sqlite_appends_share_slots_and_redis_appends_take_one_each() {
        let sqlite = MemStore::default();
        let redis = MemStore::redis();
        for n in 0..(SLOT_CAPACITY + 1) {
            append(&sqlite, &log("t"), &id(n)).unwrap();
            append(&redis, &log("t"), &id(n)).unwrap();
        }
        assert_eq!(
            slots(&sqlite, &log("t")).unwrap(),
            2,
            "one full slot and one more"
        );
        assert_eq!(slots(&redis, &log("t")).unwrap(), SLOT_CAPACITY as i64 + 1);
        let want: Vec<String> = (0..=SLOT_CAPACITY).map(id).collect();
        assert_eq!(members(&sqlite, &log("t")).unwrap(), want);
        assert_eq!(members(&redis, &log("t")).unwrap(), want);
    }

    #[test]
    fn bare_ids_of_the_older_layout_still_count() {
        let s = MemStore::default();
        s.increment(&keys::tag_len("t"), 1).unwrap();
        s.set(&keys::log_slot(&log("t"), 1), A.as_bytes()).unwrap();
        append(&s, &log("t"), &id(1)).unwrap();
        assert_eq!(members(&s, &log("t")).unwrap(), vec![A.to_string(), id(1)]);
        assert!(slot_ids(b"not an id").is_empty());
        assert!(slot_ids(b"[1,2]").is_empty());
    }

    #[test]
    fn a_slot_whose_creator_has_not_written_it_is_never_swapped_over() {
        let s = MemStore::default();
        // A creator took slot 1 and has not set it yet.
        s.increment(&keys::tag_len("t"), 1).unwrap();
        append(&s, &log("t"), &id(7)).unwrap();
        assert_eq!(slots(&s, &log("t")).unwrap(), 2, "the append took slot 2");
        // The creator's set lands late and loses nobody.
        s.set(&keys::log_slot(&log("t"), 1), &encode(&[id(1)]).unwrap())
            .unwrap();
        assert_eq!(members(&s, &log("t")).unwrap(), vec![id(1), id(7)]);
    }

    #[test]
    fn concurrent_appends_lose_nobody_on_either_backend() {
        for store in [MemStore::default(), MemStore::redis()] {
            std::thread::scope(|scope| {
                for w in 0..8 {
                    let store = &store;
                    scope.spawn(move || {
                        for n in 0..40 {
                            append(store, &log("hot"), &id(w * 1000 + n)).unwrap();
                        }
                    });
                }
            });
            let mut got = members(&store, &log("hot")).unwrap();
            got.sort();
            let mut want: Vec<String> = (0..8)
                .flat_map(|w| (0..40).map(move |n| id(w * 1000 + n)))
                .collect();
            want.sort();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_missing_log_is_empty_and_a_garbage_counter_is_a_500() {
        let s = MemStore::default();
        assert!(members(&s, &log("none")).unwrap().is_empty());
        s.set(&keys::tag_len("bad"), b"{}").unwrap();
        assert_eq!(members(&s, &log("bad")).unwrap_err().status(), 500);
    }
}
