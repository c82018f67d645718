//! The host: a compiled component served one fresh instance per request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::uri::{Authority, Scheme as UriScheme};
use http_body_util::{BodyExt, Full};
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};
use wasmtime_wasi_http::p2::WasiHttpView;

use crate::compile::Prepared;
use crate::instance::{InstanceState, Shared};
use crate::kv::{KvStore, Region, Tally};
use crate::logs::GuestOutput;
use crate::outbound::{OutboundHooks, OutboundMeter, OutboundPolicy};
use crate::profile::{Profile, Router, REGION_HEADER};
use crate::response::plain;

pub use crate::builder::TestHostBuilder;
pub use crate::response::Response;

/// The authority requests get when the test gives none.
pub const DEFAULT_AUTHORITY: &str = "localhost:3000";

/// What every clone of a [`TestHost`] shares.
pub(crate) struct Inner {
    pub(crate) pre: Prepared,
    pub(crate) shared: Arc<Shared>,
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) outbound: Arc<OutboundMeter>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) authority: Authority,
    pub(crate) routes: Vec<String>,
    pub(crate) app_vars: BTreeMap<String, String>,
    pub(crate) wasm: PathBuf,
    pub(crate) profile: Profile,
    pub(crate) router: Router,
}

/// A running host. Cheap to clone; clones serve the same component and store.
#[derive(Clone)]
pub struct TestHost {
    pub(crate) inner: Arc<Inner>,
}

/// Spin's route match: `/...` matches everything, `/a/...` a prefix, else exact.
fn route_matches(route: &str, path: &str) -> Option<String> {
    if let Some(prefix) = route.strip_suffix("/...") {
        if prefix.is_empty() {
            return Some(path.to_string());
        }
        if path == prefix {
            return Some(String::new());
        }
        return path
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_string);
    }
    (route == path).then(String::new)
}

