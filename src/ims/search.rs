//! `POST /v2/{project_id}/images/resource_instances/action`: IMS's search
//! of images by tags (`filter`, paged, or `count`). The body is parsed into
//! a [`Search`]; [`Search::sources`] says which index logs hold every
//! possible match, so a search with a `tags` or `tags_any` filter reads
//! those logs and the images they name, never the whole store.

use super::rules::{self, MAX_KEY_CHARS, MAX_VALUE_CHARS};
use crate::core::error::Error;
use crate::core::image::Image;
use serde_json::{json, Map, Value};

pub const DEFAULT_LIMIT: usize = 10;
pub use crate::core::limits::MAX_LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Filter,
    Count,
}

/// One `{key, values}` of a tag filter: the key with any of the values,
/// or with any value at all when `values` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub values: Vec<String>,
}

impl TagFilter {
    pub fn matches(&self, tags: &[String]) -> bool {
        rules::values_of(tags, &self.key)
            .any(|v| self.values.is_empty() || self.values.iter().any(|w| w == v))
    }
}

/// Where the candidates of a search are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The whole-tag log of one native entry (`k` or `k=v`).
    Entry(String),
    /// Every image with any value of the key: its whole-tag log and its key log.
    Key(String),
    /// One image, by id (`matches` on `resource_id`).
    Image(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub action: Action,
    /// All of them (keys AND'd).
    pub tags: Vec<TagFilter>,
    /// Any of them (keys OR'd).
    pub tags_any: Vec<TagFilter>,
    /// Excluded when it matches all of them.
    pub not_tags: Vec<TagFilter>,
    /// Excluded when it matches any of them.
    pub not_tags_any: Vec<TagFilter>,
    /// Only images with no tag; the tag filters are then ignored, as in IMS.
    pub without_any_tag: bool,
    /// `resource_name`: a substring of the name, or the exact name when `""`.
    pub name: Option<String>,
    /// `resource_id`: the exact id.
    pub id: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

fn malformed(message: impl Into<String>) -> Error {
    Error::BadRequest(message.into())
}

fn check_chars(what: &str, text: &str, min: usize, max: usize) -> Result<(), Error> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(Error::TagInvalid(format!(
            "{what} is {n} characters long; it must be {min} to {max}."
        )));
    }
    Ok(())
}

/// A list field: absent is none; present, it is a non-empty array.
fn list<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], Error> {
    match body.get(name) {
        None => Ok(&[]),
        Some(Value::Array(items)) if !items.is_empty() => Ok(items),
        Some(Value::Array(_)) => Err(malformed(format!("'{name}' must not be an empty list."))),
        Some(_) => Err(malformed(format!("'{name}' must be a list."))),
    }
}

fn text<'a>(item: &'a Map<String, Value>, field: &str, list: &str) -> Result<&'a str, Error> {
    item.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("Every item of '{list}' needs a string '{field}'.")))
}

/// IMS does not check the characters of filter keys and values (tags set
/// before its format was tightened must stay findable); only lengths.
fn tag_filters(body: &Map<String, Value>, name: &str) -> Result<Vec<TagFilter>, Error> {
    let mut filters = Vec::new();
    for item in list(body, name)? {
        let item = item
            .as_object()
            .ok_or_else(|| malformed(format!("Every item of '{name}' is an object.")))?;
        let key = text(item, "key", name)?;
        check_chars("A tag key", key, 1, MAX_KEY_CHARS)?;
        let mut values = Vec::new();
        match item.get("values") {
            None => {}
            Some(Value::Array(items)) => {
                for v in items {
                    let v = v.as_str().ok_or_else(|| {
                        malformed(format!("The 'values' of '{name}' are strings."))
                    })?;
                    check_chars("A tag value", v, 0, MAX_VALUE_CHARS)?;
                    values.push(v.to_string());
                }
            }
            Some(_) => return Err(malformed(format!("The 'values' of '{name}' are a list."))),
        }
        filters.push(TagFilter {
            key: key.to_string(),
            values,
        });
    }
    Ok(filters)
}

/// `limit` and `offset` are strings in IMS's API.
fn number(body: &Map<String, Value>, name: &str, default: usize) -> Result<usize, Error> {
    match body.get(name) {
        None => Ok(default),
        Some(Value::String(s)) => s
            .parse::<usize>()
            .map_err(|_| malformed(format!("'{name}' must be a whole number, as a string."))),
        Some(_) => Err(malformed(format!(
            "'{name}' must be a string holding a whole number."
        ))),
    }
}

