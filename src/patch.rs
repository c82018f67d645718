//! `PATCH /v2/images/{id}`: RFC 6902 operations as Glance applies them to an
//! image. Parsing is json-patch's; what each path means is Glance's.

use crate::http::ApiError;
use crate::identity::Identity;
use crate::image::{check_tag_quota, tags_from_json, Image};
use crate::policy;
use json_patch::{Patch, PatchOperation};
use serde_json::Value;

pub const MEDIA_TYPES: &[&str] = &[
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
];

/// Check the content type and parse the body into operations.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Patch, ApiError> {
    let media = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media.as_str()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Unsupported Content-Type: use {}.",
            MEDIA_TYPES.join(" or ")
        )));
    }
    serde_json::from_slice::<Patch>(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "The request body is not a valid JSON Patch of add, replace and remove operations: {e}"
        ))
    })
}

/// The single property a path names: `/name` → `name`. Deeper paths are
/// refused as Glance refuses them (`/tags/0`, `/tags/-`).
fn property(path: &json_patch::jsonptr::Pointer) -> Result<String, ApiError> {
    let mut tokens = path.tokens();
    match (tokens.next(), tokens.next()) {
        (Some(first), None) if !first.decoded().is_empty() => Ok(first.decoded().into_owned()),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid JSON pointer for this resource: '{path}'"
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
) -> Result<(), ApiError> {
    match name {
        "tags" => {
            let tags = tags_from_json(value)?;
            check_tag_quota(&image.id, tags.len(), quota)?;
            image.tags = tags;
        }
        "owner" => {
            if !who.is_admin() {
                return Err(ApiError::Forbidden(
                    "You are not authorized to complete modify_image action.".into(),
                ));
            }
            image.owner = value.as_str().map(str::to_string);
        }
        "visibility" if value.as_str() == Some("public") && !policy::can_publicize(who) => {
            return Err(ApiError::Forbidden(
                "You are not authorized to complete publicize_image action.".into(),
            ))
        }
        _ => {
            let is_extra = image.property(name).is_none() && !is_base(name);
            if must_exist && is_extra && !image.extra.contains_key(name) {
                return Err(ApiError::Conflict(format!(
                    "Property {name} does not exist."
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
) -> Result<(), ApiError> {
    for op in &patch.0 {
        match op {
            // RFC 6902: `add` on an existing member replaces it.
            PatchOperation::Add(add) => {
                set(image, &property(&add.path)?, &add.value, who, quota, false)?
            }
            PatchOperation::Replace(rep) => {
                set(image, &property(&rep.path)?, &rep.value, who, quota, true)?
            }
            PatchOperation::Remove(rem) => match property(&rem.path)?.as_str() {
                "tags" => image.tags.clear(),
                name => image.remove_property(name)?,
            },
            _ => {
                return Err(ApiError::BadRequest(
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

    fn patched(ops: &str, who: &Identity) -> Result<Image, ApiError> {
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
