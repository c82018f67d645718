//! The filters of `GET /v2/images` other than `tag`, `visibility` and
//! `owner` (issue 17), with Glance 33's semantics and 400 messages: read
//! once from the decoded query pairs, at most [`MAX_FILTERS`] of them, each
//! in one pass, then checked against every image a listing walks. The
//! table, and the oracle's answers it came from, is in README.md, section Listing filters.

use crate::core::compare::Op;
use crate::core::error::Error;
use crate::core::image::Image;
use crate::http::echo;
use std::cmp::Ordering;

mod iso8601;
#[cfg(test)]
mod tests;

/// Filter parameters one listing may carry besides `tag` (each repeated
/// one counts): Glance has no limit, the walk checks each on every image.
pub const MAX_FILTERS: usize = 20;
/// Values across every `in:` list of one listing.
pub const MAX_IN_VALUES: usize = 200;
/// The fields that take `eq:` and `in:` (Glance's
/// `_make_conditions_from_filters`).
const LISTED: &[&str] = &["id", "name", "status", "container_format", "disk_format"];
/// The image table's columns: a range `F_min` / `F_max` takes these.
const COLUMNS: &[&str] = &[
    "id",
    "name",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "status",
    "visibility",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "owner",
    "protected",
    "os_hidden",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
];
/// Columns that are null on every image here (no image data, not deleted).
const NULL: &[&str] = &[
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "deleted_at",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    /// A [`LISTED`] field is one of these (`eq` is a list of one).
    OneOf(&'static str, Vec<String>),
    /// `created_at` or `updated_at` against (unix seconds, microseconds).
    Time(&'static str, Op, (i64, u32)),
    /// `F_max` (true) or `F_min` of a [`COLUMNS`] entry.
    Range(&'static str, bool, i64),
    /// `min_ram` / `min_disk` equal to this integer, in decimal without
    /// leading zeros (`None`: the value is not an integer).
    Number(&'static str, Option<String>),
    /// A [`NULL`] column (or `tags`) by value: matches nothing.
    Nothing,
    /// An extra property with exactly this value.
    Property(String, String),
}

/// What a listing's images must match besides `tag`, `visibility`, `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub os_hidden: bool,
    protected: Option<bool>,
    list: Vec<Filter>,
}

/// The parameters as they arrive, until [`Builder::finish`] reads them in
/// Glance's order.
#[derive(Debug, Default)]
pub struct Builder {
    pairs: Vec<(String, String)>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

fn static_name(list: &[&'static str], name: &str) -> Option<&'static str> {
    list.iter().find(|n| **n == name).copied()
}

impl Builder {
    pub fn push(&mut self, key: String, value: String) -> Result<(), Error> {
        if key == "changes-since" {
            return Err(bad(
                "The \"changes-since\" filter is no longer available on v2.",
            ));
        }
        if self.pairs.len() == MAX_FILTERS {
            return Err(bad(format!(
                "Too many filters: at most {MAX_FILTERS} are allowed besides 'tag'."
            )));
        }
        self.pairs.push((key, value));
        Ok(())
    }

    /// `os_hidden`, `protected`, then each other parameter in the order it
    /// first came, with the value it came with last (Glance's dict of them).
    pub fn finish(self) -> Result<Filters, Error> {
        let mut merged: Vec<(String, String)> = Vec::with_capacity(self.pairs.len());
        for (k, v) in self.pairs {
            match merged.iter_mut().find(|(m, _)| *m == k) {
                Some(seen) => seen.1 = v,
                None => merged.push((k, v)),
            }
        }
        let get = |name: &str| merged.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let mut f = Filters::default();
        if let Some(v) = get("os_hidden") {
            f.os_hidden = flag("os_hidden", &v.to_ascii_lowercase())?;
        }
        if let Some(v) = get("protected") {
            f.protected = Some(flag("protected", v)?);
        }
        let mut in_values = 0;
        for (k, v) in &merged {
            let filter = if let Some(field) = static_name(LISTED, k) {
                one_of(field, v, &mut in_values)?
            } else {
                match k.as_str() {
                    "os_hidden" | "protected" | "deleted" => continue,
                    "created_at" => time("created_at", v)?,
                    "updated_at" => time("updated_at", v)?,
                    "min_ram" => Filter::Number("min_ram", sqlite_integer(v)),
                    "min_disk" => Filter::Number("min_disk", sqlite_integer(v)),
                    "tags" => Filter::Nothing,
                    "properties" | "locations" | "members" => {
                        return Err(bad(format!("Unable to filter on '{k}'.")))
                    }
                    _ if static_name(NULL, k).is_some() => Filter::Nothing,
                    _ => match k.strip_suffix("_min").or(k.strip_suffix("_max")) {
                        Some(column) => range(column, k.ends_with("_max"), v)?,
                        None => Filter::Property(k.clone(), v.clone()),
                    },
                }
            };
            f.list.push(filter);
        }
        Ok(f)
    }
}

fn flag(name: &str, v: &str) -> Result<bool, Error> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!(
            "Invalid value '{}' for '{name}' filter. Valid values are 'true' or 'false'.",
            echo(v)
        ))),
    }
}

/// Glance's `split_filter_op`: `op:rest`, unless the whole value is an
/// ISO 8601 time (then `eq` of all of it); no `:` is `eq`.
fn split_op(v: &str) -> (&str, &str) {
    match v.split_once(':') {
        Some((op, rest)) if iso8601::parse(v).is_none() => (op, rest),
        _ => ("eq", v),
    }
}

fn one_of(field: &'static str, v: &str, in_values: &mut usize) -> Result<Filter, Error> {
    let values = match split_op(v) {
        ("in", list) => split_quoted(list)?,
        ("eq", value) => vec![value.to_string()],
        (op, _) => {
            return Err(bad(format!(
                "Unable to filter by unknown operator '{}'.",
                echo(op)
            )))
        }
    };
    *in_values += values.len();
    if *in_values > MAX_IN_VALUES {
        return Err(bad(format!(
            "Too many values in 'in:' lists: at most {MAX_IN_VALUES} are allowed."
        )));
    }
    Ok(Filter::OneOf(field, values))
}

/// Glance's `validate_quotes`, then `split_filter_value_for_quotes`: the
/// matches of `"((?:[^"\\]|\\.)*)",?|([^,]+),?|,` in order. A quoted value
/// keeps its backslashes.
fn split_quoted(list: &str) -> Result<Vec<String>, Error> {
    let b = list.as_bytes();
    let invalid = |why: &str| bad(format!("Invalid filter value {}. {why}", echo(list)));
    let mut open = true;
    for (i, c) in b.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| b.get(j));
        if *c != b'"' || before == Some(&b'\\') {
            continue;
        }
        if open && before.is_some_and(|p| *p != b',') {
            return Err(invalid("There is no comma before opening quotation mark."));
        }
        if !open && b.get(i + 1).is_some_and(|n| *n != b',') {
            return Err(invalid("There is no comma after closing quotation mark."));
        }
        open = !open;
    }
    if !open {
        return Err(invalid("The quote is not closed."));
    }
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(c) = b.get(at) {
        let end = match c {
            b'"' => closing_quote(b, at + 1),
            _ => None,
        };
        let (value, next) = match end {
            Some(end) => (list.get(at + 1..end), end + 1),
            None => {
                let rest = b.get(at..).unwrap_or_default();
                let end = rest
                    .iter()
                    .position(|c| *c == b',')
                    .map_or(b.len(), |n| at + n);
                (list.get(at..end), end)
            }
        };
        out.push(value.unwrap_or_default().to_string());
        at = next + usize::from(b.get(next) == Some(&b','));
    }
    Ok(out)
}

