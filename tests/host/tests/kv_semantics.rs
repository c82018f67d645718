//! The store's Spin semantics, through its Rust API (no component needed).

use image_tags_host::{KvError, KvFailure, KvMode, KvOp, KvStore, SwapFailure};

fn other(msg: &str) -> KvFailure {
    KvFailure::Error(KvError::Other(msg.to_string()))
}

#[tokio::test]
async fn get_set_delete_exists_list() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    assert_eq!(b.get("a").await.unwrap(), None);
    assert!(!b.exists("a").await.unwrap());
    b.set("a", b"1".to_vec()).await.unwrap();
    b.set("c", b"3".to_vec()).await.unwrap();
    b.set("b", b"2".to_vec()).await.unwrap();
    assert_eq!(b.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert!(b.exists("a").await.unwrap());
    let (keys, cursor) = b.list_keys(None).await.unwrap();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(cursor, None);
    assert_eq!(
        b.list_keys(Some("x")).await.unwrap_err(),
        other("list_keys: cursor not supported")
    );
    b.delete("a").await.unwrap();
    b.delete("never-there").await.unwrap();
    assert_eq!(kv.keys(), ["b", "c"]);
    // Labels are separate stores.
    let other_bucket = kv.open("other").await.unwrap();
    assert_eq!(other_bucket.get("b").await.unwrap(), None);
}

#[tokio::test]
async fn cas_on_missing_key_is_an_unconditional_upsert() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    let mut cas = b.cas("k").await.unwrap();
    assert_eq!(b.cas_current(&mut cas).await.unwrap(), None);
    // Someone else creates the key after our snapshot...
    kv.raw_set("k", "theirs");
    // ...and our swap still overwrites it: CAS does not protect a first write.
    b.swap(cas, b"ours".to_vec()).await.unwrap();
    assert_eq!(kv.raw_get("k").as_deref(), Some(&b"ours"[..]));
}

#[tokio::test]
async fn cas_without_current_has_no_snapshot_and_upserts() {
    // Spin takes the snapshot in `current`, not in `cas::new`.
    let kv = KvStore::new(KvMode::Sqlite);
    kv.raw_set("k", "v1");
    let b = kv.open("default").await.unwrap();
    let cas = b.cas("k").await.unwrap();
    assert_eq!(cas.snapshot(), None);
    kv.raw_set("k", "v2");
    b.swap(cas, b"v3".to_vec()).await.unwrap();
    assert_eq!(kv.raw_get("k").as_deref(), Some(&b"v3"[..]));
}

