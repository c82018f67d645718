//! The edge build's one index key: the catalog of images in the default
//! order, with what a listing's scope needs to skip an image without
//! reading its record (its owner, and whether it is public).
//!
//! The catalog is a hint, never the truth. The truth is which `image:` keys
//! exist (`list-keys`) and what their records say:
//! - an image the catalog misses (its entry lost to a concurrent catalog
//!   writer, or not yet replicated from another region) is found by
//!   `list-keys` and read;
//! - an entry whose image is gone is dropped because its key is not listed.
//!
//! Only the public flag can mislead a scope: a lost update there would hide
//! a public image from other projects' members. So every write of an image
//! checks its own entry and mends it (a read, and a write only when it
//! differs), and catalog writes are verified like record writes.

use crate::core::error::Error;
use crate::core::image::Image;
use crate::core::index;
use crate::core::store::{unavailable, KvStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const KEY: &str = "catalog";

/// Deleted ids remembered so that a new image cannot take one (Glance
/// answers 409 for a deleted id). Bounded: the key budget is the store's.
pub const GONE_KEPT: usize = 512;

/// Nonces of the latest catalog writes, to tell whether ours landed.
const WRITES_KEPT: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The owning project (`""` for none): never changes.
    #[serde(rename = "o")]
    pub owner: String,
    /// Public: listed for every project's members.
    #[serde(rename = "p", default)]
    pub public: bool,
}

impl Meta {
    pub fn of(image: &Image) -> Meta {
        Meta {
            owner: image.owner.clone().unwrap_or_default(),
            public: image.visibility == "public",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Entry (`created_at` then id: see [`index::entry`]) to its meta.
    #[serde(rename = "e", default)]
    pub entries: BTreeMap<String, Meta>,
    /// Deleted ids, oldest first.
    #[serde(rename = "g", default)]
    pub gone: Vec<String>,
    #[serde(rename = "w", default)]
    pub writes: Vec<String>,
}

/// What a write does to the catalog.
pub enum Edit<'a> {
    /// The image is live with this record: its entry as the record says.
    Put(&'a Image),
    /// The image was deleted.
    Gone(&'a Image),
}

impl Catalog {
    pub fn read<S: KvStore>(store: &S) -> Result<Catalog, Error> {
        match store.get(KEY).map_err(unavailable)? {
            None => Ok(Catalog::default()),
            // A catalog that does not parse is rebuilt from the records.
            Some(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        }
    }

    /// Whether `edit` would change nothing.
    pub fn has(&self, edit: &Edit<'_>) -> bool {
        match edit {
            Edit::Put(image) => self.entries.get(&index::entry(image)) == Some(&Meta::of(image)),
            Edit::Gone(image) => {
                !self.entries.contains_key(&index::entry(image))
                    && self.gone.iter().any(|g| g == &image.id)
            }
        }
    }

    pub fn apply(&mut self, edit: &Edit<'_>) {
        match edit {
            Edit::Put(image) => {
                self.entries.insert(index::entry(image), Meta::of(image));
            }
            Edit::Gone(image) => {
                self.entries.remove(&index::entry(image));
                if !self.gone.iter().any(|g| g == &image.id) {
                    self.gone.push(image.id.clone());
                }
                let excess = self.gone.len().saturating_sub(GONE_KEPT);
                self.gone.drain(..excess);
            }
        }
    }

    pub fn is_gone(&self, id: &str) -> bool {
        self.gone.iter().any(|g| g.eq_ignore_ascii_case(id))
    }

    /// Write with our nonce; the caller verifies with [`Catalog::landed`].
    pub fn write<S: KvStore>(&mut self, store: &S, nonce: &str) -> Result<(), Error> {
        self.writes.push(nonce.to_string());
        let excess = self.writes.len().saturating_sub(WRITES_KEPT);
        self.writes.drain(..excess);
        let bytes = serde_json::to_vec(self).map_err(|e| Error::internal(e.to_string()))?;
        store.set(KEY, &bytes).map_err(unavailable)
    }

    pub fn landed(&self, nonce: &str) -> bool {
        self.writes.iter().any(|w| w == nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u32, visibility: &str) -> Image {
        let mut image = Image::new(format!("00000000-0000-4000-8000-{n:012}"), "p".into(), 10);
        image.visibility = visibility.into();
        image
    }

    #[test]
    fn put_and_gone_edit_entries_and_remember_deleted_ids() {
        let mut catalog = Catalog::default();
        let (a, b) = (image(1, "private"), image(2, "public"));
        catalog.apply(&Edit::Put(&a));
        catalog.apply(&Edit::Put(&b));
        assert!(catalog.has(&Edit::Put(&a)) && catalog.has(&Edit::Put(&b)));
        assert!(catalog.entries[&index::entry(&b)].public);
        let mut b2 = b.clone();
        b2.visibility = "shared".into();
        assert!(
            !catalog.has(&Edit::Put(&b2)),
            "a visibility change is an edit"
        );
        catalog.apply(&Edit::Gone(&a));
        assert!(catalog.is_gone(&a.id.to_uppercase()) && catalog.has(&Edit::Gone(&a)));
        assert_eq!(catalog.entries.len(), 1);
    }

    #[test]
    fn the_gone_list_is_bounded() {
        let mut catalog = Catalog::default();
        for n in 0..(GONE_KEPT as u32 + 10) {
            catalog.apply(&Edit::Gone(&image(n, "private")));
        }
        assert_eq!(catalog.gone.len(), GONE_KEPT);
        assert!(
            !catalog.is_gone(&image(0, "private").id)
                && catalog.is_gone(&image(GONE_KEPT as u32 + 9, "x").id)
        );
    }
}