/// The `"` that closes a quoted value opened before `at`: `\` escapes the
/// next character (not a newline: `.`), so a `\"` does not close it.
fn closing_quote(b: &[u8], mut at: usize) -> Option<usize> {
    while let Some(c) = b.get(at) {
        match c {
            b'"' => return Some(at),
            b'\\' if b.get(at + 1).is_some_and(|c| *c != b'\n') => at += 2,
            b'\\' => return None,
            _ => at += 1,
        }
    }
    None
}

fn time(field: &'static str, v: &str) -> Result<Filter, Error> {
    let (op, at) = split_op(v);
    let at = iso8601::parse(at).ok_or_else(|| {
        bad(format!(
            "Bad \"{field}\" query filter format. Use ISO 8601 DateTime notation."
        ))
    })?;
    let op = Op::parse(op).ok_or_else(|| bad("Unable to filter on a unknown operator."))?;
    Ok(Filter::Time(field, op, at))
}

/// `F_min` / `F_max`: Python's `int()` of the value, then the column.
fn range(column: &str, max: bool, v: &str) -> Result<Filter, Error> {
    let n = python_int(v)
        .ok_or_else(|| bad("Unable to filter on a range with a non-numeric value."))?;
    let column = static_name(COLUMNS, column).ok_or_else(|| {
        bad(format!(
            "Unable to filter on a range of '{}': it is not a field of an image.",
            echo(column)
        ))
    })?;
    Ok(Filter::Range(column, max, n))
}

/// Python's `int(text)`: spaces around, a sign, ASCII digits with single
/// `_` between them (saturating far past any field's range).
fn python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut n: i64 = 0;
    for c in digits.bytes().filter(|c| *c != b'_') {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    Some(if negative { -n } else { n })
}

