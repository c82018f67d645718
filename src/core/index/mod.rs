//! The listing indexes: sorted logs over the key-value store, one per
//! scope a listing can start from (every image, a project's images, public
//! images, the images given a tag, the images given a key of IMS's
//! key/value tags).
//!
//! Each log is a small LSM tree (module docs of [`tail`], [`runs`],
//! [`compact`]): appends go to an unsorted tail, and compaction merges the
//! tail into pages sorted newest first. A page of a listing then reads the
//! bounded tail plus the pages it walks: O(limit), whatever the log's size.
//!
//! An entry is the image's sort key in the default order, `created_at`
//! (fixed-width RFC 3339, so text order is time order) followed by the id:
//! text order is Glance's `created_at`, then `id`. Both never change, so an
//! entry names one image at one place for good.
//!
//! The record stays the source of truth. A log may name images that no
//! longer belong in it (readers check the record); it never misses one that
//! does: an image is appended to a log before the record that puts it there
//! is written, and leaving a log appends a hint only after the record is
//! written. Compaction drops an image only on such a hint and after reading
//! its record; the epoch ([`epoch`]) tells a writer whose append a
//! compaction may have dropped meanwhile to append again.

pub mod compact;
pub mod cursor;
pub mod runs;
pub mod tail;

use crate::core::error::Error;
use crate::core::image::Image;
use crate::core::keys::sha256_hex;
use crate::core::store::{unavailable, Atomic};

/// One log. Its keys share the prefix [`LogId::base`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogId {
    All,
    Project(String),
    Public,
    Tag(String),
    /// IMS: the images given an entry `k=...` of key `k`.
    Key(String),
}

impl LogId {
    pub fn base(&self) -> String {
        match self {
            LogId::All => "ix:all".into(),
            LogId::Public => "ix:pub".into(),
            LogId::Project(p) => format!("ix:prj:{}", sha256_hex(p)),
            LogId::Tag(t) => format!("ix:tag:{}", sha256_hex(t)),
            LogId::Key(k) => format!("ix:key:{}", sha256_hex(k)),
        }
    }

    /// Whether `image` belongs in this log: what compaction checks before
    /// it drops an image on a hint.
    pub fn holds(&self, image: &Image) -> bool {
        !image.deleted
            && match self {
                LogId::All => true,
                LogId::Public => image.visibility == "public",
                LogId::Project(p) => image.owner.as_deref() == Some(p),
                LogId::Tag(t) => image.has_tag(t),
                LogId::Key(k) => image.tags.iter().any(|t| entry_key(t) == Some(k)),
            }
    }
}

/// The key `k` of an IMS entry `k=v`; a plain tag has none.
fn entry_key(tag: &str) -> Option<&str> {
    let (key, value) = crate::core::tag::split(tag);
    value.map(|_| key)
}

/// Every log `image` belongs in.
pub fn logs_of(image: &Image) -> Vec<LogId> {
    if image.deleted {
        return Vec::new();
    }
    let mut logs = vec![LogId::All];
    if let Some(owner) = &image.owner {
        logs.push(LogId::Project(owner.clone()));
    }
    if image.visibility == "public" {
        logs.push(LogId::Public);
    }
    for tag in &image.tags {
        logs.push(LogId::Tag(tag.clone()));
        if let Some(key) = entry_key(tag).map(|k| LogId::Key(k.to_string())) {
            // Two entries `k=a`, `k=b` share their key's log.
            if !logs.contains(&key) {
                logs.push(key);
            }
        }
    }
    logs
}

/// The image's entry: its sort key in the default order.
pub fn entry(image: &Image) -> String {
    format!("{}{}", image.created_at, image.id.to_ascii_lowercase())
}

/// The image id an entry names (the text after the timestamp).
pub fn entry_id(entry: &str) -> &str {
    entry.get(entry.len().saturating_sub(36)..).unwrap_or("")
}

/// Bumped by every compaction after it has fixed the tail it merges and
/// before it reads any record. A writer reads it before its first append
/// and again after its record is written: if it moved, a compaction may
/// have read the record before the write and dropped the entries, so the
/// writer appends them again.
pub const EPOCH: &str = "ix:epoch";

pub fn epoch<S: Atomic>(store: &S) -> Result<Option<Vec<u8>>, Error> {
    store.get(EPOCH).map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sort_as_glance_orders_and_name_their_image() {
        let mut a = Image::new("00000000-0000-4000-8000-00000000000a".into(), "p".into(), 5);
        let mut b = Image::new("00000000-0000-4000-8000-00000000000b".into(), "p".into(), 5);
        let c = Image::new("00000000-0000-4000-8000-000000000001".into(), "p".into(), 6);
        assert!(entry(&b) > entry(&a), "same second: id breaks the tie");
        assert!(entry(&c) > entry(&b), "newer first whatever the id");
        assert_eq!(entry_id(&entry(&a)), a.id);
        a.visibility = "public".into();
        a.tags = vec!["x".into(), "k=v".into()];
        let logs = logs_of(&a);
        assert!(logs.contains(&LogId::Public) && logs.contains(&LogId::Key("k".into())));
        assert!(LogId::Tag("x".into()).holds(&a) && !LogId::Tag("y".into()).holds(&a));
        b.deleted = true;
        assert!(logs_of(&b).is_empty() && !LogId::All.holds(&b));
    }
}

#[cfg(test)]
mod concurrency_tests;
