//! Merging a log's tail into its sorted pages, safe with any number of
//! writers and compactions at once, on every Spin backend:
//!
//! 1. Watch the root; read and (where appends join slots) seal each tail
//!    slot after it, and those it left pending. A slot handed out but not
//!    written yet stays pending (readers read it with the tail); one
//!    missing for [`SKIP_MISSING_AFTER_SECS`] is forgotten: its writer,
//!    past [`tail::WRITER_DEADLINE`], appends again.
//! 2. Bump the epoch ([`super::EPOCH`]), then read the record of every
//!    image the merged tail hints may have left the log, and drop those
//!    that did. A writer whose record lands after that read sees the epoch
//!    moved and appends again, so no image that belongs is lost.
//! 3. Rewrite only the pages the merge touches, under new ids, and swap
//!    the root. The winner deletes the pages and tail slots it replaced; a
//!    loser deletes the pages it wrote. Readers that find a page gone
//!    re-read the root.

use super::runs::{
    self, page_counter_key, page_key, root_claim_key, root_key, Page, Root, PAGE_MAX,
};
use super::{entry_id, tail, unavailable, LogId, EPOCH};
use crate::core::error::Error;
use crate::core::random;
use crate::core::store::{Atomic, SwapError};
use std::collections::BTreeSet;

/// Three times [`tail::WRITER_DEADLINE`]: instances' clocks may disagree by
/// up to two minutes before a skipped slot could lose an append.
pub const SKIP_MISSING_AFTER_SECS: i64 = 180;
const SEAL_ATTEMPTS: u32 = 8;

enum Slot {
    Items(Vec<String>),
    /// Handed out, not written yet.
    Missing,
    /// Too contended to seal now.
    Busy,
}

/// Read a tail slot for merging; where appends join slots, seal it first so
/// that nothing lands in it after this read.
fn take<S: Atomic>(store: &S, key: &str, joins: bool) -> Result<Slot, Error> {
    if !joins {
        return Ok(match store.get(key).map_err(unavailable)? {
            Some(v) => Slot::Items(tail::items(&v).1),
            None => Slot::Missing,
        });
    }
    for _ in 0..SEAL_ATTEMPTS {
        let (current, cas) = store.watch(key).map_err(unavailable)?;
        let Some(current) = current else {
            return Ok(Slot::Missing);
        };
        let (sealed, items) = tail::items(&current);
        if sealed {
            return Ok(Slot::Items(items));
        }
        match store.swap(cas, &tail::encode(true, &items)?) {
            Ok(()) => return Ok(Slot::Items(items)),
            Err(SwapError::Store(e)) => return Err(unavailable(e)),
            Err(SwapError::CasFailed) => {}
        }
    }
    Ok(Slot::Busy)
}

/// The root as watched, and the handle to swap it.
type Watched<S> = (Vec<u8>, <S as Atomic>::Cas);

/// Create the root once: the winner of its claim writes the empty one.
fn watch_root<S: Atomic>(store: &S, base: &str) -> Result<Option<Watched<S>>, Error> {
    let key = root_key(base);
    if let (Some(raw), cas) = store.watch(&key).map_err(unavailable)? {
        return Ok(Some((raw, cas)));
    }
    if store
        .increment(&root_claim_key(base), 1)
        .map_err(unavailable)?
        != 1
    {
        // Another writer is creating it (or died doing so: then this log is
        // never compacted, and costs its whole tail per read).
        return Ok(None);
    }
    let empty = Root {
        nonce: random::nonce(),
        ..Root::default()
    };
    store.set(&key, &empty.encode()).map_err(unavailable)?;
    match store.watch(&key).map_err(unavailable)? {
        (Some(raw), cas) => Ok(Some((raw, cas))),
        (None, _) => Ok(None),
    }
}

