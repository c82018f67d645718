//! Huawei Cloud IMS's key/value tag API (SPEC section 9) through the
//! compiled component, in `tokens` mode: every route, both views of the one
//! tag list, the rules and the limit, IMS's error shape. Concurrent writers,
//! the tags filter's reads and store faults: `ims_load.rs`.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::ims::*;
use common::*;
use image_tags_host::KvMode;
use serde_json::json;

#[tokio::test]
async fn every_route_works_and_both_views_agree() {
    let c = host().await;
    let id = c.create_named(ALICE, "web").await;
    // A native tag is a key with the empty value.
    assert_eq!(c.put_tag(ALICE, &id, "legacy").await.status, 204);
    let r = set_tag(&c, &id, "env", "prod").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(r.header("x-request-id"), r.header("x-openstack-request-id"));
    assert_eq!(
        kv_tags(&c, &id).await,
        json!([{"key": "legacy", "value": ""}, {"key": "env", "value": "prod"}])
    );
    // A key/value tag is `k=v` in the native view.
    assert_eq!(c.tags(ALICE, &id).await, vec!["legacy", "env=prod"]);
    assert_eq!(
        c.list(ALICE, "?tag=env%3Dprod").await["images"][0]["id"],
        id
    );

    let action = format!("{}/action", tags_path(&id));
    let body = json!({"action": "create", "tags": [{"key": "tier", "value": "web"}, {"key": "legacy", "value": "v1"}, {"key": "empty", "value": ""}]});
    assert_eq!(ims(&c, "POST", &action, ALICE, body).await.status, 204);
    assert_eq!(
        c.tags(ALICE, &id).await,
        vec!["legacy=v1", "env=prod", "tier=web", "empty"]
    );
    let body = json!({"action": "delete", "tags": [{"key": "tier", "value": "web"}, {"key": "absent", "value": ""}]});
    assert_eq!(ims(&c, "POST", &action, ALICE, body).await.status, 204);
    let empty = format!("{}/empty", tags_path(&id));
    assert_eq!(c.call("DELETE", &empty, ALICE, b"").await.status, 204);
    let r = c.call("DELETE", &empty, ALICE, b"").await;
    assert_ims_error(&r, 404, "IMG.0121", "empty");
    assert_eq!(c.tags(ALICE, &id).await, vec!["legacy=v1", "env=prod"]);

    // The legacy routes: `key.value`, `image_tag`, and the batch delete.
    let r = legacy_put(&c, ALICE, json!({"image_id": id, "tag": "os.linux.6"})).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let body = json!({"image_id": id, "image_tag": {"key": "owner", "value": "team@x"}});
    assert_eq!(legacy_put(&c, ALICE, body).await.status, 204);
    assert_eq!(
        c.tags(ALICE, &id).await,
        vec!["legacy=v1", "env=prod", "os=linux.6", "owner=team@x"]
    );
    let other = c
        .create(ALICE, json!({"name": "db", "tags": ["legacy"]}))
        .await;
    let r = c.call("GET", LEGACY_TAGS, ALICE, b"").await;
    assert_eq!(
        r.json().unwrap(),
        json!({"tags": ["env=prod", "legacy", "legacy=v1", "os=linux.6", "owner=team@x"]})
    );
    let r = c
        .call("GET", "/v1/cloudimages/tags?name=db", ALICE, b"")
        .await;
    assert_eq!(r.json().unwrap(), json!({"tags": ["legacy"]}));
    let r = c
        .call("GET", "/v1/cloudimages/tags?limit=2&page=2", ALICE, b"")
        .await;
    assert_eq!(
        r.json().unwrap(),
        json!({"tags": ["legacy=v1", "os=linux.6"]})
    );
    let r = c
        .call("GET", &format!("/v2/{PA}/images/tags"), ALICE, b"")
        .await;
    assert_eq!(
        r.json().unwrap(),
        json!({"tags": [
            {"key": "env", "values": ["prod"]},
            {"key": "legacy", "values": ["", "v1"]},
            {"key": "os", "values": ["linux.6"]},
            {"key": "owner", "values": ["team@x"]},
        ]})
    );
    let path = format!("/v1/{PA}/cloudimages/{id}/tags/delete");
    let body = json!({"tags": [{"key": "os", "value": "whatever"}, {"key": "gone", "value": ""}]});
    assert_eq!(ims(&c, "DELETE", &path, ALICE, body).await.status, 204);
    assert_eq!(
        c.tags(ALICE, &id).await,
        vec!["legacy=v1", "env=prod", "owner=team@x"]
    );

    let found = search(
        &c,
        json!({"action": "filter", "tags": [{"key": "legacy", "values": []}]}),
    )
    .await;
    assert_eq!(found["total_count"], 2);
    let found = search(
        &c,
        json!({"action": "filter", "tags": [{"key": "legacy", "values": [""]}]}),
    )
    .await;
    assert_eq!(found["total_count"], 1);
    let r = &found["resources"][0];
    assert_eq!(r["resource_id"], other);
    assert_eq!(r["resource_name"], "db");
    assert_eq!(r["resource_detail"], json!({"status": "queued"}));
    assert_eq!(r["tags"], json!([{"key": "legacy", "value": ""}]));
    let count = search(
        &c,
        json!({"action": "count", "tags": [{"key": "legacy", "values": [""]}]}),
    )
    .await;
    assert_eq!(count, json!({"total_count": 1}));
}

