//! Requests and checks the IMS test files share (SPEC section 9).

use super::*;
use image_tags_host::Response;
use serde_json::{json, Value};

pub const PA: &str = "proj-a";

/// The legacy (`/v1/cloudimages`) tag routes without a project in the path.
pub const LEGACY_TAGS: &str = "/v1/cloudimages/tags";

/// An IMS request with a JSON body; bodiless ones go through `Client::call`.
pub async fn ims(c: &Client, method: &str, path: &str, token: &str, body: Value) -> Response {
    c.call(method, path, token, body.to_string().as_bytes())
        .await
}

/// `PUT /v1/cloudimages/tags`: the body names the image and the tag.
pub async fn legacy_put(c: &Client, token: &str, body: Value) -> Response {
    ims(c, "PUT", LEGACY_TAGS, token, body).await
}

/// `POST /v2/{project}/images/{id}/tags` as Alice: set one key's value.
pub async fn set_tag(c: &Client, id: &str, key: &str, value: &str) -> Response {
    let body = json!({"tag": {"key": key, "value": value}});
    ims(c, "POST", &tags_path(id), ALICE, body).await
}

pub fn tags_path(id: &str) -> String {
    format!("/v2/{PA}/images/{id}/tags")
}

pub async fn kv_tags(c: &Client, id: &str) -> Value {
    let r = c.call("GET", &tags_path(id), ALICE, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().unwrap()["tags"].clone()
}

pub async fn search(c: &Client, body: Value) -> Value {
    let path = format!("/v2/{PA}/images/resource_instances/action");
    let r = ims(c, "POST", &path, ALICE, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().unwrap()
}

/// IMS's error shape, the status, the code, and both request-id headers.
pub fn assert_ims_error(r: &Response, status: u16, code: &str, message_part: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json().unwrap();
    let keys: Vec<&String> = v["error"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "message"], "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
    assert!(r
        .header("x-request-id")
        .is_some_and(|id| id.starts_with("req-")));
    assert_eq!(r.header("x-request-id"), r.header("x-openstack-request-id"));
}
