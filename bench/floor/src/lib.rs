//! The floor image-tags is measured against: the same SDK, the same
//! `wasi:keyvalue@0.2.0-draft2` bindings and the same host, doing one `get`
//! and one `set` on the store per request and nothing else (no identity, no
//! routing, no JSON). Whatever a request costs here is the price of the
//! platform; what image-tags costs above it is its own work.
//!
//! Key: the raw request path (so distinct tag PUTs write distinct keys);
//! value: the path and the wall clock, so every set stores new bytes (Spin's
//! SQLite store commits nothing for a write that leaves a row as it was, and
//! a floor whose repeated PUTs skip the disk would be no floor). Answers 204
//! with no body; 503 on a store error.

#[cfg(target_arch = "wasm32")]
mod component {
    use spin_sdk::http::{Request, Response};
    use spin_sdk::http_component;

    wit_bindgen::generate!({
        path: "../../wit",
        world: "image-tags:component/kv",
        generate_all,
    });

    use wasi::keyvalue::store;

    #[http_component]
    fn handle(req: Request) -> Response {
        let key = req.path();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let value = format!("{key} {stamp}");
        let answered = store::open("default").and_then(|bucket| {
            let _previous = bucket.get(key)?;
            bucket.set(key, value.as_bytes())
        });
        match answered {
            Ok(()) => Response::new(204, ()),
            Err(_) => Response::new(503, "key-value store error"),
        }
    }
}
