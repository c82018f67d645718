//! [`TestHostBuilder`]: the manifest, variables, store and component a
//! [`TestHost`] serves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use http::uri::Authority;

use crate::compile::prepare;
use crate::host::{Inner, TestHost, DEFAULT_AUTHORITY};
use crate::instance::Shared;
use crate::kv::{KvLimits, KvMode, KvStore};
use crate::logs::LogSink;
use crate::manifest::{self, Manifest};
use crate::outbound::{OutboundMeter, OutboundPolicy};
use crate::profile::{self, Profile, Router, Routing};

/// A component file to serve instead of the manifest's `source`, when the
/// builder is given none (lets a suite run against another build).
pub const ENV_WASM: &str = "IMAGE_TAGS_HOST_WASM";

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
    profile: Option<Profile>,
    replication_lag: Option<Duration>,
    routing: Option<Routing>,
    kv_limits: Option<KvLimits>,
    outbound_per_hour: Option<u32>,
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
            profile: None,
            replication_lag: None,
            routing: None,
            kv_limits: None,
            outbound_per_hour: None,
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
    /// after this call; otherwise the store keeps its mode. Its limits and
    /// replication are set from the profile (or [`TestHostBuilder::kv_limits`]).
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

    /// The platform to imitate (default: `$IMAGE_TAGS_HOST_PROFILE`, else
    /// [`Profile::Spin`]); see [`crate::profile`].
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Replication lag between the regions of `akamai` (default:
    /// `$IMAGE_TAGS_HOST_REPLICATION_LAG_MS`, else 0).
    pub fn replication_lag(mut self, lag: Duration) -> Self {
        self.replication_lag = Some(lag);
        self
    }

    /// The region of requests without `x-test-region` under `akamai`
    /// (default: `$IMAGE_TAGS_HOST_REGION`, else alternate).
    pub fn routing(mut self, routing: Routing) -> Self {
        self.routing = Some(routing);
        self
    }

    /// Store limits instead of the profile's (and of the rate caps'
    /// environment overrides).
    pub fn kv_limits(mut self, limits: KvLimits) -> Self {
        self.kv_limits = Some(limits);
        self
    }

    /// Outbound HTTP requests allowed per rolling hour, `0` for no cap
    /// (default: `$IMAGE_TAGS_HOST_OUTBOUND_PER_HOUR`, else the profile's).
    pub fn outbound_per_hour(mut self, n: u32) -> Self {
        self.outbound_per_hour = Some(n);
        self
    }

    /// The profile's limits, with the rate caps the environment overrides.
    fn resolve_limits(&self, profile: Profile) -> Result<KvLimits> {
        if let Some(l) = &self.kv_limits {
            return Ok(l.clone());
        }
        let mut limits = profile.kv_limits();
        if let Some(n) = profile::env::<u32>(profile::ENV_WRITES_PER_SEC)? {
            limits.writes_per_sec = (n > 0).then_some(n);
        }
        if let Some(n) = profile::env::<u32>(profile::ENV_READS_PER_SEC)? {
            limits.reads_per_sec = (n > 0).then_some(n);
        }
        Ok(limits)
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

        let wasm = match (&self.wasm, std::env::var_os(ENV_WASM)) {
            (Some(p), _) => manifest::resolve_path(p),
            (None, Some(p)) if !p.is_empty() => manifest::resolve_path(&PathBuf::from(p)),
            (None, _) => manifest.source_path(comp)?,
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

        let profile = match self.profile {
            Some(p) => p,
            None => profile::env(profile::ENV_PROFILE)?.unwrap_or_default(),
        };
        if let Some(only) = profile.only_store() {
            if let Some(other) = comp.key_value_stores.iter().find(|l| *l != only) {
                bail!("the {profile} profile offers only the key-value store {only:?}; the component's key_value_stores names {other:?}");
            }
        }
        let lag = match self.replication_lag {
            Some(l) => l,
            None => {
                Duration::from_millis(profile::env(profile::ENV_REPLICATION_LAG_MS)?.unwrap_or(0))
            }
        };
        let routing = match self.routing {
            Some(r) => r,
            None => profile::env(profile::ENV_REGION)?.unwrap_or_default(),
        };
        let limits = self.resolve_limits(profile)?;
        let outbound_cap = match self.outbound_per_hour {
            Some(n) => Some(n),
            None => profile::env::<u32>(profile::ENV_OUTBOUND_PER_HOUR)?,
        };
        let outbound_cap = match outbound_cap {
            Some(n) => (n > 0).then_some(n),
            None => profile.outbound_per_hour(),
        };

        let pre = prepare(&wasm, profile)?;
        let kv = match self.kv {
            Some(kv) => {
                kv.set_mode(self.kv_mode);
                kv
            }
            None => KvStore::new(self.kv_mode),
        };
        kv.set_limits(limits);
        kv.set_replication(profile.replicated().then_some(lag));
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
                outbound: Arc::new(OutboundMeter::new(outbound_cap)),
                environment,
                authority,
                routes,
                app_vars,
                wasm,
                profile,
                router: Router::new(routing),
            }),
        })
    }
}
