//! Glance's JSON view of an image.

use crate::core::image::Image;
use serde_json::{json, Value};

/// Glance's JSON view of the image: the stored fields, the ones Glance
/// has and this service never fills (`null`), the links, and the extra
/// properties at the top level beside the others.
pub fn to_json(image: &Image) -> Value {
    let mut view = json!({
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "protected": image.protected,
        "tags": image.tags,
        "created_at": image.created_at,
        "updated_at": image.updated_at,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "size": null,
        "virtual_size": null,
        "checksum": null,
        "os_hash_algo": null,
        "os_hash_value": null,
        "os_hidden": image.os_hidden,
        "self": format!("/v2/images/{}", image.id),
        "file": format!("/v2/images/{}/file", image.id),
        "schema": "/v2/schemas/image",
    });
    if let Some(map) = view.as_object_mut() {
        for (k, val) in &image.extra {
            map.insert(k.clone(), Value::String(val.clone()));
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_properties_sit_beside_the_base_ones() {
        let mut img = Image::new("abc".into(), "p".into(), 0);
        img.name = Some("n".into());
        img.owner = None;
        img.tags = vec!["a".into(), "b".into()];
        img.extra.insert("zz".into(), "x".into());
        let v = to_json(&img);
        assert_eq!(v["name"], "n");
        assert!(v["owner"].is_null());
        assert_eq!(v["tags"], json!(["a", "b"]));
        assert_eq!(v["zz"], "x");
        assert_eq!(v.as_object().unwrap().len(), 23);
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
