//! Image records on a store without atomics: the edge build's repository
//! (Fermyon Cloud, Fermyon Wasm Functions / Akamai Functions; SPEC
//! section 10).
//!
//! There a `set` is a blind write: the last writer wins, and a replicated
//! store (Akamai) shows other regions' writes after a lag. The layout spends
//! one key per image, one catalog key and one token-cache key
//! ([`tokens`]), so that Fermyon Cloud's 1,024 keys hold 1,000 images:
//! - `image:{id}`: the record, as in the strong build. A tag PUT reads it,
//!   writes it once, and reads it back.
//! - `catalog` ([`catalog`]): the images in the default order with their
//!   owner and public flag, a hint that `list-keys` completes and corrects.
//!
//! Without compare-and-swap a writer cannot stop another from overwriting
//! its change, but it can notice: each write carries a nonce that the record
//! keeps (as in the strong build), and after a pause twice as long as its
//! own read-to-write took, the writer reads the key again (`settle`,
//! `checked`). A record without its nonce was overwritten by a writer that
//! read before ours landed: the change is made again on the record as it
//! now is. While others keep writing after ours, the record is read until
//! two reads agree. A loss remains possible only when an overwrite lands
//! after those checks, or in another region (README: "Edge build").
//!
//! A deleted image's key is removed, not kept as a tombstone (the key
//! budget); the catalog remembers the latest deleted ids so that they are
//! not given to new images.

pub mod catalog;
pub mod tokens;

use crate::core::error::Error;
use crate::core::image::parse_image;
use crate::core::image::Image;
use crate::core::images::Change;
use crate::core::images::{stored_record, Images, Walk};
use crate::core::index::{self, LogId};
use crate::core::keys;
use crate::core::random;
use crate::core::store::{unavailable, KvStore};
use catalog::{Catalog, Edit, Meta};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Rounds of write-and-check before a record write gives up with a 503:
/// enough for 50 writers on one image to all be answered.
const MAX_ROUNDS: u32 = 64;
/// The pause between a write and its check. A writer that read before ours
/// landed writes within about as long as our own read-to-write took (on
/// Spin's SQLite store, writes queue behind one lock: the queue we waited in
/// is the one it waits in), so the pause is twice that, jittered, and at
/// least a few milliseconds.
/// Reads of a record that others keep writing after ours, before ours is
/// taken as landed.
const MAX_CHECKS: u32 = 8;
const SETTLE_MIN: Duration = Duration::from_millis(3);
const SETTLE_MAX: Duration = Duration::from_millis(400);

const IMAGE_PREFIX: &str = "image:";

fn settle(took: Duration) {
    let base = took.saturating_mul(2).clamp(SETTLE_MIN, SETTLE_MAX);
    let jitter = random::u64() % (SETTLE_MIN.as_micros() as u64 + 1);
    std::thread::sleep(base + Duration::from_micros(jitter));
}

/// The images of a listing, newest first: the entries a scope takes.
pub struct EntryWalk {
    /// Ascending; walked from the end.
    entries: Vec<String>,
}

impl Walk for EntryWalk {
    fn next_entry(&mut self) -> Result<Option<String>, Error> {
        Ok(self.entries.pop())
    }
}

pub struct EdgeRepo<'a, S: KvStore> {
    store: &'a S,
}

impl<'a, S: KvStore> EdgeRepo<'a, S> {
    pub fn new(store: &'a S) -> Self {
        EdgeRepo { store }
    }

