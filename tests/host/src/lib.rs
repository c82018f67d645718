//! Test host for the image-tags Spin component.
//!
//! The Spin CLI cannot be installed on the build machines, so the compiled
//! component runs here inside wasmtime 47 with exactly the imports Spin gives
//! it: WASI p2, wasi-http p2 (incoming handler export, outgoing handler
//! import limited to `allowed_outbound_hosts`), `fermyon:spin/variables@2.0.0`
//! and `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch) over an in-memory
//! store with Spin's semantics ([`kv`]). Each request gets a fresh instance
//! from one pre-instantiated component, as in Spin. A [`profile`] makes it
//! stand in for Fermyon Cloud or Akamai Functions instead: fewer imports,
//! their store limits, and (Akamai) two replicated regions.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use image_tags_host::{KvMode, TestHost};
//! let host = TestHost::builder()
//!     .manifest("spin.toml")
//!     .variable("auth_mode", "tokens")
//!     .kv_mode(KvMode::Redis)
//!     .build()
//!     .await?;
//! let resp = host.get("/healthcheck").await?;
//! assert_eq!(resp.status, 200);
//! # Ok(()) }
//! ```

pub mod builder;
mod compile;
pub mod host;
pub mod instance;
pub mod kv;
pub mod logs;
pub mod manifest;
pub mod outbound;
pub mod profile;
pub mod response;
mod serve;

pub use host::{Response, TestHost, TestHostBuilder, DEFAULT_AUTHORITY};
pub use kv::{
    Bucket, Cas, KvError, KvFailure, KvLimits, KvMode, KvOp, KvStore, KvTally, Limit, Region,
    SwapFailure,
};
pub use manifest::Manifest;
pub use profile::{Profile, Routing};
