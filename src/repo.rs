//! Image records and the tag index over the key-value store, safe under
//! concurrent writers on every Spin backend (SPEC section 6):
//!
//! - An image record changes only by compare-and-swap on a key that exists,
//!   retried with jittered backoff. Each write carries a fresh nonce, and the
//!   record keeps the latest ones, so a writer told `cas-failed` re-reads and
//!   knows whether its write landed (Redis reports failure either way).
//! - First writes never rely on CAS (an upsert on Spin): an image id is
//!   claimed by the first `increment` of its claim counter; the tag index
//!   (`tag_log`) creates its slots the same way.
//! - The record is the source of truth. The index may name images that no
//!   longer carry the tag (readers check the record); it never misses one,
//!   because the image is appended to the tag's log before the record that
//!   adds the tag is written. The record remembers which removed tags' logs
//!   still name it, so adding a tag back costs no second append.

use crate::http::ApiError;
use crate::image::{Image, KEPT_STILL_INDEXED, KEPT_WRITES};
use crate::store::{KvStore, StoreError, SwapError};
use crate::{keys, tag_log};
use std::collections::BTreeSet;

/// Enough for 50 writers on one image to all get through (SPEC section 3).
const MAX_ATTEMPTS: u32 = 200;
const MAX_BACKOFF_MS: u64 = 32;

fn unavailable(e: StoreError) -> ApiError {
    ApiError::unavailable(format!("key-value store: {}", e.0))
}

/// What an update decided after looking at the current record.
pub enum Change {
    Write,
    Unchanged,
}

pub struct Repo<'a, S: KvStore> {
    store: &'a S,
}

/// The logs one write has appended the image to, so that a retried
/// compare-and-swap does not append again.
#[derive(Default)]
struct Indexed {
    tags: BTreeSet<String>,
    keys: BTreeSet<String>,
}

impl Indexed {
    /// Append the image to the logs of the tags in `tags` that `old` (the
    /// record before the write; `None` for a new image) does not carry:
    /// each tag's log unless the record still lists it there, and for an
    /// entry `k=v` the key log of `k` unless it names the image already.
    /// This runs before the record that names the tags is written: the
    /// index may be a superset of the truth, never a subset.
    fn index<S: KvStore>(
        &mut self,
        store: &S,
        id: &str,
        old: Option<&Image>,
        tags: &[String],
    ) -> Result<(), ApiError> {
        for tag in tags.iter().filter(|t| !old.is_some_and(|o| o.has_tag(t))) {
            let still = old.is_some_and(|o| o.still_indexed.contains(tag));
            if !still && !self.tags.contains(tag) {
                tag_log::append(store, &keys::tag_len(tag), id)?;
                self.tags.insert(tag.clone());
            }
            if let Some((key, _)) = tag.split_once('=') {
                let logged = old.is_some_and(|o| key_logged(o, key));
                if !logged && !self.keys.contains(key) {
                    tag_log::append(store, &keys::tag_key_len(key), id)?;
                    self.keys.insert(key.to_string());
                }
            }
        }
        Ok(())
    }
}

/// Whether the key log of `key` names the image already: every entry
/// `key=...` it carries, or lost and still lists, was appended there.
fn key_logged(image: &Image, key: &str) -> bool {
    image
        .tags
        .iter()
        .chain(&image.still_indexed)
        .any(|t| t.split_once('=').is_some_and(|(k, _)| k == key))
}

/// Carry over which tags' logs name the image but the image does not
/// carry: those it had and those it just lost.
fn remember_still_indexed(old: &Image, new: &mut Image) {
    let carried: BTreeSet<&String> = new.tags.iter().collect();
    let mut seen = BTreeSet::new();
    let mut still: Vec<String> = Vec::new();
    for tag in old.still_indexed.iter().chain(&old.tags) {
        if !carried.contains(tag) && seen.insert(tag) {
            still.push(tag.clone());
        }
    }
    let excess = still.len().saturating_sub(KEPT_STILL_INDEXED);
    still.drain(..excess);
    new.still_indexed = still;
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // A failed entropy read only weakens jitter and nonces to a constant;
    // the time keeps nonces distinct enough, and CAS still guards writes.
    if getrandom::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
    }
    u64::from_le_bytes(bytes)
}

