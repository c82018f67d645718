//! The pure core, without Spin, a host or a network: what one request costs
//! in the component itself (identity, route, tag rules, policy, the store
//! calls against an in-memory store, JSON in and out). `cargo bench --bench
//! core`; about a minute. bench/run measures the same requests end to end.

use criterion::{criterion_group, criterion_main, Criterion};
use image_tags::auth::aksk::{self, Credential};
use image_tags::auth::keystone::TokenValidator;
use image_tags::config::Config;
use image_tags::core::backend::Strong;
use image_tags::core::identity::Identity;
use image_tags::core::store::MemStore;
use image_tags::core::tag;
use image_tags::glance::endpoint;
use image_tags::http::Request;
use image_tags::service::{self, Env};
use std::hint::black_box;
use std::time::Duration;

const TOKEN: &str = "bench-token";
const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const IMAGE: &str = "9f0c5e2a-1b2c-4d3e-8f4a-5b6c7d8e9f00";

/// Tokens mode never calls Keystone.
struct NoKeystone;

impl TokenValidator for NoKeystone {
    fn validate(&self, _url: &str, _token: &str) -> Result<(u16, Vec<u8>), String> {
        Err("not used in tokens mode".into())
    }
}

fn load_config() -> Config {
    Config::load(|name| match name {
        "auth_mode" => Some("tokens".into()),
        "auth_tokens" => Some(format!("{TOKEN}:proj-a:admin+member+reader")),
        _ => None,
    })
}

const AK: &str = "AKBENCH0000000000001";
const SK: &str = "bench-secret-key-000000000000000000000001";

/// The same token table, and an access key of the same project.
fn aksk_config() -> Config {
    Config::load(|name| match name {
        "auth_mode" => Some("tokens,aksk".into()),
        "auth_tokens" => Some(format!("{TOKEN}:proj-a:admin+member+reader")),
        "aksk_credentials" => Some(format!("{AK}:{SK}:proj-a:admin+member+reader")),
        _ => None,
    })
}

/// Signed as huaweicloudsdkcore signs a `glance_create_tag` call.
fn signed(method: &str, target: &str) -> Request {
    let req = Request::new(method, target)
        .with_header("content-type", "application/json")
        .with_header("user-agent", "huaweicloud-usdk-python/3.0")
        .with_header("x-project-id", "proj-a")
        .with_header("x-sdk-date", "20260101T000000Z");
    let names = [
        "content-type",
        "host",
        "user-agent",
        "x-project-id",
        "x-sdk-date",
    ];
    let credential = Credential::new(AK, SK, Identity::default());
    let authorization = aksk::client::authorization(&req, &credential, &names).unwrap_or_default();
    req.with_header("authorization", &authorization)
}

fn request(method: &str, target: &str) -> Request {
    Request::new(method, target).with_header("x-auth-token", TOKEN)
}

/// Runs one request and checks its status: a benchmark of an error path
/// would measure the wrong thing.
fn call(store: &Strong<MemStore>, config: &Config, req: &Request, expect: u16) -> usize {
    let env = Env {
        config,
        store: Ok(store),
        keystone: &NoKeystone,
        now: NOW,
    };
    let outcome = service::handle(req, &env);
    let status = outcome.response.status;
    if status != expect {
        eprintln!(
            "{} {}: expected {expect}, got {status}: {}",
            req.method,
            req.path,
            String::from_utf8_lossy(&outcome.response.body)
        );
        std::process::exit(1);
    }
    outcome.response.body.len()
}

fn image_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// One image with a few tags and properties (the one the single-image
/// benchmarks use), and 1,000 others of which 50 carry the tag `match`.
fn seeded(config: &Config) -> Strong<MemStore> {
    let store = Strong(MemStore::default());
    let body = format!(
        r#"{{"id":"{IMAGE}","name":"bench","tags":["alpha","beta","gamma"],"container_format":"bare","disk_format":"qcow2","os_distro":"debian"}}"#
    );
    call(
        &store,
        config,
        &request("POST", "/v2/images").with_body(body),
        201,
    );
    for n in 0..1000 {
        let tags = if n % 20 == 0 {
            r#"["match","bulk"]"#
        } else {
            r#"["bulk"]"#
        };
        let body = format!(
            r#"{{"id":"{}","name":"img-{n}","tags":{tags}}}"#,
            image_id(n)
        );
        call(
            &store,
            config,
            &request("POST", "/v2/images").with_body(body),
            201,
        );
    }
    store
}

fn bench_core(c: &mut Criterion) {
    let config = load_config();
    let store = seeded(&config);

    let put = request("PUT", &format!("/v2/images/{IMAGE}/tags/bench%20tag"));
    c.bench_function("handle: PUT tag (existing image, 4 tags)", |b| {
        b.iter(|| call(&store, &config, black_box(&put), 204))
    });

    let aksk_config = aksk_config();
    let signed_put = signed("PUT", &format!("/v2/images/{IMAGE}/tags/bench%20tag"));
    c.bench_function(
        "handle: PUT tag signed SDK-HMAC-SHA256 (tokens,aksk)",
        |b| b.iter(|| call(&store, &aksk_config, black_box(&signed_put), 204)),
    );
    let table = match &aksk_config.auth {
        Ok(image_tags::auth::config::AuthConfig::Schemes(s)) => s.aksk.clone().unwrap_or_default(),
        _ => Vec::new(),
    };
    c.bench_function(
        "aksk::verify (glance_create_tag's five signed headers)",
        |b| b.iter(|| aksk::verify(black_box(&signed_put), &table, NOW)),
    );

    let get = request("GET", &format!("/v2/images/{IMAGE}"));
    c.bench_function("handle: GET image", |b| {
        b.iter(|| call(&store, &config, black_box(&get), 200))
    });

    let list = request("GET", "/v2/images?tag=match&limit=100");
    c.bench_function("handle: list by tag (50 of 1,001 images)", |b| {
        b.iter(|| call(&store, &config, black_box(&list), 200))
    });

    c.bench_function("config: Config::load (per request in the component)", |b| {
        b.iter(|| black_box(load_config()))
    });

    c.bench_function("tag::from_segment (percent-encoded, 24 chars)", |b| {
        b.iter(|| tag::from_segment(black_box("release%2F2026.01%20%C3%BCber"), true))
    });

    let path = format!("/v2/images/{IMAGE}/tags/bench%20tag");
    c.bench_function("glance::endpoint::parse (PUT tag)", |b| {
        b.iter(|| endpoint::parse(black_box("PUT"), black_box(&path)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = bench_core
}
criterion_main!(benches);
