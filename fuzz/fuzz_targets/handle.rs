//! The whole request path of the core, `service::handle`, over the in-memory
//! store with Spin's CAS semantics (tokens mode, quota 4): a seeded image,
//! then up to four fuzzed requests (method, target, token, content type,
//! body) against it. Asserted on every response: a documented status and
//! never 5xx (the store is up and the configuration valid), the request id,
//! 204 without body or content type, JSON error bodies whose code is the
//! status, `Allow` on 405, `Location` on 201; a body over the limit (by its
//! length, or flagged as the edge flags it) is 401, 404, 405 or 413 and
//! writes nothing; no tag in any answer has a control character; and at the
//! end the seeded image, if it still exists, has valid, unique tags within
//! the quota.
#![no_main]

use image_tags::service::{self, Env};
use image_tags::auth::keystone::TokenValidator;
use image_tags::config::Config;
use image_tags::http::Request;
use image_tags::core::backend::Strong;
use image_tags::core::store::{KvStore, MemStore};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ID: &str = "6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";
const QUOTA: usize = 4;
/// `max_request_body_bytes`, small enough for fuzzed bodies to pass it.
const BODY_LIMIT: usize = 256;
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const TOKENS: &[&str] = &["alice", "admin", "rita", "bob", "", "nope"];
const CONTENT_TYPES: &[&str] = &[
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch; charset=utf-8",
    "application/json",
    "",
];
const PATCH_PATHS: &[&str] = &[
    "/tags",
    "/tags/0",
    "/tags/-",
    "/name",
    "/visibility",
    "/protected",
    "/min_disk",
    "/owner",
    "/os_distro",
    "/status",
    "/id",
    "/",
];

struct NoKeystone;

impl TokenValidator for NoKeystone {
    fn validate(&self, _url: &str, _token: &str) -> std::result::Result<(u16, Vec<u8>), String> {
        Err("no keystone in tokens mode".into())
    }
}

fn config() -> Config {
    Config::load(|name| match name {
        "auth_mode" => Some("tokens".into()),
        "auth_tokens" => Some(
            "alice:proj-a:member+reader,admin:adm:admin,rita:proj-a:reader,bob:proj-b:member"
                .into(),
        ),
        "image_tag_quota" => Some(QUOTA.to_string()),
        "max_request_body_bytes" => Some(BODY_LIMIT.to_string()),
        _ => None,
    })
}

fn request(method: &str, target: &str, token: &str, ctype: &str, body: Vec<u8>) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    if !token.is_empty() {
        headers.push(("x-auth-token".to_string(), token.to_string()));
    }
    if !ctype.is_empty() {
        headers.push(("content-type".to_string(), ctype.to_string()));
    }
    Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
        body_over_limit: false,
        base: "http://fuzz".to_string(),
    }
}

fn is_valid_tag(t: &str) -> bool {
    !t.is_empty()
        && !t.contains('=')
        && !t.chars().any(|c| c.is_ascii_control())
        && t.chars().count() <= 255
}

fn fuzzed(u: &mut Unstructured) -> Result<Request> {
    let method = *u.choose(METHODS)?;
    let token = *u.choose(TOKENS)?;
    let ctype = *u.choose(CONTENT_TYPES)?;
    let text: String = u.arbitrary()?;
    let target = match u.int_in_range(0..=4)? {
        0 => format!("/v2/images/{ID}/tags/{text}"),
        1 => format!("/v2/images/{ID}{text}"),
        2 => format!("/v2/images?{text}"),
        3 => format!("/v2/images/{text}"),
        _ => text,
    };
    let body = match u.int_in_range(0..=3)? {
        0 => Vec::new(),
        1 => u.arbitrary::<Vec<u8>>()?,
        2 => {
            // a JSON Patch built from fuzzed parts
            let mut ops = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                let op = *u.choose(&["add", "replace", "remove", "move", "test"])?;
                let path = *u.choose(PATCH_PATHS)?;
                let tags: Vec<String> = u.arbitrary()?;
                let value = match u.int_in_range(0..=2)? {
                    0 => Value::from(tags),
                    1 => Value::from(u.arbitrary::<String>()?),
                    _ => Value::from(u.arbitrary::<i64>()?),
                };
                ops.push(serde_json::json!({"op": op, "path": path, "value": value}));
            }
            Value::Array(ops).to_string().into_bytes()
        }
        _ => {
            // an image to create, maybe with tags
            let tags: Vec<String> = u.arbitrary()?;
            let name: String = u.arbitrary()?;
            serde_json::json!({"name": name, "tags": tags})
                .to_string()
                .into_bytes()
        }
    };
    let mut req = request(method, &target, token, ctype, body);
    // What the edge hands over for a body it stopped reading.
    if u.ratio(1, 16)? {
        req.body.clear();
        req.body_over_limit = true;
    }
    Ok(req)
}

