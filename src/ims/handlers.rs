//! The IMS tag routes (SPEC section 9), over the same records and the same
//! compare-and-swap writes as the native routes, and the helpers the older
//! `/v1` routes (`legacy`) share with them.

use super::rules::{self, KeyValue};
use super::search::{Search, Source};
use crate::config::Config;
use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::{self, Image};
use crate::core::images::Change;
use crate::core::images::Images;
use crate::core::index::LogId;
use crate::core::policy;
use crate::core::segment::{self, decode_id};
use crate::http::{Request, Response};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What the IMS handlers need from the request's environment.
pub struct Ctx<'a, R: Images> {
    pub req: &'a Request,
    pub who: &'a Identity,
    pub repo: R,
    pub config: &'a Config,
    /// Unix seconds.
    pub now: i64,
}

/// The path's project must be the caller's.
pub fn check_project<R: Images>(ctx: &Ctx<'_, R>, raw: &str) -> Result<(), Error> {
    let project_id = decode_id(raw);
    if ctx.who.project.as_deref() != Some(project_id.as_str()) {
        return Err(Error::WrongProject(project_id));
    }
    Ok(())
}

/// 400 with IMS's code for a malformed request.
pub(super) fn malformed(message: impl Into<String>) -> Error {
    Error::BadRequest(message.into())
}

/// `POST /v2/{project_id}/images/{image_id}/tags`: one key/value tag.
pub fn add_tag<R: Images>(ctx: &Ctx<'_, R>, id: &str) -> Result<Response, Error> {
    let body = body_object(ctx.req)?;
    let tag = body
        .get("tag")
        .ok_or_else(|| malformed("The body needs a 'tag' object."))?;
    let kv = key_value(tag, "tag")?;
    rules::validate(&kv).map_err(Error::TagInvalid)?;
    set_tags(ctx, id, &[kv])
}

/// `DELETE /v2/{project_id}/images/{image_id}/tags/{key}`.
pub fn delete_tag<R: Images>(ctx: &Ctx<'_, R>, id: &str, raw_key: &str) -> Result<Response, Error> {
    let key = segment::decode(raw_key)
        .map_err(|_| malformed("The tag key in the path is not valid UTF-8 percent-encoding."))?;
    rules::validate_lengths(&KeyValue::new(&key, "")).map_err(Error::TagInvalid)?;
    let mut found = false;
    write_tags(ctx, id, &mut |tags| {
        found = rules::remove(tags, &key);
        Ok(())
    })?;
    if !found {
        return Err(Error::TagNotFound {
            image: id.to_string(),
            key,
        });
    }
    Ok(Response::empty(204))
}

/// `GET /v2/{project_id}/images/{image_id}/tags`.
pub fn image_tags<R: Images>(ctx: &Ctx<'_, R>, id: &str) -> Result<Response, Error> {
    match ctx.repo.load(id)? {
        Some(image) if policy::can_see(ctx.who, &image) => Ok(Response::json(
            200,
            &json!({"tags": tags_json(&image.tags)}),
        )),
        _ => Err(Error::image_not_found(id)),
    }
}

/// The JSON object a body must be: empty and not-an-object are IMS's two errors.
pub(super) fn body_object(req: &Request) -> Result<Map<String, Value>, Error> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::EmptyBody);
    }
    match serde_json::from_slice(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed("The request body must be a JSON object.")),
        Err(e) => Err(malformed(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// `{"key": ..., "value": ...}`; a missing value is the empty one.
pub(super) fn key_value(v: &Value, what: &str) -> Result<KeyValue, Error> {
    let bad = || {
        malformed(format!(
            "'{what}' must be {{\"key\": string, \"value\": string}}."
        ))
    };
    let m = v.as_object().ok_or_else(bad)?;
    let key = m.get("key").and_then(Value::as_str).ok_or_else(bad)?;
    let value = match m.get("value") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad()),
    };
    Ok(KeyValue::new(key, value))
}

/// A non-empty list of key/value tags with unique keys.
pub(super) fn key_values(body: &Map<String, Value>) -> Result<Vec<KeyValue>, Error> {
    let items = match body.get("tags") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(malformed("'tags' must be a non-empty list.")),
    };
    let mut kvs: Vec<KeyValue> = Vec::with_capacity(items.len());
    for item in items {
        let kv = key_value(item, "tags")?;
        if kvs.iter().any(|k| k.key == kv.key) {
            return Err(malformed(format!(
                "Key {:?} is given twice: the keys of one request are unique.",
                kv.key
            )));
        }
        kvs.push(kv);
    }
    Ok(kvs)
}

pub(super) fn tags_json(tags: &[String]) -> Vec<Value> {
    rules::pairs(tags).iter().map(KeyValue::to_json).collect()
}

