//! `PATCH /v2/images/{id}`: RFC 6902 operations as Glance applies them to an
//! image. The `json-patch` crate reads the operations; what each path means
//! is Glance's (SPEC section 1).

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::Image;
use crate::core::policy;
use crate::glance::validate::{check_tag_quota, tags_from_json, Settable};
use crate::http::echo;
use json_patch::jsonptr::Pointer;
pub use json_patch::{Patch, PatchOperation};
use serde_json::Value;

pub const MEDIA_TYPES: &[&str] = &[
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
];

/// How much of the parser's message a 400 quotes: serde quotes an unknown
/// `op`, or a string where an operation belongs, whole.
const DETAIL_CHARS: usize = 200;

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
    serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        let detail = match detail.char_indices().nth(DETAIL_CHARS) {
            Some((cut, _)) => format!("{}…", detail.get(..cut).unwrap_or_default()),
            None => detail,
        };
        Error::BadRequest(format!(
            "The request body is not a valid JSON Patch of add, replace and remove operations: {detail}"
        ))
    })
}

/// The single property a path names: `/name` → `name`. Deeper paths are
/// refused as Glance refuses them (`/tags/0`, `/tags/-`).
fn property(path: &Pointer) -> Result<String, Error> {
    let mut tokens = path.tokens();
    match (tokens.next(), tokens.next()) {
        (Some(first), None) if !first.decoded().is_empty() => Ok(first.decoded().into_owned()),
        _ => Err(Error::BadRequest(format!(
            "Invalid JSON pointer for this resource: '{}'",
            echo(path.as_str())
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
            PatchOperation::Add(op) => {
                set(image, &property(&op.path)?, &op.value, who, quota, false)?
            }
            PatchOperation::Replace(op) => {
                set(image, &property(&op.path)?, &op.value, who, quota, true)?
            }
            PatchOperation::Remove(op) => match property(&op.path)?.as_str() {
                "tags" => image.tags.clear(),
                name => image.remove_property(name)?,
            },
            PatchOperation::Move(_) | PatchOperation::Copy(_) | PatchOperation::Test(_) => {
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
    use serde_json::json;

    const CT: Option<&str> = Some("application/openstack-images-v2.1-json-patch");

    fn image() -> Image {
        let mut img = Image::new("i".into(), "p".into(), 0);
        img.tags = vec!["old".into()];
        img.extra.insert("hw".into(), "x".into());
        img
    }

    fn patched(ops: &str, who: &Identity) -> Result<Image, Error> {
        let mut img = image();
        let patch = parse(CT, ops.as_bytes())?;
        apply(&mut img, &patch, who, Some(3))?;
        Ok(img)
    }

    fn member() -> Identity {
        Identity::new("p", &["member"])
    }

    #[test]
    fn tags_are_set_as_a_whole() {
        let m = member();
        let img = patched(r#"[{"op":"add","path":"/tags","value":["a","b","a"]}]"#, &m).unwrap();
        assert_eq!(img.tags, vec!["a", "b"]);
        let img = patched(r#"[{"op":"replace","path":"/tags","value":["c"]}]"#, &m).unwrap();
        assert_eq!(img.tags, vec!["c"]);
        let img = patched(r#"[{"op":"remove","path":"/tags"}]"#, &m).unwrap();
        assert!(img.tags.is_empty());
        let four = r#"[{"op":"add","path":"/tags","value":["a","b","c","d"]}]"#;
        assert_eq!(patched(four, &m).unwrap_err().status(), 413);
    }

    #[test]
    fn the_whole_list_may_carry_back_the_images_key_value_tags() {
        let m = member();
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
        let m = member();
        let img = patched(r#"[{"op":"replace","path":"/name","value":"n"},{"op":"add","path":"/os_distro","value":"debian"},{"op":"remove","path":"/hw"}]"#, &m).unwrap();
        assert_eq!(img.name.as_deref(), Some("n"));
        assert_eq!(
            img.extra.get("os_distro").map(String::as_str),
            Some("debian")
        );
        assert!(!img.extra.contains_key("hw"));
        let admin = Identity::new("z", &["admin"]);
        let img = patched(
            r#"[{"op":"replace","path":"/visibility","value":"public"}]"#,
            &admin,
        )
        .unwrap();
        assert_eq!(img.visibility, "public");
    }

    /// Every way a patch is refused, with its status: bad input first (400),
    /// then what the caller may not do (403), then what is not there (409).
    #[test]
    fn refusals_have_their_status() {
        let long = format!(r#"[{{"op":"{}"}}]"#, "a".repeat(60_000));
        for (status, body) in [
            (400, "not json"),
            (400, ""),
            (400, r#"[{"op":"add","path":"/a","value":1},]"#),
            (400, r#"{"op":"add","path":"/name","value":"n"}"#),
            (400, r#""x""#),
            (400, "[1]"),
            (400, "[null]"),
            (400, "[{}]"),
            (400, r#"[{"op":5,"path":"/a","value":1}]"#),
            (400, r#"[{"op":"ADD","path":"/a","value":1}]"#),
            (400, r#"[{"op":"nope","path":"/a"}]"#),
            (400, &long),
            (400, r#"[{"op":"add","path":"/a"}]"#),
            (400, r#"[{"op":"add","value":1}]"#),
            (400, r#"[{"op":"remove"}]"#),
            (400, r#"[{"op":"move","path":"/b"}]"#),
            (400, r#"[{"op":"add","path":5,"value":1}]"#),
            (400, r#"[{"op":"add","path":"a","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"/a~2","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"/","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"/a/b","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"/tags/-","value":"x"}]"#),
            (400, r#"[{"op":"replace","path":"/tags/0","value":"x"}]"#),
            (400, r#"[{"op":"add","path":"/tags","value":"a"}]"#),
            (400, r#"[{"op":"add","path":"/tags","value":["a=b"]}]"#),
            (400, r#"[{"op":"add","path":"/min_ram","value":"x"}]"#),
            (400, r#"[{"op":"move","from":"/name","path":"/x"}]"#),
            (400, r#"[{"op":"test","path":"/name","value":null}]"#),
            // serde refuses a repeated member (serde_json's `Value` keeps the last).
            (400, r#"[{"op":"add","path":"/a","value":"1","value":"2"}]"#),
            (
                403,
                r#"[{"op":"replace","path":"/status","value":"active"}]"#,
            ),
            (403, r#"[{"op":"add","path":"/id","value":"x"}]"#),
            (
                403,
                r#"[{"op":"replace","path":"/visibility","value":"public"}]"#,
            ),
            (403, r#"[{"op":"add","path":"/owner","value":"q"}]"#),
            (403, r#"[{"op":"remove","path":"/name"}]"#),
            (409, r#"[{"op":"replace","path":"/nope","value":"x"}]"#),
            (409, r#"[{"op":"remove","path":"/nope"}]"#),
            // In order: the first refused operation answers.
            (
                409,
                r#"[{"op":"remove","path":"/nope"},{"op":"move","from":"/a","path":"/b"}]"#,
            ),
        ] {
            let err = patched(body, &member()).unwrap_err();
            assert_eq!(err.status(), status, "{body:.80}: {}", err.message());
            assert!(err.message().len() < 1024, "{body:.80}");
        }
    }

    /// The image as a JSON document, for `json_patch::patch`.
    fn document(img: &Image) -> Value {
        let mut doc = json!({"name": img.name, "visibility": img.visibility,
            "protected": img.protected, "min_disk": img.min_disk, "min_ram": img.min_ram,
            "tags": img.tags});
        for (k, v) in &img.extra {
            doc[k] = json!(v);
        }
        doc
    }

    /// Within what SPEC allows (whole-array tags, valid values, add, replace
    /// and remove), `apply` is RFC 6902 as the `json-patch` crate applies it
    /// to the image's document: the same patches succeed, with the same
    /// result, and the same fail (409 here: a missing target).
    #[test]
    fn apply_matches_the_json_patch_crate() {
        for body in [
            r#"[]"#,
            r#"[{"op":"add","path":"/name","value":"n"}]"#,
            r#"[{"op":"replace","path":"/name","value":null}]"#,
            r#"[{"op":"add","path":"/os_distro","value":"debian"}]"#,
            r#"[{"op":"add","path":"/hw","value":"y"}]"#,
            r#"[{"op":"replace","path":"/hw","value":"y"}]"#,
            r#"[{"op":"replace","path":"/nope","value":"y"}]"#,
            r#"[{"op":"remove","path":"/hw"}]"#,
            r#"[{"op":"remove","path":"/hw"},{"op":"remove","path":"/hw"}]"#,
            r#"[{"op":"remove","path":"/nope"}]"#,
            r#"[{"op":"add","path":"/x","value":"1"},{"op":"replace","path":"/x","value":"2"}]"#,
            r#"[{"op":"replace","path":"/name","value":"n"},{"op":"remove","path":"/nope"}]"#,
            r#"[{"op":"add","path":"/a~1b","value":"1"},{"op":"add","path":"/a~0b","value":"2"}]"#,
            r#"[{"op":"replace","path":"/a~01","value":"1"}]"#,
            r#"[{"op":"add","path":"/tags","value":["a","b"]}]"#,
            r#"[{"op":"replace","path":"/tags","value":[]}]"#,
            r#"[{"op":"add","path":"/visibility","value":"community"},{"op":"replace","path":"/protected","value":true}]"#,
            r#"[{"op":"replace","path":"/min_disk","value":10},{"op":"add","path":"/min_ram","value":5}]"#,
            // Members RFC 6902 does not define for an operation are ignored.
            r#"[{"op":"remove","path":"/hw","value":1,"from":"/x"}]"#,
            // serde also takes an operation as an array of its fields, in order.
            r#"[["add","/name","n"],["replace","/hw","z"],["remove","/hw"]]"#,
        ] {
            let patch = parse(CT, body.as_bytes()).unwrap();
            let mut ours = image();
            let ours = apply(&mut ours, &patch, &member(), None).map(|()| document(&ours));
            let mut theirs = document(&image());
            let theirs = json_patch::patch(&mut theirs, &patch.0).map(|()| theirs);
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{body}"),
                (Err(ours), Err(_)) => assert_eq!(ours.status(), 409, "{body}"),
                (ours, theirs) => panic!("{body}: ours {ours:?}, json-patch {theirs:?}"),
            }
        }
    }

    #[test]
    fn content_type_is_checked() {
        assert_eq!(
            parse(Some("application/json"), b"[]").unwrap_err().status(),
            415
        );
        assert_eq!(parse(None, b"[]").unwrap_err().status(), 415);
        assert!(parse(
            Some("Application/OpenStack-Images-v2.0-JSON-Patch; charset=utf-8"),
            b"[]"
        )
        .is_ok());
    }
}
