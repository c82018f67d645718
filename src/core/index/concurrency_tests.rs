//! The logs under concurrent writers, walkers and compactions, on both
//! store behaviours (SQLite's strict swap and joined slots; Redis's swap
//! that reports failure even when it wrote, and one slot per append).

use super::cursor::Cursor;
use super::{entry, LogId};
use crate::core::image::Image;
use crate::core::images::Change;
use crate::core::images::Images;
use crate::core::repo::Repo;
use crate::core::store::{Atomic, KvStore, MemStore, StoreError, SwapError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn image(n: usize, owner: &str, second: i64) -> Image {
    Image::new(id(n), owner.into(), second)
}

fn set_tag(repo: &Repo<'_, MemStore>, id: &str, tag: &str, on: bool) {
    repo.update(id, &mut |img| {
        img.tags.retain(|t| t != tag);
        if on {
            img.tags.push(tag.to_string());
        }
        Ok(Change::Write)
    })
    .unwrap();
}

fn delete(repo: &Repo<'_, MemStore>, id: &str) {
    repo.update(id, &mut |img| {
        img.deleted = true;
        Ok(Change::Write)
    })
    .unwrap();
}

/// Every page of a walk in the default order, by marker.
fn walk(repo: &Repo<'_, MemStore>, logs: &[LogId], limit: usize) -> Vec<Image> {
    let mut out: Vec<Image> = Vec::new();
    loop {
        let below = out.last().map(entry);
        let walk = repo.walk(logs, below.as_deref()).unwrap();
        let (page, more) = repo.page(walk, limit, &|_| true).unwrap();
        out.extend(page);
        if !more {
            return out;
        }
    }
}

#[test]
fn walks_return_each_image_once_in_order_while_writers_create_and_delete() {
    for store in [MemStore::default(), MemStore::redis()] {
        let repo = Repo::new(&store);
        // 400 images over 20 seconds: ties within a second everywhere.
        for n in 0..400 {
            repo.create(image(n, "p", (n % 20) as i64)).unwrap();
        }
        for n in (0..400).step_by(3) {
            delete(&repo, &id(n));
        }
        let stable: BTreeSet<String> = (0..400)
            .filter(|n| n % 3 != 0 && n % 5 != 0)
            .map(id)
            .collect();
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (repo, done) = (&repo, &done);
            s.spawn(move || {
                // Churn: create new images (some in the walked seconds) and
                // delete the ones that are not stable.
                let mut n = 1000;
                while !done.load(Ordering::SeqCst) {
                    repo.create(image(n, "p", (n % 25) as i64)).unwrap();
                    if n % 2 == 0 {
                        delete(repo, &id(n));
                    }
                    n += 1;
                }
            });
            s.spawn(move || {
                for n in (0..400).filter(|n| n % 3 != 0 && n % 5 == 0) {
                    delete(repo, &id(n));
                }
            });
            for _ in 0..3 {
                let seen = walk(repo, &[LogId::All], 7);
                let mut ids = BTreeSet::new();
                for w in seen.windows(2) {
                    if let [a, b] = w {
                        assert!(entry(a) > entry(b), "order: {} then {}", entry(a), entry(b));
                    }
                }
                for i in &seen {
                    assert!(ids.insert(i.id.clone()), "{} twice", i.id);
                }
                let missing: Vec<_> = stable.difference(&ids).collect();
                assert!(missing.is_empty(), "missing {missing:?}");
            }
            done.store(true, Ordering::SeqCst);
        });
    }
}

#[test]
fn a_members_walk_merges_its_project_with_public_images() {
    let store = MemStore::default();
    let repo = Repo::new(&store);
    for n in 0..60 {
        let mut img = image(n, ["a", "b"][n % 2], (n / 7) as i64);
        if n % 3 == 0 {
            img.visibility = "public".into();
        }
        repo.create(img).unwrap();
    }
    let logs = [LogId::Project("a".into()), LogId::Public];
    let seen = walk(&repo, &logs, 4);
    let want: Vec<usize> = (0..60).rev().filter(|n| n % 2 == 0 || n % 3 == 0).collect();
    let mut want: Vec<Image> = want
        .into_iter()
        .map(|n| repo.load(&id(n)).unwrap().unwrap())
        .collect();
    want.sort_by_key(|i| std::cmp::Reverse(entry(i)));
    let ids = |v: &[Image]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&seen), ids(&want));
}