/// Change an image's tag list through the CAS-safe update: permission on
/// every attempt, no write when nothing changed. `change` may refuse; its
/// error is returned as it was made.
pub(super) fn write_tags<R: Images>(
    ctx: &Ctx<'_, R>,
    id: &str,
    change: &mut dyn FnMut(&mut Vec<String>) -> Result<(), Error>,
) -> Result<Response, Error> {
    let now = image::timestamp(ctx.now);
    ctx.repo.update(id, &mut |img| {
        policy::check_modify(ctx.who, img, id)?;
        let before = img.tags.clone();
        change(&mut img.tags)?;
        if img.tags == before {
            return Ok(Change::Unchanged);
        }
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}

/// Set each key, within `ims_tag_limit`.
pub(super) fn set_tags<R: Images>(
    ctx: &Ctx<'_, R>,
    id: &str,
    kvs: &[KeyValue],
) -> Result<Response, Error> {
    let limit = ctx.config.ims_tag_limit.clone()?;
    write_tags(ctx, id, &mut |tags| rules::set_all(id, tags, kvs, limit))
}

/// `POST /v2/{project_id}/images/{image_id}/tags/action`.
pub fn batch<R: Images>(ctx: &Ctx<'_, R>, id: &str) -> Result<Response, Error> {
    let body = body_object(ctx.req)?;
    let action = body.get("action").and_then(Value::as_str);
    let kvs = key_values(&body)?;
    match action {
        Some("create") => {
            for kv in &kvs {
                rules::validate(kv).map_err(Error::TagInvalid)?;
            }
            set_tags(ctx, id, &kvs)
        }
        Some("delete") => delete_keys(ctx, id, &kvs),
        _ => Err(malformed(
            "'action' must be \"create\" or \"delete\" (case-sensitive).",
        )),
    }
}

/// Remove each key; absent keys are fine. Only lengths are checked.
pub(super) fn delete_keys<R: Images>(
    ctx: &Ctx<'_, R>,
    id: &str,
    kvs: &[KeyValue],
) -> Result<Response, Error> {
    for kv in kvs {
        rules::validate_lengths(kv).map_err(Error::TagInvalid)?;
    }
    write_tags(ctx, id, &mut |tags| {
        for kv in kvs {
            rules::remove(tags, &kv.key);
        }
        Ok(())
    })
}

/// The images the caller's project's log names: every image a project-wide
/// listing can match, without reading other projects' records.
pub(super) fn project_log<R: Images>(ctx: &Ctx<'_, R>) -> Result<Vec<Image>, Error> {
    let Some(project) = &ctx.who.project else {
        return Ok(Vec::new());
    };
    Ok(ctx.repo.members(&[LogId::Project(project.clone())])?.0)
}

/// The caller's project's live images that it may see, newest first.
pub(super) fn project_images<R: Images>(ctx: &Ctx<'_, R>, candidates: Vec<Image>) -> Vec<Image> {
    let mut mine: Vec<Image> = candidates
        .into_iter()
        .filter(|i| ctx.who.owns(i.owner.as_deref()) && policy::can_see(ctx.who, i))
        .collect();
    // Stable, as the order of equal keys must not move between pages.
    mine.sort_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
    mine
}

/// Every key of the project's images with its values (`""` for a key-only tag), sorted.
pub fn project_tags<R: Images>(ctx: &Ctx<'_, R>) -> Result<Response, Error> {
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for image in project_images(ctx, project_log(ctx)?) {
        for kv in rules::pairs(&image.tags) {
            keys.entry(kv.key).or_default().insert(kv.value);
        }
    }
    let tags: Vec<Value> = keys
        .into_iter()
        .map(|(key, values)| {
            let values: Vec<String> = values.into_iter().collect();
            json!({"key": key, "values": values})
        })
        .collect();
    Ok(Response::json(200, &json!({ "tags": tags })))
}

pub fn resource_instances<R: Images>(ctx: &Ctx<'_, R>) -> Result<Response, Error> {
    let search = Search::parse(&body_object(ctx.req)?)?;
    let candidates = match search.sources() {
        None => project_log(ctx)?,
        Some(sources) => {
            let mut seen = BTreeSet::new();
            let mut found = Vec::new();
            for source in sources {
                let images = match &source {
                    Source::Entry(entry) => ctx.repo.tagged(std::slice::from_ref(entry))?.0,
                    Source::Key(key) => ctx.repo.with_key(key)?.0,
                    Source::Image(id) => ctx
                        .repo
                        .load(&id.to_ascii_lowercase())?
                        .into_iter()
                        .collect(),
                };
                found.extend(images.into_iter().filter(|i| seen.insert(i.id.clone())));
            }
            found
        }
    };
    let matches: Vec<Image> = project_images(ctx, candidates)
        .into_iter()
        .filter(|i| search.matches(i))
        .collect();
    Ok(Response::json(200, &search.answer(&matches)))
}
