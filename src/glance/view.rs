//! Glance's JSON view of an image.

use crate::core::image::Image;
use serde_json::{Map, Value};

/// Glance's JSON view of the image.
pub fn to_json(image: &Image) -> Value {
    // Built field by field: `json!` serializes each field through
    // serde, one instantiation per type.
    let text = |s: &str| Value::String(s.to_string());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
    let mut map = Map::new();
    for (k, v) in [
        ("id", text(&image.id)),
        ("name", opt(&image.name)),
        ("status", text(&image.status)),
        ("visibility", text(&image.visibility)),
        ("owner", opt(&image.owner)),
        ("protected", Value::Bool(image.protected)),
        ("tags", image.tags.iter().map(|t| text(t)).collect()),
        ("created_at", text(&image.created_at)),
        ("updated_at", text(&image.updated_at)),
        ("container_format", opt(&image.container_format)),
        ("disk_format", opt(&image.disk_format)),
        ("min_disk", Value::from(image.min_disk)),
        ("min_ram", Value::from(image.min_ram)),
        ("size", Value::Null),
        ("virtual_size", Value::Null),
        ("checksum", Value::Null),
        ("os_hash_algo", Value::Null),
        ("os_hash_value", Value::Null),
        ("os_hidden", Value::Bool(image.os_hidden)),
        ("self", Value::String(format!("/v2/images/{}", image.id))),
        (
            "file",
            Value::String(format!("/v2/images/{}/file", image.id)),
        ),
        ("schema", text("/v2/schemas/image")),
    ] {
        map.insert(k.to_string(), v);
    }
    for (k, val) in &image.extra {
        map.insert(k.clone(), Value::String(val.clone()));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `to_json` as first written with `json!`.
    fn view_with_json_macro(img: &Image) -> Value {
        let mut v = json!({
            "id": img.id,
            "name": img.name,
            "status": img.status,
            "visibility": img.visibility,
            "owner": img.owner,
            "protected": img.protected,
            "tags": img.tags,
            "created_at": img.created_at,
            "updated_at": img.updated_at,
            "container_format": img.container_format,
            "disk_format": img.disk_format,
            "min_disk": img.min_disk,
            "min_ram": img.min_ram,
            "size": null,
            "virtual_size": null,
            "checksum": null,
            "os_hash_algo": null,
            "os_hash_value": null,
            "os_hidden": img.os_hidden,
            "self": format!("/v2/images/{}", img.id),
            "file": format!("/v2/images/{}/file", img.id),
            "schema": "/v2/schemas/image",
        });
        if let Some(map) = v.as_object_mut() {
            for (k, val) in &img.extra {
                map.insert(k.clone(), Value::String(val.clone()));
            }
        }
        v
    }

    #[test]
    fn view_is_what_json_macro_built() {
        let mut img = Image::new("abc".into(), "p".into(), 0);
        assert_eq!(
            to_json(&img).to_string(),
            view_with_json_macro(&img).to_string()
        );
        img.name = Some("n".into());
        img.owner = None;
        img.tags = vec!["a".into(), "b".into()];
        img.min_disk = 7;
        img.protected = true;
        img.extra.insert("name".into(), "shadow".into());
        img.extra.insert("zz".into(), "x".into());
        assert_eq!(
            to_json(&img).to_string(),
            view_with_json_macro(&img).to_string()
        );
    }

    #[test]
    fn view_has_glance_fields() {
        let mut img = Image::new("abc".into(), "p".into(), 0);
        img.extra.insert("os_distro".into(), "debian".into());
        let v = to_json(&img);
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["status"], "queued");
        assert_eq!(v["visibility"], "shared");
        assert_eq!(v["self"], "/v2/images/abc");
        assert_eq!(v["file"], "/v2/images/abc/file");
        assert!(v["checksum"].is_null() && v["size"].is_null());
        assert_eq!(v["os_distro"], "debian");
        assert!(v.get("writes").is_none() && v.get("deleted").is_none());
    }
}
