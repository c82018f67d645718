//! Huawei Cloud IMS's key/value tag API (SPEC section 9) under load and
//! faults, through the compiled component: concurrent writers under both
//! store behaviours, a tags filter that reads only the matching images, and
//! a store outage in IMS's error shape. The routes themselves: `ims.rs`.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::ims::*;
use common::*;
use image_tags_host::KvOp;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn twenty_writers_setting_different_keys_keep_all_twenty() {
    if strong_only("tests/edge.rs::fifty_writers_on_one_image_are_answered_and_counted") {
        return;
    }
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let id = c.create_named(ALICE, "hot").await;
        let statuses = concurrently(&c, 20, |c, n| {
            let id = id.clone();
            async move {
                let (key, value) = (format!("key-{n}"), format!("v{n}"));
                // Every IMS write route takes a share of the writers.
                let (method, path, body) = match n % 4 {
                    0 => (
                        "POST",
                        tags_path(&id),
                        json!({"tag": {"key": key, "value": value}}),
                    ),
                    1 => (
                        "POST",
                        format!("{}/action", tags_path(&id)),
                        json!({"action": "create", "tags": [{"key": key, "value": value}]}),
                    ),
                    2 => (
                        "PUT",
                        LEGACY_TAGS.into(),
                        json!({"image_id": id, "image_tag": {"key": key, "value": value}}),
                    ),
                    _ => (
                        "PUT",
                        LEGACY_TAGS.into(),
                        json!({"image_id": id, "tag": format!("{key}.{value}")}),
                    ),
                };
                ims(&c, method, &path, ALICE, body).await.status
            }
        })
        .await;
        assert_eq!(statuses, [204; 20], "{mode:?}");
        let tags: BTreeSet<String> = c.tags(ALICE, &id).await.into_iter().collect();
        let want: BTreeSet<String> = (0..20).map(|n| format!("key-{n}=v{n}")).collect();
        assert_eq!(tags, want, "{mode:?}");
        // The key index names the image for every key.
        for n in [0, 7, 19] {
            let body =
                json!({"action": "count", "tags": [{"key": format!("key-{n}"), "values": []}]});
            assert_eq!(search(&c, body).await["total_count"], 1, "{mode:?} key-{n}");
        }
    }
}

/// SPEC section 6, for IMS: a tags filter (any value of a key included)
/// reads the index and the images it names, not the store.
#[tokio::test]
async fn a_tags_filter_reads_only_the_matching_images() {
    if strong_only("tests/edge.rs::a_page_reads_at_most_two_limit_plus_ten_values_at_1000_images") {
        return;
    }
    let c = host().await;
    for n in 0..100 {
        c.create(
            ALICE,
            json!({"name": format!("other{n}"), "tags": ["common"]}),
        )
        .await;
    }
    let mut rare = Vec::new();
    for n in 0..5 {
        let id = c.create(ALICE, json!({"name": format!("match{n}")})).await;
        let r = set_tag(&c, &id, "rare", &format!("v{n}")).await;
        assert_eq!(r.status, 204, "{}", r.text());
        rare.push(id);
    }
    let kv = c.host.kv();
    for body in [
        json!({"action": "filter", "limit": "100", "tags": [{"key": "rare", "values": []}]}),
        json!({"action": "filter", "limit": "100", "tags_any": [{"key": "rare", "values": ["v0", "v1", "v2", "v3", "v4"]}]}),
        json!({"action": "count", "tags": [{"key": "rare", "values": []}, {"key": "common", "values": []}], "not_tags_any": [{"key": "x", "values": []}]}),
    ] {
        kv.reset_counts();
        let found = search(&c, body.clone()).await;
        assert_eq!(kv.calls(KvOp::ListKeys), 0, "no key scan: {body}");
        // Per match at most: its log's counter (read with `get`) and slot,
        // and its record, with one to spare; 100 other images stay unread.
        assert!(
            kv.values_read() <= 20,
            "read {} values: {body}",
            kv.values_read()
        );
        if body["action"] == "filter" {
            assert_eq!(found["total_count"], 5, "{body}");
            let ids: BTreeSet<&str> = found["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["resource_id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, rare.iter().map(String::as_str).collect());
        } else {
            assert_eq!(found["total_count"], 0, "{body}");
        }
    }
}

#[tokio::test]
async fn store_faults_are_503_in_ims_shape() {
    let c = host().await;
    let id = c.create_named(ALICE, "i").await;
    c.host.kv().set_outage(true);
    let r = set_tag(&c, &id, "k", "").await;
    assert_ims_error(&r, 503, "IMG.0061", "temporarily unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    c.host.kv().set_outage(false);
    assert!(c.tags(ALICE, &id).await.is_empty());
}
