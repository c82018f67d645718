//! The IMS tag routes (SPEC section 9), over the same records and the same
//! compare-and-swap writes as the native routes. Order of checks: the
//! path's project (403), the body (400), the tag rules (400), the image
//! (404), the permission (403), the tag limit (400), a missing key (404).

use super::endpoint::Endpoint;
use super::error::ImsError;
use super::kv_tags::{self, KeyValue};
use super::legacy;
use super::resource_instances::Search;
use crate::app::{check_modify, decode_id};
use crate::auth::identity::Identity;
use crate::config::Config;
use crate::http::{Request, Response};
use crate::image::{self, Image};
use crate::index::LogId;
use crate::policy;
use crate::repo::{Change, Repo};
use crate::segment;
use crate::store::KvStore;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What the IMS handlers need from the request's environment.
pub struct Ctx<'a, S: KvStore> {
    pub req: &'a Request,
    pub who: &'a Identity,
    pub repo: Repo<'a, S>,
    pub config: &'a Config,
    /// Unix seconds.
    pub now: i64,
}

pub fn handle<S: KvStore>(endpoint: &Endpoint, ctx: &Ctx<'_, S>) -> Result<Response, ImsError> {
    if let Some(raw) = endpoint.project_id() {
        let project_id = decode_id(raw);
        if ctx.who.project.as_deref() != Some(project_id.as_str()) {
            return Err(ImsError::wrong_project(&project_id));
        }
    }
    match endpoint {
        Endpoint::AddTag { image_id, .. } => {
            let body = body_object(ctx.req)?;
            let tag = body
                .get("tag")
                .ok_or_else(|| ImsError::malformed("The body needs a 'tag' object."))?;
            let kv = key_value(tag, "tag")?;
            kv_tags::validate(&kv).map_err(ImsError::tag_invalid)?;
            set_tags(ctx, &decode_id(image_id), &[kv])
        }
        Endpoint::BatchTags { image_id, .. } => batch(ctx, &decode_id(image_id)),
        Endpoint::DeleteTag { image_id, key, .. } => {
            let key = segment::decode(key).map_err(|_| {
                ImsError::malformed("The tag key in the path is not valid UTF-8 percent-encoding.")
            })?;
            kv_tags::validate_lengths(&KeyValue::new(&key, "")).map_err(ImsError::tag_invalid)?;
            let id = decode_id(image_id);
            let mut found = false;
            write_tags(ctx, &id, &mut |tags| {
                found = kv_tags::remove(tags, &key);
                Ok(())
            })?;
            if !found {
                return Err(ImsError::tag_not_found(&id, &key));
            }
            Ok(Response::empty(204))
        }
        Endpoint::ImageTags { image_id, .. } => {
            let id = decode_id(image_id);
            match ctx.repo.load(&id)? {
                Some(image) if policy::can_see(ctx.who, &image) => Ok(Response::json(
                    200,
                    &super::object([("tags", Value::Array(tags_json(&image.tags)))]),
                )),
                _ => Err(ImsError::from(crate::http::ApiError::image_not_found(&id))),
            }
        }
        Endpoint::ProjectTags { .. } => project_tags(ctx),
        Endpoint::ResourceInstances { .. } => resource_instances(ctx),
        Endpoint::LegacySetTag => legacy::set_tag(ctx),
        Endpoint::LegacyListTags => legacy::list_tags(ctx),
        Endpoint::LegacyDeleteTags { image_id, .. } => {
            legacy::delete_tags(ctx, &decode_id(image_id))
        }
    }
}

