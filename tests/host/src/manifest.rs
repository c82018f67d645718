//! The parts of a Spin 2 manifest (`spin.toml`) the host needs, and Spin's
//! variable rules: names, `{{ var }}` templates and resolution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// An application variable from `[variables]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VariableDef {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// A `[component.NAME]` table (the keys the host uses; others are ignored).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ComponentDef {
    #[serde(default)]
    pub source: Option<toml::Value>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
struct HttpTriggerDef {
    route: toml::Value,
    component: toml::Value,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(default)]
    variables: BTreeMap<String, VariableDef>,
    #[serde(default)]
    component: BTreeMap<String, ComponentDef>,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Value>,
}

/// A parsed manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The directory the manifest is in (component sources are relative to it).
    pub dir: PathBuf,
    pub variables: BTreeMap<String, VariableDef>,
    pub components: BTreeMap<String, ComponentDef>,
    /// `(route, component)` of each `[[trigger.http]]`.
    pub http_routes: Vec<(String, String)>,
}

impl Manifest {
    /// Read and check a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, dir).with_context(|| format!("in manifest {}", path.display()))
    }

    /// Parse manifest text; `dir` is where relative sources are resolved.
    pub fn parse(text: &str, dir: PathBuf) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text).context("parsing TOML")?;
        for (name, def) in &raw.variables {
            validate_name(name).map_err(|e| anyhow!("variable {name:?}: {e}"))?;
            match (&def.default, def.required) {
                (Some(_), true) => {
                    bail!("variable {name:?} may not be both required and have a default")
                }
                (None, false) => {
                    bail!("variable {name:?} must either be required or have a default")
                }
                _ => {}
            }
        }
        for (cname, comp) in &raw.component {
            for (key, tmpl) in &comp.variables {
                validate_name(key)
                    .map_err(|e| anyhow!("component {cname:?} variable {key:?}: {e}"))?;
                for var in template_vars(tmpl)? {
                    if !raw.variables.contains_key(var) {
                        bail!("component {cname:?} variable {key:?}: unknown variable {var:?}");
                    }
                }
            }
            for host in &comp.allowed_outbound_hosts {
                for var in template_vars(host)? {
                    if !raw.variables.contains_key(var) {
                        bail!(
                            "component {cname:?} allowed_outbound_hosts: unknown variable {var:?}"
                        );
                    }
                }
            }
        }
        let mut http_routes = Vec::new();
        if let Some(http) = raw.trigger.get("http") {
            let list: Vec<HttpTriggerDef> = http
                .clone()
                .try_into()
                .context("[[trigger.http]] entries need `route` and `component`")?;
            for t in list {
                let route = match &t.route {
                    toml::Value::String(s) => s.clone(),
                    other => bail!("unsupported [[trigger.http]] route {other}"),
                };
                let component = match &t.component {
                    toml::Value::String(s) => s.clone(),
                    other => bail!("unsupported inline component in [[trigger.http]]: {other}"),
                };
                http_routes.push((route, component));
            }
        }
        Ok(Manifest {
            dir,
            variables: raw.variables,
            components: raw.component,
            http_routes,
        })
    }

    /// The component to serve: `name`, else the one the first HTTP trigger
    /// names, else the only component.
    pub fn pick_component(&self, name: Option<&str>) -> Result<(String, &ComponentDef)> {
        let name = match name {
            Some(n) => n.to_string(),
            None => match self.http_routes.first() {
                Some((_, c)) => c.clone(),
                None if self.components.len() == 1 => {
                    self.components.keys().next().cloned().unwrap_or_default()
                }
                None => bail!("manifest has no [[trigger.http]]; say which component to serve"),
            },
        };
        let def = self
            .components
            .get(&name)
            .ok_or_else(|| anyhow!("manifest has no component {name:?}"))?;
        Ok((name, def))
    }

    /// The routes of `component`'s HTTP triggers.
    pub fn routes_of(&self, component: &str) -> Vec<String> {
        self.http_routes
            .iter()
            .filter(|(_, c)| c == component)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The component's `source` as a path (relative to the manifest).
    pub fn source_path(&self, comp: &ComponentDef) -> Result<PathBuf> {
        match &comp.source {
            Some(toml::Value::String(s)) => Ok(self.dir.join(s)),
            Some(other) => bail!("component source {other} is not a local path"),
            None => bail!("component has no source"),
        }
    }

    /// Resolve the application variables: an explicit value from
    /// `overrides`, else the default; `required` with no value is an error
    /// (Spin refuses to start). Overrides for undeclared names are errors.
    pub fn resolve_app_variables(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        for name in overrides.keys() {
            if !self.variables.contains_key(name) {
                bail!("variable {name:?} is not declared in the manifest's [variables]");
            }
        }
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, def) in &self.variables {
            match overrides.get(name).or(def.default.as_ref()) {
                Some(v) => {
                    out.insert(name.clone(), v.clone());
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            bail!("no provider resolved required variable(s): {missing:?}");
        }
        Ok(out)
    }
}

/// `SPIN_VARIABLE_<UPPERCASE_NAME>` values from the process environment for
/// the manifest's declared variables, as Spin's environment provider reads them.
pub fn env_overrides(manifest: &Manifest) -> BTreeMap<String, String> {
    manifest
        .variables
        .keys()
        .filter_map(|name| {
            let env = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            std::env::var(env).ok().map(|v| (name.clone(), v))
        })
        .collect()
}

/// Spin's variable-name rule (`spin_expressions::Key`): non-empty, only
/// `[a-z0-9_]`, starts with a letter, ends with a letter or digit, no `__`.
pub fn validate_name(key: &str) -> std::result::Result<(), String> {
    let reason = if key.is_empty() {
        "must not be empty".to_string()
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        format!("invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores.")
    } else if !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase ASCII letter".to_string()
    } else if !key.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        "must end with a lowercase ASCII letter or digit".to_string()
    } else if key.contains("__") {
        "must not contain multiple consecutive underscores".to_string()
    } else {
        return Ok(());
    };
    Err(format!("{key:?}: {reason}"))
}

#[derive(Debug)]
enum Part<'a> {
    Lit(&'a str),
    Expr(&'a str),
}

fn parse_template(t: &str) -> Result<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let (expr, tail) = after
                .split_once("}}")
                .ok_or_else(|| anyhow!("invalid variable template {t:?}: unmatched '{{{{'"))?;
            parts.push(Part::Expr(expr.trim()));
            rest = tail;
        } else if let Some(i) = rest.find("{{") {
            parts.push(Part::Lit(&rest[..i]));
            rest = &rest[i..];
        } else {
            parts.push(Part::Lit(rest));
            rest = "";
        }
    }
    Ok(parts)
}

fn template_vars(t: &str) -> Result<Vec<&str>> {
    Ok(parse_template(t)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Lit(_) => None,
        })
        .collect())
}

/// Expand `{{ var }}` in `template` from resolved application variables.
pub fn expand(template: &str, app_vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    for part in parse_template(template)? {
        match part {
            Part::Lit(l) => out.push_str(l),
            Part::Expr(e) => out.push_str(
                app_vars
                    .get(e)
                    .ok_or_else(|| anyhow!("invalid variable name: {e}"))?,
            ),
        }
    }
    Ok(out)
}

/// Locate `path` for a test: as given when absolute or present relative to
/// the working directory, else relative to the workspace root (two levels
/// above this crate's `tests/host`).
pub fn resolve_path(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let root = workspace_root();
    let candidate = root.join(path);
    if candidate.exists() {
        candidate
    } else {
        path.to_path_buf()
    }
}

/// The workspace root this crate was built in (`tests/host/../..`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}