fn backoff(attempt: u32) {
    let cap = MAX_BACKOFF_MS.min(1u64 << attempt.min(6));
    let micros = random_u64() % (cap * 1000 + 1);
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
        match self.store.get(&keys::image(id)).map_err(unavailable)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(parse_image(id, &bytes)?).filter(|i| !i.deleted)),
        }
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
        Indexed::default().index(self.store, &image.id, None, &image.tags)?;
        image.writes = vec![format!("{:016x}", random_u64())];
        let bytes = serde_json::to_vec(&image).map_err(|e| ApiError::internal(e.to_string()))?;
        // The claim makes this writer the key's only creator: a plain set is safe.
        self.store
            .set(&keys::image(&image.id), &bytes)
            .map_err(unavailable)?;
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
            indexed.index(self.store, id, Some(&old), &new.tags)?;
            remember_still_indexed(&old, &mut new);
            let nonce = format!("{:016x}", random_u64());
            new.writes.push(nonce.clone());
            let excess = new.writes.len().saturating_sub(KEPT_WRITES);
            new.writes.drain(..excess);
            let bytes = serde_json::to_vec(&new).map_err(|e| ApiError::internal(e.to_string()))?;
            match self.store.swap(cas, &bytes) {
                Ok(()) => return Ok(new),
                Err(SwapError::Store(e)) => return Err(unavailable(e)),
                Err(SwapError::CasFailed) => {
                    if self.landed(&key, &nonce)? {
                        return Ok(new);
                    }
                    backoff(attempt);
                }
            }
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

    /// Live images with any value of the IMS key `key`: the union of the
    /// tag log of the plain `key` (value `""`) and the key log of `key`
    /// (entries `key=...`), each record checked.
    pub fn with_key(&self, key: &str) -> Result<(Vec<Image>, usize), ApiError> {
        let (mut images, mut skipped) = self.tagged(&[key.to_string()])?;
        let seen: BTreeSet<String> = images.iter().map(|i| i.id.clone()).collect();
        let image_keys: Vec<String> = tag_log::members(self.store, &keys::tag_key_len(key))?
            .iter()
            .filter(|id| !seen.contains(*id))
            .map(|id| keys::image(id))
            .collect();
        let (more, more_skipped) = self.load_many(&image_keys)?;
        let has_key = |i: &Image| {
            i.tags
                .iter()
                .any(|t| t.split_once('=').is_some_and(|(k, _)| k == key))
        };
        images.extend(more.into_iter().filter(has_key));
        skipped += more_skipped;
        Ok((images, skipped))
    }

    /// Live images carrying every tag in `tags` (at least one), reading only
    /// the shortest tag log and the images it names. Records that do not
    /// parse are skipped and counted, so one bad record cannot hide the rest.
    pub fn tagged(&self, tags: &[String]) -> Result<(Vec<Image>, usize), ApiError> {
        let mut shortest: Option<(&String, i64)> = None;
        for tag in tags {
            let len = tag_log::slots(self.store, &keys::tag_len(tag))?;
            if shortest.is_none_or(|(_, n)| len < n) {
                shortest = Some((tag, len));
            }
        }
        let Some((tag, _)) = shortest else {
            return Ok((Vec::new(), 0));
        };
        let image_keys: Vec<String> = tag_log::members(self.store, &keys::tag_len(tag))?
            .iter()
            .map(|id| keys::image(id))
            .collect();
        let (images, skipped) = self.load_many(&image_keys)?;
        let images = images
            .into_iter()
            .filter(|i| tags.iter().all(|t| i.has_tag(t)))
            .collect();
        Ok((images, skipped))
    }

    /// Every live image (listing without a tag filter).
    pub fn all(&self) -> Result<(Vec<Image>, usize), ApiError> {
        let image_keys: Vec<String> = self
            .store
            .keys()
            .map_err(unavailable)?
            .into_iter()
            .filter(|k| k.starts_with(keys::IMAGE_PREFIX))
            .collect();
        self.load_many(&image_keys)
    }

    /// One `get` per key: `get-many` fails the request on Spin's Redis store.
    fn load_many(&self, image_keys: &[String]) -> Result<(Vec<Image>, usize), ApiError> {
        let mut images = Vec::with_capacity(image_keys.len());
        let mut skipped = 0;
        for key in image_keys {
            let Some(bytes) = self.store.get(key).map_err(unavailable)? else {
                continue;
            };
            let id = key.strip_prefix(keys::IMAGE_PREFIX).unwrap_or(key);
            match parse_image(id, &bytes) {
                Ok(image) if !image.deleted => images.push(image),
                Ok(_) => {}
                Err(_) => skipped += 1,
            }
        }
        Ok((images, skipped))
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
    fn adding_a_tag_back_reuses_its_log_entry() {
        for store in [MemStore::default(), MemStore::redis()] {
            let repo = Repo::new(&store);
            repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
            for _ in 0..200 {
                add_tag(&repo, ID, "churn");
                repo.update(ID, &mut |img| {
                    img.tags.clear();
                    Ok(Change::Write)
                })
                .unwrap();
            }
            add_tag(&repo, ID, "churn");
            assert_eq!(
                tag_log::slots(&store, &keys::tag_len("churn")).unwrap(),
                1,
                "200 cycles, one entry"
            );
            let (found, _) = repo.tagged(&["churn".into()]).unwrap();
            assert_eq!(found.len(), 1);
            let img = repo.load(ID).unwrap().unwrap();
            assert!(
                img.still_indexed.is_empty(),
                "carried tags are not repeated there"
            );
        }
    }

    #[test]
    fn forgetting_old_log_entries_only_costs_a_new_append() {
        let store = MemStore::default();
        let repo = Repo::new(&store);
        repo.create(Image::new(ID.into(), "p".into(), 0)).unwrap();
        let many = KEPT_STILL_INDEXED + 5;
        for n in 0..many {
            add_tag(&repo, ID, &format!("t{n}"));
            repo.update(ID, &mut |img| {
                img.tags.clear();
                Ok(Change::Write)
            })
            .unwrap();
        }
        let img = repo.load(ID).unwrap().unwrap();
        assert_eq!(img.still_indexed.len(), KEPT_STILL_INDEXED);
        assert_eq!(img.still_indexed.first().map(String::as_str), Some("t5"));
        // t0 was forgotten: adding it back appends again, and it is found.
        add_tag(&repo, ID, "t0");
        assert_eq!(
            tag_log::members(&store, &keys::tag_len("t0")).unwrap(),
            vec![ID.to_string()]
        );
        assert_eq!(repo.tagged(&["t0".into()]).unwrap().0.len(), 1);
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
        let members = |log: &str| tag_log::members(&store, log).unwrap();
        assert_eq!(members(&keys::tag_len("os=linux")), vec![ID.to_string()]);
        assert_eq!(members(&keys::tag_key_len("os")), vec![ID.to_string()]);
        assert!(members(&keys::tag_key_len("plain")).is_empty());
    }

    #[test]
    fn changing_a_keys_value_does_not_grow_its_key_log() {
        // Redis: every append takes a slot, so the slot count is the append count.
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
        assert_eq!(
            tag_log::slots(&store, &keys::tag_key_len("env")).unwrap(),
            1
        );
        assert_eq!(tag_log::slots(&store, &keys::tag_len("env=v1")).unwrap(), 1);
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
        store.set(&keys::image(ID), b"{not json").unwrap();
        assert_eq!(repo.load(ID).unwrap_err().status(), 500);
        let (images, skipped) = repo.all().unwrap();
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
