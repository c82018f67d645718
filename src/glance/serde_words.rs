//! serde's wording of a value of the wrong type, which `patch` repeats in
//! its messages. It goes with the hand-written JSON Patch reader.

use serde_json::Value;

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
