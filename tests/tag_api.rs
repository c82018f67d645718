//! The seed API and its order of checks (SPEC section 2), driven through the
//! compiled component in the test host.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn put_tag_is_204_idempotent_and_bumps_updated_at() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let before = c.show(ALICE, &id).await.json().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = c.put_tag(ALICE, &id, "fedora").await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-type"), None);
    assert!(r
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));
    assert_eq!(c.put_tag(ALICE, &id, "fedora").await.status, 204);
    let after = c.show(ALICE, &id).await.json().unwrap();
    assert_eq!(after["tags"], json!(["fedora"]));
    assert_ne!(after["updated_at"], before["updated_at"]);
    assert_eq!(after["created_at"], before["created_at"]);
}

#[tokio::test]
async fn tags_keep_order_case_spaces_unicode_and_slashes() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    for raw in ["b", "A%20b", "%C3%BC", "x%2Fy", "a"] {
        assert_eq!(c.put_tag(ALICE, &id, raw).await.status, 204, "{raw}");
    }
    assert_eq!(c.tags(ALICE, &id).await, vec!["b", "A b", "ü", "x/y", "a"]);
    assert_eq!(c.delete_tag(ALICE, &id, "x%2Fy").await.status, 204);
    assert_eq!(c.tags(ALICE, &id).await, vec!["b", "A b", "ü", "a"]);
}

#[tokio::test]
async fn bad_tags_are_400_naming_the_rule_and_change_nothing() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let long = "x".repeat(256);
    let ok_255 = "%C3%BC".repeat(255);
    for (raw, part) in [
        ("a%3Db", "'='"),
        ("a=b", "'='"),
        ("%zz", "percent-encoding"),
        ("%", "percent-encoding"),
        ("%FF", "UTF-8"),
        ("%C3", "UTF-8"),
        ("", "empty"),
        (long.as_str(), "255"),
    ] {
        let r = c.put_tag(ALICE, &id, raw).await;
        assert_error(&r, 400, part);
    }
    assert_eq!(c.put_tag(ALICE, &id, &ok_255).await.status, 204);
    assert_eq!(c.tags(ALICE, &id).await.len(), 1);
    // DELETE checks only decoding and emptiness; the rest is a 404 later.
    assert_error(&c.delete_tag(ALICE, &id, "%FF").await, 400, "UTF-8");
    assert_error(&c.delete_tag(ALICE, &id, "").await, 400, "empty");
    assert_error(
        &c.delete_tag(ALICE, &id, "a=b").await,
        404,
        "could not be found",
    );
    assert_error(
        &c.delete_tag(ALICE, &id, &long).await,
        404,
        "could not be found",
    );
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let c = host_with(common::MODES[0], &[("image_tag_quota", "1")]).await;
    let id = c.create_named(ALICE, "img").await;
    let missing = "00000000-0000-4000-8000-000000000000";
    // 1. identity before everything, even a bad route or method.
    assert_error(&c.put_tag("", &id, "t").await, 401, "authentication");
    assert_error(&c.put_tag("nobody", &id, "t").await, 401, "authentication");
    assert_error(&c.call("GET", "/v2/nothing", "", b"").await, 401, "");
    // 2. route and method.
    assert_error(&c.call("GET", "/v2/nothing", ALICE, b"").await, 404, "");
    let r = c
        .call("GET", &format!("/v2/images/{id}/tags/t"), ALICE, b"")
        .await;
    assert_error(&r, 405, "");
    assert_eq!(r.header("allow"), Some("PUT, DELETE"));
    let r = c
        .call("HEAD", &format!("/v2/images/{id}/tags/t"), ALICE, b"")
        .await;
    assert_eq!((r.status, r.body.len()), (405, 0));
    assert_eq!(r.header("allow"), Some("PUT, DELETE"));
    // 3. a body, judged by its bytes, before the tag.
    let r = c
        .call("PUT", &format!("/v2/images/{id}/tags/a=b"), ALICE, b"x")
        .await;
    assert_error(&r, 400, "A body is not expected with this request.");
    let r = c
        .call(
            "DELETE",
            &format!("/v2/images/{missing}/tags/t"),
            ALICE,
            b"{}",
        )
        .await;
    assert_error(&r, 400, "A body is not expected");
    // 4. the tag before the image.
    assert_error(&c.put_tag(ALICE, missing, "a=b").await, 400, "'='");
    // 5. the image, then 6. permission.
    assert_error(
        &c.put_tag(ALICE, missing, "t").await,
        404,
        &format!("Image {missing} not found."),
    );
    assert_error(
        &c.put_tag(ALICE, "not-a-uuid", "t").await,
        404,
        "Image not-a-uuid not found.",
    );
    assert_error(&c.put_tag(BOB, &id, "t").await, 404, "not found");
    assert_error(&c.put_tag(RITA, &id, "t").await, 403, "modify_image");
    // 7. quota, where a re-add is still fine.
    assert_eq!(c.put_tag(ALICE, &id, "one").await.status, 204);
    let r = c.put_tag(ALICE, &id, "two").await;
    assert_error(&r, 413, &format!("Image tag limit exceeded for image {id}"));
    assert!(r.json().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Attempted: 2, Maximum: 1"));
    assert_eq!(c.put_tag(ALICE, &id, "one").await.status, 204);
    // 8. deleting a tag the image does not carry.
    assert_error(
        &c.delete_tag(ALICE, &id, "two").await,
        404,
        "The resource could not be found.",
    );
    assert_eq!(c.tags(ALICE, &id).await, vec!["one"]);
}

#[tokio::test]
async fn unlimited_quota_and_deleted_images() {
    let c = host_with(common::MODES[0], &[("image_tag_quota", "-1")]).await;
    let id = c.create_named(ALICE, "img").await;
    for n in 0..130 {
        assert_eq!(c.put_tag(ALICE, &id, &format!("t{n}")).await.status, 204);
    }
    assert_eq!(c.tags(ALICE, &id).await.len(), 130);
    assert_eq!(
        c.call("DELETE", &format!("/v2/images/{id}"), ALICE, b"")
            .await
            .status,
        204
    );
    assert_error(&c.put_tag(ALICE, &id, "t").await, 404, "not found");
    assert_error(&c.show(ALICE, &id).await, 404, "not found");
}

#[tokio::test]
async fn request_ids_are_reused_or_minted_on_every_response() {
    let c = host().await;
    let r = c
        .call_with(
            "GET",
            "/v2/images",
            &[("x-openstack-request-id", "abc-123")],
            b"",
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-openstack-request-id"), Some("req-abc-123"));
    // The Huawei Cloud SDKs read the same id from X-Request-Id.
    assert_eq!(r.header("x-request-id"), Some("req-abc-123"));
    assert_eq!(r.json().unwrap()["error"]["request_id"], "req-abc-123");
    let r = c
        .call_with(
            "GET",
            "/healthcheck",
            &[("x-openstack-request-id", "req-x")],
            b"",
        )
        .await;
    assert_eq!(r.header("x-openstack-request-id"), Some("req-x"));
    assert_eq!(r.header("x-request-id"), Some("req-x"));
    let long = "y".repeat(65);
    let r = c
        .call_with("GET", "/nowhere", &[("x-openstack-request-id", &long)], b"")
        .await;
    let rid = r.header("x-openstack-request-id").unwrap();
    assert!(rid.starts_with("req-") && !rid.contains(&long), "{rid}");
    assert_eq!(r.header("x-request-id"), Some(rid));
}
