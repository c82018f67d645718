use super::*;
use crate::core::store::{KvStore, MemStore};
use std::sync::Arc;

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn image(n: u32, owner: &str, at: i64) -> Image {
    Image::new(id(n), owner.into(), at)
}

fn add_tag(repo: &EdgeRepo<'_, MemStore>, n: u32, tag: &str) -> Image {
    repo.update(&id(n), &mut |img| {
        if img.has_tag(tag) {
            return Ok(Change::Unchanged);
        }
        img.tags.push(tag.to_string());
        Ok(Change::Write)
    })
    .unwrap()
}

fn listed(repo: &EdgeRepo<'_, MemStore>, logs: &[LogId], below: Option<&str>) -> Vec<String> {
    let mut walk = repo.walk(logs, below).unwrap();
    let mut ids = Vec::new();
    while let Some(entry) = walk.next_entry().unwrap() {
        ids.push(index::entry_id(&entry).to_string());
    }
    ids
}

#[test]
fn create_update_delete_and_ids_never_reused() {
    let store = MemStore::default();
    let repo = EdgeRepo::new(&store);
    repo.create(image(1, "p", 10)).unwrap();
    assert_eq!(add_tag(&repo, 1, "a").tags, vec!["a"]);
    assert_eq!(repo.load(&id(1)).unwrap().unwrap().tags, vec!["a"]);
    let again = repo.create(image(1, "p", 11)).unwrap_err();
    assert_eq!(again.status(), 409);
    repo.update(&id(1), &mut |img| {
        img.deleted = true;
        Ok(Change::Write)
    })
    .unwrap();
    assert_eq!(repo.load(&id(1)).unwrap(), None);
    assert!(
        !store.keys().unwrap().contains(&keys::image(&id(1))),
        "no tombstone key"
    );
    assert_eq!(repo.create(image(1, "p", 12)).unwrap_err().status(), 409);
    let missing = repo.update(&id(1), &mut |_| Ok(Change::Write)).unwrap_err();
    assert_eq!(missing.status(), 404);
}

#[test]
fn a_tag_put_is_one_write() {
    let store = MemStore::default();
    let repo = EdgeRepo::new(&store);
    repo.create(image(1, "p", 10)).unwrap();
    let before = store.keys().unwrap().len();
    let catalog = store.get(catalog::KEY).unwrap();
    add_tag(&repo, 1, "a");
    assert_eq!(
        store.get(catalog::KEY).unwrap(),
        catalog,
        "the catalog is not written"
    );
    assert_eq!(store.keys().unwrap().len(), before);
}

#[test]
fn walks_are_newest_first_scoped_and_resume_below_an_entry() {
    let store = MemStore::default();
    let repo = EdgeRepo::new(&store);
    for n in 0..6 {
        let mut img = image(
            n,
            if n % 2 == 0 { "even" } else { "odd" },
            100 + i64::from(n / 2),
        );
        if n == 3 {
            img.visibility = "public".into();
        }
        repo.create(img).unwrap();
    }
    assert_eq!(
        listed(&repo, &[LogId::All], None),
        [5, 4, 3, 2, 1, 0].map(id).to_vec()
    );
    let member = [LogId::Project("even".into()), LogId::Public];
    assert_eq!(listed(&repo, &member, None), [4, 3, 2, 0].map(id).to_vec());
    let below = index::entry(&repo.load(&id(3)).unwrap().unwrap());
    assert_eq!(
        listed(&repo, &member, Some(&below)),
        [2, 0].map(id).to_vec()
    );
    // Made public later: the catalog follows the record.
    repo.update(&id(1), &mut |img| {
        img.visibility = "public".into();
        Ok(Change::Write)
    })
    .unwrap();
    assert_eq!(
        listed(&repo, &member, None),
        [4, 3, 2, 1, 0].map(id).to_vec()
    );
}

#[test]
fn list_keys_completes_and_corrects_a_lost_catalog() {
    let store = MemStore::default();
    let repo = EdgeRepo::new(&store);
    for n in 0..4 {
        repo.create(image(n, "p", 100 + i64::from(n))).unwrap();
    }
    let old = store.get(catalog::KEY).unwrap().unwrap();
    repo.create(image(9, "p", 200)).unwrap();
    repo.update(&id(0), &mut |img| {
        img.deleted = true;
        Ok(Change::Write)
    })
    .unwrap();
    // Another writer's stale catalog lands last: it misses 9 and names 0.
    store.set(catalog::KEY, &old).unwrap();
    assert_eq!(
        listed(&repo, &[LogId::All], None),
        [9, 3, 2, 1].map(id).to_vec()
    );
    // The next catalog write mends it.
    repo.create(image(10, "p", 300)).unwrap();
    let mended = Catalog::read(&store).unwrap();
    assert_eq!(mended.entries.len(), 5);
}

