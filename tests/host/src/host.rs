//! The host: a compiled component served one fresh instance per request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::uri::{Authority, Scheme as UriScheme};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};
use wasmtime_wasi_http::p2::WasiHttpView;

use crate::instance::{bindings::SpinHost, InstanceState, Shared};
use crate::kv::{KvMode, KvStore};
use crate::logs::{GuestOutput, LogSink};
use crate::manifest::{self, Manifest};
use crate::outbound::{OutboundHooks, OutboundPolicy};

/// The authority requests get when the test gives none.
pub const DEFAULT_AUTHORITY: &str = "localhost:3000";

// ----- engine and compiled components, shared by every host in the process ---

fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Tests want a fast compile more than fast code: Cranelift's optimiser
    // is most of the compile time, and a debug build of it is slow.
    // IMAGE_TAGS_HOST_OPT=speed restores the default.
    let opt = match std::env::var("IMAGE_TAGS_HOST_OPT").as_deref() {
        Ok("speed") => wasmtime::OptLevel::Speed,
        _ => wasmtime::OptLevel::None,
    };
    config.cranelift_opt_level(opt);
    let engine = Engine::new(&config).map_err(|e| anyhow!("creating the wasmtime engine: {e}"))?;
    Ok(ENGINE.get_or_init(|| engine))
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ComponentKey {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

type Prepared = ProxyPre<InstanceState>;

/// Compile (once per process and file version) and pre-instantiate.
fn prepare(path: &Path) -> Result<Prepared> {
    static CACHE: OnceLock<Mutex<HashMap<ComponentKey, Prepared>>> = OnceLock::new();
    let path = path
        .canonicalize()
        .with_context(|| format!("component {} not found (build it first)", path.display()))?;
    let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
    let key = ComponentKey {
        path: path.clone(),
        len: meta.len(),
        modified: meta.modified().ok(),
    };
    // Holding the lock while compiling makes concurrent builders of the same
    // component wait for one compilation instead of racing.
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pre) = cache.get(&key) {
        return Ok(pre.clone());
    }
    let engine = engine()?;
    let component = load_component(engine, &path)?;
    let mut linker: Linker<InstanceState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| anyhow!("linking WASI p2: {e:#}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow!("linking wasi-http: {e:#}"))?;
    SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
        .map_err(|e| anyhow!("linking Spin imports: {e:#}"))?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        anyhow!(
            "{} imports something the host (like Spin) does not provide: {e:#}",
            path.display()
        )
    })?;
    let pre = ProxyPre::new(pre).map_err(|e| {
        anyhow!(
            "{} does not export wasi:http/incoming-handler@0.2.x: {e:#}",
            path.display()
        )
    })?;
    cache.insert(key, pre.clone());
    Ok(pre)
}

/// Where compiled components are kept between processes:
/// `$IMAGE_TAGS_HOST_CACHE_DIR`, else `<workspace>/target/image-tags-host-cache`.
/// `IMAGE_TAGS_HOST_CACHE_DIR=off` turns the cache off.
fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("IMAGE_TAGS_HOST_CACHE_DIR") {
        Some(d) if d == "off" => None,
        Some(d) => Some(PathBuf::from(d)),
        None => Some(
            manifest::workspace_root()
                .join("target")
                .join("image-tags-host-cache"),
        ),
    }
}

/// Compile a component, or load the machine code an earlier process compiled
/// from the same bytes with the same engine settings. (Cranelift in a debug
/// build of the host takes seconds per component; loading takes milliseconds.)
fn load_component(engine: &Engine, path: &Path) -> Result<Component> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    let cached = cache_dir().map(|d| d.join(format!("{:016x}.cwasm", h.finish())));
    if let Some(file) = cached.as_ref().filter(|f| f.exists()) {
        // SAFETY: the file is one this function wrote with `serialize` for
        // these exact bytes and engine settings (the name is their hash), in a
        // directory only the host writes; wasmtime still checks its header
        // and rejects an incompatible one, and then we compile afresh.
        match unsafe { Component::deserialize_file(engine, file) } {
            Ok(c) => return Ok(c),
            Err(e) => eprintln!("[image-tags-host] ignoring cached {}: {e}", file.display()),
        }
    }
    let started = Instant::now();
    let component = Component::new(engine, &bytes)
        .map_err(|e| anyhow!("compiling {}: {e:#}", path.display()))?;
    if std::env::var_os("IMAGE_TAGS_HOST_QUIET").is_none() {
        eprintln!(
            "[image-tags-host] compiled {} in {:.2?}",
            path.display(),
            started.elapsed()
        );
    }
    if let (Some(file), Ok(code)) = (cached, component.serialize()) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, code)?;
            std::fs::rename(&tmp, &file)
        };
        if let Err(e) = write() {
            eprintln!("[image-tags-host] could not cache {}: {e}", file.display());
        }
    }
    Ok(component)
}