impl TestHost {
    /// Start configuring a host.
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder::default()
    }

    /// The shared key-value store: faults, counters, raw access.
    pub fn kv(&self) -> &KvStore {
        &self.inner.shared.kv
    }

    /// Guest stdout/stderr and host notes so far, emptying the buffer.
    pub fn take_logs(&self) -> String {
        self.inner.shared.logs.take()
    }

    /// Guest stdout/stderr and host notes so far.
    pub fn logs(&self) -> String {
        self.inner.shared.logs.snapshot()
    }

    /// The component's resolved `[component.X.variables]`.
    pub fn component_variables(&self) -> &BTreeMap<String, String> {
        &self.inner.shared.component_vars
    }

    /// The resolved application variables.
    pub fn app_variables(&self) -> &BTreeMap<String, String> {
        &self.inner.app_vars
    }

    /// The component file served.
    pub fn wasm_path(&self) -> &Path {
        &self.inner.wasm
    }

    /// Send one request through a fresh instance and read the whole response.
    ///
    /// The URI may be a bare path (`/v2/images?x=1`): the guest then sees
    /// scheme `http` and the authority from the `Host` header, else the
    /// builder's (default `localhost:3000`). The path is passed raw.
    pub async fn request(&self, req: http::Request<Vec<u8>>) -> Result<Response> {
        let (mut parts, body) = req.into_parts();
        // A real client states the length of a body it sends.
        if !body.is_empty()
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
            && !parts.headers.contains_key(http::header::TRANSFER_ENCODING)
        {
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let body: HyperIncomingBody = Full::new(Bytes::from(body))
            .map_err(|e: Infallible| match e {})
            .boxed_unsync();
        let req = hyper::Request::from_parts(parts, body);
        let tally = Tally::new(Region::A);
        let (resp, guest) = self.dispatch(req, None, &tally).await?;
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await;
        // Let the guest finish (it may run on after the response started) so
        // that tests see the store as the request left it.
        let guest_result = match guest {
            Some(task) => task
                .await
                .map_err(|e| anyhow!("guest task panicked: {e}"))?,
            None => Ok(()),
        };
        let body = match collected {
            Ok(c) => c.to_bytes().to_vec(),
            Err(e) => {
                return Err(anyhow!(
                    "response body failed: {e:?}; guest: {guest_result:?}"
                ));
            }
        };
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            kv: tally.snapshot(),
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Response> {
        self.call("GET", path, &[], Vec::new()).await
    }

    /// A request from parts: `host.call("PUT", "/v2/images/x/tags/y", &[("x-auth-token", "t")], vec![])`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response> {
        let mut b = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.request(b.body(body)?).await
    }

    /// Outbound HTTP requests: sent, and refused by the hourly cap.
    pub fn outbound(&self) -> &OutboundMeter {
        &self.inner.outbound
    }

    /// The platform profile served.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// Route the request and run the guest. Returns the response (its body
    /// may still be streaming) and the guest task to await, if one ran. The
    /// guest's store use goes to `tally`, with the region it was routed to.
    pub(crate) async fn dispatch(
        &self,
        mut req: hyper::Request<HyperIncomingBody>,
        client: Option<SocketAddr>,
        tally: &std::sync::Arc<Tally>,
    ) -> Result<(hyper::Response<HyperOutgoingBody>, Option<GuestTask>)> {
        let inner = &self.inner;
        let logs = &inner.shared.logs;

        // Authority: URI, else Host header, else the default; they must agree.
        let header_auth = match req.headers().get(HOST) {
            Some(h) => Some(
                h.to_str()
                    .ok()
                    .and_then(|s| s.parse::<Authority>().ok())
                    .ok_or_else(|| anyhow!("'Host' header contains an invalid authority"))?,
            ),
            None => None,
        };
        let authority = match (header_auth, req.uri().authority().cloned()) {
            (Some(h), Some(u)) if h != u => {
                bail!("authority in 'Host' header does not match authority in URI")
            }
            (Some(h), _) => h,
            (None, Some(u)) => u,
            (None, None) => inner.authority.clone(),
        };
        if !req.headers().contains_key(HOST) {
            req.headers_mut()
                .insert(HOST, HeaderValue::from_str(authority.as_str())?);
        }
        let mut uri_parts = req.uri().clone().into_parts();
        uri_parts.scheme = Some(UriScheme::HTTP);
        uri_parts.authority = Some(authority.clone());
        if uri_parts.path_and_query.is_none() {
            uri_parts.path_and_query = Some("/".parse()?);
        }
        *req.uri_mut() = http::Uri::from_parts(uri_parts)?;

        let path = req.uri().path().to_string();
        if path == "/.well-known/spin/health" {
            return Ok((plain(200, "OK"), None));
        }
        let Some((route, path_info)) = inner
            .routes
            .iter()
            .find_map(|r| route_matches(r, &path).map(|pi| (r.clone(), pi)))
        else {
            return Ok((plain(404, "Not Found"), None));
        };
        let region = if inner.profile.replicated() {
            match req.headers_mut().remove(REGION_HEADER) {
                None => inner.router.next(),
                Some(v) => match v.to_str().ok().and_then(|s| s.parse::<Region>().ok()) {
                    Some(r) => r,
                    None => return Ok((plain(400, "x-test-region must be a or b\n"), None)),
                },
            }
        } else {
            Region::A
        };
        tally.set_region(region);

        // Spin's headers (prepare_request_headers); Connection is dropped, and
        // wasmtime drops the other hop-by-hop headers and Host.
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let client = client.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let prefix = route.strip_suffix("/...").unwrap_or(&route).to_string();
        let spin_headers = [
            ("spin-path-info", path_info),
            (
                "spin-full-url",
                format!("http://{}{}", authority.as_str(), path_and_query),
            ),
            ("spin-matched-route", route.clone()),
            ("spin-base-path", "/".to_string()),
            ("spin-raw-component-route", route.clone()),
            ("spin-component-route", prefix),
            ("spin-client-addr", client.to_string()),
        ];
        let headers = req.headers_mut();
        headers.remove(http::header::CONNECTION);
        for (name, value) in spin_headers {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value)?,
            );
        }

        let wasi = WasiCtxBuilder::new()
            .stdout(GuestOutput(logs.clone()))
            .stderr(GuestOutput(logs.clone()))
            .envs(&inner.environment)
            .build();
        let hooks = OutboundHooks {
            policy: inner.policy.clone(),
            logs: logs.clone(),
            meter: inner.outbound.clone(),
        };
        let mut store = Store::new(
            inner.pre.engine(),
            InstanceState::new(wasi, hooks, inner.shared.clone(), tally.clone()),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req_res = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(|e| anyhow!("new_incoming_request: {e:#}"))?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(tx)
            .map_err(|e| anyhow!("new_response_outparam: {e:#}"))?;
        let pre = inner.pre.clone();
        let task_logs = logs.clone();
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req_res, out)
                    .await
            }
            .await;
            result.map_err(|e| {
                let msg = format!("{e:#}");
                task_logs.host_line(&format!("guest invocation failed: {msg}"));
                msg
            })
        });

        match rx.await {
            Ok(Ok(resp)) => Ok((resp, Some(task))),
            Ok(Err(code)) => {
                logs.host_line(&format!("guest answered with error code {code:?}"));
                Ok((plain(500, ""), Some(task)))
            }
            Err(_) => {
                // The guest never set a response: it trapped or returned early.
                match task.await {
                    Ok(Ok(())) => {
                        logs.host_line("guest failed to produce a response prior to returning")
                    }
                    Ok(Err(_)) => {}
                    Err(e) => logs.host_line(&format!("guest task panicked: {e}")),
                }
                Ok((plain(500, ""), None))
            }
        }
    }
}

pub(crate) type GuestTask = tokio::task::JoinHandle<std::result::Result<(), String>>;
