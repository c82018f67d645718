//! The sorted part of a log: pages of entries, newest first, and the root
//! that lists them.
//!
//! - `{base}:b` is the root, JSON: `u`, the last tail slot merged; `p`, the
//!   pages as `[id, first entry, count]`, newest first, each page holding
//!   the entries from its first down to the next page's first (exclusive);
//!   `w`, the tail slots at or below `u` still to be written, each with
//!   since when; `g`, the nonce of the compaction that wrote it.
//! - `{base}:p{id}` is a page: a JSON array of entries, newest first. A
//!   page is written once, under an id from the counter `{base}:pc`, and
//!   deleted once a root no longer names it: a reader that finds it gone
//!   re-reads the root.
//! - The root is created once, by the winner of the claim `{base}:bc`;
//!   after that it changes only by compare-and-swap on a key that exists.

use super::unavailable;
use crate::core::error::Error;
use crate::core::store::Atomic;
use serde_json::Value;

/// Entries a page holds at most; a compaction splits a fuller one. ~14 KB.
pub const PAGE_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub id: i64,
    pub first: String,
    pub count: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Root {
    pub upto: i64,
    pub pages: Vec<Page>,
    /// Tail slots at or below `upto` that were handed out but not written
    /// when a compaction passed them, and since when (unix seconds): a
    /// writer is between its `increment` and its `set`. Readers read them
    /// with the tail; a compaction merges them once written.
    pub pending: Vec<(i64, i64)>,
    pub nonce: String,
}

pub fn root_key(base: &str) -> String {
    format!("{base}:b")
}

pub fn root_claim_key(base: &str) -> String {
    format!("{base}:bc")
}

pub fn page_key(base: &str, id: i64) -> String {
    format!("{base}:p{id}")
}

pub fn page_counter_key(base: &str) -> String {
    format!("{base}:pc")
}

impl Root {
    /// A missing root is the empty one; one that does not parse is a 500.
    pub fn parse(base: &str, bytes: Option<&[u8]>) -> Result<Root, Error> {
        let Some(bytes) = bytes else {
            return Ok(Root::default());
        };
        let bad = || Error::internal(format!("{} does not parse", root_key(base)));
        let v: Value = serde_json::from_slice(bytes).map_err(|_| bad())?;
        let mut pages = Vec::new();
        for p in v.get("p").and_then(Value::as_array).into_iter().flatten() {
            let field = |i: usize| p.get(i);
            match (
                field(0).and_then(Value::as_i64),
                field(1).and_then(Value::as_str),
                field(2).and_then(Value::as_u64),
            ) {
                (Some(id), Some(first), Some(count)) => pages.push(Page {
                    id,
                    first: first.to_string(),
                    count: count as usize,
                }),
                _ => return Err(bad()),
            }
        }
        let mut pending = Vec::new();
        for w in v.get("w").and_then(Value::as_array).into_iter().flatten() {
            match (
                w.get(0).and_then(Value::as_i64),
                w.get(1).and_then(Value::as_i64),
            ) {
                (Some(slot), Some(since)) => pending.push((slot, since)),
                _ => return Err(bad()),
            }
        }
        Ok(Root {
            upto: v.get("u").and_then(Value::as_i64).unwrap_or(0),
            pages,
            pending,
            nonce: v.get("g").and_then(Value::as_str).unwrap_or("").to_string(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        // By hand rather than through `json!`: entries and nonces are ours
        // (timestamp, UUID, hex), nothing in them needs escaping.
        let pages: Vec<String> = self
            .pages
            .iter()
            .map(|p| format!("[{},\"{}\",{}]", p.id, p.first, p.count))
            .collect();
        let pending: Vec<String> = self
            .pending
            .iter()
            .map(|(slot, since)| format!("[{slot},{since}]"))
            .collect();
        format!(
            "{{\"u\":{},\"p\":[{}],\"w\":[{}],\"g\":\"{}\"}}",
            self.upto,
            pages.join(","),
            pending.join(","),
            self.nonce
        )
        .into_bytes()
    }

    pub fn entries(&self) -> usize {
        self.pages.iter().map(|p| p.count).sum()
    }

    /// The index of the page holding the newest entry below `below` (or the
    /// newest page): every earlier page holds only entries at or above it.
    pub fn start(&self, below: Option<&str>) -> usize {
        let Some(below) = below else {
            return 0;
        };
        let at_or_above = self
            .pages
            .iter()
            .take_while(|p| p.first.as_str() >= below)
            .count();
        at_or_above.saturating_sub(1)
    }

    /// The index of the page an entry belongs in.
    pub fn page_for(&self, entry: &str) -> usize {
        self.pages
            .iter()
            .take_while(|p| p.first.as_str() >= entry)
            .count()
            .saturating_sub(1)
    }
}

/// A page's entries, newest first; `None` once it has been replaced.
pub fn read_page<S: Atomic>(store: &S, base: &str, id: i64) -> Result<Option<Vec<String>>, Error> {
    Ok(store
        .get(&page_key(base, id))
        .map_err(unavailable)?
        .map(|v| super::tail::items(&v).1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(id: i64, first: &str) -> Page {
        Page {
            id,
            first: first.into(),
            count: 1,
        }
    }

    #[test]
    fn the_root_round_trips_and_finds_pages() {
        let root = Root {
            upto: 9,
            pages: vec![page(3, "c"), page(1, "b")],
            pending: vec![(8, 1234), (9, 1235)],
            nonce: "n".into(),
        };
        assert_eq!(Root::parse("l", Some(&root.encode())).unwrap(), root);
        assert_eq!(Root::parse("l", None).unwrap(), Root::default());
        assert_eq!(Root::parse("l", Some(b"[")).unwrap_err().status(), 500);
        assert_eq!(root.start(None), 0);
        assert_eq!(root.start(Some("d")), 0);
        assert_eq!(
            root.start(Some("c")),
            0,
            "entries below c are on page 0 too"
        );
        assert_eq!(root.start(Some("bb")), 0);
        assert_eq!(root.start(Some("b")), 1, "page 0 holds nothing below b");
        assert_eq!(root.start(Some("a")), 1);
        assert_eq!(root.page_for("z"), 0);
        assert_eq!(root.page_for("b"), 1);
        assert_eq!(root.page_for("a"), 1);
        assert_eq!(root.entries(), 2);
    }
}
