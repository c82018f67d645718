//! `PATCH /v2/images/{id}`: RFC 6902 operations as Glance applies them to an
//! image. Parsing is `json-patch`'s, written out: its derived `Deserialize`
//! (serde's buffering of internally tagged enums, float formatting for
//! error messages) cost ~30 KB of wasm; a unit test checks the two agree,
//! messages included. What each path means is Glance's.

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::Image;
use crate::core::policy;
use crate::glance::validate::{check_tag_quota, tags_from_json, Settable};
use crate::http::echo;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// One RFC 6902 operation. `move`, `copy` and `test` are checked for their
/// fields like the others, then refused by [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOperation {
    Add { path: String, value: Value },
    Replace { path: String, value: Value },
    Remove { path: String },
    Unsupported,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patch(pub Vec<PatchOperation>);

/// The variants of `json_patch::PatchOperation`, in its order.
const VARIANTS: &[&str] = &["add", "remove", "replace", "move", "copy", "test"];

fn invalid_type<E: de::Error>(v: &Value, expected: &str) -> E {
    E::custom(super::serde_words::invalid(v, expected))
}

/// The `op` tag: its position in [`VARIANTS`].
fn variant<E: de::Error>(tag: &Value) -> Result<usize, E> {
    match tag {
        Value::String(s) => VARIANTS
            .iter()
            .position(|v| v == s)
            .ok_or_else(|| E::unknown_variant(&echo(s), VARIANTS)),
        other => Err(invalid_type(other, "variant identifier")),
    }
}

/// A JSON pointer field, validated as `jsonptr`'s `PointerBuf` is.
fn pointer<E: de::Error>(v: &Value) -> Result<String, E> {
    let Value::String(text) = v else {
        return Err(invalid_type(v, "a string"));
    };
    if text.is_empty() {
        return Ok(String::new());
    }
    if !text.starts_with('/') {
        return Err(E::custom(
            "json pointer failed to parse; does not start with a slash ('/') and is not empty",
        ));
    }
    let bytes = text.as_bytes();
    let (mut i, mut separator) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        if b == b'/' {
            separator = i;
        } else if b == b'~' {
            if !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
                return Err(E::custom(format!("json pointer failed to parse; the first token in the partial-pointer starting at offset {separator} is malformed")));
            }
            i += 1;
        }
        i += 1;
    }
    Ok(text.clone())
}

/// What follows the tag: the other members of an object, or the other
/// elements of an array (serde takes an internally tagged enum from both).
enum Rest {
    Map(Vec<(String, Value)>),
    Seq(Vec<Value>),
}

/// The struct of one variant from the members after the tag, checked in
/// the order and with the messages of the derived `Deserialize`.
fn operation<E: de::Error>(variant: usize, rest: Rest) -> Result<PatchOperation, E> {
    let (name, fields): (&str, &[&str]) = match variant {
        0 => ("AddOperation", &["path", "value"]),
        1 => ("RemoveOperation", &["path"]),
        2 => ("ReplaceOperation", &["path", "value"]),
        3 => ("MoveOperation", &["from", "path"]),
        4 => ("CopyOperation", &["from", "path"]),
        _ => ("TestOperation", &["path", "value"]),
    };
    // Pointer fields are checked as they are read, as serde does.
    let check = |index: usize, v: &Value| -> Result<(), E> {
        if fields.get(index) != Some(&"value") {
            pointer::<E>(v)?;
        }
        Ok(())
    };
    let mut values: Vec<Option<Value>> = vec![None; fields.len()];
    match rest {
        Rest::Map(members) => {
            for (key, v) in members {
                let Some(index) = fields.iter().position(|f| *f == key) else {
                    continue;
                };
                match values.get_mut(index) {
                    Some(Some(_)) => {
                        return Err(E::duplicate_field(
                            fields.get(index).copied().unwrap_or_default(),
                        ))
                    }
                    Some(slot) => {
                        check(index, &v)?;
                        *slot = Some(v);
                    }
                    None => {}
                }
            }
        }
        Rest::Seq(items) => {
            let count = fields.len();
            let plural = if count == 1 { "" } else { "s" };
            let len = items.len();
            let mut items = items.into_iter();
            for (index, slot) in values.iter_mut().enumerate() {
                let Some(v) = items.next() else {
                    return Err(E::invalid_length(
                        index,
                        &format!("struct {name} with {count} element{plural}").as_str(),
                    ));
                };
                check(index, &v)?;
                *slot = Some(v);
            }
            if len > count {
                return Err(E::invalid_length(
                    len,
                    &format!("{count} element{plural} in sequence").as_str(),
                ));
            }
        }
    }
    // Missing fields, in declaration order.
    let mut found = Vec::with_capacity(fields.len());
    for (value, field) in values.into_iter().zip(fields) {
        found.push(value.ok_or_else(|| E::missing_field(field))?);
    }
    let mut found = found.into_iter();
    let mut path = || match found.next() {
        Some(Value::String(p)) => p,
        _ => String::new(),
    };
    Ok(match variant {
        0 => PatchOperation::Add {
            path: path(),
            value: found.next().unwrap_or_default(),
        },
        2 => PatchOperation::Replace {
            path: path(),
            value: found.next().unwrap_or_default(),
        },
        1 => PatchOperation::Remove { path: path() },
        _ => PatchOperation::Unsupported,
    })
}