// ----- builder ---------------------------------------------------------------

/// Configures a [`TestHost`].
#[derive(Clone, Debug)]
pub struct TestHostBuilder {
    manifest: PathBuf,
    wasm: Option<PathBuf>,
    component: Option<String>,
    variables: BTreeMap<String, String>,
    env_variables: bool,
    kv_mode: KvMode,
    kv: Option<KvStore>,
    authority: String,
    echo_logs: bool,
}

impl Default for TestHostBuilder {
    fn default() -> Self {
        TestHostBuilder {
            manifest: PathBuf::from("spin.toml"),
            wasm: None,
            component: None,
            variables: BTreeMap::new(),
            env_variables: false,
            kv_mode: KvMode::Sqlite,
            kv: None,
            authority: DEFAULT_AUTHORITY.to_string(),
            echo_logs: true,
        }
    }
}

impl TestHostBuilder {
    /// The manifest (default `spin.toml`). A relative path is tried against
    /// the working directory, then against the workspace root.
    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = path.into();
        self
    }

    /// The component file; default: the manifest component's `source`.
    pub fn wasm(mut self, path: impl Into<PathBuf>) -> Self {
        self.wasm = Some(path.into());
        self
    }

    /// Which `[component.NAME]` to serve; default: the HTTP trigger's.
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.component = Some(name.into());
        self
    }

    /// Set an application variable (wins over the environment and the default).
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// Set several application variables.
    pub fn variables<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self.variables.insert(k.into(), v.into());
        }
        self
    }

    /// Also read `SPIN_VARIABLE_<NAME>` from the environment (off by default
    /// in the library so tests do not depend on the caller's environment; the
    /// bin turns it on). Explicit [`TestHostBuilder::variable`]s still win.
    pub fn env_variables(mut self, on: bool) -> Self {
        self.env_variables = on;
        self
    }

    /// Which backend the key-value store imitates (default SQLite).
    pub fn kv_mode(mut self, mode: KvMode) -> Self {
        self.kv_mode = mode;
        self
    }

    /// Use an existing store (e.g. to "restart" a host over the same data).
    /// Its mode is set to [`TestHostBuilder::kv_mode`] only if that was set
    /// after this call; otherwise the store keeps its mode.
    pub fn kv_store(mut self, store: KvStore) -> Self {
        self.kv_mode = store.mode();
        self.kv = Some(store);
        self
    }

    /// The authority requests without one get (default `localhost:3000`).
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Echo guest output to stderr (default on; the buffer fills either way).
    pub fn echo_logs(mut self, on: bool) -> Self {
        self.echo_logs = on;
        self
    }

    /// Load the manifest, resolve variables, compile (cached per process)
    /// and pre-instantiate.
    pub async fn build(self) -> Result<TestHost> {
        let manifest_path = manifest::resolve_path(&self.manifest);
        let manifest = Manifest::load(&manifest_path)?;
        let (component_id, comp) = manifest.pick_component(self.component.as_deref())?;

        let mut overrides = if self.env_variables {
            manifest::env_overrides(&manifest)
        } else {
            BTreeMap::new()
        };
        overrides.extend(self.variables.clone());
        let app_vars = manifest.resolve_app_variables(&overrides)?;

        let mut component_vars = BTreeMap::new();
        for (k, tmpl) in &comp.variables {
            component_vars.insert(k.clone(), manifest::expand(tmpl, &app_vars)?);
        }
        let hosts = comp
            .allowed_outbound_hosts
            .iter()
            .map(|h| manifest::expand(h, &app_vars))
            .collect::<Result<Vec<_>>>()?;
        let policy = OutboundPolicy::new(&hosts).context("allowed_outbound_hosts")?;
        let environment = comp
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>();

        let wasm = match &self.wasm {
            Some(p) => manifest::resolve_path(p),
            None => manifest.source_path(comp)?,
        };
        let authority: Authority = self
            .authority
            .parse()
            .map_err(|e| anyhow!("authority {:?}: {e}", self.authority))?;
        let routes = manifest.routes_of(&component_id);
        let routes = if routes.is_empty() {
            vec!["/...".to_string()]
        } else {
            routes
        };

        let pre = prepare(&wasm)?;
        let kv = match self.kv {
            Some(kv) => {
                kv.set_mode(self.kv_mode);
                kv
            }
            None => KvStore::new(self.kv_mode),
        };
        let logs = LogSink::new(self.echo_logs);
        let shared = Arc::new(Shared {
            component_id: component_id.clone(),
            component_vars,
            kv_labels: comp
                .key_value_stores
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>(),
            kv,
            logs,
        });
        Ok(TestHost {
            inner: Arc::new(Inner {
                pre,
                shared,
                policy: Arc::new(policy),
                environment,
                authority,
                routes,
                app_vars,
                wasm,
            }),
        })
    }
}