/// The JSON object a body must be: empty and not-an-object are IMS's two errors.
pub(super) fn body_object(req: &Request) -> Result<Map<String, Value>, ImsError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ImsError::body_empty());
    }
    match serde_json::from_slice(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ImsError::malformed(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ImsError::malformed(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// `{"key": ..., "value": ...}`; a missing value is the empty one.
pub(super) fn key_value(v: &Value, what: &str) -> Result<KeyValue, ImsError> {
    let bad = || {
        ImsError::malformed(format!(
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
pub(super) fn key_values(body: &Map<String, Value>) -> Result<Vec<KeyValue>, ImsError> {
    let items = match body.get("tags") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(ImsError::malformed("'tags' must be a non-empty list.")),
    };
    let mut kvs: Vec<KeyValue> = Vec::with_capacity(items.len());
    for item in items {
        let kv = key_value(item, "tags")?;
        if kvs.iter().any(|k| k.key == kv.key) {
            return Err(ImsError::malformed(format!(
                "Key {:?} is given twice: the keys of one request are unique.",
                kv.key
            )));
        }
        kvs.push(kv);
    }
    Ok(kvs)
}

pub(super) fn tags_json(tags: &[String]) -> Vec<Value> {
    kv_tags::pairs(tags).iter().map(KeyValue::to_json).collect()
}

/// Change an image's tag list through the CAS-safe update: permission on
/// every attempt, no write when nothing changed. `change` may refuse with
/// an IMS error, which is returned as it was made.
pub(super) fn write_tags<S: KvStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    change: &mut dyn FnMut(&mut Vec<String>) -> Result<(), ImsError>,
) -> Result<Response, ImsError> {
    let now = image::timestamp(ctx.now);
    // `Repo::update` speaks `ApiError`; the IMS error that stopped it is kept here.
    let mut refused: Option<ImsError> = None;
    let written = ctx.repo.update(id, &mut |img| {
        refused = None;
        check_modify(ctx.who, img, id)?;
        let before = img.tags.clone();
        if let Err(e) = change(&mut img.tags) {
            let shared = e.error.clone();
            refused = Some(e);
            return Err(shared);
        }
        if img.tags == before {
            return Ok(Change::Unchanged);
        }
        img.updated_at = now.clone();
        Ok(Change::Write)
    });
    match written {
        Ok(_) => Ok(Response::empty(204)),
        Err(e) => Err(refused.take().unwrap_or_else(|| ImsError::from(e))),
    }
}

/// Set each key, within `ims_tag_limit`.
pub(super) fn set_tags<S: KvStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    kvs: &[KeyValue],
) -> Result<Response, ImsError> {
    let limit = ctx.config.ims_tag_limit.clone()?;
    write_tags(ctx, id, &mut |tags| {
        kv_tags::set_all(tags, kvs, limit).map_err(ImsError::tag_limit)
    })
}

fn batch<S: KvStore>(ctx: &Ctx<'_, S>, id: &str) -> Result<Response, ImsError> {
    let body = body_object(ctx.req)?;
    let action = body.get("action").and_then(Value::as_str);
    let kvs = key_values(&body)?;
    match action {
        Some("create") => {
            for kv in &kvs {
                kv_tags::validate(kv).map_err(ImsError::tag_invalid)?;
            }
            set_tags(ctx, id, &kvs)
        }
        Some("delete") => delete_keys(ctx, id, &kvs),
        _ => Err(ImsError::malformed(
            "'action' must be \"create\" or \"delete\" (case-sensitive).",
        )),
    }
}

/// Remove each key; absent keys are fine. Only lengths are checked.
pub(super) fn delete_keys<S: KvStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    kvs: &[KeyValue],
) -> Result<Response, ImsError> {
    for kv in kvs {
        kv_tags::validate_lengths(kv).map_err(ImsError::tag_invalid)?;
    }
    write_tags(ctx, id, &mut |tags| {
        for kv in kvs {
            kv_tags::remove(tags, &kv.key);
        }
        Ok(())
    })
}

/// The images the caller's project's log names: every image a project-wide
/// listing can match, without reading other projects' records.
pub(super) fn project_log<S: KvStore>(ctx: &Ctx<'_, S>) -> Result<Vec<Image>, ImsError> {
    let Some(project) = &ctx.who.project else {
        return Ok(Vec::new());
    };
    Ok(ctx.repo.members(&[LogId::Project(project.clone())])?.0)
}

/// The caller's project's live images that it may see, newest first.
pub(super) fn project_images<S: KvStore>(ctx: &Ctx<'_, S>, candidates: Vec<Image>) -> Vec<Image> {
    let mine: Vec<Image> = candidates
        .into_iter()
        .filter(|i| ctx.who.owns(i.owner.as_deref()) && policy::can_see(ctx.who, i))
        .collect();
    crate::listing::merge_sort(mine, &|a: &Image, b: &Image| {
        (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id))
    })
}

/// Every key of the project's images with its values (`""` for a key-only tag), sorted.
fn project_tags<S: KvStore>(ctx: &Ctx<'_, S>) -> Result<Response, ImsError> {
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for image in project_images(ctx, project_log(ctx)?) {
        for kv in kv_tags::pairs(&image.tags) {
            keys.entry(kv.key).or_default().insert(kv.value);
        }
    }
    let tags: Vec<Value> = keys
        .into_iter()
        .map(|(key, values)| {
            let values = values.into_iter().map(Value::String).collect();
            super::object([("key", Value::String(key)), ("values", values)])
        })
        .collect();
    Ok(Response::json(
        200,
        &super::object([("tags", Value::Array(tags))]),
    ))
}

fn resource_instances<S: KvStore>(ctx: &Ctx<'_, S>) -> Result<Response, ImsError> {
    use super::resource_instances::Source;
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
