//! A light check of the host against the real component, when it is built
//! (`cargo build --target wasm32-wasip2 --release -p image-tags`). The
//! component's behaviour is tested by the workspace's own tests; this only
//! shows the host serves it from the real manifest.

use image_tags_host::{manifest, TestHost};

#[tokio::test]
async fn serves_the_real_component_when_built() {
    let wasm = manifest::workspace_root().join("target/wasm32-wasip2/release/image_tags.wasm");
    if !wasm.exists() {
        eprintln!("{} not built: skipping", wasm.display());
        return;
    }
    let host = TestHost::builder()
        .manifest("spin.toml")
        .variable("auth_mode", "tokens")
        .variable("auth_tokens", "devtoken:demo:admin+member")
        .build()
        .await
        .expect("the real manifest and component load");
    let r = host.get("/healthcheck").await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let r = host.get("/versions").await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json().unwrap();
    assert_eq!(
        v["versions"][0]["links"][0]["href"],
        "http://localhost:3000/v2/"
    );
    assert_eq!(host.component_variables()["auth_mode"], "tokens");

    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(host.get("/healthcheck").await.unwrap().status, 200);
    }
    eprintln!("one request: {:?} on average", started.elapsed() / 20);
}
