//! image-tags: an OpenStack Glance v2-compatible image-tag service.
//!
//! Everything but `component` is plain Rust that runs and is unit-tested on
//! the host target; `component` is the thin Spin edge compiled to wasm.

pub mod app;
pub mod auth;
pub mod config;
pub mod discovery;
pub mod fields;
pub mod filters;
pub mod http;
pub mod image;
pub mod ims;
pub mod index;
pub mod keys;
pub mod listing;
pub mod patch;
pub mod policy;
pub mod query;
pub mod random;
pub mod repo;
pub mod rfc3339;
pub mod routes;
pub mod schemas;
pub mod segment;
pub mod store;
pub mod tag;

#[cfg(target_arch = "wasm32")]
mod component;