#[tokio::test]
async fn setting_a_key_replaces_its_entry_in_place_and_bumps_updated_at() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "i", "tags": ["a", "b", "c"]}))
        .await;
    let before = c.show(ALICE, &id).await.json().unwrap()["updated_at"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(set_tag(&c, &id, "b", "2").await.status, 204);
    let after = c.show(ALICE, &id).await.json().unwrap();
    assert_eq!(after["tags"], json!(["a", "b=2", "c"]));
    assert_ne!(after["updated_at"], before);
    assert_eq!(set_tag(&c, &id, "b", "").await.status, 204);
    assert_eq!(c.tags(ALICE, &id).await, vec!["a", "b", "c"]);
    // openstacksdk's `image set --tag` sends the whole list back, `k=v` included.
    assert_eq!(set_tag(&c, &id, "a", "1").await.status, 204);
    let patch = json!([{"op": "add", "path": "/tags", "value": ["a=1", "b", "c", "x"]}]);
    let r = c.patch(ALICE, &id, patch.to_string().as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(c.tags(ALICE, &id).await, vec!["a=1", "b", "c", "x"]);
}

#[tokio::test]
async fn bad_requests_have_ims_shape_and_write_nothing() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "i", "tags": ["keep"]}))
        .await;
    let path = tags_path(&id);
    let action = format!("{path}/action");
    let long_key = "k".repeat(129);
    let cases = [
        (
            "POST",
            &path,
            json!({"tag": {"key": "a=b", "value": "v"}}),
            "IMG.0115",
            "'='",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": "k", "value": "a=b"}}),
            "IMG.0115",
            "'='",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": "a/b", "value": ""}}),
            "IMG.0115",
            "'/'",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": " k", "value": ""}}),
            "IMG.0115",
            "space",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": long_key, "value": ""}}),
            "IMG.0115",
            "1 to 128",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": "", "value": ""}}),
            "IMG.0115",
            "1 to 128",
        ),
        (
            "POST",
            &path,
            json!({"tag": {"key": "k", "value": "v".repeat(256)}}),
            "IMG.0115",
            "0 to 255",
        ),
        ("POST", &path, json!({"tag": "k=v"}), "IMG.0001", "'tag'"),
        ("POST", &path, json!({"key": "k"}), "IMG.0001", "'tag'"),
        ("POST", &path, json!([]), "IMG.0001", "JSON object"),
        (
            "POST",
            &action,
            json!({"action": "Create", "tags": [{"key": "k", "value": ""}]}),
            "IMG.0001",
            "case-sensitive",
        ),
        (
            "POST",
            &action,
            json!({"action": "create", "tags": []}),
            "IMG.0001",
            "non-empty",
        ),
        (
            "POST",
            &action,
            json!({"action": "create", "tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}),
            "IMG.0001",
            "twice",
        ),
        (
            "POST",
            &action,
            json!({"action": "create", "tags": [{"key": "ok", "value": ""}, {"key": "b@d*", "value": ""}]}),
            "IMG.0115",
            "'*'",
        ),
        (
            "POST",
            &action,
            json!({"action": "delete", "tags": [{"key": long_key, "value": ""}]}),
            "IMG.0115",
            "1 to 128",
        ),
    ];
    for (method, path, body, code, part) in cases {
        let r = ims(&c, method, path, ALICE, body.clone()).await;
        assert_ims_error(&r, 400, code, part);
    }
    let r = c.call("POST", &path, ALICE, b"").await;
    assert_ims_error(&r, 400, "IMG.0007", "empty");
    let r = c.call("POST", &path, ALICE, b"{not json").await;
    assert_ims_error(&r, 400, "IMG.0001", "not valid JSON");
    let r = legacy_put(
        &c,
        ALICE,
        json!({"image_id": id, "tag": "a.b", "image_tag": {"key": "a", "value": "b"}}),
    )
    .await;
    assert_ims_error(&r, 400, "IMG.0001", "exactly one");
    let r = legacy_put(&c, ALICE, json!({"image_id": id, "tag": "a=b.c"})).await;
    assert_ims_error(&r, 400, "IMG.0115", "'='");
    // Deletes check only lengths: a native tag the rules refuse can go.
    let r = c.call("DELETE", &format!("{path}/%3Dx"), ALICE, b"").await;
    assert_ims_error(&r, 404, "IMG.0121", "=x");
    let r = c.call("DELETE", &format!("{path}/%FF"), ALICE, b"").await;
    assert_ims_error(&r, 400, "IMG.0001", "percent-encoding");
    assert_eq!(c.tags(ALICE, &id).await, vec!["keep"]);
}

#[tokio::test]
async fn projects_and_roles_are_enforced_as_on_the_native_routes() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "i", "tags": ["keep"]}))
        .await;
    let set = json!({"tag": {"key": "k", "value": "v"}});
    // The path names another project than the caller's.
    let r = ims(
        &c,
        "POST",
        &format!("/v2/proj-b/images/{id}/tags"),
        ALICE,
        set.clone(),
    )
    .await;
    assert_ims_error(&r, 403, "IMG.0067", "proj-b");
    let r = c.call("GET", "/v2/proj-b/images/tags", ALICE, b"").await;
    assert_ims_error(&r, 403, "IMG.0067", "proj-b");
    // Bob's own project in the path, Alice's private image: not seen.
    let r = ims(
        &c,
        "POST",
        &format!("/v2/proj-b/images/{id}/tags"),
        BOB,
        set.clone(),
    )
    .await;
    assert_ims_error(&r, 404, "IMG.0144", &id);
    let r = c
        .call("GET", &format!("/v2/proj-b/images/{id}/tags"), BOB, b"")
        .await;
    assert_ims_error(&r, 404, "IMG.0144", &id);
    let r = legacy_put(&c, BOB, json!({"image_id": id, "tag": "a.b"})).await;
    assert_ims_error(&r, 404, "IMG.0144", &id);
    let r = c.call("GET", LEGACY_TAGS, BOB, b"").await;
    assert_eq!(r.json().unwrap(), json!({"tags": []}));
    // A reader sees, but may not change.
    let r = ims(&c, "POST", &tags_path(&id), RITA, set.clone()).await;
    assert_ims_error(&r, 403, "IMG.0161", "modify_image");
    let r = c.call("GET", &tags_path(&id), RITA, b"").await;
    assert_eq!(r.status, 200);
    let r = ims(&c, "POST", &tags_path("not-an-id"), ALICE, set.clone()).await;
    assert_ims_error(&r, 404, "IMG.0144", "not-an-id");
    // Identity first, then the route: both in IMS's shape on IMS paths.
    let r = ims(&c, "POST", &tags_path(&id), "", set.clone()).await;
    assert_ims_error(&r, 401, "APIGW.0301", "authentication");
    let r = ims(&c, "PUT", &tags_path(&id), ALICE, set).await;
    assert_ims_error(&r, 405, "IMG.0001", "method");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    // Elsewhere errors keep the OpenStack shape.
    assert_error(&c.show(ALICE, "nope").await, 404, "nope");
    assert_eq!(c.tags(ALICE, &id).await, vec!["keep"]);
}

#[tokio::test]
async fn the_limit_refuses_new_keys_only() {
    let c = host_with(KvMode::Sqlite, &[("ims_tag_limit", "3")]).await;
    let id = c
        .create(ALICE, json!({"name": "i", "tags": ["a", "b"]}))
        .await;
    let action = format!("{}/action", tags_path(&id));
    let two =
        json!({"action": "create", "tags": [{"key": "c", "value": ""}, {"key": "d", "value": ""}]});
    let r = ims(&c, "POST", &action, ALICE, two).await;
    assert_ims_error(&r, 400, "IMG.0116", "at most 3");
    assert_eq!(c.tags(ALICE, &id).await, vec!["a", "b"]);
    assert_eq!(set_tag(&c, &id, "c", "").await.status, 204);
    let r = set_tag(&c, &id, "d", "").await;
    assert_ims_error(&r, 400, "IMG.0116", "at most 3");
    // Updating a key at the limit is fine.
    assert_eq!(set_tag(&c, &id, "a", "1").await.status, 204);
    assert_eq!(c.tags(ALICE, &id).await, vec!["a=1", "b", "c"]);
    // The native routes keep their own quota.
    assert_eq!(c.put_tag(ALICE, &id, "d").await.status, 204);
}
