//! Huawei Cloud IMS's key/value tag API (SPEC section 9), over the same
//! tag list, records and guarantees as the native Glance routes.

pub mod endpoint;
pub mod error;
pub mod handlers;
pub mod kv_tags;
pub mod legacy;
pub mod resource_instances;

use serde_json::{Map, Value};

/// A JSON object from its fields. Built by hand: `json!` serializes each
/// value through serde, one instantiation per type, which costs wasm.
pub(crate) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}