impl Search {
    pub fn parse(body: &Map<String, Value>) -> Result<Search, Error> {
        let action = match body.get("action").and_then(Value::as_str) {
            Some("filter") => Action::Filter,
            Some("count") => Action::Count,
            _ => return Err(malformed("'action' must be \"filter\" or \"count\".")),
        };
        let without_any_tag = match body.get("without_any_tag") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(malformed("'without_any_tag' must be a boolean.")),
        };
        let (mut name, mut id) = (None, None);
        for item in list(body, "matches")? {
            let item = item
                .as_object()
                .ok_or_else(|| malformed("Every item of 'matches' is an object."))?;
            let value = text(item, "value", "matches")?;
            check_chars("A 'matches' value", value, 0, MAX_VALUE_CHARS)?;
            let slot = match text(item, "key", "matches")? {
                "resource_name" => &mut name,
                "resource_id" => &mut id,
                other => {
                    return Err(malformed(format!(
                        "'matches' takes the keys resource_name and resource_id, not {other:?}."
                    )))
                }
            };
            if slot.replace(value.to_string()).is_some() {
                return Err(malformed("The keys of 'matches' must be unique."));
            }
        }
        let limit = number(body, "limit", DEFAULT_LIMIT)?;
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(malformed(format!("'limit' must be 1 to {MAX_LIMIT}.")));
        }
        Ok(Search {
            action,
            tags: tag_filters(body, "tags")?,
            tags_any: tag_filters(body, "tags_any")?,
            not_tags: tag_filters(body, "not_tags")?,
            not_tags_any: tag_filters(body, "not_tags_any")?,
            without_any_tag,
            name,
            id,
            limit,
            offset: number(body, "offset", 0)?,
        })
    }

    /// Whether an image (of the caller's project) is a match.
    pub fn matches(&self, image: &Image) -> bool {
        let tags = &image.tags;
        let tags_ok = if self.without_any_tag {
            tags.is_empty()
        } else {
            self.tags.iter().all(|f| f.matches(tags))
                && (self.tags_any.is_empty() || self.tags_any.iter().any(|f| f.matches(tags)))
                && (self.not_tags.is_empty() || !self.not_tags.iter().all(|f| f.matches(tags)))
                && !self.not_tags_any.iter().any(|f| f.matches(tags))
        };
        let name = image.name.as_deref().unwrap_or_default();
        tags_ok
            && self.name.as_deref().is_none_or(|want| {
                if want.is_empty() {
                    name.is_empty()
                } else {
                    name.contains(want)
                }
            })
            && self
                .id
                .as_deref()
                .is_none_or(|want| want.eq_ignore_ascii_case(&image.id))
    }

    /// The index logs that together hold every match, or `None` when only
    /// reading all of the project's images can find them (the exclusion-only
    /// forms and `without_any_tag`).
    pub fn sources(&self) -> Option<Vec<Source>> {
        let of = |f: &TagFilter| -> Vec<Source> {
            if f.values.is_empty() {
                vec![Source::Key(f.key.clone())]
            } else {
                f.values
                    .iter()
                    .map(|v| Source::Entry(rules::entry(&f.key, v)))
                    .collect()
            }
        };
        // Every match has this id: one record to read.
        if let Some(id) = &self.id {
            return Some(vec![Source::Image(id.clone())]);
        }
        if self.without_any_tag {
            return None;
        }
        // Every match carries each `tags` filter: one of them is enough, and
        // one with values names fewer images than "any value".
        let narrowest = self
            .tags
            .iter()
            .find(|f| !f.values.is_empty())
            .or(self.tags.first());
        if let Some(f) = narrowest {
            return Some(of(f));
        }
        if !self.tags_any.is_empty() {
            return Some(self.tags_any.iter().flat_map(of).collect());
        }
        None
    }

    /// The answer, from the matches in their listing order.
    pub fn answer(&self, matches: &[Image]) -> Value {
        match self.action {
            Action::Count => json!({ "total_count": matches.len() }),
            Action::Filter => {
                let resources: Vec<Value> = matches
                    .iter()
                    .skip(self.offset)
                    .take(self.limit)
                    .map(resource)
                    .collect();
                json!({ "resources": resources, "total_count": matches.len() })
            }
        }
    }
}

fn resource(image: &Image) -> Value {
    let tags: Vec<Value> = rules::pairs(&image.tags)
        .iter()
        .map(rules::KeyValue::to_json)
        .collect();
    json!({
        "resource_id": image.id,
        "resource_name": image.name.as_deref().unwrap_or_default(),
        "resource_detail": {"status": image.status},
        "tags": tags,
    })
}

#[cfg(test)]
mod tests;
