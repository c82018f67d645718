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

use crate::http::ApiError;
use crate::image::{Image, KEPT_WRITES};
use crate::index::cursor::{Cursor, Merged};
use crate::index::{self, compact::compact, logs_of, tail, LogId};
use crate::keys;
use crate::random;
use crate::store::{unavailable, KvStore, SwapError};

/// Enough for 50 writers on one image to all get through (SPEC section 3).
const MAX_ATTEMPTS: u32 = 200;
const MAX_BACKOFF_MS: u64 = 32;

/// What an update decided after looking at the current record.
pub enum Change {
    Write,
    Unchanged,
}

pub struct Repo<'a, S: KvStore> {
    store: &'a S,
}

/// One write's dealings with the logs: those it appended the image to (so
/// that a retried compare-and-swap does not append again), the epoch
/// before its first append, and the logs due a compaction.
#[derive(Default)]
struct Indexed {
    // Vecs: a write touches a few logs, and a set of them costs the .wasm.
    appended: Vec<LogId>,
    epoch: Option<Option<Vec<u8>>>,
    due: Vec<LogId>,
}

impl Indexed {
    /// Before the record is written: append `new` to every log it belongs
    /// in that `old` (the record it replaces; `None` for a new image) was
    /// not in already.
    fn enter<S: KvStore>(
        &mut self,
        store: &S,
        old: Option<&Image>,
        new: &Image,
    ) -> Result<(), ApiError> {
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
    fn settle<S: KvStore>(
        self,
        repo: &Repo<'_, S>,
        old: Option<&Image>,
        new: &Image,
    ) -> Result<(), ApiError> {
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

pub fn parse_image(id: &str, bytes: &[u8]) -> Result<Image, ApiError> {
    crate::fields::parse(bytes, Image::from_record)
        .map_err(|e| ApiError::internal(format!("stored record of image {id} does not parse: {e}")))
}

impl<'a, S: KvStore> Repo<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Repo { store }
    }

    /// The live image with this id, if any.
    pub fn load(&self, id: &str) -> Result<Option<Image>, ApiError> {
        if !keys::is_image_id(id) {
            return Ok(None);
        }
        self.stored(id)?.transpose()
    }

    /// The live record of `id` as stored: `None` when missing or deleted,
    /// `Some(Err)` (a 500) when it does not parse, which listings skip and
    /// count so that one bad record cannot hide the rest.
    fn stored(&self, id: &str) -> Result<Option<Result<Image, ApiError>>, ApiError> {
        let Some(bytes) = self.store.get(&keys::image(id)).map_err(unavailable)? else {
            return Ok(None);
        };
        Ok(match parse_image(id, &bytes) {
            Ok(image) if image.deleted => None,
            parsed => Some(parsed),
        })
    }

    /// Store a new image. 409 when the id was ever claimed before.
    pub fn create(&self, mut image: Image) -> Result<Image, ApiError> {
        let claimed = self
            .store
            .increment(&keys::claim(&image.id), 1)
            .map_err(unavailable)?;
        if claimed != 1 {
            return Err(ApiError::Conflict(format!(
                "Image with identifier {} already exists!",
                image.id
            )));
        }
        let mut indexed = Indexed::default();
        indexed.enter(self.store, None, &image)?;
        image.writes = vec![random::nonce()];
        let bytes = serde_json::to_vec(&image).map_err(|e| ApiError::internal(e.to_string()))?;
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
    pub fn update(
        &self,
        id: &str,
        // `dyn`: one copy of this loop, not one per caller's closure.
        decide: &mut dyn FnMut(&mut Image) -> Result<Change, ApiError>,
    ) -> Result<Image, ApiError> {
        if !keys::is_image_id(id) {
            return Err(ApiError::image_not_found(id));
        }
        let key = keys::image(id);
        let mut indexed = Indexed::default();
        for attempt in 0..MAX_ATTEMPTS {
            let (current, cas) = self.store.watch(&key).map_err(unavailable)?;
            let Some(bytes) = current else {
                return Err(ApiError::image_not_found(id));
            };
            let old = parse_image(id, &bytes)?;
            if old.deleted {
                return Err(ApiError::image_not_found(id));
            }
            let mut new = old.clone();
            if let Change::Unchanged = decide(&mut new)? {
                return Ok(old);
            }
            indexed.enter(self.store, Some(&old), &new)?;
            let nonce = random::nonce();
            new.writes.push(nonce.clone());
            let excess = new.writes.len().saturating_sub(KEPT_WRITES);
            new.writes.drain(..excess);
            let bytes = serde_json::to_vec(&new).map_err(|e| ApiError::internal(e.to_string()))?;
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
        Err(ApiError::unavailable(format!(
            "image {id}: compare-and-swap retries used up"
        )))
    }

    /// After `cas-failed`: did our write land anyway (Redis), or did we lose?
    fn landed(&self, key: &str, nonce: &str) -> Result<bool, ApiError> {
        let Some(bytes) = self.store.get(key).map_err(unavailable)? else {
            return Ok(false);
        };
        // A record that does not parse is not ours; the retry reports it.
        Ok(crate::fields::parse(&bytes, Image::from_record)
            .map(|i| i.writes.iter().any(|w| w == nonce))
            .unwrap_or(false))
    }

    /// Live images with any value of the IMS key `key`: those the tag log
    /// of the plain `key` (value `""`) or the key log of `key` (entries
    /// `key=...`) names, each record checked.
    pub fn with_key(&self, key: &str) -> Result<(Vec<Image>, usize), ApiError> {
        let (plain, entries) = (LogId::Tag(key.to_string()), LogId::Key(key.to_string()));
        let (images, skipped) = self.members(&[plain.clone(), entries.clone()])?;
        let images = images
            .into_iter()
            .filter(|i| plain.holds(i) || entries.holds(i))
            .collect();
        Ok((images, skipped))
    }

    /// A walk of the log of the tag in `tags` that names the fewest
    /// images, from below the entry `below`.
    pub fn rarest_tag(
        &self,
        tags: &[String],
        below: Option<&str>,
    ) -> Result<Option<Cursor<'a, S>>, ApiError> {
        let mut rarest: Option<Cursor<'a, S>> = None;
        for tag in tags {
            let cursor = Cursor::open(self.store, &LogId::Tag(tag.clone()), below)?;
            if rarest.as_ref().is_none_or(|r| cursor.size < r.size) {
                rarest = Some(cursor);
            }
        }
        Ok(rarest)
    }

    /// Live images carrying every tag in `tags` (at least one), reading only
    /// the rarest tag's log and the images it names. Records that do not
    /// parse are skipped and counted, so one bad record cannot hide the rest.
    pub fn tagged(&self, tags: &[String]) -> Result<(Vec<Image>, usize), ApiError> {
        let Some(cursor) = self.rarest_tag(tags, None)? else {
            return Ok((Vec::new(), 0));
        };
        let (images, skipped) = self.drain(Merged::new(vec![cursor])?)?;
        let images = images
            .into_iter()
            .filter(|i| tags.iter().all(|t| i.has_tag(t)))
            .collect();
        Ok((images, skipped))
    }

    /// The live images the logs name, each once.
    pub fn members(&self, logs: &[LogId]) -> Result<(Vec<Image>, usize), ApiError> {
        self.drain(self.walk(logs, None)?)
    }

    /// The live images a walk names, each once.
    /// One `get` per image: `get-many` fails the request on Spin's Redis store.
    pub fn drain(&self, mut walk: Merged<'a, S>) -> Result<(Vec<Image>, usize), ApiError> {
        let (mut images, mut skipped) = (Vec::new(), 0);
        while let Some(entry) = walk.next_entry()? {
            match self.stored(index::entry_id(&entry))? {
                Some(Ok(image)) => images.push(image),
                Some(Err(_)) => skipped += 1,
                None => {}
            }
        }
        Ok((images, skipped))
    }

    /// The logs merged, walked newest first from below the entry `below`.
    pub fn walk(&self, logs: &[LogId], below: Option<&str>) -> Result<Merged<'a, S>, ApiError> {
        let mut cursors = Vec::with_capacity(logs.len());
        for log in logs {
            cursors.push(Cursor::open(self.store, log, below)?);
        }
        Merged::new(cursors)
    }

    /// A page in the default order (`created_at`, then `id`, newest first):
    /// the first `limit` live images of the walk that `accept` takes, and
    /// whether any follows. Reads the records
    /// of the entries it walks and no others.
    pub fn page(
        &self,
        mut walk: Merged<'a, S>,
        limit: usize,
        accept: &dyn Fn(&Image) -> bool,
    ) -> Result<(Vec<Image>, bool), ApiError> {
        let mut images = Vec::new();
        while let Some(entry) = walk.next_entry()? {
            let Some(Ok(image)) = self.stored(index::entry_id(&entry))? else {
                continue;
            };
            if index::entry(&image) != entry || !accept(&image) {
                continue;
            }
            if images.len() == limit {
                return Ok((images, true));
            }
            images.push(image);
        }
        Ok((images, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    const ID: &str = "6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";

    fn add_tag(repo: &Repo<'_, MemStore>, id: &str, tag: &str) -> Image {
        repo.update(id, &mut |img| {
            img.tags.push(tag.to_string());
            Ok(Change::Write)
        })
        .unwrap()
    }

    #[test]
    fn ids_are_claimed_once() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        let again = repo
            .create(Image::new(ID.into(), "p".into(), 0))
            .unwrap_err();
        assert_eq!(again.status(), 409);
    }

    #[test]
    fn redis_defect_does_not_retry_forever_or_lose_writes() {
        let store = MemStore::redis();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        add_tag(&repo, ID, "a");
        add_tag(&repo, ID, "b");
        assert_eq!(repo.load(ID).unwrap().unwrap().tags, vec!["a", "b"]);
    }

    #[test]
    fn concurrent_writers_keep_every_tag() {
        for store in [MemStore::default(), MemStore::redis()] {
            let repo = Repo::new(&store);
            repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
            std::thread::scope(|s| {
                for n in 0..20 {
                    let repo = Repo::new(&store);
                    s.spawn(move || add_tag(&repo, ID, &format!("t{n}")));
                }
            });
            let tags = repo.load(ID).unwrap().unwrap().tags;
            assert_eq!(tags.len(), 20, "{tags:?}");
        }
    }

    #[test]
    fn the_index_finds_tagged_images_and_ignores_stale_entries() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        let other = "7f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";
        let mut a = Image::new(ID.into(), "p".into(), 0);
        a.tags = vec!["x".into(), "y".into()];
        repo.create(a).unwrap();
        repo.create(Image::new(other.into(), "p".into(), 0))
            .unwrap();
        add_tag(&repo, other, "x");
        let (found, _) = repo.tagged(&["x".into()]).unwrap();
        assert_eq!(found.len(), 2);
        let (found, _) = repo.tagged(&["x".into(), "y".into()]).unwrap();
        assert_eq!(found.len(), 1);
        repo.update(ID, &mut |img| {
            img.tags.retain(|t| t != "x");
            Ok(Change::Write)
        })
        .unwrap();
        let (found, _) = repo.tagged(&["x".into()]).unwrap();
        assert_eq!(
            found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            vec![other]
        );
        assert!(repo.tagged(&["nothing".into()]).unwrap().0.is_empty());
    }

    #[test]
    fn tag_churn_keeps_the_tag_log_bounded() {
        for store in [MemStore::default(), MemStore::redis()] {
            let repo = Repo::new(&store);
            let keeper = "7f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";
            repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
            repo.create(Image::new(keeper.into(), "p".into(), 0))
                .unwrap();
            add_tag(&repo, keeper, "churn");
            for _ in 0..1000 {
                add_tag(&repo, ID, "churn");
                repo.update(ID, &mut |img| {
                    img.tags.clear();
                    Ok(Change::Write)
                })
                .unwrap();
            }
            let log = LogId::Tag("churn".into());
            let size = Cursor::open(&store, &log, None).unwrap().size;
            assert!(size < 300, "2,000 appends left {size} items");
            let prefix = log.base();
            let keys = store
                .keys()
                .unwrap()
                .into_iter()
                .filter(|k| k.starts_with(&prefix))
                .count();
            assert!(keys < 30, "{keys} keys");
            let (found, _) = repo.tagged(&["churn".into()]).unwrap();
            assert_eq!(
                found.into_iter().map(|i| i.id).collect::<Vec<_>>(),
                vec![keeper]
            );
        }
    }

    #[test]
    fn the_key_index_finds_any_value_of_a_key() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        let ids = [
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-000000000002",
            "00000000-0000-4000-8000-000000000003",
            "00000000-0000-4000-8000-000000000004",
        ];
        for id in ids {
            repo.create(Image::new(id.into(), "p".into(), 0)).unwrap();
        }
        let [a, b, c, d] = ids;
        add_tag(&repo, a, "env=prod");
        add_tag(&repo, b, "env");
        add_tag(&repo, c, "env=dev");
        add_tag(&repo, d, "envx=1");
        let found = |key: &str| {
            let mut ids: Vec<String> = repo
                .with_key(key)
                .unwrap()
                .0
                .into_iter()
                .map(|i| i.id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found("env"), vec![a, b, c]);
        // A stale entry (the value changed, the key went) is checked away.
        repo.update(c, &mut |img| {
            img.tags = vec!["other=1".into()];
            Ok(Change::Write)
        })
        .unwrap();
        assert_eq!(found("env"), vec![a, b]);
        assert_eq!(found("other"), vec![c]);
        assert!(found("nothing").is_empty());
    }

    #[test]
    fn a_key_value_entry_is_indexed_under_its_key_too() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        let other = "7f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        repo.create(Image::new(other.into(), "p".into(), 0))
            .unwrap();
        add_tag(&repo, ID, "os=linux");
        add_tag(&repo, other, "plain");
        let members = |log: LogId| {
            let images = repo.members(&[log]).unwrap().0;
            images.into_iter().map(|i| i.id).collect::<Vec<_>>()
        };
        assert_eq!(members(LogId::Tag("os=linux".into())), vec![ID.to_string()]);
        assert_eq!(members(LogId::Key("os".into())), vec![ID.to_string()]);
        assert!(members(LogId::Key("plain".into())).is_empty());
    }

    #[test]
    fn changing_a_keys_value_keeps_it_under_its_key() {
        let store = MemStore::redis();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        for value in ["v1", "v2", "v3", "v1"] {
            repo.update(ID, &mut |img| {
                img.tags.retain(|t| !t.starts_with("env="));
                img.tags.push(format!("env={value}"));
                Ok(Change::Write)
            })
            .unwrap();
        }
        assert_eq!(repo.with_key("env").unwrap().0.len(), 1);
        assert_eq!(repo.tagged(&["env=v1".into()]).unwrap().0.len(), 1);
        assert!(repo.tagged(&["env=v3".into()]).unwrap().0.is_empty());
    }

    #[test]
    fn deleted_images_are_tombstones() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        repo.update(ID, &mut |img| {
            img.deleted = true;
            Ok(Change::Write)
        })
        .unwrap();
        assert!(repo.load(ID).unwrap().is_none());
        assert_eq!(
            repo.update(ID, &mut |_| Ok(Change::Write))
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            repo.create(Image::new(ID.into(), "p".into(), 0))
                .unwrap_err()
                .status(),
            409
        );
    }

    #[test]
    fn a_bad_record_is_a_500_and_skipped_in_lists() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        store.set(&keys::image(ID), b"{not json").unwrap();
        assert_eq!(repo.load(ID).unwrap_err().status(), 500);
        let (images, skipped) = repo.members(&[LogId::All]).unwrap();
        assert!(images.is_empty());
        assert_eq!(skipped, 1);
    }

    #[test]
    fn store_outage_is_503() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(repo.load(ID).unwrap_err().status(), 503);
        assert_eq!(
            repo.update(ID, &mut |_| Ok(Change::Write))
                .unwrap_err()
                .status(),
            503
        );
    }
}