    /// Whether our write (its `nonce`) is in the record once writers that
    /// may have read before it have had their time. While others keep
    /// writing after ours, the record is read again after each pause until
    /// two reads agree: a writer queued behind a busy store lands late.
    fn checked(&self, key: &str, id: &str, nonce: &str, took: Duration) -> Result<bool, Error> {
        let mut last_seen = nonce.to_string();
        for _ in 0..MAX_CHECKS {
            settle(took);
            let Some(bytes) = self.store.get(key).map_err(unavailable)? else {
                return Ok(false);
            };
            let Ok(now) = parse_image(id, &bytes) else {
                return Ok(false);
            };
            if !now.writes.iter().any(|w| w == nonce) {
                return Ok(false);
            }
            match now.writes.last() {
                Some(last) if *last == last_seen => return Ok(true),
                Some(last) => last_seen = last.clone(),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Apply `edit` to the catalog, mending it on the way: entries of
    /// images whose key is gone are dropped and images it misses are added
    /// from their records. Checked after the write like a record. The
    /// record has landed by now and is the truth (`list-keys` finds what the
    /// catalog misses), so an edit that never lands under contention is
    /// given up without failing the request; the next one mends it. So is
    /// one that fails (a store error, a catalog past the value cap): the
    /// request's write has happened, and answering 503 would misreport it.
    fn edit_catalog(&self, edit: &Edit<'_>) {
        let _ = self.try_edit_catalog(edit);
    }

    fn try_edit_catalog(&self, edit: &Edit<'_>) -> Result<(), Error> {
        for _ in 0..MAX_ROUNDS {
            let started = Instant::now();
            let mut catalog = Catalog::read(self.store)?;
            let live = self.live_ids()?;
            let listed: Vec<String> = catalog.entries.keys().cloned().collect();
            for entry in &listed {
                if !live.contains_key(index::entry_id(entry)) {
                    catalog.entries.remove(entry);
                }
            }
            let known: BTreeMap<&str, ()> =
                listed.iter().map(|e| (index::entry_id(e), ())).collect();
            for id in live.keys().filter(|id| !known.contains_key(id.as_str())) {
                if let Some(Ok(image)) = self.stored(id)? {
                    catalog.apply(&Edit::Put(&image));
                }
            }
            catalog.apply(edit);
            let nonce = random::nonce();
            catalog.write(self.store, &nonce)?;
            settle(started.elapsed());
            if Catalog::read(self.store)?.landed(&nonce) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Ids of the images whose key exists, lower-cased.
    fn live_ids(&self) -> Result<BTreeMap<String, ()>, Error> {
        let keys = self.store.list_keys().map_err(unavailable)?;
        Ok(keys
            .iter()
            .filter_map(|k| k.strip_prefix(IMAGE_PREFIX))
            .map(|id| (id.to_ascii_lowercase(), ()))
            .collect())
    }

    /// The entries of every live image, from the catalog completed by
    /// `list-keys` (an image the catalog misses costs a read of its record).
    fn entries(&self) -> Result<Vec<(String, Meta)>, Error> {
        let live = self.live_ids()?;
        let catalog = Catalog::read(self.store)?;
        let mut found: BTreeMap<String, ()> = BTreeMap::new();
        let mut entries = Vec::with_capacity(live.len());
        for (entry, meta) in catalog.entries {
            let id = index::entry_id(&entry).to_string();
            if live.contains_key(&id) && found.insert(id, ()).is_none() {
                entries.push((entry, meta));
            }
        }
        for id in live.keys().filter(|id| !found.contains_key(*id)) {
            if let Some(Ok(image)) = self.stored(id)? {
                entries.push((index::entry(&image), Meta::of(&image)));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }
}

impl<'a, S: KvStore> Images for EdgeRepo<'a, S> {
    type Walk = EntryWalk;

    fn stored(&self, id: &str) -> Result<Option<Result<Image, Error>>, Error> {
        stored_record(self.store, id)
    }

    /// Store a new image: the record, then its catalog entry. 409 when a
    /// live image has the id or the catalog remembers it deleted.
    fn create(&self, mut image: Image) -> Result<Image, Error> {
        let key = keys::image(&image.id);
        let taken = || {
            Error::Conflict(format!(
                "Image with identifier {} already exists!",
                image.id
            ))
        };
        if self.store.exists(&key).map_err(unavailable)? {
            return Err(taken());
        }
        if Catalog::read(self.store)?.is_gone(&image.id) {
            return Err(taken());
        }
        image.writes = vec![random::nonce()];
        let bytes = serde_json::to_vec(&image).map_err(|e| Error::internal(e.to_string()))?;
        self.store.set(&key, &bytes).map_err(unavailable)?;
        self.edit_catalog(&Edit::Put(&image));
        Ok(image)
    }

    /// Read-modify-write one live image, checked after each write (module
    /// docs). `decide` sees the current record on every round.
    fn update(
        &self,
        id: &str,
        decide: &mut dyn FnMut(&mut Image) -> Result<Change, Error>,
    ) -> Result<Image, Error> {
        if !keys::is_image_id(id) {
            return Err(Error::image_not_found(id));
        }
        let key = keys::image(id);
        for _ in 0..MAX_ROUNDS {
            let started = Instant::now();
            let old = match self.stored(id)? {
                Some(Ok(old)) => old,
                Some(Err(unparsable)) => return Err(unparsable),
                None => return Err(Error::image_not_found(id)),
            };
            let mut new = old.clone();
            if let Change::Unchanged = decide(&mut new)? {
                return Ok(old);
            }
            let nonce = new.stamp_write();
            if new.deleted {
                self.store.delete(&key).map_err(unavailable)?;
            } else {
                let bytes = serde_json::to_vec(&new).map_err(|e| Error::internal(e.to_string()))?;
                self.store.set(&key, &bytes).map_err(unavailable)?;
            }
            let landed = if new.deleted {
                settle(started.elapsed());
                self.store.get(&key).map_err(unavailable)?.is_none()
            } else {
                self.checked(&key, id, &nonce, started.elapsed())?
            };
            if landed {
                if new.deleted {
                    self.edit_catalog(&Edit::Gone(&new));
                } else if Meta::of(&new) != Meta::of(&old) {
                    self.edit_catalog(&Edit::Put(&new));
                }
                return Ok(new);
            }
        }
        Err(Error::unavailable(format!(
            "image {id}: concurrent writers kept overwriting this write"
        )))
    }

    /// The live images the logs' scopes take, newest first, from below the
    /// entry `below`. Tag and key scopes take every image: the caller's
    /// filter reads the tags from the records.
    fn walk(&self, logs: &[LogId], below: Option<&str>) -> Result<EntryWalk, Error> {
        let takes = |meta: &Meta| {
            logs.iter().any(|log| match log {
                LogId::Project(p) => meta.owner == *p,
                LogId::Public => meta.public,
                LogId::All | LogId::Tag(_) | LogId::Key(_) => true,
            })
        };
        let entries = self
            .entries()?
            .into_iter()
            .filter(|(entry, meta)| below.is_none_or(|b| entry.as_str() < b) && takes(meta))
            .map(|(entry, _)| entry)
            .collect();
        Ok(EntryWalk { entries })
    }

    /// No tag logs here: a tag filter walks the caller's scope.
    fn rarest_tag(
        &self,
        _tags: &[String],
        _below: Option<&str>,
    ) -> Result<Option<EntryWalk>, Error> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
