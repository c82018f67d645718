//! Platform profiles: the host as Spin (`spin`, the default), as Fermyon
//! Cloud (`fermyon-cloud`) or as Fermyon Wasm Functions / Akamai Functions
//! (`akamai`), for the edge build of issue 18.
//!
//! | switch | env var (bin and library) | bin flag | builder |
//! |---|---|---|---|
//! | profile: `spin`, `fermyon-cloud`, `akamai` | `IMAGE_TAGS_HOST_PROFILE` | `--profile` | [`TestHostBuilder::profile`] |
//! | replication lag in ms (`akamai`; default 0) | `IMAGE_TAGS_HOST_REPLICATION_LAG_MS` | `--replication-lag-ms` | [`TestHostBuilder::replication_lag`] |
//! | region of requests without `x-test-region`: `alternate` (default), `a`, `b` | `IMAGE_TAGS_HOST_REGION` | `--region` | [`TestHostBuilder::routing`] |
//! | write / read rate caps per second, `0` = none (override the profile's) | `IMAGE_TAGS_HOST_KV_WRITES_PER_SEC`, `IMAGE_TAGS_HOST_KV_READS_PER_SEC` | | [`TestHostBuilder::kv_limits`] |
//! | outbound HTTP requests per rolling hour, `0` = none (`fermyon-cloud`: 500) | `IMAGE_TAGS_HOST_OUTBOUND_PER_HOUR` | | |
//!
//! A flag or builder call wins over the environment. The store behaviour
//! (`--kv sqlite|redis`, [`crate::KvMode`]) is a separate switch and applies
//! under every profile.
//!
//! What each profile links and limits:
//!
//! - `spin`: WASI p2, wasi-http, `fermyon:spin/variables@2.0.0`,
//!   `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2`; no limits, one region.
//! - `fermyon-cloud`: WASI p2, wasi-http, Spin variables and
//!   `wasi:keyvalue/store@0.2.0-draft2` only: no `atomics`, no `batch` (the host
//!   has no `fermyon:spin/key-value` to offer either). A component that imports
//!   more fails to build the host with wasmtime's error naming the import.
//!   One store: the manifest may name only the label `default`. At most 1,024
//!   keys, key <= 255 bytes, value <= 1 MiB ([`KvLimits::fermyon_cloud`]).
//!   500 outbound HTTP requests per rolling hour; the next fails with
//!   wasi-http's `internal-error("fermyon-cloud limit: ...")`. Every profile
//!   counts outbound requests ([`crate::TestHost::outbound`]).
//! - `akamai`: as `fermyon-cloud` plus `wasi:keyvalue/batch`; no `atomics`.
//!   Key <= 8 KiB, value <= 1 MiB, 50 write units and 1,000 read units per
//!   second across the app ([`KvLimits::akamai`]). Two regions, `a` and `b`,
//!   each with its own replica; a write applies in its request's region at
//!   once and in the other after the replication lag, the last writer winning
//!   by write time ([`crate::kv::replicas`]). A request goes to the region its
//!   `x-test-region: a|b` header names (the header is removed before the
//!   component sees it; another value is answered `400` by the host), else to
//!   the `--region` choice: `alternate` takes a, b, a, b... in arrival order.
//!
//! A call past a limit fails as a store error, `error::other("<profile>
//! limit: ...")`, and is counted ([`crate::KvStore::refusals`]). `list-keys`
//! has Spin's semantics everywhere: all keys of the region's replica in one
//! answer, cursor `none`; a cursor is an error. Every request's store use is
//! in [`crate::Response::kv`] (library), and under `fermyon-cloud` and `akamai`
//! the bin logs one line per request on stderr:
//! `[image-tags-host] kv region=a reads=3 writes=1 refused=0 PUT /v2/...`.
//!
//! [`TestHostBuilder::profile`]: crate::TestHostBuilder::profile
//! [`TestHostBuilder::replication_lag`]: crate::TestHostBuilder::replication_lag
//! [`TestHostBuilder::routing`]: crate::TestHostBuilder::routing
//! [`TestHostBuilder::kv_limits`]: crate::TestHostBuilder::kv_limits

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, Result};

