//! The platform profiles: what they link, the store limits they set and the
//! two replicated regions of `akamai` (src/profile.rs).

use std::time::Duration;

use image_tags_host::{
    manifest, KvError, KvFailure, KvLimits, KvMode, KvOp, KvStore, Limit, Profile, Region, TestHost,
};

fn is_store_error(r: Result<(), KvFailure>, limit_text: &str) {
    match r {
        Err(KvFailure::Error(KvError::Other(m))) => {
            assert!(
                m.contains(limit_text),
                "{m:?} does not mention {limit_text:?}"
            )
        }
        other => panic!("expected other(..) naming {limit_text:?}, got {other:?}"),
    }
}

fn store(limits: KvLimits) -> KvStore {
    let kv = KvStore::new(KvMode::Sqlite);
    kv.set_limits(limits);
    kv
}

// ----- linking ------------------------------------------------------------------

#[tokio::test]
async fn the_current_component_does_not_instantiate_on_the_managed_platforms() {
    let wasm = manifest::workspace_root().join("target/wasm32-wasip2/release/image_tags.wasm");
    if !wasm.exists() {
        eprintln!("{} not built: skipping", wasm.display());
        return;
    }
    for profile in [Profile::FermyonCloud, Profile::Akamai] {
        let err = TestHost::builder()
            .manifest("spin.toml")
            .wasm(&wasm)
            .profile(profile)
            .echo_logs(false)
            .build()
            .await
            .err()
            .unwrap_or_else(|| panic!("{profile}: a component importing atomics instantiated"));
        let msg = format!("{err:#}");
        assert!(
            msg.contains("wasi:keyvalue/atomics@0.2.0-draft2"),
            "{profile}: {msg}"
        );
        assert!(msg.contains(&format!("{profile} profile")), "{msg}");
    }
    // The same component is served under the default profile.
    let host = TestHost::builder()
        .manifest("spin.toml")
        .wasm(&wasm)
        .profile(Profile::Spin)
        .echo_logs(false)
        .variable("auth_mode", "tokens")
        .variable("auth_tokens", "t:p:admin+member")
        .build()
        .await
        .unwrap();
    let r = host.get("/healthcheck").await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");

    // Per-request counters agree with the store's call counters.
    host.kv().reset_counts();
    let r = host
        .call(
            "POST",
            "/v2/images",
            &[("x-auth-token", "t")],
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.kv.region, Region::A);
    assert!(r.kv.writes > 0 && r.kv.reads > 0, "{:?}", r.kv);
    assert_eq!(r.kv.writes, host.kv().calls_of(&KvOp::WRITES));
    assert_eq!(r.kv.refused, 0);
}

#[test]
fn profiles_parse_and_say_what_they_link() {
    assert_eq!(
        "fermyon-cloud".parse::<Profile>(),
        Ok(Profile::FermyonCloud)
    );
    assert_eq!("AKAMAI".parse::<Profile>(), Ok(Profile::Akamai));
    assert_eq!("spin".parse::<Profile>(), Ok(Profile::Spin));
    assert!("aws".parse::<Profile>().is_err());
    assert!(!Profile::FermyonCloud.links_atomics() && !Profile::FermyonCloud.links_batch());
    assert!(!Profile::Akamai.links_atomics() && Profile::Akamai.links_batch());
    assert!(Profile::Spin.links_atomics() && Profile::Spin.links_batch());
}

// ----- Fermyon Cloud's limits ---------------------------------------------------

#[tokio::test]
async fn fermyon_cloud_holds_at_most_1024_keys() {
    let kv = store(KvLimits::fermyon_cloud());
    let b = kv.open("default").await.unwrap();
    for n in 0..1024 {
        b.set(&format!("k{n:04}"), vec![1]).await.unwrap();
    }
    is_store_error(b.set("one-more", vec![1]).await, "1024-key limit");
    assert_eq!(kv.keys().len(), 1024, "the refused write left nothing");
    // Overwrites and deletes pass; a freed slot takes a new key.
    b.set("k0000", vec![2]).await.unwrap();
    b.delete("k0001").await.unwrap();
    b.set("one-more", vec![1]).await.unwrap();
    // set-many is all or nothing against the cap.
    b.delete("k0002").await.unwrap();
    let two = vec![("x".to_string(), vec![1]), ("y".to_string(), vec![1])];
    is_store_error(b.set_many(two).await, "key limit");
    assert_eq!(kv.raw_get("x"), None);
    assert_eq!(kv.refused(Limit::KeyCount), 2);
    // list-keys: every key at once, Spin's semantics.
    let (keys, cursor) = b.list_keys(None).await.unwrap();
    assert_eq!((keys.len(), cursor), (1023, None));
}

#[tokio::test]
async fn fermyon_cloud_key_and_value_sizes() {
    let kv = store(KvLimits::fermyon_cloud());
    let b = kv.open("default").await.unwrap();
    b.set(&"k".repeat(255), vec![1]).await.unwrap();
    is_store_error(b.set(&"k".repeat(256), vec![1]).await, "256 bytes");
    b.set("big", vec![0; 1024 * 1024]).await.unwrap();
    is_store_error(b.set("big", vec![0; 1024 * 1024 + 1]).await, "over the");
    assert_eq!(kv.raw_get("big").map(|v| v.len()), Some(1024 * 1024));
    assert_eq!(kv.refused(Limit::KeySize), 1);
    assert_eq!(kv.refused(Limit::ValueSize), 1);
}

