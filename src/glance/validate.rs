//! Glance's validation of the fields a client sets on an image: by
//! `POST /v2/images` and by JSON Patch.

use crate::core::error::Error;
use crate::core::image::Image;
use crate::core::tag;
use crate::http::echo;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub const VISIBILITIES: &[&str] = &["public", "community", "shared", "private"];
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
/// Set by the service, never by a client: Glance answers 403 for them.
pub const READ_ONLY: &[&str] = &[
    "checksum",
    "created_at",
    "direct_url",
    "file",
    "locations",
    "os_hash_algo",
    "os_hash_value",
    "schema",
    "self",
    "size",
    "status",
    "updated_at",
    "virtual_size",
];
pub const RESERVED: &[&str] = &["deleted", "deleted_at"];
const MAX_NAME_CHARS: usize = 255;
const MAX_PROPERTY_VALUE_BYTES: usize = 65535;

/// The fields of an image a client sets and removes, validated as Glance does.
pub trait Settable {
    fn set_property(&mut self, name: &str, value: &Value) -> Result<(), Error>;
    fn remove_property(&mut self, name: &str) -> Result<(), Error>;
}

impl Settable for Image {
    /// Set one client-settable property from JSON, validated as Glance does.
    /// `tags`, `owner` and `id` are handled by the callers that allow them.
    fn set_property(&mut self, name: &str, value: &Value) -> Result<(), Error> {
        check_settable(name)?;
        let bad =
            |why: &str| Error::BadRequest(format!("Invalid value for '{}': {why}.", echo(name)));
        match name {
            "name" => {
                self.name = match value {
                    Value::Null => None,
                    Value::String(s) if s.chars().count() <= MAX_NAME_CHARS => Some(s.clone()),
                    Value::String(_) => return Err(bad("longer than 255 characters")),
                    _ => return Err(bad("not a string")),
                }
            }
            "visibility" => match value.as_str() {
                Some(v) if VISIBILITIES.contains(&v) => self.visibility = v.to_string(),
                _ => return Err(bad("not one of public, community, shared, private")),
            },
            "protected" | "os_hidden" => {
                let flag = value.as_bool().ok_or_else(|| bad("not a boolean"))?;
                if name == "protected" {
                    self.protected = flag;
                } else {
                    self.os_hidden = flag;
                }
            }
            "container_format" | "disk_format" => {
                let allowed = if name == "container_format" {
                    CONTAINER_FORMATS
                } else {
                    DISK_FORMATS
                };
                let parsed = match value {
                    Value::Null => None,
                    Value::String(s) if allowed.contains(&s.as_str()) => Some(s.clone()),
                    _ => return Err(bad(&format!("not one of {}", allowed.join(", ")))),
                };
                if name == "container_format" {
                    self.container_format = parsed;
                } else {
                    self.disk_format = parsed;
                }
            }
            "min_disk" | "min_ram" => {
                let n = value
                    .as_u64()
                    .filter(|n| *n <= i32::MAX as u64)
                    .ok_or_else(|| bad("not a non-negative integer"))?;
                if name == "min_disk" {
                    self.min_disk = n;
                } else {
                    self.min_ram = n;
                }
            }
            "tags" | "owner" | "id" => {
                return Err(Error::Forbidden(format!(
                    "Attribute '{name}' cannot be set this way."
                )))
            }
            _ => match value {
                Value::String(s) if s.len() <= MAX_PROPERTY_VALUE_BYTES => {
                    self.extra.insert(name.to_string(), s.clone());
                }
                _ => return Err(bad("extra properties are strings")),
            },
        }
        Ok(())
    }

    /// Remove a property (JSON Patch `remove`): base properties cannot go.
    fn remove_property(&mut self, name: &str) -> Result<(), Error> {
        check_settable(name)?;
        if self.extra.remove(name).is_some() {
            return Ok(());
        }
        if BASE_PROPERTIES.contains(&name) {
            return Err(Error::Forbidden(format!(
                "Property '{name}' is a base property and cannot be removed."
            )));
        }
        Err(Error::Conflict(format!(
            "Property {} does not exist.",
            echo(name)
        )))
    }
}

