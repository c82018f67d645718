//! image-tags: an OpenStack Glance v2-compatible image-tag service, which
//! also speaks Huawei Cloud IMS's tag API.
//!
//! Everything but `component` is plain Rust that runs and is unit-tested on
//! the host target; `component` is the thin Spin edge compiled to wasm.
//!
//! Who may import whom: `http` and `query` import nothing of the crate;
//! `core` imports only `http`; `auth` imports `core`; `config` imports
//! `auth`; each API (`glance`, `ims`) imports `core`, `config` and the plain
//! modules, never another API; `service` imports the APIs and `auth`; only
//! `component` imports `service`.

pub mod auth;
pub mod config;
pub mod core;
pub mod glance;
pub mod http;
pub mod ims;
pub mod query;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod component;
