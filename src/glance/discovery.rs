//! The versions document clients discover the API with. The id is a
//! concrete minor version: keystoneauth cannot parse `v2.x`.

use serde_json::{json, Value};

pub const CURRENT_VERSION: &str = "v2.17";

pub fn versions(base: &str) -> Value {
    json!({"versions": [{
        "id": CURRENT_VERSION,
        "status": "CURRENT",
        "links": [{"rel": "self", "href": format!("{base}/v2/")}],
    }]})
}
