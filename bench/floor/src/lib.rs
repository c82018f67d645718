//! The floor image-tags is measured against: the same SDK, the same
//! `wasi:keyvalue@0.2.0-draft2` bindings and the same host, doing one `get`
//! and one `set` on the store per request and nothing else (no identity, no
//! routing, no JSON). Whatever a request costs here is the price of the
//! platform; what image-tags costs above it is its own work.
//!
//! Key: the raw request path (so distinct tag PUTs write distinct keys);
//! value: the path again. Answers 204 with no body; 503 on a store error.

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
        let answered = store::open("default").and_then(|bucket| {
            let _previous = bucket.get(key)?;
            bucket.set(key, key.as_bytes())
        });
        match answered {
            Ok(()) => Response::new(204, ()),
            Err(_) => Response::new(503, "key-value store error"),
        }
    }
}