/// Merge the tail of `log` into its pages. `belongs(id)` reads the image's
/// record and says whether it is still in `log`.
pub fn compact<S: Atomic>(
    store: &S,
    log: &LogId,
    belongs: &mut dyn FnMut(&str) -> Result<bool, Error>,
) -> Result<(), Error> {
    let base = log.base();
    let Some((raw, cas)) = watch_root(store, &base)? else {
        return Ok(());
    };
    let root = Root::parse(&base, Some(&raw))?;
    let (len, joins) = tail::counter(store, &base)?;
    let now = crate::core::time::now();
    let (mut items, mut merged, mut pending, mut upto) = (Vec::new(), Vec::new(), Vec::new(), len);
    let earlier = root
        .pending
        .iter()
        .map(|(slot, since)| (*slot, Some(*since)));
    for (slot, since) in earlier.chain((root.upto + 1..=len).map(|slot| (slot, None))) {
        match (take(store, &tail::slot_key(&base, slot), joins)?, since) {
            (Slot::Items(mut more), _) => {
                items.append(&mut more);
                merged.push(slot);
            }
            // Its writer, past its deadline, appends again.
            (Slot::Missing, Some(since)) if now - since > SKIP_MISSING_AFTER_SECS => {}
            (Slot::Missing | Slot::Busy, Some(since)) => pending.push((slot, since)),
            (Slot::Missing, None) => pending.push((slot, now)),
            (Slot::Busy, None) => {
                upto = slot - 1;
                break;
            }
        }
    }
    if merged.is_empty() && upto == root.upto && pending == root.pending {
        return Ok(());
    }
    store.increment(EPOCH, 1).map_err(unavailable)?;
    let (mut adds, mut hinted) = (Vec::new(), Vec::new());
    for item in items {
        match item.strip_prefix('!') {
            Some(entry) if !hinted.iter().any(|h: &String| h == entry) => {
                hinted.push(entry.to_string())
            }
            Some(_) => {}
            None => adds.push(item),
        }
    }
    let mut drops = BTreeSet::new();
    for entry in hinted {
        if !belongs(entry_id(&entry))? {
            drops.insert(entry);
        }
    }
    // What each page gains, and which pages change at all.
    let count = root.pages.len().max(1);
    let mut gains: Vec<Vec<String>> = vec![Vec::new(); count];
    let mut dirty = vec![false; count];
    for entry in adds.into_iter().chain(drops.iter().cloned()) {
        let index = root.page_for(&entry);
        if let Some(flag) = dirty.get_mut(index) {
            *flag = true;
        }
        if let Some(gain) = gains.get_mut(index).filter(|_| !drops.contains(&entry)) {
            gain.push(entry);
        }
    }
    let (mut pages, mut replaced, mut written) = (Vec::new(), Vec::new(), Vec::new());
    for (index, gain) in gains.into_iter().enumerate() {
        let old = root.pages.get(index);
        if !dirty.get(index).copied().unwrap_or(false) {
            pages.extend(old.cloned());
            continue;
        }
        let mut entries: BTreeSet<String> = gain.into_iter().collect();
        if let Some(old) = old {
            let Some(current) = runs::read_page(store, &base, old.id)? else {
                // Another compaction replaced it: its root wins over ours.
                return Ok(());
            };
            entries.extend(current);
            replaced.push(old.id);
        }
        let newest_first: Vec<String> = entries
            .into_iter()
            .rev()
            .filter(|e| !drops.contains(e))
            .collect();
        // Images mostly arrive newest first, into the top page: there the
        // older entries are packed into full pages and the newest start
        // the next one. Elsewhere an overfull page splits evenly.
        let len = newest_first.len();
        let (head, chunk) = match (index, len > PAGE_MAX) {
            (0, _) => (len % PAGE_MAX, PAGE_MAX),
            (_, true) => (0, len.div_ceil(2)),
            (_, false) => (0, PAGE_MAX),
        };
        let (head, rest) = newest_first.split_at_checked(head).unwrap_or_default();
        for part in std::iter::once(head).chain(rest.chunks(chunk)) {
            if part.is_empty() {
                continue;
            }
            let id = store
                .increment(&page_counter_key(&base), 1)
                .map_err(unavailable)?;
            store
                .set(&page_key(&base, id), &tail::encode(false, part)?)
                .map_err(unavailable)?;
            written.push(id);
            pages.push(Page {
                id,
                first: part.first().cloned().unwrap_or_default(),
                count: part.len(),
            });
        }
    }
    let next = Root {
        upto,
        pages,
        pending,
        nonce: random::nonce(),
    };
    let won = match store.swap(cas, &next.encode()) {
        Ok(()) => true,
        Err(SwapError::Store(e)) => return Err(unavailable(e)),
        // Redis reports this even when the swap landed: the nonce says.
        Err(SwapError::CasFailed) => {
            let now = store.get(&root_key(&base)).map_err(unavailable)?;
            Root::parse(&base, now.as_deref())?.nonce == next.nonce
        }
    };
    let garbage: Vec<String> = if won {
        let slots = merged.iter().map(|s| tail::slot_key(&base, *s));
        replaced
            .iter()
            .map(|id| page_key(&base, *id))
            .chain(slots)
            .collect()
    } else {
        written.iter().map(|id| page_key(&base, *id)).collect()
    };
    for key in garbage {
        store.delete(&key).map_err(unavailable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::index::cursor::Cursor;
    use crate::core::store::KvStore;
    use crate::core::store::MemStore;

    fn entry(n: usize) -> String {
        format!("2026-01-01T00:00:00Z00000000-0000-4000-8000-{n:012}")
    }

    fn walk(store: &MemStore, log: &LogId) -> Vec<String> {
        let mut cursor = Cursor::open(store, log, None).unwrap();
        let mut out = Vec::new();
        while let Some(e) = cursor.next_entry().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn a_slot_not_yet_written_stays_pending_until_written_or_forgotten() {
        for store in [MemStore::default(), MemStore::redis()] {
            let log = LogId::Tag("t".into());
            let base = log.base();
            let root = |s: &MemStore| {
                Root::parse(&base, s.get(&root_key(&base)).unwrap().as_deref()).unwrap()
            };
            tail::append(&store, &base, &entry(1)).unwrap();
            // Writers took slots 2 and 3 and have not written them yet.
            store.increment(&tail::counter_key(&base), 2).unwrap();
            tail::append(&store, &base, &entry(4)).unwrap();
            let keep = &mut |_: &str| Ok(true);
            compact(&store, &log, keep).unwrap();
            assert_eq!(root(&store).upto, 4, "merged past the missing slots");
            let pending: Vec<i64> = root(&store).pending.iter().map(|p| p.0).collect();
            assert_eq!(pending, vec![2, 3]);
            // Slot 2's writer lands: readers see it at once, the next
            // compaction merges it.
            store
                .set(
                    &tail::slot_key(&base, 2),
                    &tail::encode(false, &[entry(2)]).unwrap(),
                )
                .unwrap();
            assert_eq!(walk(&store, &log), vec![entry(4), entry(2), entry(1)]);
            compact(&store, &log, keep).unwrap();
            assert_eq!(root(&store).pending.len(), 1);
            assert!(
                !store.exists(&tail::slot_key(&base, 2)).unwrap(),
                "merged slots go"
            );
            // Slot 3 never comes: three minutes later it is forgotten.
            let mut old = root(&store);
            old.pending = vec![(3, old.pending[0].1 - SKIP_MISSING_AFTER_SECS - 1)];
            store.set(&root_key(&base), &old.encode()).unwrap();
            compact(&store, &log, keep).unwrap();
            assert!(root(&store).pending.is_empty());
            assert_eq!(walk(&store, &log), vec![entry(4), entry(2), entry(1)]);
        }
    }

    #[test]
    fn hints_drop_only_what_the_record_says_left() {
        for store in [MemStore::default(), MemStore::redis()] {
            let log = LogId::Tag("t".into());
            let base = log.base();
            for n in 0..40 {
                tail::append(&store, &base, &entry(n)).unwrap();
            }
            for n in 0..10 {
                tail::append(&store, &base, &format!("!{}", entry(n))).unwrap();
            }
            // Images 0..5 really left; 5..10 came back after their hint.
            let mut belongs =
                |id: &str| Ok(!(0..5).any(|n: usize| id.ends_with(&format!("-{n:012}"))));
            compact(&store, &log, &mut belongs).unwrap();
            let want: Vec<String> = (5..40).rev().map(entry).collect();
            assert_eq!(walk(&store, &log), want);
            assert!(
                store.get(EPOCH).unwrap().is_some(),
                "a compaction moves the epoch"
            );
        }
    }
}
