//! Image records and the listing indexes over the key-value store, safe
//! under concurrent writers on every Spin backend (SPEC section 6):
//!
//! - An image record changes only by compare-and-swap on a key that exists,
//!   retried with jittered backoff. Each write carries a fresh nonce, and the
//!   record keeps the latest ones, so a writer told `cas-failed` re-reads and
//!   knows whether its write landed (Redis reports failure either way).
//! - First writes never rely on CAS (an upsert on Spin): an image id is
//!   claimed by the first `increment` of its claim counter; the index logs
//!   create their slots the same way.
//! - The record is the source of truth. The logs (`index`) may name images
//!   that no longer belong in them (readers check the record); they never
//!   miss one that does: the image is appended to a log before the record
//!   that puts it there is written, and a hint that it left is appended
//!   only after the record that takes it out.

use crate::core::error::Error;
use crate::core::image::{parse_image, Image};
use crate::core::images::{stored_record, Change, Images};
use crate::core::index::cursor::{Cursor, Merged};
use crate::core::index::{self, compact::compact, logs_of, tail, LogId};
use crate::core::keys;
use crate::core::random;
use crate::core::store::{unavailable, Atomic, SwapError};

/// Enough for 50 writers on one image to all get through (SPEC section 3).
const MAX_ATTEMPTS: u32 = 200;
const MAX_BACKOFF_MS: u64 = 32;

pub struct Repo<'a, S: Atomic> {
    store: &'a S,
}

/// One write's dealings with the logs: those it appended the image to (so
/// that a retried compare-and-swap does not append again), the epoch
/// before its first append, and the logs due a compaction.
#[derive(Default)]
struct Indexed {
    // Vecs: a write touches a few logs.
    appended: Vec<LogId>,
    epoch: Option<Option<Vec<u8>>>,
    due: Vec<LogId>,
}

impl Indexed {
    /// Before the record is written: append `new` to every log it belongs
    /// in that `old` (the record it replaces; `None` for a new image) was
    /// not in already.
    fn enter<S: Atomic>(
        &mut self,
        store: &S,
        old: Option<&Image>,
        new: &Image,
    ) -> Result<(), Error> {
        let had = old.map(logs_of).unwrap_or_default();
        let entry = index::entry(new);
        for log in logs_of(new) {
            if had.contains(&log) || self.appended.contains(&log) {
                continue;
            }
            if self.epoch.is_none() {
                self.epoch = Some(index::epoch(store)?);
            }
            if tail::append(store, &log.base(), &entry)? {
                self.due.push(log.clone());
            }
            self.appended.push(log);
        }
        Ok(())
    }

    /// After the record is written: hint the logs the image left, append
    /// again if a compaction ran meanwhile (it may have dropped the
    /// entries on a record read before the write), then compact the logs
    /// due. A failed hint or compaction only leaves a log longer.
    fn settle<S: Atomic>(
        self,
        repo: &Repo<'_, S>,
        old: Option<&Image>,
        new: &Image,
    ) -> Result<(), Error> {
        let store = repo.store;
        let now = logs_of(new);
        let entry = index::entry(new);
        let mut due = self.due;
        let mut left = old.map(logs_of).unwrap_or_default();
        left.extend(self.appended.iter().cloned());
        for (n, log) in left.iter().enumerate() {
            if now.contains(log) || left.get(..n).is_some_and(|seen| seen.contains(log)) {
                continue;
            }
            if let Ok(true) = tail::append(store, &log.base(), &format!("!{entry}")) {
                due.push(log.clone());
            }
        }
        if let Some(before) = self.epoch {
            // Unreadable counts as moved: appending again is always safe.
            if index::epoch(store).map_or(true, |now| now != before) {
                for log in self.appended.iter().filter(|l| now.contains(l)) {
                    tail::append(store, &log.base(), &entry)?;
                }
            }
        }
        for log in due {
            let mut belongs = |id: &str| Ok(repo.load(id)?.is_some_and(|i| log.holds(&i)));
            // The write is done: a compaction that fails leaves the tail
            // for the next one.
            let _ = compact(store, &log, &mut belongs);
        }
        Ok(())
    }
}

fn backoff(attempt: u32) {
    let cap = MAX_BACKOFF_MS.min(1u64 << attempt.min(6));
    let micros = random::u64() % (cap * 1000 + 1);
    std::thread::sleep(std::time::Duration::from_micros(micros));
}

