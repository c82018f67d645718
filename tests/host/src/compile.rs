//! The wasmtime engine and the compiled components, shared by every host in
//! the process: compiled once per file version, cached on disk between
//! processes, and pre-instantiated against the imports of a [`Profile`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, Context as _, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::instance::{bindings, InstanceState};
use crate::manifest;
use crate::profile::Profile;

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
    profile: Profile,
}

pub(crate) type Prepared = ProxyPre<InstanceState>;

/// Compile (once per process and file version) and pre-instantiate against
/// what `profile` links.
pub(crate) fn prepare(path: &Path, profile: Profile) -> Result<Prepared> {
    static CACHE: OnceLock<Mutex<HashMap<ComponentKey, Prepared>>> = OnceLock::new();
    let path = path
        .canonicalize()
        .with_context(|| format!("component {} not found (build it first)", path.display()))?;
    let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
    let key = ComponentKey {
        path: path.clone(),
        len: meta.len(),
        modified: meta.modified().ok(),
        profile,
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
    link_spin_imports(&mut linker, profile).map_err(|e| anyhow!("linking Spin imports: {e:#}"))?;
    let pre = linker.instantiate_pre(&component).map_err(|e| match profile {
        Profile::Spin => anyhow!(
            "{} imports something the host (like Spin) does not provide: {e:#}",
            path.display()
        ),
        _ => anyhow!(
            "{} imports something the {profile} profile does not provide (the platform would refuse it): {e:#}",
            path.display()
        ),
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

/// The Spin variables and the `wasi:keyvalue` interfaces `profile` offers.
fn link_spin_imports(linker: &mut Linker<InstanceState>, profile: Profile) -> wasmtime::Result<()> {
    use bindings::fermyon::spin::variables;
    use bindings::wasi::keyvalue::{atomics, batch, store};
    use wasmtime::component::HasSelf;
    variables::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    store::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    if profile.links_atomics() {
        atomics::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    }
    if profile.links_batch() {
        batch::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    }
    Ok(())
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