/// What is being read: one visitor for all three, so that `serde_json`'s
/// parser is instantiated once (each instantiation is ~1 KB of wasm).
#[derive(Clone, Copy)]
enum Expect {
    /// The array of operations (`json_patch::Patch` is a `Vec` of them).
    Patch,
    /// One operation, read as serde reads an internally tagged enum: the
    /// tag checked as soon as it is read, the struct once the value is read.
    Operation,
    /// The `op` tag.
    Tag,
}

enum Parsed {
    Patch(Vec<PatchOperation>),
    Operation(PatchOperation),
    Tagged(usize, Rest),
    Tag(usize),
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Patch => "a sequence",
            Expect::Operation => "internally tagged enum PatchOperation",
            Expect::Tag => "variant identifier",
        }
    }

    /// serde's default `visit_*` format floats with `core` (~20 KB of wasm):
    /// the same message, with `serde_json`'s number formatting.
    fn invalid<E: de::Error>(self, v: Value) -> Result<Parsed, E> {
        match (self, v) {
            (Expect::Tag, Value::String(s)) => variant(&Value::String(s)).map(Parsed::Tag),
            (_, v) => Err(invalid_type(&v, self.name())),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Expect {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        match d.deserialize_any(self)? {
            Parsed::Tagged(variant, rest) => operation(variant, rest).map(Parsed::Operation),
            parsed => Ok(parsed),
        }
    }
}

impl<'de> Visitor<'de> for Expect {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Parsed, E> {
        self.invalid(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Parsed, E> {
        self.invalid(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Parsed, E> {
        self.invalid(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Parsed, E> {
        self.invalid(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Parsed, E> {
        self.invalid(Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        self.invalid(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        match self {
            Expect::Patch => {
                let mut ops = Vec::new();
                while let Some(parsed) = seq.next_element_seed(Expect::Operation)? {
                    if let Parsed::Operation(op) = parsed {
                        ops.push(op);
                    }
                }
                Ok(Parsed::Patch(ops))
            }
            Expect::Operation => {
                let Some(Parsed::Tag(tag)) = seq.next_element_seed(Expect::Tag)? else {
                    return Err(de::Error::missing_field("op"));
                };
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Parsed::Tagged(tag, Rest::Seq(items)))
            }
            // serde reports this at the bracket, which has been read by
            // now: `parse_ops` moves the position back (see `AT_BRACKET`).
            Expect::Tag => Err(de::Error::custom(format!(
                "{AT_BRACKET}invalid type: sequence, expected variant identifier"
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        match self {
            // Not reached: `parse_ops` answers for a top-level object.
            Expect::Patch => Err(de::Error::custom("invalid type: map, expected a sequence")),
            Expect::Operation => {
                let mut tag = None;
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key != "op" {
                        members.push((key, map.next_value::<Value>()?));
                    } else if tag.is_some() {
                        return Err(de::Error::duplicate_field("op"));
                    } else if let Parsed::Tag(t) = map.next_value_seed(Expect::Tag)? {
                        tag = Some(t);
                    }
                }
                let tag = tag.ok_or_else(|| de::Error::missing_field("op"))?;
                Ok(Parsed::Tagged(tag, Rest::Map(members)))
            }
            Expect::Tag => Err(de::Error::custom(format!(
                "{AT_BRACKET}invalid type: map, expected variant identifier"
            ))),
        }
    }
}

/// Marks an error serde reports at a bracket this parser has read past.
const AT_BRACKET: &str = "\u{0}";

fn is_json_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

/// `serde_json`'s "line L column C" of a byte offset.
fn position(body: &[u8], at: usize) -> String {
    let before = body.get(..at).unwrap_or_default();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    format!("line {line} column {}", at - line_start)
}

/// `serde_json::from_slice::<json_patch::Patch>(body)`, error messages
/// included: `serde_json` positions them the same way, but for the two
/// cases where serde points at a bracket it has not read.
fn parse_ops(body: &[u8]) -> Result<Patch, String> {
    // serde rejects an object here without reading it.
    let start = body.iter().position(|b| !is_json_space(b));
    if let Some(at) = start.filter(|&at| body.get(at) == Some(&b'{')) {
        return Err(format!(
            "invalid type: map, expected a sequence at {}",
            position(body, at)
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Expect::Patch
        .deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p));
    let error = match parsed {
        Ok(Parsed::Patch(ops)) => return Ok(Patch(ops)),
        Ok(_) => return Err("not a JSON Patch".into()),
        Err(e) => e,
    };
    let message = error.to_string();
    let Some(message) = message.strip_prefix(AT_BRACKET) else {
        return Err(message);
    };
    // serde_json stopped after the bracket, the blanks that follow it and,
    // when the map or array is empty, its closing bracket.
    let (line, column) = (error.line(), error.column());
    let line_start = (1..line).fold(0, |from, _| {
        body.iter()
            .skip(from)
            .position(|&b| b == b'\n')
            .map_or(from, |n| from + n + 1)
    });
    let mut at = (line_start + column).min(body.len());
    while let Some(b) = at.checked_sub(1).and_then(|i| body.get(i)) {
        if matches!(b, b'{' | b'[') {
            break;
        }
        at -= 1;
    }
    let at = at.saturating_sub(1);
    let suffix = format!(" at line {line} column {column}");
    let text = message.strip_suffix(&suffix).unwrap_or(message);
    Err(format!("{text} at {}", position(body, at)))
}

pub const MEDIA_TYPES: &[&str] = &[
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
];

/// Check the content type and parse the body into operations.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Patch, Error> {
    let media = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media.as_str()) {
        return Err(Error::UnsupportedMediaType(format!(
            "Unsupported Content-Type: use {}.",
            MEDIA_TYPES.join(" or ")
        )));
    }
    parse_ops(body).map_err(|e| {
        Error::BadRequest(format!(
            "The request body is not a valid JSON Patch of add, replace and remove operations: {e}"
        ))
    })
}

/// The single property a path names: `/name` → `name`. Deeper paths are
/// refused as Glance refuses them (`/tags/0`, `/tags/-`).
fn property(path: &str) -> Result<String, Error> {
    let mut tokens = path.strip_prefix('/').map(|p| p.split('/'));
    let mut next = || tokens.as_mut().and_then(Iterator::next);
    match (next(), next()) {
        (Some(first), None) if !first.is_empty() => Ok(first.replace("~1", "/").replace("~0", "~")),
        _ => Err(Error::BadRequest(format!(
            "Invalid JSON pointer for this resource: '{}'",
            echo(path)
        ))),
    }
}

fn set(
    image: &mut Image,
    name: &str,
    value: &Value,
    who: &Identity,
    quota: Option<usize>,
    must_exist: bool,
) -> Result<(), Error> {
    match name {
        "tags" => {
            let tags = tags_from_json(value, &image.tags)?;
            check_tag_quota(&image.id, tags.len(), quota)?;
            image.tags = tags;
        }
        "owner" => {
            if !who.is_admin() {
                return Err(Error::Forbidden(
                    "You are not authorized to complete modify_image action.".into(),
                ));
            }
            image.owner = value.as_str().map(str::to_string);
        }
        "visibility" if value.as_str() == Some("public") && !policy::can_publicize(who) => {
            return Err(Error::Forbidden(
                "You are not authorized to complete publicize_image action.".into(),
            ))
        }
        _ => {
            let is_extra = image.property(name).is_none() && !is_base(name);
            if must_exist && is_extra && !image.extra.contains_key(name) {
                return Err(Error::Conflict(format!(
                    "Property {} does not exist.",
                    echo(name)
                )));
            }
            image.set_property(name, value)?;
        }
    }
    Ok(())
}

fn is_base(name: &str) -> bool {
    matches!(
        name,
        "name"
            | "visibility"
            | "protected"
            | "os_hidden"
            | "container_format"
            | "disk_format"
            | "min_disk"
            | "min_ram"
    )
}

/// Apply every operation, in order, to `image`.
pub fn apply(
    image: &mut Image,
    patch: &Patch,
    who: &Identity,
    quota: Option<usize>,
) -> Result<(), Error> {
    for op in &patch.0 {
        match op {
            // RFC 6902: `add` on an existing member replaces it.
            PatchOperation::Add { path, value } => {
                set(image, &property(path)?, value, who, quota, false)?
            }
            PatchOperation::Replace { path, value } => {
                set(image, &property(path)?, value, who, quota, true)?
            }
            PatchOperation::Remove { path } => match property(path)?.as_str() {
                "tags" => image.tags.clear(),
                name => image.remove_property(name)?,
            },
            PatchOperation::Unsupported => {
                return Err(Error::BadRequest(
                    "Only the add, replace and remove operations are supported.".into(),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: Option<&str> = Some("application/openstack-images-v2.1-json-patch");

    fn patched(ops: &str, who: &Identity) -> Result<Image, Error> {
        let mut img = Image::new("i".into(), "p".into(), 0);
        img.tags = vec!["old".into()];
        img.extra.insert("hw".into(), "x".into());
        let patch = parse(CT, ops.as_bytes())?;
        apply(&mut img, &patch, who, Some(3))?;
        Ok(img)
    }

    #[test]
    fn tags_are_set_as_a_whole() {
        let m = Identity::new("p", &["member"]);
        let img = patched(r#"[{"op":"add","path":"/tags","value":["a","b","a"]}]"#, &m).unwrap();
        assert_eq!(img.tags, vec!["a", "b"]);
        let img = patched(r#"[{"op":"replace","path":"/tags","value":["c"]}]"#, &m).unwrap();
        assert_eq!(img.tags, vec!["c"]);
        let img = patched(r#"[{"op":"remove","path":"/tags"}]"#, &m).unwrap();
        assert!(img.tags.is_empty());
        for bad in [
            r#"[{"op":"add","path":"/tags/-","value":"x"}]"#,
            r#"[{"op":"add","path":"/tags/0","value":"x"}]"#,
            r#"[{"op":"add","path":"/tags","value":["a=b"]}]"#,
            r#"[{"op":"move","from":"/name","path":"/x"}]"#,
            r#"{"op":"add"}"#,
            "not json",
        ] {
            assert_eq!(patched(bad, &m).unwrap_err().status(), 400, "{bad}");
        }
        let four = r#"[{"op":"add","path":"/tags","value":["a","b","c","d"]}]"#;
        assert_eq!(patched(four, &m).unwrap_err().status(), 413);
    }

    #[test]
    fn the_whole_list_may_carry_back_the_images_key_value_tags() {
        let m = Identity::new("p", &["member"]);
        let mut img = Image::new("i".into(), "p".into(), 0);
        img.tags = vec!["env=prod".into()];
        let ops = |tags: &str| {
            parse(
                CT,
                format!(r#"[{{"op":"add","path":"/tags","value":{tags}}}]"#).as_bytes(),
            )
            .unwrap()
        };
        apply(&mut img, &ops(r#"["env=prod","x"]"#), &m, None).unwrap();
        assert_eq!(img.tags, vec!["env=prod", "x"]);
        // A new `=` is still the seed's 400.
        let err = apply(&mut img, &ops(r#"["env=dev"]"#), &m, None).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn properties_follow_glance() {
        let m = Identity::new("p", &["member"]);
        let img = patched(r#"[{"op":"replace","path":"/name","value":"n"},{"op":"add","path":"/os_distro","value":"debian"},{"op":"remove","path":"/hw"}]"#, &m).unwrap();
        assert_eq!(img.name.as_deref(), Some("n"));
        assert_eq!(
            img.extra.get("os_distro").map(String::as_str),
            Some("debian")
        );
        assert!(!img.extra.contains_key("hw"));
        let status = |ops: &str| patched(ops, &m).unwrap_err().status();
        assert_eq!(
            status(r#"[{"op":"replace","path":"/nope","value":"x"}]"#),
            409
        );
        assert_eq!(status(r#"[{"op":"remove","path":"/nope"}]"#), 409);
        assert_eq!(
            status(r#"[{"op":"replace","path":"/status","value":"active"}]"#),
            403
        );
        assert_eq!(
            status(r#"[{"op":"replace","path":"/visibility","value":"public"}]"#),
            403
        );
        assert_eq!(status(r#"[{"op":"remove","path":"/name"}]"#), 403);
        let admin = Identity::new("z", &["admin"]);
        let img = patched(
            r#"[{"op":"replace","path":"/visibility","value":"public"}]"#,
            &admin,
        )
        .unwrap();
        assert_eq!(img.visibility, "public");
    }

    /// The hand-written parser accepts exactly what `json-patch` accepts.
    #[test]
    fn parsing_matches_the_json_patch_crate() {
        for body in [
            r#"[]"#,
            r#"{}"#,
            r#""x""#,
            r#"[1]"#,
            r#"[[]]"#,
            r#"[{}]"#,
            r#"[{"op":5,"path":"/a","value":1}]"#,
            r#"[{"op":"ADD","path":"/a","value":1}]"#,
            r#"[{"op":"add","path":"/a","value":null}]"#,
            r#"[{"op":"add","path":"/a"}]"#,
            r#"[{"op":"add","value":1}]"#,
            r#"[{"op":"add","path":5,"value":1}]"#,
            r#"[{"op":"add","path":"a","value":1}]"#,
            r#"[{"op":"add","path":"","value":1}]"#,
            r#"[{"op":"add","path":"/","value":1}]"#,
            r#"[{"op":"add","path":"/a~","value":1}]"#,
            r#"[{"op":"add","path":"/a~2","value":1}]"#,
            r#"[{"op":"add","path":"/a~0~1b/c","value":1,"extra":true}]"#,
            r#"[{"op":"add","path":"/a~0~1b","value":1}]"#,
            r#"[{"op":"add","path":"/~01","value":1}]"#,
            r#"[{"op":"replace","path":"/name","value":"n"},{"op":"remove","path":"/x"}]"#,
            r#"[{"op":"remove","path":"/x","value":1}]"#,
            r#"[{"op":"remove"}]"#,
            r#"[{"op":"move","from":"/a","path":"/b"}]"#,
            r#"[{"op":"move","path":"/b"}]"#,
            r#"[{"op":"copy","from":"a","path":"/b"}]"#,
            r#"[{"op":"copy","from":"/a","path":"/b"}]"#,
            r#"[{"op":"test","path":"/b"}]"#,
            r#"[{"op":"test","path":"/b","value":[1]}]"#,
            r#"[{"op":"nope","path":"/b"}]"#,
            r#"[{"op":"add","path":"/a","value":1},"x"]"#,
            r#"[["add","/a",1]]"#,
            r#"[["add","/a~1b",{"x":1}]]"#,
            r#"[["replace","/a",null]]"#,
            r#"[["remove","/a"]]"#,
            r#"[["add","/a"]]"#,
            r#"[["add","/a",1,2]]"#,
            r#"[["add","a",1]]"#,
            r#"[["remove","/a",5]]"#,
            r#"[["remove"]]"#,
            r#"[["move","/a","/b"]]"#,
            r#"[["copy","/a"]]"#,
            r#"[["test","/a",1]]"#,
            r#"[["nope"]]"#,
            r#"[[1]]"#,
            r#"[["add",5,1]]"#,
            r#"[{"op":"add","path":"/a","value":1,"op":"add"}]"#,
            r#"[{"op":"add","path":"/a","path":"/b","value":1}]"#,
            r#"[{"op":"add","path":"/a","value":1,"value":2}]"#,
            r#"[{"op":"remove","path":"/a","value":1,"value":2}]"#,
            r#"[{"path":"/a","op":"nope","value":1}]"#,
            r#"[{"op":["add"],"path":"/a","value":1}]"#,
            r#"[{"op":null}]"#,
            r#"[{"op":{"a":1},"path":"/a"}]"#,
            "[{\"op\":\n  [ \n \"add\"]}]",
            "[{\"op\":  {  }}]",
            r#"[[["add"]]]"#,
            r#"[[{},"/a"]]"#,
            r#"[{"op":"add","op":"add"}]"#,
            r#"[{"op":"add","path":"/a","value":1,"op":"nope"}]"#,
            "[ {\"op\" : \"nope\" } ]",
            "[ [ \"nope\" ] ]",
            r#"[{"op":1.5}]"#,
            r#"[{"op":"add","path":1.5,"value":1}]"#,
            r#"[{"op":"add","path":-3,"value":1}]"#,
            r#"[{"op":"add","path":null,"value":1}]"#,
            r#"[{"op":"add","path":{},"value":1}]"#,
            r#"[{"op":"add","path":true,"value":1}]"#,
            r#"[{"op":"move","from":"/a"}]"#,
            r#"[{"op":"copy","path":"/a"}]"#,
            "[\n  {\"op\": \"add\",\n   \"path\": \"/a\"}\n]",
            "\n\n  {\"op\": \"add\"}",
            "  {garbage",
            "[true]",
            "[null]",
            "[-1]",
            "[2.5e3]",
            "[\"x\"]",
            "5",
            "-5",
            "0.25",
            "true",
            "null",
            r#""str""#,
            "[",
            "[{",
            r#"[{"op":"add","path":"/a","value":1},]"#,
            r#"[{"op":"add","path":"/a","value":1}] x"#,
            "not json",
            "",
        ] {
            let ours = parse_ops(body.as_bytes());
            let theirs = serde_json::from_slice::<json_patch::Patch>(body.as_bytes());
            assert_eq!(
                ours.as_ref().err(),
                theirs.as_ref().err().map(ToString::to_string).as_ref(),
                "{body}"
            );
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                let theirs: Vec<PatchOperation> = theirs
                    .0
                    .into_iter()
                    .map(|op| match op {
                        json_patch::PatchOperation::Add(a) => PatchOperation::Add {
                            path: a.path.to_string(),
                            value: a.value,
                        },
                        json_patch::PatchOperation::Replace(r) => PatchOperation::Replace {
                            path: r.path.to_string(),
                            value: r.value,
                        },
                        json_patch::PatchOperation::Remove(r) => PatchOperation::Remove {
                            path: r.path.to_string(),
                        },
                        _ => PatchOperation::Unsupported,
                    })
                    .collect();
                assert_eq!(ours.0, theirs, "{body}");
                for op in &ours.0 {
                    if let PatchOperation::Add { path, .. } = op {
                        let theirs = json_patch::jsonptr::Pointer::parse(path).unwrap();
                        let mut tokens = theirs.tokens();
                        let expected = match (tokens.next(), tokens.next()) {
                            (Some(first), None) if !first.decoded().is_empty() => {
                                Some(first.decoded().into_owned())
                            }
                            _ => None,
                        };
                        assert_eq!(property(path).ok(), expected, "{path}");
                    }
                }
            }
        }
    }

    #[test]
    fn content_type_is_checked() {
        assert_eq!(
            parse(Some("application/json"), b"[]").unwrap_err().status(),
            415
        );
        assert!(parse(
            Some("application/openstack-images-v2.1-json-patch; charset=utf-8"),
            b"[]"
        )
        .is_ok());
    }
}
