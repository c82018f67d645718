//! JSON Schema documents shaped like Glance's. python-glanceclient builds its
//! models and CLI arguments from them, and skips `readOnly` properties when
//! it sends an image.

/// `GET /v2/schemas/image`, exactly as `serde_json` prints the document
/// (compact, keys sorted). Served as text: building it with `json!` cost
/// ~20 KB of wasm. The test below checks it against the `json!` original.
pub const IMAGE: &str = include_str!("schemas/image.json");

pub fn image() -> &'static str {
    IMAGE.trim_end()
}

/// `GET /v2/schemas/images`: the image schema is its `items`.
pub fn images() -> String {
    [
        r#"{"links":[{"href":"{first}","rel":"first"},{"href":"{next}","rel":"next"},{"href":"{schema}","rel":"describedby"}],"name":"images","properties":{"first":{"type":"string"},"images":{"items":"#,
        image(),
        r#","type":"array"},"next":{"type":"string"},"schema":{"type":"string"}}}"#,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use crate::glance::validate::{CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES};
    use serde_json::{json, Value};

    // The documents as first written with `json!`: the served text must be
    // exactly what serde_json prints for them.
    fn read_only(kind: Value, description: &str) -> Value {
        json!({"type": kind, "readOnly": true, "description": description})
    }

    fn image() -> Value {
        let nullable_enum = |values: &[&str]| {
            let mut all: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            all.push(Value::Null);
            json!({"type": ["null", "string"], "enum": all})
        };
        json!({
            "name": "image",
            "properties": {
                "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "description": "An identifier for the image"},
                "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
                "status": {"type": "string", "readOnly": true, "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"], "description": "Status of the image"},
                "visibility": {"type": "string", "enum": VISIBILITIES, "description": "Scope of image accessibility"},
                "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
                "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
                "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32, "description": "md5 hash of image contents."},
                "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "maxLength": 64, "description": "Algorithm to calculate the os_hash_value"},
                "os_hash_value": {"type": ["null", "string"], "readOnly": true, "maxLength": 128, "description": "Hexdigest of the image contents"},
                "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
                "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
                "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
                "container_format": nullable_enum(CONTAINER_FORMATS),
                "disk_format": nullable_enum(DISK_FORMATS),
                "created_at": read_only(json!("string"), "Date and time of image registration"),
                "updated_at": read_only(json!("string"), "Date and time of the last image modification"),
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "List of strings related to the image"},
                "direct_url": read_only(json!("string"), "URL to access the image file kept in external store"),
                "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
                "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
                "self": read_only(json!("string"), "An image self url"),
                "file": read_only(json!("string"), "An image file url"),
                "schema": read_only(json!("string"), "An image schema url"),
                "locations": {"type": "array", "items": {"type": "object"}, "description": "A set of URLs to access the image file kept in external store"},
            },
            "additionalProperties": {"type": "string"},
            "links": [
                {"rel": "self", "href": "{self}"},
                {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        })
    }

    fn images() -> Value {
        json!({
            "name": "images",
            "properties": {
                "images": {"type": "array", "items": image()},
                "schema": {"type": "string"},
                "first": {"type": "string"},
                "next": {"type": "string"},
            },
            "links": [
                {"rel": "first", "href": "{first}"},
                {"rel": "next", "href": "{next}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        })
    }

    #[test]
    fn served_text_is_the_json_document() {
        assert_eq!(super::image(), image().to_string());
        assert_eq!(super::images(), images().to_string());
    }

    #[test]
    fn glanceclient_needs_read_only_links_and_bounded_tags() {
        let s: Value = serde_json::from_str(super::image()).unwrap();
        assert_eq!(s["properties"]["file"]["readOnly"], true);
        assert_eq!(s["properties"]["self"]["readOnly"], true);
        assert_eq!(s["properties"]["tags"]["items"]["maxLength"], 255);
        let s: Value = serde_json::from_str(&super::images()).unwrap();
        assert_eq!(s["properties"]["images"]["items"]["name"], "image");
    }
}
