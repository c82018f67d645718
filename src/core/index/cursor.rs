//! Reading a log newest first, from any point: the tail (read whole, it is
//! bounded) merged with the pages, read one at a time as the walk reaches
//! them. A walk of `n` entries costs the root, the tail and `n / PAGE_MAX`
//! pages, whatever the log's size.

use super::runs::{read_page, root_key, Page, Root};
use super::{tail, unavailable, LogId};
use crate::core::error::Error;
use crate::core::store::Atomic;

/// Re-reads of the root a walk allows when compactions replace pages under
/// it, before it answers 503.
const RESTARTS: u32 = 8;

pub struct Cursor<'a, S: Atomic> {
    store: &'a S,
    base: String,
    /// Entries strictly below this one (the marker's); `None`: from the top.
    below: Option<String>,
    /// Oldest first, so `pop` takes the newest.
    tail: Vec<String>,
    pages: Vec<Page>,
    next_page: usize,
    page: Vec<String>,
    last: Option<String>,
    restarts: u32,
    /// Entries in the pages plus items in the tail when opened.
    pub size: usize,
}

impl<'a, S: Atomic> Cursor<'a, S> {
    pub fn open(store: &'a S, log: &LogId, below: Option<&str>) -> Result<Self, Error> {
        let mut cursor = Cursor {
            store,
            base: log.base(),
            below: below.map(str::to_string),
            tail: Vec::new(),
            pages: Vec::new(),
            next_page: 0,
            page: Vec::new(),
            last: None,
            restarts: 0,
            size: 0,
        };
        cursor.load()?;
        Ok(cursor)
    }

    /// Read the root and the tail it leaves unmerged, as one snapshot.
    fn load(&mut self) -> Result<(), Error> {
        let key = root_key(&self.base);
        for _ in 0..RESTARTS {
            let before = self.store.get(&key).map_err(unavailable)?;
            let root = Root::parse(&self.base, before.as_deref())?;
            let (len, _) = tail::counter(self.store, &self.base)?;
            let pending = root.pending.iter().map(|(slot, _)| *slot);
            let slots = pending.chain(root.upto + 1..=len);
            let (items, whole) = tail::read(self.store, &self.base, slots)?;
            // A tail slot missing may be one a compaction merged and
            // deleted since the root was read: then the root, read again,
            // must be unchanged.
            if !whole && self.store.get(&key).map_err(unavailable)? != before {
                continue;
            }
            let from = self.last.as_deref().or(self.below.as_deref());
            self.size = root.entries() + items.len();
            // A set sorts and dedupes without another sort in the .wasm.
            let tail: std::collections::BTreeSet<String> = items
                .into_iter()
                .filter(|i| !i.starts_with('!') && from.is_none_or(|f| i.as_str() < f))
                .collect();
            self.tail = tail.into_iter().collect();
            self.next_page = root.start(from);
            self.pages = root.pages;
            self.page.clear();
            return Ok(());
        }
        Err(Error::unavailable(format!(
            "{}: compactions kept replacing the index under the read",
            self.base
        )))
    }

    /// The next entry, newest first, each once.
    pub fn next_entry(&mut self) -> Result<Option<String>, Error> {
        loop {
            if self.page.is_empty() && self.next_page < self.pages.len() {
                let Some(id) = self.pages.get(self.next_page).map(|p| p.id) else {
                    return Ok(None);
                };
                let Some(mut entries) = read_page(self.store, &self.base, id)? else {
                    // Replaced by a compaction since the root was read.
                    self.restarts += 1;
                    if self.restarts > RESTARTS {
                        return Err(Error::unavailable(format!(
                            "{}: pages kept being replaced under the read",
                            self.base
                        )));
                    }
                    self.load()?;
                    continue;
                };
                let from = self.last.as_deref().or(self.below.as_deref());
                entries.retain(|e| from.is_none_or(|f| e.as_str() < f));
                entries.reverse();
                self.page = entries;
                self.next_page += 1;
                continue;
            }
            let from_tail = match (self.tail.last(), self.page.last()) {
                (Some(t), Some(p)) => t >= p,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(None),
            };
            let entry = if from_tail {
                self.tail.pop()
            } else {
                self.page.pop()
            };
            if entry.is_some() && entry != self.last {
                self.last = entry.clone();
                return Ok(entry);
            }
        }
    }
}

/// Several logs walked as one, newest first, each entry once: a member's
/// default listing is its project's log merged with the public one.
pub struct Merged<'a, S: Atomic> {
    cursors: Vec<(Cursor<'a, S>, Option<String>)>,
    last: Option<String>,
}

impl<'a, S: Atomic> Merged<'a, S> {
    pub fn new(cursors: Vec<Cursor<'a, S>>) -> Result<Self, Error> {
        let mut heads = Vec::with_capacity(cursors.len());
        for mut c in cursors {
            let head = c.next_entry()?;
            heads.push((c, head));
        }
        Ok(Merged {
            cursors: heads,
            last: None,
        })
    }

    pub fn next_entry(&mut self) -> Result<Option<String>, Error> {
        loop {
            let newest = self
                .cursors
                .iter_mut()
                .filter(|(_, head)| head.is_some())
                .max_by(|a, b| a.1.cmp(&b.1));
            let Some((cursor, head)) = newest else {
                return Ok(None);
            };
            let entry = std::mem::replace(head, cursor.next_entry()?);
            if entry != self.last {
                self.last = entry.clone();
                return Ok(entry);
            }
        }
    }
}

impl<S: Atomic> crate::core::images::Walk for Merged<'_, S> {
    fn next_entry(&mut self) -> Result<Option<String>, Error> {
        Merged::next_entry(self)
    }
}
