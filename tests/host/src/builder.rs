//! [`TestHostBuilder`]: the manifest, variables, store and component a
//! [`TestHost`] serves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use http::uri::Authority;

use crate::compile::prepare;
use crate::host::{Inner, TestHost, DEFAULT_AUTHORITY};
use crate::instance::Shared;
use crate::kv::{KvMode, KvStore};
use crate::logs::LogSink;
use crate::manifest::{self, Manifest};
use crate::outbound::OutboundPolicy;

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
