//! Hostile input costs little (issue 10), through the compiled component in
//! the test host: one test per row of the issue's table, each checking the
//! status, that nothing was written (every key and value of the store as it
//! was, no write call made) and that the service still answers; then the
//! rules around them (no `Content-Length`, the order of checks, the variable).
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use image_tags_host::KvOp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The issue's bound on answering a hostile request.
const FAST: Duration = Duration::from_secs(1);

/// Every key and value in the store.
fn snapshot(c: &Client) -> Vec<(String, Option<Vec<u8>>)> {
    let kv = c.host.kv();
    kv.keys()
        .into_iter()
        .map(|k| {
            let v = kv.raw_get(&k);
            (k, v)
        })
        .collect()
}

/// Runs `hostile` and checks it wrote nothing, took less than [`FAST`], and
/// left a service that answers and can still tag `id`.
async fn writes_nothing<F: std::future::Future<Output = image_tags_host::Response>>(
    c: &Client,
    id: &str,
    hostile: F,
) -> image_tags_host::Response {
    let before = snapshot(c);
    let image_before = c.show(ALICE, id).await.json().unwrap();
    c.host.kv().reset_counts();
    let started = Instant::now();
    let r = hostile.await;
    let took = started.elapsed();
    assert!(took < FAST, "took {took:?}: {r:?}");
    assert_eq!(c.host.kv().calls_of(&KvOp::WRITES), 0, "{r:?}");
    assert!(snapshot(c) == before, "the store changed: {r:?}");
    assert_eq!(c.show(ALICE, id).await.json().unwrap(), image_before);
    assert_eq!(c.host.get("/healthcheck").await.unwrap().status, 200);
    assert_eq!(c.put_tag(ALICE, id, "after").await.status, 204);
    r
}

#[tokio::test]
async fn post_with_100000_tags_is_413_at_once() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let tags: Vec<String> = (0..100_000).map(|i| format!("tag{i}")).collect();
    let body = json!({"name": "many", "tags": tags}).to_string();
    assert!(body.len() > 900 * 1024, "{}", body.len());
    let r = writes_nothing(
        &c,
        &id,
        c.call("POST", "/v2/images", ALICE, body.as_bytes()),
    )
    .await;
    assert_error(&r, 413, "larger than the limit of 114688 bytes");
}

#[tokio::test]
async fn post_with_340_kib_of_properties_is_413() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let mut body = serde_json::Map::new();
    body.insert("name".into(), json!("props"));
    for i in 0..20_000 {
        body.insert(format!("p{i}"), json!("vvvvvv"));
    }
    let body = Value::Object(body).to_string().into_bytes();
    assert!(body.len() > 300 * 1024, "{}", body.len());
    let r = writes_nothing(&c, &id, c.call("POST", "/v2/images", ALICE, &body)).await;
    assert_error(&r, 413, "114688");
}

#[tokio::test]
async fn patch_with_50000_ops_is_413_and_the_image_unchanged() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "img", "tags": ["keep"]}))
        .await;
    let ops: Vec<Value> = (0..50_000)
        .map(|i| json!({"op": "add", "path": format!("/prop{i}"), "value": "xx"}))
        .collect();
    let body = Value::Array(ops).to_string();
    assert!(body.len() > 2 * 1024 * 1024, "{}", body.len());
    let r = writes_nothing(&c, &id, c.patch(ALICE, &id, body.as_bytes())).await;
    assert_error(&r, 413, "114688");
    assert_eq!(c.tags(ALICE, &id).await, vec!["keep", "after"]);
}

#[tokio::test]
async fn list_with_5000_tag_filters_is_400_without_a_store_call() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "img", "tags": ["t0"]}))
        .await;
    let query: Vec<String> = (0..5_000).map(|i| format!("tag=t{i}")).collect();
    let path = format!("/v2/images?{}", query.join("&"));
    let r = writes_nothing(&c, &id, c.call("GET", &path, ALICE, b"")).await;
    assert_error(&r, 400, "at most 20");
    // Reading nothing at all, not just writing nothing.
    c.host.kv().reset_counts();
    c.call("GET", &path, ALICE, b"").await;
    assert_eq!(c.host.kv().calls_of(&KvOp::DATA), 0);
    // Twenty is still a listing.
    let twenty: Vec<String> = (0..20).map(|_| "tag=t0".to_string()).collect();
    let list = c.list(ALICE, &format!("?{}", twenty.join("&"))).await;
    assert_eq!(names(&list), vec!["img"]);
}

#[tokio::test]
async fn show_with_a_60000_character_id_echoes_a_prefix() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let long = "a".repeat(60_000);
    let path = format!("/v2/images/{long}");
    let r = writes_nothing(&c, &id, c.call("GET", &path, ALICE, b"")).await;
    assert_error(&r, 404, &format!("Image {}… not found.", "a".repeat(64)));
    assert!(r.body.len() < 2048, "{} bytes", r.body.len());
    // The same for every echo: a marker, a sort key, a property name.
    for path in [
        format!("/v2/images?marker={long}"),
        format!("/v2/images?sort_key={long}"),
        format!("/v2/images/{long}/tags/x"),
    ] {
        let r = c.call("GET", &path, ALICE, b"").await;
        assert!(r.status >= 400 && r.body.len() < 2048, "{path:.40}: {r:?}");
    }
    let r = c
        .patch(
            ALICE,
            &id,
            json!([{"op": "replace", "path": format!("/{long}"), "value": "x"}])
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_error(
        &r,
        409,
        &format!("Property {}… does not exist.", "a".repeat(64)),
    );
}

