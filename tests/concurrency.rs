//! Concurrent writers under both Spin store behaviours (SPEC section 6):
//! nothing acknowledged is lost, contention alone never fails a write.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_writers_on_one_image_keep_all_twenty_tags() {
    if strong_only("tests/edge.rs::fifty_writers_on_one_image_are_answered_and_counted") {
        return;
    }
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let id = c.create_named(ALICE, "hot").await;
        let statuses = concurrently(&c, 20, |c, n| {
            let id = id.clone();
            async move { c.put_tag(ALICE, &id, &format!("tag-{n}")).await.status }
        })
        .await;
        assert_eq!(statuses, [204; 20], "{mode:?}");
        let tags: BTreeSet<String> = c.tags(ALICE, &id).await.into_iter().collect();
        let want: BTreeSet<String> = (0..20).map(|n| format!("tag-{n}")).collect();
        assert_eq!(tags, want, "{mode:?}");
        // The index agrees with the records: every tag lists the image.
        for n in [0, 7, 19] {
            let list = c.list(ALICE, &format!("?tag=tag-{n}")).await;
            assert_eq!(
                list["images"].as_array().unwrap().len(),
                1,
                "{mode:?} tag-{n}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_writers_all_get_204() {
    if strong_only("tests/edge.rs::fifty_writers_on_one_image_are_answered_and_counted") {
        return;
    }
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let id = c.create_named(ALICE, "hotter").await;
        let statuses = concurrently(&c, 50, |c, n| {
            let id = id.clone();
            async move { c.put_tag(ALICE, &id, &format!("t{n}")).await.status }
        })
        .await;
        assert_eq!(statuses, [204; 50], "{mode:?}");
        assert_eq!(c.tags(ALICE, &id).await.len(), 50, "{mode:?}");
    }
}

/// The same new tag added to many images at once: the first write of the
/// tag's index is where CAS protects nothing on Spin, so the index must not
/// depend on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_new_tag_on_many_images_at_once_lists_them_all() {
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let mut ids = vec![];
        for n in 0..20 {
            ids.push(c.create_named(ALICE, &format!("i{n}")).await);
        }
        let statuses = concurrently(&c, ids.len(), |c, n| {
            let id = ids[n].clone();
            async move { c.put_tag(ALICE, &id, "fresh").await.status }
        })
        .await;
        assert_eq!(statuses, [204; 20], "{mode:?}");
        let list = c.list(ALICE, "?tag=fresh&limit=100").await;
        assert_eq!(list["images"].as_array().unwrap().len(), 20, "{mode:?}");
    }
}

/// Adds and removes of the same tag racing on one image: whatever the
/// record ends with, the listing by tag agrees with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_add_and_remove_leave_index_and_record_agreeing() {
    if strong_only("core::edge::tests::list_keys_completes_and_corrects_a_lost_catalog") {
        return;
    }
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let id = c.create_named(ALICE, "flip").await;
        for round in 0..5 {
            let statuses = concurrently(&c, 10, |c, n| {
                let id = id.clone();
                async move {
                    if n % 2 == 0 {
                        c.put_tag(ALICE, &id, "flip").await.status
                    } else {
                        c.delete_tag(ALICE, &id, "flip").await.status
                    }
                }
            })
            .await;
            for s in statuses {
                assert!(s == 204 || s == 404, "{mode:?} round {round}: {s}");
            }
            let has = c.tags(ALICE, &id).await.contains(&"flip".to_string());
            let listed = c.list(ALICE, "?tag=flip").await["images"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(listed, usize::from(has), "{mode:?} round {round}");
        }
    }
}

/// Issue 5's stress run: 50 writers, several rounds of adding and removing
/// their own tags on shared images and creating and deleting their own
/// images. The end state must equal a serial replay of the acknowledged
/// operations (writers touch disjoint tags, so the replay is per writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_writers_for_several_rounds_match_a_serial_replay() {
    if strong_only("tests/edge.rs::fifty_writers_on_fifty_images_lose_nothing") {
        return;
    }
    const WRITERS: usize = 50;
    const ROUNDS: usize = 4;
    const SHARED: usize = 5;
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let mut shared = vec![];
        for s in 0..SHARED {
            shared.push(c.create_named(ALICE, &format!("shared{s}")).await);
        }
        let replays = concurrently(&c, WRITERS, |c, w| {
            let target = shared[w % SHARED].clone();
            async move {
                // The writer's own serial replay: what its acknowledged calls leave.
                let mut tags: BTreeSet<String> = BTreeSet::new();
                let mut own: Option<String> = None;
                for r in 0..ROUNDS {
                    let tag = format!("w{w}r{r}");
                    let s = c.put_tag(ALICE, &target, &tag).await.status;
                    assert_eq!(s, 204, "{mode:?} put {tag}");
                    tags.insert(tag);
                    if r > 0 {
                        let old = format!("w{w}r{}", r - 1);
                        assert_eq!(c.delete_tag(ALICE, &target, &old).await.status, 204);
                        tags.remove(&old);
                    }
                    let body =
                        serde_json::json!({"name": format!("own{w}"), "tags": [format!("own{w}")]});
                    let r = c
                        .call("POST", "/v2/images", ALICE, body.to_string().as_bytes())
                        .await;
                    assert_eq!(r.status, 201, "{mode:?} create");
                    let new = r.json().unwrap()["id"].as_str().unwrap().to_string();
                    if let Some(prev) = own.replace(new) {
                        let d = c
                            .call("DELETE", &format!("/v2/images/{prev}"), ALICE, b"")
                            .await;
                        assert_eq!(d.status, 204, "{mode:?} delete image");
                    }
                }
                (tags, own)
            }
        })
        .await;
        let mut want: Vec<BTreeSet<String>> = vec![BTreeSet::new(); SHARED];
        let mut owns = vec![];
        for (w, (tags, own)) in replays.into_iter().enumerate() {
            want[w % SHARED].extend(tags);
            owns.push((w, own.unwrap()));
        }
        for (s, id) in shared.iter().enumerate() {
            let got: BTreeSet<String> = c.tags(ALICE, id).await.into_iter().collect();
            assert_eq!(got, want[s], "{mode:?} shared{s}");
        }
        for (w, id) in owns {
            let listed = c.list(ALICE, &format!("?tag=own{w}")).await;
            let ids: Vec<&str> = listed["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap())
                .collect();
            assert_eq!(
                ids,
                vec![id.as_str()],
                "{mode:?} writer {w}: only its last image is live"
            );
        }
        let all = c.list(ALICE, "?limit=1000").await;
        assert_eq!(
            all["images"].as_array().unwrap().len(),
            SHARED + WRITERS,
            "{mode:?}"
        );
    }
}
