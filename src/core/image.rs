//! The image record tags hang on, as it is stored. How Glance shows it
//! (`glance::view`) and validates its fields (`glance::validate`) live with
//! Glance.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Write nonces kept on a record; see `repo::update`.
pub const KEPT_WRITES: usize = 32;

/// The record as stored, one JSON object under `keys::image`; what the
/// derived `Deserialize` refuses is a record that does not parse (a 500).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// Mark this version of the record with a fresh nonce, kept with the
    /// latest [`KEPT_WRITES`], so that a writer can tell afterwards whether
    /// its write landed (both layouts check for it). Returns the nonce.
    pub fn stamp_write(&mut self) -> String {
        let nonce = crate::core::random::nonce();
        self.writes.push(nonce.clone());
        let excess = self.writes.len().saturating_sub(KEPT_WRITES);
        self.writes.drain(..excess);
        nonce
    }
}

/// A stored record as the store holds it; one that does not parse is our
/// own fault, a 500 naming the image.
pub fn parse_image(id: &str, bytes: &[u8]) -> Result<Image, crate::core::error::Error> {
    serde_json::from_slice::<Image>(bytes).map_err(|e| {
        crate::core::error::Error::internal(format!(
            "stored record of image {id} does not parse: {e}"
        ))
    })
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
    }

    #[test]
    fn older_records_without_the_later_fields_still_parse() {
        let old = r#"{"id":"i","name":null,"status":"queued","visibility":"shared","owner":"p","protected":false,"tags":["a"],"created_at":"c","updated_at":"u","container_format":"bare","disk_format":null,"min_disk":0,"min_ram":5}"#;
        let img: Image = serde_json::from_str(old).unwrap();
        assert!(!img.os_hidden && !img.deleted && img.extra.is_empty() && img.writes.is_empty());
        for bad in [
            old.replace(r#""min_ram":5"#, r#""min_ram":-5"#),
            old.replace(r#""tags":["a"],"#, ""),
            old.replace(r#""protected":false"#, r#""protected":null"#),
            "[]".into(),
        ] {
            assert!(serde_json::from_str::<Image>(&bad).is_err(), "{bad}");
        }
    }
}