impl<'a, S: Atomic> Repo<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Repo { store }
    }

    /// After `cas-failed`: did our write land anyway (Redis), or did we lose?
    fn landed(&self, key: &str, nonce: &str) -> Result<bool, Error> {
        let Some(bytes) = self.store.get(key).map_err(unavailable)? else {
            return Ok(false);
        };
        // A record that does not parse is not ours; the retry reports it.
        Ok(serde_json::from_slice::<Image>(&bytes)
            .map(|i| i.writes.iter().any(|w| w == nonce))
            .unwrap_or(false))
    }
}

impl<'a, S: Atomic> Images for Repo<'a, S> {
    type Walk = Merged<'a, S>;

    /// The live record of `id` as stored: `None` when missing or deleted,
    /// `Some(Err)` (a 500) when it does not parse, which listings skip and
    /// count so that one bad record cannot hide the rest.
    fn stored(&self, id: &str) -> Result<Option<Result<Image, Error>>, Error> {
        stored_record(self.store, id)
    }

    /// Store a new image. 409 when the id was ever claimed before.
    fn create(&self, mut image: Image) -> Result<Image, Error> {
        let claimed = self
            .store
            .increment(&keys::claim(&image.id), 1)
            .map_err(unavailable)?;
        if claimed != 1 {
            return Err(Error::Conflict(format!(
                "Image with identifier {} already exists!",
                image.id
            )));
        }
        let mut indexed = Indexed::default();
        indexed.enter(self.store, None, &image)?;
        image.writes = vec![random::nonce()];
        let bytes = serde_json::to_vec(&image).map_err(|e| Error::internal(e.to_string()))?;
        // The claim makes this writer the key's only creator: a plain set is safe.
        self.store
            .set(&keys::image(&image.id), &bytes)
            .map_err(unavailable)?;
        indexed.settle(self, None, &image)?;
        Ok(image)
    }

    /// Read-modify-write one live image. `decide` sees the current record
    /// on every attempt (so permission and 404 checks see it too), changes
    /// it in place and says whether to write. Returns the record as stored.
    fn update(
        &self,
        id: &str,
        // `dyn`: one copy of this loop, not one per caller's closure.
        decide: &mut dyn FnMut(&mut Image) -> Result<Change, Error>,
    ) -> Result<Image, Error> {
        if !keys::is_image_id(id) {
            return Err(Error::image_not_found(id));
        }
        let key = keys::image(id);
        let mut indexed = Indexed::default();
        for attempt in 0..MAX_ATTEMPTS {
            let (current, cas) = self.store.watch(&key).map_err(unavailable)?;
            let Some(bytes) = current else {
                return Err(Error::image_not_found(id));
            };
            let old = parse_image(id, &bytes)?;
            if old.deleted {
                return Err(Error::image_not_found(id));
            }
            let mut new = old.clone();
            if let Change::Unchanged = decide(&mut new)? {
                return Ok(old);
            }
            indexed.enter(self.store, Some(&old), &new)?;
            let nonce = new.stamp_write();
            let bytes = serde_json::to_vec(&new).map_err(|e| Error::internal(e.to_string()))?;
            let landed = match self.store.swap(cas, &bytes) {
                Ok(()) => true,
                Err(SwapError::Store(e)) => return Err(unavailable(e)),
                Err(SwapError::CasFailed) => self.landed(&key, &nonce)?,
            };
            if landed {
                indexed.settle(self, Some(&old), &new)?;
                return Ok(new);
            }
            backoff(attempt);
        }
        Err(Error::unavailable(format!(
            "image {id}: compare-and-swap retries used up"
        )))
    }

    /// A walk of the log of the tag in `tags` that names the fewest
    /// images, from below the entry `below`.
    fn rarest_tag(
        &self,
        tags: &[String],
        below: Option<&str>,
    ) -> Result<Option<Merged<'a, S>>, Error> {
        let mut rarest: Option<Cursor<'a, S>> = None;
        for tag in tags {
            let cursor = Cursor::open(self.store, &LogId::Tag(tag.clone()), below)?;
            if rarest.as_ref().is_none_or(|r| cursor.size < r.size) {
                rarest = Some(cursor);
            }
        }
        rarest.map(|c| Merged::new(vec![c])).transpose()
    }

    /// The logs merged, walked newest first from below the entry `below`.
    fn walk(&self, logs: &[LogId], below: Option<&str>) -> Result<Merged<'a, S>, Error> {
        let mut cursors = Vec::with_capacity(logs.len());
        for log in logs {
            cursors.push(Cursor::open(self.store, log, below)?);
        }
        Merged::new(cursors)
    }
}

#[cfg(test)]
mod tests;
