//! What the APIs need of the image store, on either build: the records and
//! the walks a listing takes. The strong build's [`Repo`] keeps them with
//! compare-and-swap and sorted logs; the edge build's [`EdgeRepo`] with
//! blind writes checked after the fact and one catalog key. The listing
//! algorithms over a walk are written once, here.
//!
//! [`Repo`]: crate::core::repo::Repo
//! [`EdgeRepo`]: crate::core::edge::EdgeRepo

use crate::core::error::Error;
use crate::core::image::parse_image;
use crate::core::image::Image;
use crate::core::index::{self, LogId};
use crate::core::keys;
use crate::core::store::{unavailable, KvStore};

/// What an update decided after looking at the current record.
pub enum Change {
    Write,
    Unchanged,
}

/// Entries of a listing (see [`index::entry`]), newest first.
pub trait Walk {
    fn next_entry(&mut self) -> Result<Option<String>, Error>;
}

pub trait Images {
    type Walk: Walk;

    /// The live image with this id, if any. Only canonical UUIDs are ever
    /// stored, so anything else is `None` without a store read.
    fn load(&self, id: &str) -> Result<Option<Image>, Error> {
        if !keys::is_image_id(id) {
            return Ok(None);
        }
        self.stored(id)?.transpose()
    }
    /// The live record of `id` as stored: `None` when missing or deleted,
    /// `Some(Err)` (a 500) when it does not parse, which listings skip and
    /// count so that one bad record cannot hide the rest.
    fn stored(&self, id: &str) -> Result<Option<Result<Image, Error>>, Error>;
    /// Store a new image. 409 when the id is taken.
    fn create(&self, image: Image) -> Result<Image, Error>;
    /// Read-modify-write one live image. `decide` sees the current record
    /// on every attempt (so permission and 404 checks see it too), changes
    /// it in place and says whether to write. Returns the record as stored.
    fn update(
        &self,
        id: &str,
        // `dyn`: one copy of the write loop, not one per caller's closure.
        decide: &mut dyn FnMut(&mut Image) -> Result<Change, Error>,
    ) -> Result<Image, Error>;
    /// The images of the logs' scopes merged, newest first, from below the
    /// entry `below`.
    fn walk(&self, logs: &[LogId], below: Option<&str>) -> Result<Self::Walk, Error>;
    /// The walk of the log of the tag in `tags` that names the fewest
    /// images, where tags have logs; `None` otherwise (the caller walks its
    /// scopes and filters on the records).
    fn rarest_tag(&self, tags: &[String], below: Option<&str>)
        -> Result<Option<Self::Walk>, Error>;

    /// A page in the default order (`created_at`, then `id`, newest first):
    /// the first `limit` live images of the walk that `accept` takes, and
    /// whether any follows. Reads the records of the entries it walks and
    /// no others.
    fn page(
        &self,
        mut walk: Self::Walk,
        limit: usize,
        accept: &dyn Fn(&Image) -> bool,
    ) -> Result<(Vec<Image>, bool), Error> {
        let mut images = Vec::new();
        while let Some(entry) = walk.next_entry()? {
            let Some(Ok(image)) = self.stored(index::entry_id(&entry))? else {
                continue;
            };
            if index::entry(&image) != entry || !accept(&image) {
                continue;
            }
            if images.len() == limit {
                return Ok((images, true));
            }
            images.push(image);
        }
        Ok((images, false))
    }

    /// The live images a walk names, each once, and how many records did not
    /// parse. One `get` per image: `get-many` fails on Spin's Redis store.
    fn drain(&self, mut walk: Self::Walk) -> Result<(Vec<Image>, usize), Error> {
        let (mut images, mut skipped) = (Vec::new(), 0);
        while let Some(entry) = walk.next_entry()? {
            match self.stored(index::entry_id(&entry))? {
                Some(Ok(image)) => images.push(image),
                Some(Err(_)) => skipped += 1,
                None => {}
            }
        }
        Ok((images, skipped))
    }

    /// The live images the logs name, each once.
    fn members(&self, logs: &[LogId]) -> Result<(Vec<Image>, usize), Error> {
        self.drain(self.walk(logs, None)?)
    }

    /// Live images with any value of the IMS key `key`: those the tag log
    /// of the plain `key` (value `""`) or the key log of `key` (entries
    /// `key=...`) names, each record checked.
    fn with_key(&self, key: &str) -> Result<(Vec<Image>, usize), Error> {
        let (plain, entries) = (LogId::Tag(key.to_string()), LogId::Key(key.to_string()));
        let (images, skipped) = self.members(&[plain.clone(), entries.clone()])?;
        let images = images
            .into_iter()
            .filter(|i| plain.holds(i) || entries.holds(i))
            .collect();
        Ok((images, skipped))
    }

    /// Live images carrying every tag in `tags` (at least one), reading the
    /// rarest tag's log where there is one.
    fn tagged(&self, tags: &[String]) -> Result<(Vec<Image>, usize), Error> {
        if tags.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let walk = match self.rarest_tag(tags, None)? {
            Some(walk) => walk,
            None => self.walk(&[LogId::All], None)?,
        };
        let (images, skipped) = self.drain(walk)?;
        let images = images
            .into_iter()
            .filter(|i| tags.iter().all(|t| i.has_tag(t)))
            .collect();
        Ok((images, skipped))
    }
}

/// The live record of `id` in `store`, as [`Images::stored`] gives it: both
/// layouts keep a record under the same key.
pub fn stored_record<S: KvStore>(
    store: &S,
    id: &str,
) -> Result<Option<Result<Image, Error>>, Error> {
    let Some(bytes) = store.get(&keys::image(id)).map_err(unavailable)? else {
        return Ok(None);
    };
    Ok(match parse_image(id, &bytes) {
        Ok(image) if image.deleted => None,
        parsed => Some(parsed),
    })
}
