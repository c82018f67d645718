//! The Spin edge: converts spin-sdk's request and response, binds the real
//! key-value bucket, Spin variables and outbound HTTP, and logs one line per
//! request. No decisions are made here.

use crate::app::{self, Env};
use crate::config::Config;
use crate::http::{Request, Response};
use crate::keystone::TokenValidator;
use crate::store::{KvStore, StoreError, SwapError};
use spin_sdk::http_component;

wit_bindgen::generate!({
    path: "wit",
    world: "image-tags:component/kv",
    generate_all,
});

use self::wasi::keyvalue::{atomics, batch, store};

fn store_error(e: store::Error) -> StoreError {
    StoreError(match e {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => "access denied".into(),
        store::Error::Other(m) => m,
    })
}

struct SpinKv(store::Bucket);

impl KvStore for SpinKv {
    type Cas = atomics::Cas;

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).map_err(store_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key, value).map_err(store_error)
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.0.exists(key).map_err(store_error)
    }

    fn keys(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref()).map_err(store_error)?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let found = batch::get_many(&self.0, keys).map_err(store_error)?;
        Ok(found
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.0, key, delta).map_err(store_error)
    }

    fn watch(&self, key: &str) -> Result<(Option<Vec<u8>>, atomics::Cas), StoreError> {
        let cas = atomics::Cas::new(&self.0, key).map_err(store_error)?;
        let current = cas.current().map_err(store_error)?;
        Ok((current, cas))
    }

    fn swap(&self, cas: atomics::Cas, value: &[u8]) -> Result<(), SwapError> {
        atomics::swap(cas, value).map_err(|e| match e {
            atomics::CasError::CasFailed(_) => SwapError::CasFailed,
            atomics::CasError::StoreError(e) => SwapError::Store(store_error(e)),
        })
    }
}

/// A Keystone that accepts the connection and never answers must not hold
/// the request forever: past this, the validation is a 503.
const KEYSTONE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `fut`, or `None` once `timeout` has passed, on Spin's executor.
async fn with_timeout<F: std::future::Future>(
    fut: F,
    timeout: std::time::Duration,
) -> Option<F::Output> {
    use std::task::Poll;
    use ::wasi::clocks::monotonic_clock;
    let deadline = monotonic_clock::now().saturating_add(timeout.as_nanos() as u64);
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if monotonic_clock::now() >= deadline {
            return Poll::Ready(None);
        }
        spin_executor::push_waker(
            monotonic_clock::subscribe_instant(deadline),
            cx.waker().clone(),
        );
        Poll::Pending
    })
    .await
}

/// Token validation through Spin's outbound HTTP (`allowed_outbound_hosts`).
struct SpinKeystone;

impl TokenValidator for SpinKeystone {
    fn validate(&self, url: &str, token: &str) -> Result<(u16, Vec<u8>), String> {
        let request = spin_sdk::http::Request::builder()
            .method(spin_sdk::http::Method::Get)
            .uri(url)
            .header("x-auth-token", token)
            .header("x-subject-token", token)
            .header("accept", "application/json")
            .header("user-agent", "image-tags")
            .build();
        let sent = spin_sdk::http::run(with_timeout(
            spin_sdk::http::send::<_, spin_sdk::http::Response>(request),
            KEYSTONE_TIMEOUT,
        ));
        let response = sent
            .ok_or_else(|| format!("no answer within {KEYSTONE_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        Ok((*response.status(), response.into_body()))
    }
}

fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok()
}

/// `scheme://authority` of the request, from the URI Spin hands us or the Host header.
fn base_of(uri: &str, host: Option<&str>) -> String {
    if let Some((scheme, rest)) = uri.split_once("://") {
        let authority = rest.split('/').next().unwrap_or_default();
        return format!("{scheme}://{authority}");
    }
    format!("http://{}", host.unwrap_or("localhost"))
}

fn to_core(req: &spin_sdk::http::Request) -> Request {
    let headers: Vec<(String, String)> = req
        .headers()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.as_str());
    Request {
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query().to_string(),
        base: base_of(req.uri(), host),
        headers,
        body: req.body().to_vec(),
    }
}

fn to_spin(resp: Response) -> spin_sdk::http::Response {
    let mut builder = spin_sdk::http::Response::builder();
    builder.status(resp.status);
    for (name, value) in resp.headers {
        builder.header(name, value);
    }
    builder.body(resp.body).build()
}

/// One JSON line on stderr per request; Spin keeps it in the component log.
fn access_log(req: &Request, outcome: &app::Outcome, micros: u128) {
    let line = serde_json::json!({
        "request_id": outcome.request_id,
        "method": req.method,
        "route": outcome.route,
        "status": outcome.response.status,
        "duration_ms": micros as f64 / 1000.0,
        "project": outcome.project,
        "detail": outcome.detail,
    });
    eprintln!("{line}");
}

#[http_component]
fn handle(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let started = std::time::Instant::now();
    let req = to_core(&req);
    let config = Config::load(variable);
    let bucket = store::open(&config.kv_store)
        .map(SpinKv)
        .map_err(store_error);
    let env = Env {
        config: &config,
        store: bucket.as_ref().map_err(Clone::clone),
        keystone: &SpinKeystone,
        now: crate::image::now_seconds(),
    };
    let outcome = app::handle(&req, &env);
    access_log(&req, &outcome, started.elapsed().as_micros());
    to_spin(outcome.response)
}
