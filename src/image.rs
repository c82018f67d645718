//! The image record tags hang on: what is stored, how it is shown, and the
//! validation Glance applies to its fields.

use crate::fields;
use crate::http::{echo, ApiError};
use crate::tag;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

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
/// Write nonces kept on a record; see `repo::update`.
pub const KEPT_WRITES: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub owner: Option<String>,
    pub protected: bool,
    /// Insertion order, no duplicates.
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub container_format: Option<String>,
    pub disk_format: Option<String>,
    pub min_disk: u64,
    pub min_ram: u64,
    #[serde(default)]
    pub os_hidden: bool,
    /// Extra string properties.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// A deleted image stays as a tombstone: its id is never reused, and a
    /// writer racing the delete fails its compare-and-swap instead of
    /// resurrecting it.
    #[serde(default)]
    pub deleted: bool,
    /// Nonces of the latest writes, newest last.
    #[serde(default)]
    pub writes: Vec<String>,
}

/// RFC 3339, UTC, whole seconds, `Z`: Glance's format, which also sorts as text.
pub fn timestamp(unix_seconds: i64) -> String {
    crate::rfc3339::format(unix_seconds)
}

pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Image {
    pub fn new(id: String, owner: String, now: i64) -> Image {
        let at = timestamp(now);
        Image {
            id,
            name: None,
            status: "queued".into(),
            visibility: "shared".into(),
            owner: Some(owner),
            protected: false,
            tags: Vec::new(),
            created_at: at.clone(),
            updated_at: at,
            container_format: None,
            disk_format: None,
            min_disk: 0,
            min_ram: 0,
            os_hidden: false,
            extra: BTreeMap::new(),
            deleted: false,
            writes: Vec::new(),
        }
    }

    /// A stored record, read as `#[derive(Deserialize)]` would (see `fields`).
    pub fn from_record(v: &Value) -> Result<Image, String> {
        let m = fields::object(v, "struct Image")?;
        Ok(Image {
            id: fields::string(m, "id")?,
            name: fields::opt_string(m, "name")?,
            status: fields::string(m, "status")?,
            visibility: fields::string(m, "visibility")?,
            owner: fields::opt_string(m, "owner")?,
            protected: fields::bool(m, "protected", true)?,
            tags: fields::strings(m, "tags", true)?,
            created_at: fields::string(m, "created_at")?,
            updated_at: fields::string(m, "updated_at")?,
            container_format: fields::opt_string(m, "container_format")?,
            disk_format: fields::opt_string(m, "disk_format")?,
            min_disk: fields::u64(m, "min_disk")?,
            min_ram: fields::u64(m, "min_ram")?,
            os_hidden: fields::bool(m, "os_hidden", false)?,
            extra: fields::string_map(m, "extra")?,
            deleted: fields::bool(m, "deleted", false)?,
            writes: fields::strings(m, "writes", false)?,
        })
    }

    /// Glance's JSON view of the image.
    pub fn to_json(&self) -> Value {
        // Built field by field: `json!` serializes each field through
        // serde, one instantiation per type.
        let text = |s: &str| Value::String(s.to_string());
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        let mut map = Map::new();
        for (k, v) in [
            ("id", text(&self.id)),
            ("name", opt(&self.name)),
            ("status", text(&self.status)),
            ("visibility", text(&self.visibility)),
            ("owner", opt(&self.owner)),
            ("protected", Value::Bool(self.protected)),
            ("tags", self.tags.iter().map(|t| text(t)).collect()),
            ("created_at", text(&self.created_at)),
            ("updated_at", text(&self.updated_at)),
            ("container_format", opt(&self.container_format)),
            ("disk_format", opt(&self.disk_format)),
            ("min_disk", Value::from(self.min_disk)),
            ("min_ram", Value::from(self.min_ram)),
            ("size", Value::Null),
            ("virtual_size", Value::Null),
            ("checksum", Value::Null),
            ("os_hash_algo", Value::Null),
            ("os_hash_value", Value::Null),
            ("os_hidden", Value::Bool(self.os_hidden)),
            ("self", Value::String(format!("/v2/images/{}", self.id))),
            (
                "file",
                Value::String(format!("/v2/images/{}/file", self.id)),
            ),
            ("schema", text("/v2/schemas/image")),
        ] {
            map.insert(k.to_string(), v);
        }
        for (k, val) in &self.extra {
            map.insert(k.clone(), Value::String(val.clone()));
        }
        Value::Object(map)
    }

    /// The value of a property by its JSON name, for filters and sorting.
    pub fn property(&self, name: &str) -> Option<String> {
        match name {
            "id" => Some(self.id.clone()),
            "name" => self.name.clone(),
            "status" => Some(self.status.clone()),
            "visibility" => Some(self.visibility.clone()),
            "owner" => self.owner.clone(),
            "created_at" => Some(self.created_at.clone()),
            "updated_at" => Some(self.updated_at.clone()),
            "container_format" => self.container_format.clone(),
            "disk_format" => self.disk_format.clone(),
            "min_disk" => Some(self.min_disk.to_string()),
            "min_ram" => Some(self.min_ram.to_string()),
            "protected" => Some(self.protected.to_string()),
            "os_hidden" => Some(self.os_hidden.to_string()),
            other => self.extra.get(other).cloned(),
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Set one client-settable property from JSON, validated as Glance does.
    /// `tags`, `owner` and `id` are handled by the callers that allow them.
    pub fn set_property(&mut self, name: &str, value: &Value) -> Result<(), ApiError> {
        check_settable(name)?;
        let bad =
            |why: &str| ApiError::BadRequest(format!("Invalid value for '{}': {why}.", echo(name)));
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
                return Err(ApiError::Forbidden(format!(
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
    pub fn remove_property(&mut self, name: &str) -> Result<(), ApiError> {
        check_settable(name)?;
        if self.extra.remove(name).is_some() {
            return Ok(());
        }
        if BASE_PROPERTIES.contains(&name) {
            return Err(ApiError::Forbidden(format!(
                "Property '{name}' is a base property and cannot be removed."
            )));
        }
        Err(ApiError::Conflict(format!(
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

fn check_settable(name: &str) -> Result<(), ApiError> {
    if READ_ONLY.contains(&name) {
        return Err(ApiError::Forbidden(format!(
            "Attribute '{name}' is read-only."
        )));
    }
    if RESERVED.contains(&name) {
        return Err(ApiError::Forbidden(format!(
            "Attribute '{name}' is reserved."
        )));
    }
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::BadRequest(
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
pub fn tags_from_json(value: &Value, kept: &[String]) -> Result<Vec<String>, ApiError> {
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::BadRequest("Invalid value for 'tags': not an array.".into()))?;
    // Sets of `&String`, as `repo` keeps them: one instantiation of the
    // B-tree code in the .wasm, not two (a set of `&str` cost 12 KB).
    let kept: BTreeSet<&String> = kept.iter().collect();
    let mut seen: BTreeSet<&String> = BTreeSet::new();
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(t) = item else {
            return Err(ApiError::BadRequest(
                "Invalid value for 'tags': every tag is a string.".into(),
            ));
        };
        if !kept.contains(t) {
            tag::validate(t).map_err(|e| ApiError::BadRequest(e.message()))?;
        }
        if seen.insert(t) {
            tags.push(t.to_string());
        }
    }
    Ok(tags)
}

/// 413 when `count` tags would exceed the quota (`None`: unlimited).
pub fn check_tag_quota(image_id: &str, count: usize, quota: Option<usize>) -> Result<(), ApiError> {
    match quota {
        Some(max) if count > max => Err(ApiError::TooLarge(format!(
            "Image tag limit exceeded for image {}: Attempted: {count}, Maximum: {max}",
            echo(image_id)
        ))),
        _ => Ok(()),
    }
}

/// The body of `POST /v2/images`, validated. `id` and `owner` are read by
/// the caller, which knows who may set them.
pub fn apply_create_body(
    image: &mut Image,
    body: &Map<String, Value>,
    quota: Option<usize>,
) -> Result<(), ApiError> {
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
            img.to_json().to_string(),
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
            img.to_json().to_string(),
            view_with_json_macro(&img).to_string()
        );
    }

    #[test]
    fn view_has_glance_fields() {
        let mut img = Image::new("abc".into(), "p".into(), 0);
        img.extra.insert("os_distro".into(), "debian".into());
        let v = img.to_json();
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["status"], "queued");
        assert_eq!(v["visibility"], "shared");
        assert_eq!(v["self"], "/v2/images/abc");
        assert_eq!(v["file"], "/v2/images/abc/file");
        assert!(v["checksum"].is_null() && v["size"].is_null());
        assert_eq!(v["os_distro"], "debian");
        assert!(v.get("writes").is_none() && v.get("deleted").is_none());
    }

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

    #[test]
    fn records_round_trip_through_json() {
        let mut img = Image::new("abc".into(), "p".into(), 1_700_000_000);
        img.tags = vec!["x".into()];
        img.writes = vec!["n1".into()];
        let stored = serde_json::to_vec(&img).unwrap();
        let back: Image = serde_json::from_slice(&stored).unwrap();
        assert_eq!(back, img);
        let back = fields::parse(&stored, Image::from_record).unwrap();
        assert_eq!(back, img);
    }

    /// `from_record` accepts and rejects what the derived `Deserialize` does.
    #[test]
    fn records_are_read_as_serde_would() {
        let full = r#""id":"i","name":null,"status":"queued","visibility":"shared","owner":"p","protected":false,"tags":["a"],"created_at":"c","updated_at":"u","container_format":"bare","disk_format":null,"min_disk":0,"min_ram":5"#;
        let mut cases: Vec<String> = vec![
            format!("{{{full}}}"),
            format!("{{{full},\"os_hidden\":true,\"extra\":{{\"k\":\"v\"}},\"deleted\":true,\"writes\":[\"n\"],\"other\":[1]}}"),
            "[]".into(),
            "null".into(),
            "5".into(),
            "{".into(),
        ];
        for (key, bad) in [
            ("os_hidden", "null"),
            ("extra", "null"),
            ("extra", r#"{"k":1}"#),
            ("extra", "[]"),
            ("deleted", "1"),
            ("writes", "null"),
            ("writes", "[1]"),
        ] {
            cases.push(format!("{{{full},\"{key}\":{bad}}}"));
        }
        let fields: Vec<&str> = full.split(',').collect();
        for skip in 0..fields.len() {
            let mut kept = fields.clone();
            kept.remove(skip);
            cases.push(format!("{{{}}}", kept.join(",")));
            for bad in [
                "null",
                "1",
                "-1",
                "1.5",
                "\"s\"",
                "true",
                "[]",
                "{}",
                "18446744073709551615",
            ] {
                let mut changed = fields.clone();
                let key = changed[skip].split(':').next().unwrap().to_string();
                changed[skip] = Box::leak(format!("{key}:{bad}").into_boxed_str());
                cases.push(format!("{{{}}}", changed.join(",")));
            }
        }
        let parsed = |case: &String| serde_json::from_str::<Image>(case).is_ok();
        assert!(parsed(&cases[0]) && parsed(&cases[1]));
        assert!(cases.iter().filter(|c| parsed(c)).count() > 10);
        for case in cases {
            let derived = serde_json::from_str::<Image>(&case).ok();
            let ours = fields::parse(case.as_bytes(), Image::from_record).ok();
            assert_eq!(ours, derived, "{case}");
        }
    }
}
