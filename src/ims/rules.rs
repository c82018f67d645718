//! IMS key/value tags over the one native tag list of an image (SPEC
//! section 9). A native entry `k` is key `k` with value `""`; an entry
//! `k=v` is key `k` with value `v`, split at the first `=`. An empty value
//! is stored as the plain `k`, so both views always name the same entries.

use crate::core::error::Error;
use crate::core::tag;
use serde_json::{json, Value};

pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: &str, value: &str) -> Self {
        KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        }
    }

    /// The native entry this tag is stored as.
    pub fn entry(&self) -> String {
        entry(&self.key, &self.value)
    }

    pub fn to_json(&self) -> Value {
        json!({"key": self.key, "value": self.value})
    }
}

/// (key, value) of a native entry, split at the first `=`; `""` for none.
pub fn split(entry: &str) -> (&str, &str) {
    let (key, value) = tag::split(entry);
    (key, value.unwrap_or(""))
}

pub fn entry(key: &str, value: &str) -> String {
    tag::join(key, value)
}

/// Every entry of a tag list as a key/value pair, in list order.
pub fn pairs(tags: &[String]) -> Vec<KeyValue> {
    tags.iter()
        .map(|t| {
            let (k, v) = split(t);
            KeyValue::new(k, v)
        })
        .collect()
}

pub fn has_key(tags: &[String], key: &str) -> bool {
    tags.iter().any(|t| split(t).0 == key)
}

/// The values the list holds for `key` (several only when native tags and
/// a key/value tag share a key).
pub fn values_of<'a>(tags: &'a [String], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    tags.iter().filter_map(move |t| {
        let (k, v) = split(t);
        (k == key).then_some(v)
    })
}

/// What [`set`] did to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// A new key was appended.
    Added,
    /// The key's entry was replaced in place (or already held the value).
    Replaced,
}

/// Set `key` to `value`: the first entry for `key` is replaced where it
/// stands and any further ones (a native `k` beside a `k=v`) are dropped;
/// a new key goes last.
pub fn set(tags: &mut Vec<String>, kv: &KeyValue) -> Set {
    let new = kv.entry();
    let mut found = false;
    tags.retain_mut(|t| {
        if split(t).0 != kv.key {
            return true;
        }
        if found {
            return false;
        }
        found = true;
        t.clone_from(&new);
        true
    });
    if found {
        Set::Replaced
    } else {
        tags.push(new);
        Set::Added
    }
}

/// Remove every entry for `key`; whether there was one.
pub fn remove(tags: &mut Vec<String>, key: &str) -> bool {
    let before = tags.len();
    tags.retain(|t| split(t).0 != key);
    tags.len() != before
}

/// Why a key or value breaks IMS's tag format. The message names the rule.
pub type RuleError = String;

fn allowed(c: char, in_value: bool) -> bool {
    c.is_alphanumeric()
        || matches!(c, ' ' | '_' | '.' | ':' | '+' | '-' | '@')
        || (in_value && c == '/')
}

fn check_text(
    what: &str,
    text: &str,
    min: usize,
    max: usize,
    in_value: bool,
) -> Result<(), RuleError> {
    check_length(what, text, min, max)?;
    if let Some(c) = text.chars().find(|c| !allowed(*c, in_value)) {
        let extra = if in_value { ", '/'" } else { "" };
        return Err(format!(
            "Tag {what} {text:?} contains {c:?}: only letters, digits, spaces and '_', '.', ':', '+', '-', '@'{extra} are allowed."
        ));
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        return Err(format!(
            "Tag {what} {text:?} must not start or end with a space."
        ));
    }
    Ok(())
}

fn check_length(what: &str, text: &str, min: usize, max: usize) -> Result<(), RuleError> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(format!(
            "Tag {what} is {n} characters long; it must be {min} to {max}."
        ));
    }
    Ok(())
}

/// IMS's current tag format: key 1–128 characters, value 0–255; letters
/// of any script, digits, space and `_ . : + - @` (values also `/`); no
/// leading or trailing space; `=` is not among them.
pub fn validate(kv: &KeyValue) -> Result<(), RuleError> {
    check_text("key", &kv.key, 1, MAX_KEY_CHARS, false)?;
    check_text("value", &kv.value, 0, MAX_VALUE_CHARS, true)
}

/// Deletes check only lengths: a tag breaking the other rules cannot be on
/// the image through these routes, but may be through the native ones.
pub fn validate_lengths(kv: &KeyValue) -> Result<(), RuleError> {
    check_length("key", &kv.key, 1, MAX_KEY_CHARS)?;
    check_length("value", &kv.value, 0, MAX_VALUE_CHARS)
}