/// A text compared with an integer column, as SQLite does: a number when
/// the text (spaces around it aside) is an integer or real literal. The
/// integer it equals, in decimal (`512`, `0512`, `512.0`, `5.12e2`: "512"),
/// or `None` when it is no literal or no integer. Worked on the digits: a
/// float parser would cost 20 KB of wasm.
fn sqlite_integer(text: &str) -> Option<String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && part.is_empty()) || !digits(whole) || !digits(part) {
        return None;
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if unsigned.is_empty() || !digits(unsigned) {
                return None;
            }
            python_int(e)?
        }
    };
    // digits × 10^shift
    let all = format!("{whole}{part}");
    let all = all.trim_start_matches('0');
    let shift = exponent.saturating_sub(part.len() as i64);
    let kept = all.trim_end_matches('0');
    let zeros = (all.len() - kept.len()) as i64;
    if kept.is_empty() {
        return Some("0".into());
    }
    let shift = shift.saturating_add(zeros);
    // A fraction is left, or more digits than any u64 has.
    if negative || shift < 0 || kept.len() as i64 + shift > 20 {
        return None;
    }
    let mut out = kept.to_string();
    out.extend(std::iter::repeat_n('0', shift as usize));
    Some(out)
}

/// A text field by column name; `None` when null or not a text field.
fn text<'a>(image: &'a Image, column: &str) -> Option<&'a str> {
    match column {
        "id" => Some(&image.id),
        "name" => image.name.as_deref(),
        "status" => Some(&image.status),
        "visibility" => Some(&image.visibility),
        "owner" => image.owner.as_deref(),
        "container_format" => image.container_format.as_deref(),
        "disk_format" => image.disk_format.as_deref(),
        _ => None,
    }
}

impl Filter {
    fn matches(&self, image: &Image) -> bool {
        match self {
            Filter::OneOf(field, values) => {
                text(image, field).is_some_and(|have| values.iter().any(|v| v == have))
            }
            Filter::Time(field, op, at) => {
                let stamp = if *field == "created_at" {
                    &image.created_at
                } else {
                    &image.updated_at
                };
                let Some(seconds) = crate::core::time::parse(stamp) else {
                    return false;
                };
                op.holds((seconds, 0).cmp(at))
            }
            Filter::Range(column, max, n) => {
                // SQLite's order: numbers, then text; null matches nothing.
                let number = match *column {
                    "min_ram" => Some(image.min_ram as i64),
                    "min_disk" => Some(image.min_disk as i64),
                    "protected" => Some(i64::from(image.protected)),
                    "os_hidden" => Some(i64::from(image.os_hidden)),
                    "deleted" => Some(0),
                    _ => None,
                };
                let ord = match (number, text(image, column)) {
                    (Some(have), _) => have.cmp(n),
                    (None, Some(have)) => have.cmp(n.to_string().as_str()),
                    (None, None) if matches!(*column, "created_at" | "updated_at") => {
                        Ordering::Greater
                    }
                    (None, None) => return false,
                };
                if *max {
                    ord != Ordering::Greater
                } else {
                    ord != Ordering::Less
                }
            }
            Filter::Number(column, want) => {
                let have = if *column == "min_ram" {
                    image.min_ram
                } else {
                    image.min_disk
                };
                want.as_ref().is_some_and(|w| *w == have.to_string())
            }
            Filter::Nothing => false,
            Filter::Property(k, v) => image.extra.get(k).is_some_and(|x| x == v),
        }
    }
}

impl Filters {
    /// Whether `image` passes every filter here (not `tag`, `visibility`, `owner`).
    pub fn matches(&self, image: &Image) -> bool {
        image.os_hidden == self.os_hidden
            && self.protected.is_none_or(|p| image.protected == p)
            && self.list.iter().all(|f| f.matches(image))
    }

    /// Whether no image can match: a listing then walks nothing.
    pub fn never(&self) -> bool {
        self.list.iter().any(|f| match f {
            Filter::Nothing => true,
            Filter::OneOf(_, values) => values.is_empty(),
            Filter::Range(column, ..) => static_name(NULL, column).is_some(),
            _ => false,
        })
    }

    /// The ids an `id` filter names, each once: a listing loads these
    /// instead of walking a log.
    pub fn ids(&self) -> Option<Vec<&str>> {
        self.list.iter().find_map(|f| match f {
            Filter::OneOf("id", values) => {
                let mut ids: Vec<&str> = Vec::with_capacity(values.len());
                for v in values {
                    if !ids.contains(&v.as_str()) {
                        ids.push(v);
                    }
                }
                Some(ids)
            }
            _ => None,
        })
    }
}