#[tokio::test]
async fn control_characters_in_tags_are_400_on_every_route() {
    let c = host().await;
    let id = c
        .create(ALICE, json!({"name": "img", "tags": ["keep"]}))
        .await;
    let rule = "control characters";
    for raw in ["a%00b", "%0A", "x%1By", "%7F", "tab%09"] {
        let r = writes_nothing(&c, &id, c.put_tag(ALICE, &id, raw)).await;
        assert_error(&r, 400, rule);
    }
    for tag in ["a\u{0}b", "\n", "\u{1b}[31m", "\u{7f}"] {
        let body = json!({"name": "bad", "tags": ["ok", tag]}).to_string();
        let r = writes_nothing(
            &c,
            &id,
            c.call("POST", "/v2/images", ALICE, body.as_bytes()),
        )
        .await;
        assert_error(&r, 400, rule);
        let ops = json!([{"op": "add", "path": "/tags", "value": [tag]}]).to_string();
        let r = writes_nothing(&c, &id, c.patch(ALICE, &id, ops.as_bytes())).await;
        assert_error(&r, 400, rule);
    }
    assert_eq!(c.tags(ALICE, &id).await, vec!["keep", "after"]);
    // Only the ASCII controls: C1 and other Unicode stay allowed.
    assert_eq!(c.put_tag(ALICE, &id, "%C2%85").await.status, 204);
}

/// A body sent without `Content-Length` is read only up to the limit.
#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let tags: Vec<String> = (0..100_000).map(|i| format!("tag{i}")).collect();
    let body = json!({"name": "many", "tags": tags}).to_string();
    let headers = [("x-auth-token", ALICE), ("transfer-encoding", "chunked")];
    let r = writes_nothing(
        &c,
        &id,
        c.call_with("POST", "/v2/images", &headers, body.as_bytes()),
    )
    .await;
    assert_error(&r, 413, "114688");
    let small = json!({"name": "chunked"}).to_string();
    let r = c
        .call_with("POST", "/v2/images", &headers, small.as_bytes())
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

/// Identity (401), then the route (404, 405), then the size (413), then
/// what the route itself checks.
#[tokio::test]
async fn the_body_limit_comes_after_identity_and_route() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let big = vec![b'x'; 200_000];
    assert_eq!(c.call("POST", "/v2/images", "", &big).await.status, 401);
    assert_eq!(c.call("POST", "/v2/images", "nope", &big).await.status, 401);
    assert_eq!(c.call("POST", "/v2/nothing", ALICE, &big).await.status, 404);
    let r = c
        .call("PUT", &format!("/v2/images/{id}"), ALICE, &big)
        .await;
    assert_eq!(r.status, 405);
    // A tag route takes no body: a small one is 400, one over the limit 413.
    let tag = format!("/v2/images/{id}/tags/t");
    assert_error(&c.call("PUT", &tag, ALICE, b"x").await, 400, "not expected");
    let r = writes_nothing(&c, &id, c.call("PUT", &tag, ALICE, &big)).await;
    assert_error(&r, 413, "114688");
    assert_error(
        &c.call("GET", "/healthcheck", "", &big).await,
        413,
        "114688",
    );
}

#[tokio::test]
async fn the_limit_is_the_spin_variable() {
    let c = host_with(
        image_tags_host::KvMode::Redis,
        &[("max_request_body_bytes", "1024")],
    )
    .await;
    let exact = format!(r#"{{"name":"{}"}}"#, "n".repeat(1024 - 11));
    assert_eq!(exact.len(), 1024);
    let r = c.call("POST", "/v2/images", ALICE, exact.as_bytes()).await;
    assert_eq!(r.status, 400, "{r:?}"); // a name over 255 characters: read, then refused
    let over = format!("{exact} ");
    let r = c.call("POST", "/v2/images", ALICE, over.as_bytes()).await;
    assert_error(&r, 413, "limit of 1024 bytes");

    let bad = host_with(
        image_tags_host::KvMode::Sqlite,
        &[("max_request_body_bytes", "lots")],
    )
    .await;
    let r = bad.call("POST", "/v2/images", ALICE, b"{}").await;
    assert_error(&r, 500, "max_request_body_bytes");
    // Requests without a body do not need the variable.
    assert_eq!(bad.host.get("/healthcheck").await.unwrap().status, 200);
    assert_eq!(bad.list(ALICE, "").await["images"], json!([]));
}

/// The IMS routes take bodies too: the same limit, in IMS's error shape,
/// and IMS's own tag rules already refuse control characters.
#[tokio::test]
async fn ims_routes_have_the_limit_and_refuse_control_characters() {
    let c = host().await;
    let id = c.create_named(ALICE, "img").await;
    let path = format!("/v2/proj-a/images/{id}/tags");
    let big = json!({"tag": {"key": "k", "value": "v".repeat(200_000)}}).to_string();
    let r = writes_nothing(&c, &id, c.call("POST", &path, ALICE, big.as_bytes())).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let v = r.json().unwrap();
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("114688"));
    for key in ["a\u{0}b", "line\nbreak", "\u{1b}[31m", "\u{7f}"] {
        let body = json!({"tag": {"key": key, "value": "v"}}).to_string();
        let r = writes_nothing(&c, &id, c.call("POST", &path, ALICE, body.as_bytes())).await;
        assert_eq!(r.status, 400, "{key:?}: {}", r.text());
    }
}