/// A store where another writer's stale read-modify-write lands right
/// after ours: the overwrite a write is checked for.
struct Overwritten {
    inner: MemStore,
    /// The record as the other writer read it, before our write.
    stale: std::sync::Mutex<Option<Image>>,
    /// Once: the other writer writes one time.
    seen: std::sync::atomic::AtomicBool,
}

impl KvStore for Overwritten {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::core::store::StoreError> {
        let value = self.inner.get(key)?;
        let mut stale = self.stale.lock().unwrap();
        let first = !self.seen.swap(true, std::sync::atomic::Ordering::SeqCst);
        if first && key.starts_with(IMAGE_PREFIX) {
            *stale = value.as_deref().map(|v| serde_json::from_slice(v).unwrap());
        }
        Ok(value)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), crate::core::store::StoreError> {
        self.inner.set(key, value)?;
        if let Some(mut other) = self.stale.lock().unwrap().take() {
            other.tags.push("theirs".into());
            other.writes.push("their-nonce".into());
            self.inner.set(key, &serde_json::to_vec(&other).unwrap())?;
        }
        Ok(())
    }
    fn exists(&self, key: &str) -> Result<bool, crate::core::store::StoreError> {
        self.inner.exists(key)
    }
    fn delete(&self, key: &str) -> Result<(), crate::core::store::StoreError> {
        self.inner.delete(key)
    }
    fn list_keys(&self) -> Result<Vec<String>, crate::core::store::StoreError> {
        self.inner.list_keys()
    }
}

#[test]
fn a_write_overwritten_before_its_check_is_made_again() {
    let inner = MemStore::default();
    EdgeRepo::new(&inner).create(image(1, "p", 10)).unwrap();
    let store = Overwritten {
        inner,
        stale: std::sync::Mutex::new(None),
        seen: Default::default(),
    };
    let repo = EdgeRepo::new(&store);
    let written = repo
        .update(&id(1), &mut |img| {
            img.tags.push("ours".into());
            Ok(Change::Write)
        })
        .unwrap();
    assert_eq!(
        written.tags,
        vec!["theirs", "ours"],
        "made again on their record"
    );
    assert_eq!(
        repo.load(&id(1)).unwrap().unwrap().tags,
        vec!["theirs", "ours"]
    );
}

/// 50 writers at once on one record, with the scheduler's timing. The
/// check catches an overwrite that lands within its pause; one that lands
/// later (a writer descheduled between its read and its write for longer)
/// is lost. So this counts and reports rather than expects zero; README,
/// "Edge build", gives the figures from the test host and the real Spin.
#[test]
fn fifty_writers_on_one_image_are_counted() {
    let store = Arc::new(MemStore::default());
    EdgeRepo::new(&*store).create(image(1, "p", 10)).unwrap();
    let writers: Vec<_> = (0..50)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                add_tag(&EdgeRepo::new(&*store), 1, &format!("t{w}"));
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let tags = EdgeRepo::new(&*store).load(&id(1)).unwrap().unwrap().tags;
    // Every writer was answered (no unwrap failed above) and nothing but
    // what they wrote is there; how many survive depends on the scheduler
    // (threads descheduled between read and write), so it is reported.
    eprintln!("edge: 50 writers on one image kept {} tags", tags.len());
    assert!(!tags.is_empty() && tags.iter().all(|t| t.starts_with('t')));
}

#[test]
fn fifty_writers_on_fifty_images_lose_nothing() {
    let store = Arc::new(MemStore::default());
    let writers: Vec<_> = (0..50)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let repo = EdgeRepo::new(&*store);
                repo.create(image(w, "p", 10)).unwrap();
                add_tag(&repo, w, "x");
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let repo = EdgeRepo::new(&*store);
    assert_eq!(listed(&repo, &[LogId::All], None).len(), 50);
    for w in 0..50 {
        assert_eq!(repo.load(&id(w)).unwrap().unwrap().tags, vec!["x"]);
    }
    assert_eq!(
        Catalog::read(&*store).unwrap().entries.len(),
        50,
        "no entry lost"
    );
}

#[test]
fn nine_hundred_images_with_ten_tags_fit_in_a_thousand_keys() {
    let store = MemStore::default();
    let repo = EdgeRepo::new(&store);
    for n in 0..900 {
        let mut img = image(n, "p", 1_000 + i64::from(n));
        img.tags = (0..10).map(|t| format!("tag-{t}")).collect();
        store
            .set(&keys::image(&img.id), &serde_json::to_vec(&img).unwrap())
            .unwrap();
    }
    repo.create(image(900, "p", 5_000)).unwrap();
    let keys = store.keys().unwrap();
    assert_eq!(keys.len(), 902, "one key an image and the catalog");
    assert!(keys.iter().all(|k| k.len() <= 255));
    let catalog = store.get(catalog::KEY).unwrap().unwrap();
    assert!(catalog.len() < 1_000_000, "catalog {} bytes", catalog.len());
}