/// Apply `set` for each tag, refusing a new key that takes the list past
/// `limit`. Updating keys the image has is fine at (or past) the limit.
pub fn set_all(
    image: &str,
    tags: &mut Vec<String>,
    kvs: &[KeyValue],
    limit: usize,
) -> Result<(), Error> {
    for kv in kvs {
        if set(tags, kv) == Set::Added && tags.len() > limit {
            return Err(Error::TooManyTags {
                image: image.to_string(),
                attempted: tags.len(),
                max: limit,
                key: Some(kv.key.clone()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entries_split_at_the_first_equals() {
        assert_eq!(split("k"), ("k", ""));
        assert_eq!(split("k=v"), ("k", "v"));
        assert_eq!(split("k=v=w"), ("k", "v=w"));
        assert_eq!(split("k="), ("k", ""));
        assert_eq!(entry("k", ""), "k");
        assert_eq!(entry("k", "v"), "k=v");
        assert_eq!(
            pairs(&list(&["a", "b=c"])),
            vec![KeyValue::new("a", ""), KeyValue::new("b", "c")]
        );
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_keys() {
        let mut tags = list(&["a", "b=1", "c"]);
        assert_eq!(set(&mut tags, &KeyValue::new("b", "2")), Set::Replaced);
        assert_eq!(tags, list(&["a", "b=2", "c"]));
        assert_eq!(set(&mut tags, &KeyValue::new("a", "x")), Set::Replaced);
        assert_eq!(tags, list(&["a=x", "b=2", "c"]));
        // An empty value is stored as the plain native tag.
        assert_eq!(set(&mut tags, &KeyValue::new("b", "")), Set::Replaced);
        assert_eq!(tags, list(&["a=x", "b", "c"]));
        assert_eq!(set(&mut tags, &KeyValue::new("d", "4")), Set::Added);
        assert_eq!(tags, list(&["a=x", "b", "c", "d=4"]));
    }

    #[test]
    fn set_collapses_several_entries_for_one_key() {
        // The native routes can put `k` beside `k=v`.
        let mut tags = list(&["k=v", "x", "k"]);
        assert_eq!(values_of(&tags, "k").collect::<Vec<_>>(), vec!["v", ""]);
        set(&mut tags, &KeyValue::new("k", "w"));
        assert_eq!(tags, list(&["k=w", "x"]));
        let mut tags = list(&["k=v", "x", "k"]);
        assert!(remove(&mut tags, "k"));
        assert_eq!(tags, list(&["x"]));
        assert!(!remove(&mut tags, "k"));
    }

    #[test]
    fn the_limit_refuses_new_keys_only() {
        let mut tags = list(&["a", "b"]);
        let err = set_all("i", &mut tags.clone(), &[KeyValue::new("c", "")], 2).unwrap_err();
        assert!(
            matches!(&err, Error::TooManyTags { max: 2, attempted: 3, key: Some(k), .. } if k == "c"),
            "{err:?}"
        );
        set_all(
            "i",
            &mut tags,
            &[KeyValue::new("a", "1"), KeyValue::new("b", "2")],
            2,
        )
        .unwrap();
        assert_eq!(tags, list(&["a=1", "b=2"]));
        // Past the limit already (native routes): updates still work.
        let mut tags = list(&["a", "b", "c"]);
        set_all("i", &mut tags, &[KeyValue::new("c", "3")], 2).unwrap();
        assert!(set_all("i", &mut tags, &[KeyValue::new("d", "")], 2).is_err());
        set_all("i", &mut tags, &[KeyValue::new("d", "")], 4).unwrap();
    }

    #[test]
    fn the_rules_of_ims_tag_format() {
        let ok = |k: &str, v: &str| validate(&KeyValue::new(k, v));
        for (k, v) in [
            ("env", "prod"),
            ("a_b.c:d+e-f@g", "x/y z"),
            ("环境", "生产"),
            ("ключ", "значение"),
            ("k", ""),
            ("K 1", "V 2"),
        ] {
            assert_eq!(ok(k, v), Ok(()), "{k}={v}");
        }
        assert!(ok(&"k".repeat(128), &"v".repeat(255)).is_ok());
        for (k, v, part) in [
            ("", "v", "1 to 128"),
            (&"k".repeat(129) as &str, "v", "1 to 128"),
            ("k", &"v".repeat(256) as &str, "0 to 255"),
            ("a=b", "v", "'='"),
            ("k", "a=b", "'='"),
            ("a/b", "v", "'/'"),
            (" k", "v", "space"),
            ("k ", "v", "space"),
            ("k", " v", "space"),
            ("k", "v ", "space"),
            ("k", "a,b", "','"),
            ("k\t", "v", "'\\t'"),
            ("k*", "v", "'*'"),
        ] {
            let err = ok(k, v).unwrap_err();
            assert!(err.contains(part), "{k:?}={v:?}: {err}");
        }
        // Lengths count code points, not bytes.
        assert!(ok(&"ü".repeat(128), "").is_ok());
        assert!(ok(&"ü".repeat(129), "").is_err());
    }

    #[test]
    fn deletes_check_only_lengths() {
        assert!(validate_lengths(&KeyValue::new("a=b*", " x ")).is_ok());
        assert!(validate_lengths(&KeyValue::new("", "")).is_err());
        assert!(validate_lengths(&KeyValue::new(&"k".repeat(129), "")).is_err());
        assert!(validate_lengths(&KeyValue::new("k", &"v".repeat(256))).is_err());
    }
}