#[test]
fn compaction_loses_no_tagged_image_under_concurrent_tag_writers() {
    for store in [MemStore::default(), MemStore::redis()] {
        let repo = Repo::new(&store);
        let keepers: Vec<String> = (0..10).map(|n| id(5000 + n)).collect();
        for (n, k) in keepers.iter().enumerate() {
            let mut img = Image::new(k.clone(), "p".into(), n as i64);
            img.tags = vec!["hot".into()];
            repo.create(img).unwrap();
        }
        for w in 0..8 {
            for n in 0..4 {
                repo.create(image(w * 100 + n, "p", n as i64)).unwrap();
            }
        }
        let done = AtomicBool::new(false);
        let final_state: BTreeMap<String, bool> = std::thread::scope(|s| {
            let (repo, done, keepers) = (&repo, &done, &keepers);
            let sampler = s.spawn(move || {
                let mut samples = 0;
                while !done.load(Ordering::SeqCst) {
                    let log = [LogId::Tag("hot".into())];
                    let listed: BTreeSet<String> = walk(repo, &log, 5)
                        .into_iter()
                        .filter(|i| i.has_tag("hot"))
                        .map(|i| i.id)
                        .collect();
                    for k in keepers {
                        assert!(listed.contains(k), "keeper {k} missing from a listing");
                    }
                    samples += 1;
                }
                samples
            });
            let writers: Vec<_> = (0..8)
                .map(|w| {
                    s.spawn(move || {
                        let mut last = BTreeMap::new();
                        for round in 0..60 {
                            let n = w * 100 + round % 4;
                            let on = (round / 4) % 2 == 0;
                            set_tag(repo, &id(n), "hot", on);
                            last.insert(id(n), on);
                        }
                        last
                    })
                })
                .collect();
            let mut final_state = BTreeMap::new();
            for w in writers {
                final_state.extend(w.join().unwrap());
            }
            done.store(true, Ordering::SeqCst);
            assert!(sampler.join().unwrap() > 0);
            final_state
        });
        let mut want: BTreeSet<String> = keepers.iter().cloned().collect();
        want.extend(
            final_state
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(id, _)| id),
        );
        let (found, _) = repo.tagged(&["hot".into()]).unwrap();
        let found: BTreeSet<String> = found.into_iter().map(|i| i.id).collect();
        assert_eq!(found, want);
        // 960 changes: the log was compacted and stays small.
        let size = Cursor::open(&store, &LogId::Tag("hot".into()), None)
            .unwrap()
            .size;
        assert!(size < 400, "{size} items");
    }
}

/// A store that counts the calls a page makes.
struct Counting<'a> {
    inner: &'a MemStore,
    calls: AtomicU64,
}

impl Counting<'_> {
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl KvStore for Counting<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.tick();
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tick();
        self.inner.set(key, value)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.tick();
        self.inner.exists(key)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.tick();
        self.inner.delete(key)
    }
    fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        self.tick();
        self.inner.list_keys()
    }
}

impl Atomic for Counting<'_> {
    type Cas = <MemStore as Atomic>::Cas;
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.tick();
        self.inner.increment(key, delta)
    }
    fn watch(&self, key: &str) -> Result<(Option<Vec<u8>>, Self::Cas), StoreError> {
        self.tick();
        self.inner.watch(key)
    }
    fn swap(&self, cas: Self::Cas, value: &[u8]) -> Result<(), SwapError> {
        self.tick();
        self.inner.swap(cas, value)
    }
}

#[test]
fn a_page_costs_a_page_whatever_the_log_size() {
    for store in [MemStore::default(), MemStore::redis()] {
        let repo = Repo::new(&store);
        let mut costs = Vec::new();
        let mut made = 0;
        for size in [1_000, 10_000] {
            while made < size {
                let mut img = image(made, "p", (made / 3) as i64);
                img.tags = vec!["all".into()];
                repo.create(img).unwrap();
                made += 1;
            }
            let counting = Counting {
                inner: &store,
                calls: AtomicU64::new(0),
            };
            let repo = Repo::new(&counting);
            let all = repo.walk(&[LogId::All], None).unwrap();
            let deep = repo.page(all, 500, &|_| true).unwrap().0;
            let below = deep.last().map(entry);
            counting.calls.store(0, Ordering::SeqCst);
            for logs in [vec![LogId::All], vec![LogId::Tag("all".into())]] {
                for below in [None, below.as_deref()] {
                    let walk = repo.walk(&logs, below).unwrap();
                    let (page, more) = repo.page(walk, 25, &|_| true).unwrap();
                    assert!(page.len() == 25 && more);
                }
            }
            costs.push(counting.calls.load(Ordering::SeqCst) / 4);
            let root = store
                .get(&super::runs::root_key(&LogId::All.base()))
                .unwrap();
            let root = super::runs::Root::parse("all", root.as_deref()).unwrap();
            assert!(root.entries() > size - 300, "compacted: {}", root.entries());
            assert!(root.pages.len() <= size / 200, "{} pages", root.pages.len());
            eprintln!(
                "{size}: {} pages, {costs:?} calls per page",
                root.pages.len()
            );
        }
        // 26 records, the root twice, the counter, the tail and a page or two.
        assert!(costs.iter().all(|c| *c <= 26 + 24), "{costs:?}");
    }
}