// ----- the host ----------------------------------------------------------------

struct Inner {
    pre: Prepared,
    shared: Arc<Shared>,
    policy: Arc<OutboundPolicy>,
    environment: Vec<(String, String)>,
    authority: Authority,
    routes: Vec<String>,
    app_vars: BTreeMap<String, String>,
    wasm: PathBuf,
}

/// A running host. Cheap to clone; clones serve the same component and store.
#[derive(Clone)]
pub struct TestHost {
    inner: Arc<Inner>,
}

/// A fully read response.
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("response body is not JSON: {:?}", self.text()))
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

fn full_body(body: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(body.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

fn plain(status: u16, body: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let mut resp = hyper::Response::new(full_body(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp
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
        let (resp, guest) = self.dispatch(req, None).await?;
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

    /// Route the request and run the guest. Returns the response (its body
    /// may still be streaming) and the guest task to await, if one ran.
    async fn dispatch(
        &self,
        mut req: hyper::Request<HyperIncomingBody>,
        client: Option<SocketAddr>,
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
        };
        let mut store = Store::new(
            inner.pre.engine(),
            InstanceState::new(wasi, hooks, inner.shared.clone()),
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

    /// Serve over HTTP/1.1 on `addr` in a background task until the runtime
    /// ends. Returns the bound address (`127.0.0.1:0` picks a free port).
    pub async fn serve(&self, addr: &str) -> Result<SocketAddr> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        let host = self.clone();
        tokio::spawn(async move {
            if let Err(e) = host.serve_listener(listener, std::future::pending()).await {
                eprintln!("[image-tags-host] server stopped: {e:?}");
            }
        });
        Ok(local)
    }

    /// Serve connections from `listener` until `shutdown` resolves, then stop
    /// accepting, let open connections finish their requests, and return.
    pub async fn serve_listener(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut conns = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("[image-tags-host] accept failed: {e}");
                        continue;
                    }
                },
            };
            let host = self.clone();
            let mut stop = stop_rx.clone();
            conns.spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let host = host.clone();
                        async move { Ok::<_, Infallible>(host.serve_one(req, peer).await) }
                    },
                );
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            if !e.is_incomplete_message() {
                                eprintln!("[image-tags-host] connection from {peer}: {e}");
                            }
                        }
                    }
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
            // Reap finished connections so the set does not grow forever.
            while conns.try_join_next().is_some() {}
        }
        let _ = stop_tx.send(true);
        while conns.join_next().await.is_some() {}
        Ok(())
    }

    async fn serve_one(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        let req = req.map(|b| b.map_err(ErrorCode::from).boxed_unsync());
        match self.dispatch(req, Some(peer)).await {
            Ok((resp, task)) => {
                if let Some(task) = task {
                    // Keep the guest running to completion in the background.
                    drop(task);
                }
                resp
            }
            Err(e) => {
                self.inner
                    .shared
                    .logs
                    .host_line(&format!("request failed: {e:#}"));
                plain(500, "")
            }
        }
    }
}

type GuestTask = tokio::task::JoinHandle<std::result::Result<(), String>>;