const BASE_PROPERTIES: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "owner",
    "id",
    "tags",
];

fn check_settable(name: &str) -> Result<(), Error> {
    if READ_ONLY.contains(&name) {
        return Err(Error::Forbidden(format!(
            "Attribute '{name}' is read-only."
        )));
    }
    if RESERVED.contains(&name) {
        return Err(Error::Forbidden(format!("Attribute '{name}' is reserved.")));
    }
    if name.is_empty() || name.chars().count() > 255 {
        return Err(Error::BadRequest(
            "Property names are 1 to 255 characters long.".into(),
        ));
    }
    Ok(())
}

/// A JSON array of tags as POST and PATCH take it: strings following the tag
/// rules, duplicates collapsed, order kept. Tags in `kept` (the image's own)
/// pass as they are: PATCH sends the whole list back, IMS key/value tags
/// (`k=v`) included. Linear in the array: duplicates and kept tags are found
/// with sets (a scan per tag made 100,000 tags take 80 s).
pub fn tags_from_json(value: &Value, kept: &[String]) -> Result<Vec<String>, Error> {
    let items = value
        .as_array()
        .ok_or_else(|| Error::BadRequest("Invalid value for 'tags': not an array.".into()))?;
    let kept: BTreeSet<&String> = kept.iter().collect();
    let mut seen: BTreeSet<&String> = BTreeSet::new();
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(t) = item else {
            return Err(Error::BadRequest(
                "Invalid value for 'tags': every tag is a string.".into(),
            ));
        };
        if !kept.contains(t) {
            tag::validate(t).map_err(|e| Error::BadRequest(e.message()))?;
        }
        if seen.insert(t) {
            tags.push(t.to_string());
        }
    }
    Ok(tags)
}

/// Too many tags (413 on Glance) when `count` would exceed the quota
/// (`None`: unlimited).
pub fn check_tag_quota(image_id: &str, count: usize, quota: Option<usize>) -> Result<(), Error> {
    match quota {
        Some(max) if count > max => Err(Error::TooManyTags {
            image: image_id.to_string(),
            attempted: count,
            max,
            key: None,
        }),
        _ => Ok(()),
    }
}

/// The body of `POST /v2/images`, validated. `id` and `owner` are read by
/// the caller, which knows who may set them.
pub fn apply_create_body(
    image: &mut Image,
    body: &Map<String, Value>,
    quota: Option<usize>,
) -> Result<(), Error> {
    for (name, value) in body {
        match name.as_str() {
            "id" | "owner" => {}
            "tags" => {
                let tags = tags_from_json(value, &[])?;
                check_tag_quota(&image.id, tags.len(), quota)?;
                image.tags = tags;
            }
            _ => image.set_property(name, value)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_body_is_validated() {
        let mut img = Image::new("abc".into(), "p".into(), 0);
        let body = json!({"name": "n", "tags": ["a", "b", "a"], "min_ram": 5, "hw": "x"});
        apply_create_body(&mut img, body.as_object().unwrap(), Some(128)).unwrap();
        assert_eq!(img.tags, vec!["a", "b"]);
        assert_eq!(img.min_ram, 5);
        for (bad, status) in [
            (json!({"tags": "a"}), 400),
            (json!({"tags": [1]}), 400),
            (json!({"tags": ["a=b"]}), 400),
            (json!({"visibility": "everyone"}), 400),
            (json!({"min_disk": -1}), 400),
            (json!({"disk_format": "floppy"}), 400),
            (json!({"extra": 5}), 400),
            (json!({"status": "active"}), 403),
            (json!({"deleted": true}), 403),
            (json!({"tags": ["a", "b", "c"]}), 413),
        ] {
            let mut img = Image::new("abc".into(), "p".into(), 0);
            let err = apply_create_body(&mut img, bad.as_object().unwrap(), Some(2)).unwrap_err();
            assert_eq!(err.status(), status, "{bad}");
        }
    }
}
