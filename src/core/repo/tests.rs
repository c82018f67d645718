//! The repository over the in-memory store: records, claims, retries and the logs.

use super::*;
use crate::core::images::Images;
use crate::core::store::KvStore;
use crate::core::store::MemStore;

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