#[tokio::test]
async fn cas_on_existing_key_detects_change_and_deletion() {
    let kv = KvStore::new(KvMode::Sqlite);
    kv.raw_set("k", "v1");
    let b = kv.open("default").await.unwrap();

    // Unchanged: the swap lands.
    let mut cas = b.cas("k").await.unwrap();
    assert_eq!(
        b.cas_current(&mut cas).await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    b.swap(cas, b"v2".to_vec()).await.unwrap();
    assert_eq!(kv.raw_get("k").as_deref(), Some(&b"v2"[..]));

    // Changed underneath: cas-failed, nothing written, and the fresh cas
    // carries the value now stored.
    let mut cas = b.cas("k").await.unwrap();
    b.cas_current(&mut cas).await.unwrap();
    kv.raw_set("k", "theirs");
    match b.swap(cas, b"mine".to_vec()).await {
        Err(SwapFailure::CasFailed(fresh)) => {
            assert_eq!(fresh.key(), "k");
            assert_eq!(fresh.snapshot(), Some(&b"theirs"[..]));
            // Retrying with the fresh cas works.
            b.swap(fresh, b"mine".to_vec()).await.unwrap();
        }
        other => panic!("expected cas-failed, got {other:?}"),
    }
    assert_eq!(kv.raw_get("k").as_deref(), Some(&b"mine"[..]));

    // Deleted underneath: a missing key is not the snapshot, so it fails.
    let mut cas = b.cas("k").await.unwrap();
    b.cas_current(&mut cas).await.unwrap();
    kv.raw_delete("k");
    assert!(matches!(
        b.swap(cas, b"x".to_vec()).await,
        Err(SwapFailure::CasFailed(_))
    ));
    assert_eq!(kv.raw_get("k"), None);
}

#[tokio::test]
async fn redis_swap_reports_cas_failed_whether_or_not_it_wrote() {
    let kv = KvStore::new(KvMode::Redis);
    kv.raw_set("k", "v1");
    let b = kv.open("default").await.unwrap();

    // Would succeed on SQLite: writes, but reports cas-failed.
    let mut cas = b.cas("k").await.unwrap();
    b.cas_current(&mut cas).await.unwrap();
    assert!(matches!(
        b.swap(cas, b"v2".to_vec()).await,
        Err(SwapFailure::CasFailed(_))
    ));
    assert_eq!(
        kv.raw_get("k").as_deref(),
        Some(&b"v2"[..]),
        "the write landed"
    );

    // Missing key: upserts, and still reports cas-failed.
    let cas = b.cas("new").await.unwrap();
    assert!(matches!(
        b.swap(cas, b"n".to_vec()).await,
        Err(SwapFailure::CasFailed(_))
    ));
    assert_eq!(kv.raw_get("new").as_deref(), Some(&b"n"[..]));

    // Real conflict: cas-failed and no write.
    let mut cas = b.cas("k").await.unwrap();
    b.cas_current(&mut cas).await.unwrap();
    kv.raw_set("k", "theirs");
    assert!(matches!(
        b.swap(cas, b"mine".to_vec()).await,
        Err(SwapFailure::CasFailed(_))
    ));
    assert_eq!(kv.raw_get("k").as_deref(), Some(&b"theirs"[..]));

    // Switching the mode of a live store takes effect at once.
    kv.set_mode(KvMode::Sqlite);
    let mut cas = b.cas("k").await.unwrap();
    b.cas_current(&mut cas).await.unwrap();
    b.swap(cas, b"sqlite".to_vec()).await.unwrap();
}

#[tokio::test]
async fn cas_always_fails_switch() {
    for mode in [KvMode::Sqlite, KvMode::Redis] {
        let kv = KvStore::new(mode);
        let b = kv.open("default").await.unwrap();
        kv.set_cas_always_fails(true);
        let cas = b.cas("k").await.unwrap();
        assert!(matches!(
            b.swap(cas, b"x".to_vec()).await,
            Err(SwapFailure::CasFailed(_))
        ));
        assert_eq!(kv.raw_get("k"), None, "{mode:?}: nothing written");
        kv.clear_faults();
        let cas = b.cas("k").await.unwrap();
        let r = b.swap(cas, b"x".to_vec()).await;
        assert_eq!(kv.raw_get("k").as_deref(), Some(&b"x"[..]));
        assert_eq!(r.is_ok(), mode == KvMode::Sqlite);
    }
}

#[tokio::test]
async fn get_many_leaves_missing_keys_out() {
    let kv = KvStore::new(KvMode::Sqlite);
    kv.raw_set("b", "2");
    kv.raw_set("a", "1");
    let b = kv.open("default").await.unwrap();
    let keys: Vec<String> = ["b", "missing", "a", "b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = b.get_many(&keys).await.unwrap();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), Some(b"1".to_vec())),
            ("b".to_string(), Some(b"2".to_vec())),
        ],
        "found keys only, in key order, duplicates folded"
    );
    assert_eq!(b.get_many(&[]).await.unwrap(), vec![]);

    b.set_many(vec![
        ("x".into(), b"9".to_vec()),
        ("y".into(), b"8".to_vec()),
    ])
    .await
    .unwrap();
    assert_eq!(kv.keys(), ["a", "b", "x", "y"]);
    b.delete_many(&["a".into(), "x".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(kv.keys(), ["b", "y"]);
}

#[tokio::test]
async fn redis_get_many_traps_as_spin_does() {
    let kv = KvStore::new(KvMode::Redis);
    kv.raw_set("a", "1");
    let b = kv.open("default").await.unwrap();
    let err = b.get_many(&["a".into()]).await.unwrap_err();
    assert!(err.is_trap(), "{err:?}");
    // Only the request fails: the store itself is not poisoned.
    assert!(!kv.is_poisoned());
    assert_eq!(b.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
}

#[tokio::test]
async fn sqlite_increment_uses_8_byte_le_and_poisons_on_other_values() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    assert_eq!(b.increment("n", 1).await.unwrap(), 1);
    assert_eq!(b.increment("n", 41).await.unwrap(), 42);
    assert_eq!(b.increment("n", -50).await.unwrap(), -8);
    assert_eq!(kv.raw_get("n").unwrap(), (-8i64).to_le_bytes().to_vec());
    // Any 8-byte value reads as a little-endian counter.
    kv.raw_set("eight", *b"\x01\0\0\0\0\0\0\0");
    assert_eq!(b.increment("eight", 1).await.unwrap(), 2);

    // A value written with `set` (JSON here): the host panics...
    kv.raw_set("json", "{\"a\":1}");
    let err = b.increment("json", 1).await.unwrap_err();
    assert!(err.is_trap(), "{err:?}");
    assert!(kv.is_poisoned());
    // ...and every later data call traps, on any key, until a restart.
    assert!(b.get("n").await.unwrap_err().is_trap());
    assert!(b.set("z", b"1".to_vec()).await.unwrap_err().is_trap());
    assert!(b.get_many(&["n".into()]).await.unwrap_err().is_trap());
    assert!(b.increment("n", 1).await.unwrap_err().is_trap());
    // Opening still works (Spin's open does not take the poisoned lock).
    let b2 = kv.open("default").await.unwrap();
    assert!(b2.exists("n").await.unwrap_err().is_trap());

    kv.restart();
    assert!(!kv.is_poisoned());
    assert_eq!(
        b.increment("n", 1).await.unwrap(),
        -7,
        "data survives a restart"
    );
}

#[tokio::test]
async fn redis_increment_uses_decimal_text_and_errors_without_poison() {
    let kv = KvStore::new(KvMode::Redis);
    let b = kv.open("default").await.unwrap();
    assert_eq!(b.increment("n", 5).await.unwrap(), 5);
    assert_eq!(b.increment("n", -7).await.unwrap(), -2);
    assert_eq!(kv.raw_get("n").as_deref(), Some(&b"-2"[..]));
    kv.raw_set("json", "{}");
    let err = b.increment("json", 1).await.unwrap_err();
    assert!(!err.is_trap());
    assert!(!kv.is_poisoned());
    assert_eq!(b.get("n").await.unwrap().as_deref(), Some(&b"-2"[..]));
}

#[tokio::test]
async fn fail_nth_fails_exactly_one_matching_call() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    kv.fail_nth(&[KvOp::Set, KvOp::Swap], 2);
    b.get("x").await.unwrap(); // not matching
    b.set("a", b"1".to_vec()).await.unwrap(); // 1st matching
    assert_eq!(
        b.set("b", b"2".to_vec()).await.unwrap_err(),
        other("injected fault")
    );
    b.set("c", b"3".to_vec()).await.unwrap(); // after: fine
    assert_eq!(kv.keys(), ["a", "c"]);
}

#[tokio::test]
async fn fail_from_nth_fails_until_cleared() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    kv.fail_from_nth(&KvOp::READS, 1);
    assert!(b.get("a").await.is_err());
    assert!(b.exists("a").await.is_err());
    assert!(b.list_keys(None).await.is_err());
    b.set("a", b"1".to_vec()).await.unwrap(); // writes unaffected
    assert!(b.get("a").await.is_err());
    kv.clear_faults();
    assert_eq!(b.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
}

#[tokio::test]
async fn swap_fault_is_a_store_error() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    kv.fail_nth(&[KvOp::Swap], 1);
    let cas = b.cas("k").await.unwrap();
    match b.swap(cas, b"x".to_vec()).await {
        Err(SwapFailure::Store(e)) => assert_eq!(e, other("injected fault")),
        r => panic!("{r:?}"),
    }
    assert_eq!(kv.raw_get("k"), None);
}