use crate::kv::{KvLimits, Region};

pub const ENV_PROFILE: &str = "IMAGE_TAGS_HOST_PROFILE";
pub const ENV_REPLICATION_LAG_MS: &str = "IMAGE_TAGS_HOST_REPLICATION_LAG_MS";
pub const ENV_REGION: &str = "IMAGE_TAGS_HOST_REGION";
pub const ENV_WRITES_PER_SEC: &str = "IMAGE_TAGS_HOST_KV_WRITES_PER_SEC";
pub const ENV_READS_PER_SEC: &str = "IMAGE_TAGS_HOST_KV_READS_PER_SEC";
pub const ENV_OUTBOUND_PER_HOUR: &str = "IMAGE_TAGS_HOST_OUTBOUND_PER_HOUR";
/// The request header that picks a region under `akamai`.
pub const REGION_HEADER: &str = "x-test-region";

/// The platform the host imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `spin up` / SpinKube: everything the component may import.
    #[default]
    Spin,
    /// Fermyon Cloud.
    FermyonCloud,
    /// Fermyon Wasm Functions / Akamai Functions.
    Akamai,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spin" | "" => Ok(Profile::Spin),
            "fermyon-cloud" => Ok(Profile::FermyonCloud),
            "akamai" => Ok(Profile::Akamai),
            other => Err(format!(
                "unknown profile {other:?} (spin|fermyon-cloud|akamai)"
            )),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Spin => "spin",
            Profile::FermyonCloud => "fermyon-cloud",
            Profile::Akamai => "akamai",
        })
    }
}

impl Profile {
    /// Whether `wasi:keyvalue/atomics@0.2.0-draft2` is linked.
    pub fn links_atomics(self) -> bool {
        self == Profile::Spin
    }

    /// Whether `wasi:keyvalue/batch@0.2.0-draft2` is linked.
    pub fn links_batch(self) -> bool {
        self != Profile::FermyonCloud
    }

    /// The store labels the platform offers (`None`: any the manifest names).
    pub fn only_store(self) -> Option<&'static str> {
        (self == Profile::FermyonCloud).then_some("default")
    }

    /// Two regions with a replication lag.
    pub fn replicated(self) -> bool {
        self == Profile::Akamai
    }

    /// Outbound HTTP requests per rolling hour (Fermyon Cloud: 500 per app).
    pub fn outbound_per_hour(self) -> Option<u32> {
        (self == Profile::FermyonCloud).then_some(500)
    }

    /// The platform's store limits.
    pub fn kv_limits(self) -> KvLimits {
        match self {
            Profile::Spin => KvLimits::none(),
            Profile::FermyonCloud => KvLimits::fermyon_cloud(),
            Profile::Akamai => KvLimits::akamai(),
        }
    }
}

/// Where requests without an `x-test-region` header go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Routing {
    /// a, b, a, b... in arrival order.
    #[default]
    Alternate,
    /// Always this region.
    Fixed(Region),
}

impl FromStr for Routing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alternate" => Ok(Routing::Alternate),
            other => other
                .parse()
                .map(Routing::Fixed)
                .map_err(|_| format!("unknown region routing {other:?} (alternate|a|b)")),
        }
    }
}

/// Picks the region of each request.
#[derive(Debug, Default)]
pub(crate) struct Router {
    routing: Routing,
    arrivals: AtomicU64,
}

impl Router {
    pub(crate) fn new(routing: Routing) -> Self {
        Router {
            routing,
            arrivals: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> Region {
        match self.routing {
            Routing::Fixed(r) => r,
            Routing::Alternate => match self.arrivals.fetch_add(1, Ordering::Relaxed) % 2 {
                0 => Region::A,
                _ => Region::B,
            },
        }
    }
}

/// `name` from the environment, parsed; `None` when unset or empty.
pub(crate) fn env<T: FromStr>(name: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow!("{name}={v:?}: {e}")),
        _ => Ok(None),
    }
}
