//! `image-tags-host --listen 127.0.0.1:3000 [--manifest spin.toml]
//! [--component image-tags] [--wasm PATH] [--kv sqlite|redis]
//! [--profile spin|fermyon-cloud|akamai] [--replication-lag-ms N]
//! [--region alternate|a|b]`
//!
//! The platform switches also come from the environment
//! (`IMAGE_TAGS_HOST_PROFILE`, `IMAGE_TAGS_HOST_REPLICATION_LAG_MS`,
//! `IMAGE_TAGS_HOST_REGION`, `IMAGE_TAGS_HOST_KV_WRITES_PER_SEC`,
//! `IMAGE_TAGS_HOST_KV_READS_PER_SEC`); a flag wins. See the `profile` module.
//!
//! Serves the component over HTTP/1.1 like `spin up`: variables from
//! `SPIN_VARIABLE_*`, one instance per request. Prints
//! `listening on http://ADDR` once ready; exits on SIGTERM/SIGINT after the
//! requests in flight finish.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use std::time::Duration;

use image_tags_host::{KvMode, Profile, Routing, TestHost};

const USAGE: &str = "usage: image-tags-host --listen ADDR [--manifest spin.toml] [--component NAME] [--wasm PATH] [--kv sqlite|redis] [--profile spin|fermyon-cloud|akamai] [--replication-lag-ms N] [--region alternate|a|b] [--quiet]";

struct Args {
    listen: String,
    manifest: String,
    component: Option<String>,
    wasm: Option<String>,
    kv: KvMode,
    profile: Option<Profile>,
    replication_lag: Option<Duration>,
    routing: Option<Routing>,
    quiet: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        listen: String::new(),
        manifest: "spin.toml".into(),
        component: None,
        wasm: None,
        kv: KvMode::Sqlite,
        profile: None,
        replication_lag: None,
        routing: None,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" | "-l" => args.listen = value()?,
            "--manifest" | "-f" => args.manifest = value()?,
            "--component" | "-c" => args.component = Some(value()?),
            "--wasm" => args.wasm = Some(value()?),
            "--kv" => args.kv = value()?.parse().map_err(|e: String| anyhow!(e))?,
            "--profile" => args.profile = Some(value()?.parse().map_err(|e: String| anyhow!(e))?),
            "--replication-lag-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| anyhow!("--replication-lag-ms: {e}"))?;
                args.replication_lag = Some(Duration::from_millis(ms));
            }
            "--region" => args.routing = Some(value()?.parse().map_err(|e: String| anyhow!(e))?),
            "--quiet" | "-q" => args.quiet = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if args.listen.is_empty() {
        bail!("--listen is required\n{USAGE}");
    }
    Ok(args)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run() -> Result<()> {
    let args = parse_args()?;
    let mut builder = TestHost::builder()
        .manifest(&args.manifest)
        .env_variables(true)
        .kv_mode(args.kv)
        .echo_logs(!args.quiet);
    if let Some(c) = &args.component {
        builder = builder.component(c);
    }
    if let Some(w) = &args.wasm {
        builder = builder.wasm(w);
    }
    if let Some(p) = args.profile {
        builder = builder.profile(p);
    }
    if let Some(lag) = args.replication_lag {
        builder = builder.replication_lag(lag);
    }
    if let Some(r) = args.routing {
        builder = builder.routing(r);
    }
    let host = builder.build().await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    host.serve_listener(listener, shutdown_signal()).await?;
    eprintln!("[image-tags-host] shut down");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("image-tags-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}
