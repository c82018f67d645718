//! Image records, listing, discovery and schemas through the compiled component.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn create_show_delete() {
    let c = host().await;
    let r = c
        .call_with(
            "POST",
            "/v2/images",
            &[("x-auth-token", ALICE), ("host", "images.example:8080")],
            json!({"name": "cirros", "tags": ["a", "b", "a"], "disk_format": "qcow2",
                   "container_format": "bare", "min_ram": 64, "os_distro": "cirros"})
            .to_string()
            .as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let img = r.json().unwrap();
    let id = img["id"].as_str().unwrap();
    assert_eq!(
        r.header("location").unwrap(),
        format!("http://images.example:8080/v2/images/{id}")
    );
    assert_eq!(img["tags"], json!(["a", "b"]));
    assert_eq!(img["owner"], "proj-a");
    assert_eq!(img["status"], "queued");
    assert_eq!(img["visibility"], "shared");
    assert_eq!(img["protected"], false);
    assert_eq!(img["min_ram"], 64);
    assert_eq!(img["min_disk"], 0);
    assert_eq!(img["os_distro"], "cirros");
    assert_eq!(img["self"], format!("/v2/images/{id}"));
    assert_eq!(img["file"], format!("/v2/images/{id}/file"));
    assert_eq!(img["schema"], "/v2/schemas/image");
    for null in [
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
    ] {
        assert!(img[null].is_null(), "{null}");
    }
    let created = img["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    let shown = c.show(ALICE, id).await.json().unwrap();
    assert_eq!(shown, img);
    assert_eq!(
        c.call("DELETE", &format!("/v2/images/{id}"), ALICE, b"")
            .await
            .status,
        204
    );
    assert_error(&c.show(ALICE, id).await, 404, "not found");
    assert_error(
        &c.call("DELETE", &format!("/v2/images/{id}"), ALICE, b"")
            .await,
        404,
        "not found",
    );
}

#[tokio::test]
async fn create_validates_like_glance() {
    let c = host().await;
    let post = |token: &'static str, body: &'static str| {
        let c = c.clone();
        async move { c.call("POST", "/v2/images", token, body.as_bytes()).await }
    };
    assert_error(&post(ALICE, "{not json").await, 400, "not valid JSON");
    assert_error(&post(ALICE, "[1,2]").await, 400, "JSON object");
    assert_error(&post(ALICE, r#"{"tags": "x"}"#).await, 400, "tags");
    assert_error(&post(ALICE, r#"{"tags": ["a=b"]}"#).await, 400, "'='");
    assert_error(&post(ALICE, r#"{"id": "nope"}"#).await, 400, "UUID");
    assert_error(
        &post(ALICE, r#"{"visibility": "public"}"#).await,
        403,
        "publicize_image",
    );
    assert_error(
        &post(ALICE, r#"{"owner": "proj-b"}"#).await,
        403,
        "owned by another project",
    );
    assert_error(
        &post(ALICE, r#"{"status": "active"}"#).await,
        403,
        "read-only",
    );
    assert_error(&post(RITA, r#"{"name": "x"}"#).await, 403, "add_image");
    let fixed = r#"{"id": "11111111-2222-4333-8444-555555555555", "name": "fixed"}"#;
    assert_eq!(post(ALICE, fixed).await.status, 201);
    assert_error(&post(ALICE, fixed).await, 409, "already exists");
    let admin = post(ADMIN, r#"{"owner": "proj-b", "visibility": "public"}"#).await;
    assert_eq!(admin.status, 201);
    assert_eq!(admin.json().unwrap()["owner"], "proj-b");
    let q = host_with(MODES[0], &[("image_tag_quota", "2")]).await;
    let r = q
        .call("POST", "/v2/images", ALICE, br#"{"tags": ["a","b","c"]}"#)
        .await;
    assert_error(&r, 413, "Attempted: 3, Maximum: 2");
}

#[tokio::test]
async fn protected_images_cannot_be_deleted() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "p", "protected": true}))
        .await;
    let r = c
        .call("DELETE", &format!("/v2/images/{id}"), ALICE, b"")
        .await;
    assert_error(&r, 403, "protected");
    assert_eq!(c.show(ALICE, &id).await.status, 200);
}

/// The visibility and role matrix of SPEC section 4.
#[tokio::test]
async fn who_sees_and_changes_what() {
    let c = host().await;
    for vis in ["private", "shared", "public", "community"] {
        let body = json!({"name": vis, "visibility": vis, "owner": "proj-a"});
        let id = c.create(ADMIN, body).await;
        let open = matches!(vis, "public" | "community");
        // owner's member: read, tag, untag.
        assert_eq!(c.show(ALICE, &id).await.status, 200, "{vis}");
        assert_eq!(c.put_tag(ALICE, &id, "m").await.status, 204, "{vis}");
        // owner's reader: read only.
        assert_eq!(c.show(RITA, &id).await.status, 200, "{vis}");
        assert_eq!(c.put_tag(RITA, &id, "r").await.status, 403, "{vis}");
        assert_eq!(c.delete_tag(RITA, &id, "m").await.status, 403, "{vis}");
        // another project's member: only public and community, read only.
        let other = if open { 200 } else { 404 };
        assert_eq!(c.show(BOB, &id).await.status, other, "{vis}");
        assert_eq!(
            c.put_tag(BOB, &id, "b").await.status,
            if open { 403 } else { 404 },
            "{vis}"
        );
        let del = c
            .call("DELETE", &format!("/v2/images/{id}"), BOB, b"")
            .await;
        assert_eq!(del.status, if open { 403 } else { 404 }, "{vis}");
        // admin: anything.
        assert_eq!(c.put_tag(ADMIN, &id, "a").await.status, 204, "{vis}");
        assert_eq!(c.tags(ADMIN, &id).await, vec!["m", "a"], "{vis}");
    }
    // Listings follow the same rules; community is left out unless asked for.
    assert_eq!(
        names(&c.list(BOB, "?sort_key=name&sort_dir=asc").await),
        vec!["public"]
    );
    assert_eq!(
        names(&c.list(BOB, "?visibility=community").await),
        vec!["community"]
    );
    assert_eq!(
        names(&c.list(ALICE, "?sort_key=name&sort_dir=asc").await),
        vec!["community", "private", "public", "shared"]
    );
    assert_eq!(
        names(&c.list(RITA, "?visibility=private").await),
        vec!["private"]
    );
}

#[tokio::test]
async fn list_filters_by_tag_with_and_and_other_fields() {
    let c = host().await;
    let mut ids = vec![];
    for (name, tags) in [
        ("n1", vec!["x", "y"]),
        ("n2", vec!["x"]),
        ("n3", vec!["y", "X"]),
        ("n4", vec![" x"]),
    ] {
        ids.push(
            c.create(
                ALICE,
                json!({"name": name, "tags": tags, "os_distro": name}),
            )
            .await,
        );
    }
    let q = |s: &str| format!("?sort_key=name&sort_dir=asc&{s}");
    assert_eq!(names(&c.list(ALICE, &q("tag=x")).await), vec!["n1", "n2"]);
    assert_eq!(names(&c.list(ALICE, &q("tag=x&tag=y")).await), vec!["n1"]);
    assert_eq!(names(&c.list(ALICE, &q("tag=X")).await), vec!["n3"]);
    assert_eq!(names(&c.list(ALICE, &q("tag=%20x")).await), vec!["n4"]);
    assert!(names(&c.list(ALICE, &q("tag=nothing")).await).is_empty());
    assert_eq!(names(&c.list(ALICE, &q("name=n2")).await), vec!["n2"]);
    assert_eq!(names(&c.list(ALICE, &q("os_distro=n3")).await), vec!["n3"]);
    assert_eq!(
        names(&c.list(ALICE, &q("owner=proj-a&status=queued&tag=y")).await),
        vec!["n1", "n3"]
    );
    assert!(names(&c.list(ALICE, &q("owner=proj-b")).await).is_empty());
    assert!(names(&c.list(BOB, &q("tag=x")).await).is_empty());
    // Removing a tag removes the image from the listing.
    assert_eq!(c.delete_tag(ALICE, &ids[0], "x").await.status, 204);
    assert_eq!(names(&c.list(ALICE, &q("tag=x")).await), vec!["n2"]);
    // Deleted images drop out too.
    assert_eq!(
        c.call("DELETE", &format!("/v2/images/{}", ids[1]), ALICE, b"")
            .await
            .status,
        204
    );
    assert!(names(&c.list(ALICE, &q("tag=x")).await).is_empty());
}

#[tokio::test]
async fn paging_follows_next_links_across_pages() {
    let c = host().await;
    for n in 0..7 {
        let tags = if n % 2 == 0 {
            json!(["even", "all"])
        } else {
            json!(["all"])
        };
        c.create(ALICE, json!({"name": format!("img{n}"), "tags": tags}))
            .await;
    }
    let mut seen = vec![];
    let first = "/v2/images?tag=all&tag=even&limit=2&sort_key=name&sort_dir=asc".to_string();
    let mut path = Some(first.clone());
    let mut pages = 0;
    while let Some(p) = path {
        let r = c.call("GET", &p, ALICE, b"").await;
        assert_eq!(r.status, 200, "{r:?}");
        let body: Value = r.json().unwrap();
        assert_eq!(body["schema"], "/v2/schemas/images");
        assert_eq!(body["first"], first.as_str());
        seen.extend(names(&body));
        pages += 1;
        path = body.get("next").map(|n| n.as_str().unwrap().to_string());
        if let Some(n) = &path {
            assert!(n.starts_with("/v2/images?tag=all&tag=even&limit=2"), "{n}");
        }
    }
    assert_eq!(seen, vec!["img0", "img2", "img4", "img6"]);
    assert_eq!(pages, 2, "no empty last page");
    // Default order is newest first; limit is capped, not refused.
    let all = c.list(ALICE, "?limit=5000").await;
    assert_eq!(all["images"].as_array().unwrap().len(), 7);
    assert!(all.get("next").is_none());
    let default = c.list(ALICE, "?limit=3").await;
    assert_eq!(default["images"].as_array().unwrap().len(), 3);
    assert!(default["next"].as_str().unwrap().contains("marker="));
}

#[tokio::test]
async fn bad_list_queries_are_400() {
    let c = host().await;
    for (q, part) in [
        ("?limit=-1", "limit"),
        ("?limit=abc", "limit"),
        ("?marker=00000000-0000-4000-8000-000000000000", "marker"),
        ("?marker=junk", "marker"),
        ("?sort_key=size", "sort key"),
        ("?sort_dir=sideways", "sort direction"),
        ("?visibility=everyone", "visibility"),
    ] {
        assert_error(
            &c.call("GET", &format!("/v2/images{q}"), ALICE, b"").await,
            400,
            part,
        );
    }
}

#[tokio::test]
async fn discovery_schemas_health_and_unknown_paths() {
    let c = host().await;
    let r = c
        .call_with("GET", "/", &[("host", "glance.example:9292")], b"")
        .await;
    assert_eq!(r.status, 300);
    let v = r.json().unwrap();
    assert_eq!(v["versions"][0]["id"], "v2.17");
    assert_eq!(v["versions"][0]["status"], "CURRENT");
    assert_eq!(
        v["versions"][0]["links"][0]["href"],
        "http://glance.example:9292/v2/"
    );
    let r = c.call("GET", "/versions", "", b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json().unwrap()["versions"][0]["id"], "v2.17");
    let r = c.call("GET", "/healthcheck", "", b"").await;
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    let s = c
        .call("GET", "/v2/schemas/image", ALICE, b"")
        .await
        .json()
        .unwrap();
    assert_eq!(s["name"], "image");
    assert_eq!(s["properties"]["file"]["readOnly"], true);
    assert_eq!(s["properties"]["self"]["readOnly"], true);
    assert_eq!(s["properties"]["tags"]["items"]["maxLength"], 255);
    let s = c
        .call("GET", "/v2/schemas/images", ALICE, b"")
        .await
        .json()
        .unwrap();
    assert_eq!(s["name"], "images");
    assert_error(&c.call("GET", "/nowhere", "", b"").await, 404, "");
    let r = c.call("POST", "/versions", "", b"").await;
    assert_error(&r, 405, "");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = c.call("PUT", "/v2/images", ALICE, b"").await;
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = c.call("POST", "/v2/images/x", ALICE, b"").await;
    assert_eq!(r.header("allow"), Some("GET, PATCH, DELETE"));
}

#[tokio::test]
async fn auth_modes_and_misconfiguration() {
    let c = host_with(MODES[0], &[("auth_mode", "headers")]).await;
    let confirmed = [
        ("x-identity-status", "Confirmed"),
        ("x-project-id", "proj-h"),
        ("x-roles", "member,reader"),
    ];
    let r = c
        .call_with("POST", "/v2/images", &confirmed, br#"{"name":"h"}"#)
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json().unwrap()["owner"], "proj-h");
    let r = c
        .call_with(
            "GET",
            "/v2/images",
            &[("x-identity-status", "Invalid")],
            b"",
        )
        .await;
    assert_error(&r, 401, "authentication");
    let r = c
        .call_with("GET", "/v2/images", &[("x-auth-token", ALICE)], b"")
        .await;
    assert_error(&r, 401, "authentication");

    let bad = host_with(MODES[0], &[("auth_mode", "ldap")]).await;
    assert_error(
        &bad.call("GET", "/v2/images", ALICE, b"").await,
        500,
        "auth_mode",
    );
    assert_eq!(bad.call("GET", "/healthcheck", "", b"").await.status, 200);
    let ks = host_with(MODES[0], &[("auth_mode", "keystone")]).await;
    assert_error(
        &ks.call("GET", "/v2/images", ALICE, b"").await,
        500,
        "keystone_url",
    );
}

/// SPEC section 6: listing by tag reads the matches, not the store.
#[tokio::test]
async fn listing_by_tag_reads_only_the_matching_images() {
    if strong_only("tests/edge.rs::a_page_reads_at_most_two_limit_plus_ten_values_at_1000_images") {
        return;
    }
    let c = host().await;
    for n in 0..200 {
        c.create(
            ALICE,
            json!({"name": format!("other{n}"), "tags": ["common"]}),
        )
        .await;
    }
    for n in 0..5 {
        c.create(
            ALICE,
            json!({"name": format!("match{n}"), "tags": ["rare", "common"]}),
        )
        .await;
    }
    let kv = c.host.kv();
    kv.reset_counts();
    let list = c.list(ALICE, "?tag=rare&tag=common&limit=100").await;
    assert_eq!(list["images"].as_array().unwrap().len(), 5);
    assert_eq!(kv.calls(image_tags_host::KvOp::ListKeys), 0, "no key scan");
    // Per tag log: its root, counter and tail (one slot: 205 appends were
    // compacted, leaving a slot or two) + the 5 records of the rarest.
    assert!(kv.values_read() <= 12, "read {} values", kv.values_read());
}

#[tokio::test]
async fn every_spelling_of_a_uuid_names_the_same_image() {
    let c = host().await;
    let upper = "0E2F8ED3-FFBA-4CBE-8AF4-B570DB81A0B2";
    let id = c.create(ALICE, json!({"id": upper, "name": "u"})).await;
    assert_eq!(id, upper.to_ascii_lowercase());
    assert_eq!(c.put_tag(ALICE, upper, "t").await.status, 204);
    assert_eq!(c.tags(ALICE, &id).await, vec!["t"]);
    let r = c
        .call(
            "POST",
            "/v2/images",
            ALICE,
            json!({"id": id}).to_string().as_bytes(),
        )
        .await;
    assert_error(&r, 409, "already exists");
}