/// Every key and value in the store, to show a request wrote nothing.
fn snapshot(store: &Strong<MemStore>) -> Vec<(String, Option<Vec<u8>>)> {
    let keys = store.0.keys().expect("keys");
    keys.into_iter()
        .map(|k| {
            let v = store.0.get(&k).expect("get");
            (k, v)
        })
        .collect()
}

fn check(req: &Request, status: u16, headers: &[(String, String)], body: &[u8]) {
    let what = format!("{} {}?{} -> {status}", req.method, req.path, req.query);
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    assert!(
        [200, 201, 204, 300, 400, 401, 403, 404, 405, 409, 413, 415].contains(&status),
        "{what}: {}",
        String::from_utf8_lossy(body)
    );
    assert!(
        header("x-openstack-request-id").is_some_and(|v| v.starts_with("req-")),
        "{what}"
    );
    if status == 204 {
        assert!(
            body.is_empty() && header("content-type").is_none(),
            "{what}"
        );
    }
    if status == 405 {
        assert!(header("allow").is_some(), "{what}");
    }
    if status == 201 {
        assert!(
            header("location").is_some_and(|l| l.starts_with("http://fuzz/v2/images/")),
            "{what}"
        );
    }
    if req.body_over_limit || req.body.len() > BODY_LIMIT {
        // Identity and the route come first; then the size, before any handler.
        assert!(
            [401, 404, 405, 413].contains(&status),
            "{what}: body over the limit"
        );
    }
    if header("content-type") == Some("application/json") && req.method != "HEAD" {
        let v: Value =
            serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        if status >= 400 {
            assert_eq!(v["error"]["code"], status, "{what}");
        }
        if let Some(tags) = v["tags"].as_array() {
            for t in tags {
                assert!(
                    is_valid_tag(t.as_str().unwrap_or_default()),
                    "{what}: tag {t}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    let store = Strong(MemStore::default());
    let env = Env {
        config: &config,
        store: Ok(&store),
        keystone: &NoKeystone,
        now: 1_700_000_000,
    };
    let seed = request(
        "POST",
        "/v2/images",
        "alice",
        "application/json",
        format!(r#"{{"id":"{ID}","name":"seed","tags":["a","b"]}}"#).into_bytes(),
    );
    assert_eq!(service::handle(&seed, &env).response.status, 201);

    let mut u = Unstructured::new(data);
    for _ in 0..4 {
        let Ok(req) = fuzzed(&mut u) else { break };
        let over_limit = req.body_over_limit || req.body.len() > BODY_LIMIT;
        let before = over_limit.then(|| snapshot(&store));
        let out = service::handle(&req, &env);
        let r = out.response;
        check(&req, r.status, &r.headers, &r.body);
        if let Some(before) = before {
            assert!(
                before == snapshot(&store),
                "{} {}: a body over the limit wrote",
                req.method,
                req.path
            );
        }
        if u.is_empty() {
            break;
        }
    }

    let show = request("GET", &format!("/v2/images/{ID}"), "admin", "", Vec::new());
    let r = service::handle(&show, &env).response;
    if r.status == 200 {
        let v: Value = serde_json::from_slice(&r.body).expect("image JSON");
        let tags: Vec<&str> = v["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| t.as_str().expect("tag"))
            .collect();
        assert!(tags.len() <= QUOTA, "{tags:?}");
        for (i, t) in tags.iter().enumerate() {
            assert!(is_valid_tag(t), "{t:?}");
            assert!(!tags[..i].contains(t), "duplicate {t:?}");
        }
    } else {
        assert_eq!(r.status, 404);
    }
});
