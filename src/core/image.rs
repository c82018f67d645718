//! The image record tags hang on, as it is stored. How Glance shows it
//! (`glance::view`) and validates its fields (`glance::validate`) live with
//! Glance.

use crate::core::fields;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

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
    crate::core::time::format(unix_seconds)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