// ----- Akamai's limits ----------------------------------------------------------

#[tokio::test]
async fn akamai_write_rate_cap_is_50_a_second_across_the_app() {
    let kv = store(KvLimits::akamai());
    kv.set_replication(Some(Duration::ZERO));
    let a = kv.bucket_at("default", Region::A);
    let b = kv.bucket_at("default", Region::B);
    for n in 0..25 {
        a.set(&format!("a{n}"), vec![1]).await.unwrap();
        b.set(&format!("b{n}"), vec![1]).await.unwrap();
    }
    is_store_error(a.set("late", vec![1]).await, "more than 50 writes");
    is_store_error(b.delete("a0").await, "more than 50 writes");
    assert_eq!(kv.refused(Limit::WriteRate), 2);
    assert_eq!(kv.raw_get("late"), None);
    // The window moves on.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    a.set("late", vec![1]).await.unwrap();
    // set-many counts one write per key.
    let many: Vec<_> = (0..49).map(|n| (format!("m{n}"), vec![1])).collect();
    a.set_many(many).await.unwrap();
    is_store_error(
        a.set_many(vec![("m49".into(), vec![1])]).await,
        "writes in one second",
    );
    // Keys up to 8 KiB.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    a.set(&"k".repeat(8192), vec![1]).await.unwrap();
    is_store_error(a.set(&"k".repeat(8193), vec![1]).await, "8192-byte limit");
}

#[tokio::test]
async fn akamai_read_rate_cap_is_1000_a_second() {
    let kv = store(KvLimits::akamai());
    let b = kv.open("default").await.unwrap();
    for _ in 0..998 {
        b.get("k").await.unwrap();
    }
    b.exists("k").await.unwrap();
    b.list_keys(None).await.unwrap();
    match b.get("k").await {
        Err(KvFailure::Error(KvError::Other(m))) => assert!(m.contains("1000 reads"), "{m}"),
        other => panic!("the 1001st read passed: {other:?}"),
    }
    assert_eq!(kv.refused(Limit::ReadRate), 1);
    assert_eq!(
        kv.calls(KvOp::Get),
        999,
        "refused calls are counted as calls"
    );
}

// ----- Akamai's two regions -----------------------------------------------------

#[tokio::test]
async fn a_write_reaches_the_other_region_after_the_lag() {
    let lag = Duration::from_millis(300);
    let kv = store(KvLimits::none());
    kv.set_replication(Some(lag));
    let a = kv.open_at("default", Region::A, None).await.unwrap();
    let b = kv.open_at("default", Region::B, None).await.unwrap();
    a.set("k", b"from-a".to_vec()).await.unwrap();
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"from-a"[..]));
    assert_eq!(
        b.get("k").await.unwrap(),
        None,
        "visible in b before the lag"
    );
    assert!(!b.exists("k").await.unwrap());
    assert_eq!(b.list_keys(None).await.unwrap().0, Vec::<String>::new());
    tokio::time::sleep(lag + Duration::from_millis(50)).await;
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"from-a"[..]));
    assert_eq!(b.list_keys(None).await.unwrap().0, ["k"]);

    // Deletes replicate too.
    b.delete("k").await.unwrap();
    assert!(a.exists("k").await.unwrap());
    tokio::time::sleep(lag + Duration::from_millis(50)).await;
    assert!(!a.exists("k").await.unwrap());
}