#[tokio::test]
async fn outage_and_open_failures() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    kv.set_outage(true);
    assert!(b.get("a").await.is_err());
    assert!(b.set("a", b"1".to_vec()).await.is_err());
    assert!(b.cas("a").await.is_err());
    assert!(b.increment("a", 1).await.is_err());
    kv.set_outage(false);
    b.set("a", b"1".to_vec()).await.unwrap();

    kv.set_open_fails(true);
    assert!(matches!(kv.open("default").await, Err(KvError::Other(_))));
    kv.set_open_fails(false);
    kv.open("default").await.unwrap();
}

#[tokio::test]
async fn counters_count_calls_by_kind() {
    let kv = KvStore::new(KvMode::Sqlite);
    let b = kv.open("default").await.unwrap();
    b.set("a", b"1".to_vec()).await.unwrap();
    b.get("a").await.unwrap();
    b.get("missing").await.unwrap();
    b.get_many(&["a".into(), "zz".into()]).await.unwrap();
    kv.fail_nth(&[KvOp::Get], 1);
    let _ = b.get("a").await;
    assert_eq!(kv.calls(KvOp::Open), 1);
    assert_eq!(kv.calls(KvOp::Set), 1);
    assert_eq!(kv.calls(KvOp::Get), 3, "faulted calls count too");
    assert_eq!(kv.calls(KvOp::GetMany), 1);
    assert_eq!(kv.calls_of(&KvOp::READS), 4);
    assert_eq!(kv.values_read(), 2, "one get hit + one get-many hit");
    kv.reset_counts();
    assert_eq!(kv.calls(KvOp::Get), 0);
    assert_eq!(kv.values_read(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cas_writers_lose_nothing_on_sqlite() {
    // The retry loop a component would run: new, current, swap; on cas-failed
    // start over. With latency, swaps really race.
    let kv = KvStore::new(KvMode::Sqlite);
    kv.set_latency(std::time::Duration::from_millis(1));
    kv.raw_set("list", "");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            let b = kv.open("default").await.unwrap();
            loop {
                let mut cas = b.cas("list").await.unwrap();
                let cur = b.cas_current(&mut cas).await.unwrap().unwrap_or_default();
                let mut s = String::from_utf8(cur).unwrap();
                s.push_str(&format!("{i},"));
                match b.swap(cas, s.into_bytes()).await {
                    Ok(()) => break,
                    Err(SwapFailure::CasFailed(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let list = String::from_utf8(kv.raw_get("list").unwrap()).unwrap();
    let mut items: Vec<u32> = list
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    items.sort();
    assert_eq!(items, (0..20).collect::<Vec<_>>());
}
