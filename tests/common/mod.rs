//! Shared setup for the integration tests: the release `.wasm` served by the
//! wasmtime test host, with the real `spin.toml`.
// Test helpers fail loudly: the crate-wide panic lints are for request handling.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod ims;
pub mod keystone;

use image_tags_host::{KvMode, Response, TestHost};
use serde_json::{json, Value};

/// The `tokens` table the tests authenticate with.
pub const TOKENS: &str = "admin-token:admin-proj:admin+member+reader,\
alice-token:proj-a:member+reader,\
rita-token:proj-a:reader,\
bob-token:proj-b:member+reader,\
carol-token:proj-c:member";

pub const ADMIN: &str = "admin-token";
pub const ALICE: &str = "alice-token";
pub const RITA: &str = "rita-token";
pub const BOB: &str = "bob-token";

/// Whether the suite runs on the edge build (`IMAGE_TAGS_EDGE=1`, with
/// `IMAGE_TAGS_HOST_WASM` and `IMAGE_TAGS_HOST_PROFILE`: tests/run's edge
/// passes). The edge build keeps every route, status and body, not the
/// strong build's compare-and-swap guarantees: a test of one of those
/// returns early there, naming the test in tests/edge.rs (or the unit test)
/// that checks what the edge build promises instead.
pub fn strong_only(edge_test: &str) -> bool {
    let edge = edge_build();
    if edge {
        eprintln!("a strong-build guarantee; on the edge build: {edge_test}");
    }
    edge
}

/// `IMAGE_TAGS_EDGE=1`: the suite runs on the edge build.
pub fn edge_build() -> bool {
    std::env::var_os("IMAGE_TAGS_EDGE").is_some_and(|v| v == "1")
}

pub fn manifest() -> String {
    format!("{}/spin.toml", env!("CARGO_MANIFEST_DIR"))
}

/// A host in `tokens` mode; `vars` override further variables.
pub async fn host_with(mode: KvMode, vars: &[(&str, &str)]) -> Client {
    let mut builder = TestHost::builder()
        .manifest(manifest())
        .kv_mode(mode)
        .echo_logs(false)
        .variable("auth_mode", "tokens")
        .variable("auth_tokens", TOKENS);
    for (k, v) in vars {
        builder = builder.variable(*k, *v);
    }
    let host = builder.build().await.unwrap_or_else(|e| {
        panic!("test host did not start (did you build the release .wasm? `tests/run` does): {e:#}")
    });
    Client { host }
}

pub async fn host() -> Client {
    host_with(KvMode::Sqlite, &[]).await
}

/// Both Spin store behaviours the contract names: tests run under each.
pub const MODES: [KvMode; 2] = [KvMode::Sqlite, KvMode::Redis];

#[derive(Clone)]
pub struct Client {
    pub host: TestHost,
}

impl Client {
    pub async fn call(&self, method: &str, path: &str, token: &str, body: &[u8]) -> Response {
        let mut headers = vec![];
        if !token.is_empty() {
            headers.push(("x-auth-token", token));
        }
        self.call_with(method, path, &headers, body).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.host
            .call(method, path, headers, body.to_vec())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: host error {e:#}"))
    }

    /// Create an image as `token`; returns its id.
    pub async fn create(&self, token: &str, body: Value) -> String {
        let r = self
            .call("POST", "/v2/images", token, body.to_string().as_bytes())
            .await;
        assert_eq!(r.status, 201, "create: {r:?}");
        r.json().unwrap()["id"].as_str().unwrap().to_string()
    }

    pub async fn create_named(&self, token: &str, name: &str) -> String {
        self.create(token, json!({ "name": name })).await
    }

    pub async fn put_tag(&self, token: &str, id: &str, tag: &str) -> Response {
        self.call("PUT", &format!("/v2/images/{id}/tags/{tag}"), token, b"")
            .await
    }

    pub async fn delete_tag(&self, token: &str, id: &str, tag: &str) -> Response {
        self.call("DELETE", &format!("/v2/images/{id}/tags/{tag}"), token, b"")
            .await
    }

    /// `PATCH /v2/images/{id}` with the JSON Patch media type the clients send.
    pub async fn patch(&self, token: &str, id: &str, body: &[u8]) -> Response {
        let headers = [
            ("x-auth-token", token),
            (
                "content-type",
                "application/openstack-images-v2.1-json-patch",
            ),
        ];
        self.call_with("PATCH", &format!("/v2/images/{id}"), &headers, body)
            .await
    }

    pub async fn show(&self, token: &str, id: &str) -> Response {
        self.call("GET", &format!("/v2/images/{id}"), token, b"")
            .await
    }

    pub async fn tags(&self, token: &str, id: &str) -> Vec<String> {
        let r = self.show(token, id).await;
        assert_eq!(r.status, 200, "{r:?}");
        serde_json::from_value(r.json().unwrap()["tags"].clone()).unwrap()
    }

    pub async fn list(&self, token: &str, query: &str) -> Value {
        let r = self
            .call("GET", &format!("/v2/images{query}"), token, b"")
            .await;
        assert_eq!(r.status, 200, "list {query}: {r:?}");
        r.json().unwrap()
    }
}

/// Starts `count` writers at once, writer `n` running `write(client, n)`
/// on its own task, and waits for them all: what each returned, in writer order.
pub async fn concurrently<T, F, Fut>(c: &Client, count: usize, mut write: F) -> Vec<T>
where
    T: Send + 'static,
    F: FnMut(Client, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..count)
        .map(|n| tokio::spawn(write(c.clone(), n)))
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// The JSON error body of SPEC section 3, checked whole.
pub fn assert_error(r: &Response, status: u16, message_part: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let v = r.json().unwrap();
    let err = &v["error"];
    assert_eq!(err["code"], status, "{v}");
    assert!(err["title"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    let message = err["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_part),
        "message {message:?} lacks {message_part:?}"
    );
    let rid = r.header("x-openstack-request-id").unwrap();
    assert_eq!(err["request_id"], rid);
}

pub fn names(list: &Value) -> Vec<String> {
    list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_string())
        .collect()
}