#[tokio::test]
async fn the_last_writer_wins_in_both_regions() {
    let kv = store(KvLimits::none());
    kv.set_replication(Some(Duration::from_secs(3600)));
    let a = kv.bucket_at("default", Region::A);
    let b = kv.bucket_at("default", Region::B);
    a.set("k", b"first".to_vec()).await.unwrap();
    b.set("k", b"second".to_vec()).await.unwrap();
    a.set("gone", b"x".to_vec()).await.unwrap();
    b.delete("gone").await.unwrap();
    // Before delivery each region sees its own write.
    assert_eq!(
        kv.raw_get_at(Region::A, "default", "k").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        kv.raw_get_at(Region::B, "default", "k").as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(kv.in_flight(), 4);
    kv.replicate_now();
    for region in [Region::A, Region::B] {
        assert_eq!(
            kv.raw_get_at(region, "default", "k").as_deref(),
            Some(&b"second"[..]),
            "region {region}"
        );
        assert_eq!(
            kv.raw_get_at(region, "default", "gone"),
            None,
            "region {region}"
        );
    }
}

#[test]
fn routing_parses() {
    use image_tags_host::Routing;
    assert_eq!("alternate".parse::<Routing>(), Ok(Routing::Alternate));
    assert_eq!("b".parse::<Routing>(), Ok(Routing::Fixed(Region::B)));
    assert!("c".parse::<Routing>().is_err());
}

// ----- through HTTP, with a component that imports only wasi:keyvalue/store ---
// bench/floor: one `get` and one `set` of the request path per request; 204,
// or 503 on a store error.

async fn floor(profile: Profile, limits: Option<KvLimits>) -> Option<TestHost> {
    let wasm =
        manifest::workspace_root().join("target/wasm32-wasip2/release/image_tags_floor.wasm");
    if !wasm.exists() {
        eprintln!(
            "{} not built (cargo build --target wasm32-wasip2 --release -p image-tags-floor): skipping",
            wasm.display()
        );
        return None;
    }
    let mut b = TestHost::builder()
        .manifest("bench/floor/spin.toml")
        .profile(profile)
        .replication_lag(Duration::from_millis(300))
        .routing(image_tags_host::Routing::Alternate)
        .echo_logs(false);
    if let Some(l) = limits {
        b = b.kv_limits(l);
    }
    Some(
        b.build()
            .await
            .expect("the floor imports only what both platforms offer"),
    )
}

#[tokio::test]
async fn fermyon_cloud_serves_a_store_only_component_and_refuses_long_keys() {
    let Some(host) = floor(Profile::FermyonCloud, None).await else {
        return;
    };
    let r = host.call("PUT", "/short", &[], vec![]).await.unwrap();
    assert_eq!((r.status, r.kv.reads, r.kv.writes), (204, 1, 1), "{r:?}");
    let long = format!("/{}", "k".repeat(300));
    let r = host.call("PUT", &long, &[], vec![]).await.unwrap();
    assert_eq!((r.status, r.kv.writes, r.kv.refused), (503, 0, 1), "{r:?}");
    assert_eq!(host.kv().refused(Limit::KeySize), 1);
    assert_eq!(host.kv().keys(), ["/short"]);
}

#[tokio::test]
async fn akamai_routes_requests_to_regions_that_replicate_after_the_lag() {
    let Some(host) = floor(Profile::Akamai, None).await else {
        return;
    };
    let kv = host.kv().clone();
    // Aimed with the header.
    let r = host
        .call("PUT", "/k", &[("x-test-region", "b")], vec![])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.kv.region, r.kv.writes),
        (204, Region::B, 1),
        "{r:?}"
    );
    assert!(kv.raw_get_at(Region::B, "default", "/k").is_some());
    assert_eq!(
        kv.raw_get_at(Region::A, "default", "/k"),
        None,
        "before the lag"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        kv.raw_get_at(Region::A, "default", "/k").is_some(),
        "after the lag"
    );
    // Not aimed: a, b, a, ...
    let mut regions = Vec::new();
    for n in 0..3 {
        let r = host
            .call("PUT", &format!("/r{n}"), &[], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, 204, "{r:?}");
        regions.push(r.kv.region);
    }
    assert_eq!(regions, [Region::A, Region::B, Region::A]);
    let r = host
        .call("PUT", "/k", &[("x-test-region", "c")], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{r:?}");
}

#[tokio::test]
async fn akamai_write_rate_cap_fails_requests_as_store_errors() {
    let limits = KvLimits {
        writes_per_sec: Some(3),
        ..KvLimits::akamai()
    };
    let Some(host) = floor(Profile::Akamai, Some(limits)).await else {
        return;
    };
    let mut statuses = Vec::new();
    for n in 0..6 {
        let r = host
            .call("PUT", &format!("/w{n}"), &[], vec![])
            .await
            .unwrap();
        if r.status == 503 {
            assert_eq!((r.kv.writes, r.kv.refused), (0, 1), "{r:?}");
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[..3], [204, 204, 204]);
    let refused = statuses.iter().filter(|s| **s == 503).count() as u64;
    assert!(
        refused >= 1,
        "six writes within about a second all passed: {statuses:?}"
    );
    assert_eq!(host.kv().refused(Limit::WriteRate), refused);
}

// ----- outbound HTTP --------------------------------------------------------------

#[tokio::test]
async fn outbound_requests_are_counted_and_capped_per_hour() {
    let wasm = manifest::workspace_root().join("target/wasm32-wasip2/release/image_tags.wasm");
    if !wasm.exists() {
        eprintln!("{} not built: skipping", wasm.display());
        return;
    }
    // Keystone mode against a port nobody listens on: each new token is one
    // outbound request, answered 503 by the component when it fails.
    let host = TestHost::builder()
        .manifest("spin.toml")
        .wasm(&wasm)
        .profile(Profile::Spin)
        .outbound_per_hour(1)
        .echo_logs(false)
        .variable("auth_mode", "keystone")
        .variable("keystone_url", "http://127.0.0.1:9/v3")
        .variable("keystone_origin", "http://127.0.0.1:9")
        .build()
        .await
        .unwrap();
    let r = host
        .call("GET", "/v2/images", &[("x-auth-token", "one")], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!((host.outbound().sent(), host.outbound().refused()), (1, 0));
    let r = host
        .call("GET", "/v2/images", &[("x-auth-token", "two")], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!((host.outbound().sent(), host.outbound().refused()), (1, 1));
    assert!(host.logs().contains("500 outbound HTTP requests per hour"));
}
