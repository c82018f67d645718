//! `PATCH /v2/images/{id}` (JSON Patch, SPEC section 1) through the compiled component.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use serde_json::{json, Value};

async fn patch(c: &Client, token: &str, id: &str, ops: Value) -> image_tags_host::Response {
    c.patch(token, id, ops.to_string().as_bytes()).await
}

#[tokio::test]
async fn tags_and_properties_change_as_glance_changes_them() {
    let c = host_with(MODES[1], &[("image_tag_quota", "3")]).await;
    let id = c
        .create(ALICE, json!({"name": "p", "tags": ["a"], "hw": "x"}))
        .await;
    // openstacksdk / `openstack image set --tag`: add /tags with the whole list.
    let r = patch(
        &c,
        ALICE,
        &id,
        json!([{"op": "add", "path": "/tags", "value": ["a", "b", "b"]}]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json().unwrap()["tags"], json!(["a", "b"]));
    // glanceclient: replace /name and /tags, remove a property.
    let r = patch(
        &c,
        ALICE,
        &id,
        json!([{"op": "replace", "path": "/name", "value": "q"},
               {"op": "replace", "path": "/tags", "value": ["c"]},
               {"op": "remove", "path": "/hw"},
               {"op": "add", "path": "/os_distro", "value": "debian"},
               {"op": "replace", "path": "/min_ram", "value": 512}]),
    )
    .await;
    let v = r.json().unwrap();
    assert_eq!((v["name"].as_str(), &v["tags"]), (Some("q"), &json!(["c"])));
    assert!(v.get("hw").is_none());
    assert_eq!(v["os_distro"], "debian");
    assert_eq!(v["min_ram"], 512);
    assert_eq!(c.show(ALICE, &id).await.json().unwrap(), v);
    // The index follows PATCHed tags.
    assert_eq!(names(&c.list(ALICE, "?tag=c").await), vec!["q"]);
    assert!(names(&c.list(ALICE, "?tag=a").await).is_empty());
    let r = patch(&c, ALICE, &id, json!([{"op": "remove", "path": "/tags"}])).await;
    assert_eq!(r.json().unwrap()["tags"], json!([]));
}

#[tokio::test]
async fn bad_patches_get_their_status_and_change_nothing() {
    let c = host_with(MODES[0], &[("image_tag_quota", "2")]).await;
    let id = c
        .create(ALICE, json!({"name": "p", "tags": ["keep"]}))
        .await;
    let before = c.show(ALICE, &id).await.json().unwrap();
    for (ops, status, part) in [
        (
            json!([{"op": "add", "path": "/tags/-", "value": "x"}]),
            400,
            "JSON pointer",
        ),
        (
            json!([{"op": "replace", "path": "/tags/0", "value": "x"}]),
            400,
            "JSON pointer",
        ),
        (
            json!([{"op": "add", "path": "/tags", "value": ["a=b"]}]),
            400,
            "'='",
        ),
        (
            json!([{"op": "add", "path": "/tags", "value": "a"}]),
            400,
            "array",
        ),
        (
            json!([{"op": "move", "from": "/name", "path": "/x"}]),
            400,
            "add, replace and remove",
        ),
        (json!({"op": "add"}), 400, "JSON Patch"),
        (
            json!([{"op": "add", "path": "/tags", "value": ["a", "b", "c"]}]),
            413,
            "Maximum: 2",
        ),
        (
            json!([{"op": "replace", "path": "/status", "value": "active"}]),
            403,
            "read-only",
        ),
        (
            json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
            403,
            "publicize_image",
        ),
        (
            json!([{"op": "replace", "path": "/nope", "value": "x"}]),
            409,
            "does not exist",
        ),
        (
            json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "remove", "path": "/nope"}]),
            409,
            "does not exist",
        ),
    ] {
        assert_error(&patch(&c, ALICE, &id, ops.clone()).await, status, part);
    }
    let r = c
        .call_with(
            "PATCH",
            &format!("/v2/images/{id}"),
            &[
                ("x-auth-token", ALICE),
                ("content-type", "application/json"),
            ],
            b"[]",
        )
        .await;
    assert_error(&r, 415, "Content-Type");
    assert_error(&patch(&c, RITA, &id, json!([])).await, 403, "modify_image");
    assert_error(&patch(&c, BOB, &id, json!([])).await, 404, "not found");
    assert_eq!(c.show(ALICE, &id).await.json().unwrap(), before);
}
