//! Reading records out of a parsed JSON object with the rules serde's
//! derived `Deserialize` applies: unknown fields ignored, `Option` fields
//! `None` when missing or `null`, `#[serde(default)]` fields defaulted when
//! missing (but not when `null`), everything else required and typed.
//! Derived `Deserialize` cost ~40 KB of wasm (one parser per struct, plus
//! serde's float formatting for its error messages); unit tests compare
//! these readers with the derived ones.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Fields = Map<String, Value>;

fn missing(key: &str) -> String {
    format!("missing field `{key}`")
}

/// How `serde_json` names an unexpected value in its errors (a string cut
/// to its first 64 characters, where serde would quote all of it).
pub fn unexpected(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string {:?}", crate::http::echo(s)),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// serde's message, without the position `serde_json` would add.
pub fn invalid(v: &Value, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", unexpected(v))
}

pub fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Fields, String> {
    v.as_object().ok_or_else(|| invalid(v, what))
}

fn string_of(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(v, "a string"))
}

pub fn string(m: &Fields, key: &str) -> Result<String, String> {
    string_of(m.get(key).ok_or_else(|| missing(key))?)
}

pub fn opt_string(m: &Fields, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string_of(v).map(Some),
    }
}

/// `required`: no `#[serde(default)]`.
pub fn bool(m: &Fields, key: &str, required: bool) -> Result<bool, String> {
    match m.get(key) {
        None if required => Err(missing(key)),
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| invalid(v, "a boolean")),
    }
}

pub fn u64(m: &Fields, key: &str) -> Result<u64, String> {
    let v = m.get(key).ok_or_else(|| missing(key))?;
    v.as_u64().ok_or_else(|| invalid(v, "u64"))
}

pub fn i64(m: &Fields, key: &str) -> Result<i64, String> {
    let v = m.get(key).ok_or_else(|| missing(key))?;
    v.as_i64().ok_or_else(|| invalid(v, "i64"))
}

/// A `Vec` field; `required`: no `#[serde(default)]`.
pub fn list<'a>(m: &'a Fields, key: &str, required: bool) -> Result<&'a [Value], String> {
    match m.get(key) {
        None if required => Err(missing(key)),
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| invalid(v, "a sequence")),
    }
}

pub fn strings(m: &Fields, key: &str, required: bool) -> Result<Vec<String>, String> {
    list(m, key, required)?.iter().map(string_of).collect()
}

/// A `#[serde(default)]` map of strings.
pub fn string_map(m: &Fields, key: &str) -> Result<BTreeMap<String, String>, String> {
    match m.get(key) {
        None => Ok(BTreeMap::new()),
        Some(v) => {
            // A loop, not `collect`: that sorts, and costs a sort in wasm.
            let mut map = BTreeMap::new();
            for (k, v) in object(v, "a map")? {
                map.insert(k.clone(), string_of(v)?);
            }
            Ok(map)
        }
    }
}

fn value(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Parse `bytes` as JSON and read it with `read`.
pub fn parse<T>(bytes: &[u8], read: fn(&Value) -> Result<T, String>) -> Result<T, String> {
    read(&value(bytes)?)
}
