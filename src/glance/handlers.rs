//! Glance's image handlers, and what every Glance handler is given.

use super::listing::{self, Query};
use super::patch;
use super::validate::apply_create_body;
use super::view;
use crate::config::Config;
use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::{self, Image};
use crate::core::images::Change;
use crate::core::images::Images;
use crate::core::policy;
use crate::http::{echo, Request, Response};
use serde_json::{json, Value};

/// What a Glance handler needs from the request's environment.
pub struct Ctx<'a, B: Backend> {
    pub req: &'a Request,
    pub who: &'a Identity,
    /// The opened store, or the 503 it is when it could not be opened:
    /// discovery and the schemas do not need it.
    pub store: Result<&'a B, Error>,
    pub config: &'a Config,
    /// Unix seconds.
    pub now: i64,
}

impl<'a, B: Backend> Ctx<'a, B> {
    pub fn repo(&self) -> Result<B::Images<'a>, Error> {
        self.store.clone().map(|b| b.images())
    }
}

pub(super) fn no_body(req: &Request) -> Result<(), Error> {
    if req.body.is_empty() {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "A body is not expected with this request.".into(),
        ))
    }
}

fn image_response(status: u16, image: &Image) -> Response {
    Response::json(status, &view::to_json(image))
}

pub fn show<B: Backend>(ctx: &Ctx<'_, B>, id: &str) -> Result<Response, Error> {
    let who = ctx.who;
    match ctx.repo()?.load(id)? {
        Some(image) if policy::can_see(who, &image) => Ok(image_response(200, &image)),
        _ => Err(Error::image_not_found(id)),
    }
}

pub fn delete<B: Backend>(ctx: &Ctx<'_, B>, id: &str) -> Result<Response, Error> {
    let who = ctx.who;
    let now = image::timestamp(ctx.now);
    ctx.repo()?.update(id, &mut |img| {
        if !policy::can_see(who, img) {
            return Err(Error::image_not_found(id));
        }
        if !policy::can_modify(who, img) {
            return Err(Error::Forbidden(
                "You are not authorized to complete delete_image action.".into(),
            ));
        }
        if img.protected {
            return Err(Error::Forbidden(format!(
                "Image {} is protected and cannot be deleted.",
                echo(id)
            )));
        }
        img.deleted = true;
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}

pub fn update<B: Backend>(ctx: &Ctx<'_, B>, id: &str) -> Result<Response, Error> {
    let (req, who) = (ctx.req, ctx.who);
    let ops = patch::parse(req.header("content-type"), &req.body)?;
    let quota = ctx.config.image_tag_quota.clone()?;
    let now = image::timestamp(ctx.now);
    let image = ctx.repo()?.update(id, &mut |img| {
        policy::check_modify(who, img, id)?;
        patch::apply(img, &ops, who, quota)?;
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(image_response(200, &image))
}

pub fn create<B: Backend>(ctx: &Ctx<'_, B>) -> Result<Response, Error> {
    let (req, who) = (ctx.req, ctx.who);
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Error::BadRequest(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(body) = body else {
        return Err(Error::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    if !policy::can_create(who) {
        return Err(Error::Forbidden(
            "You are not authorized to complete add_image action.".into(),
        ));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s)) if crate::core::keys::is_image_id(s) => s.to_ascii_lowercase(),
        Some(_) => {
            return Err(Error::BadRequest(
                "Invalid value for 'id': it must be a UUID.".into(),
            ))
        }
    };
    let owner = match body.get("owner") {
        None => who.project.clone(),
        Some(Value::String(o)) if who.is_admin() || who.project.as_deref() == Some(o) => {
            Some(o.clone())
        }
        Some(Value::Null) if who.is_admin() => None,
        Some(_) => {
            return Err(Error::Forbidden(
                "You are not permitted to create images owned by another project.".into(),
            ))
        }
    };
    let mut image = Image::new(id, String::new(), ctx.now);
    image.owner = owner;
    apply_create_body(&mut image, &body, ctx.config.image_tag_quota.clone()?)?;
    if image.visibility == "public" && !policy::can_publicize(who) {
        return Err(Error::Forbidden(
            "You are not authorized to complete publicize_image action.".into(),
        ));
    }
    let image = ctx.repo()?.create(image)?;
    Ok(image_response(201, &image)
        .with_header("location", format!("{}/v2/images/{}", req.base, image.id)))
}

/// The logs a listing walks, merged: the rarest tag's, else its scopes'.
fn walk<R: Images>(
    repo: &R,
    query: &Query,
    who: &Identity,
    below: Option<&str>,
) -> Result<R::Walk, Error> {
    match repo.rarest_tag(&query.tags, below)? {
        Some(tag) => Ok(tag),
        None => repo.walk(&query.scopes(who), below),
    }
}

pub fn list<B: Backend>(ctx: &Ctx<'_, B>) -> Result<Response, Error> {
    let (req, who) = (ctx.req, ctx.who);
    let query = Query::parse(&req.query)?;
    let repo = ctx.repo()?;
    let marker = match &query.marker {
        None => None,
        Some(m) => match repo.load(m)? {
            Some(image) if policy::can_see(who, &image) => Some(image),
            _ => {
                return Err(Error::BadRequest(format!(
                    "Invalid marker: image {} could not be found.",
                    echo(m)
                )))
            }
        },
    };
    // The default order walks the logs from the marker's entry: O(limit).
    // Another order reads every image the logs name and sorts them here.
    let fast = query.default_order();
    let below = marker
        .as_ref()
        .filter(|_| fast)
        .map(crate::core::index::entry);
    let below = below.as_deref();
    let page = if query.never() {
        listing::Page {
            images: Vec::new(),
            next_marker: None,
        }
    } else if let Some(ids) = query.filters.ids() {
        // An `id` filter: one read per id it names, no walk (issue 17).
        let mut candidates = Vec::with_capacity(ids.len());
        for id in ids {
            candidates.extend(repo.load(id)?);
        }
        listing::page(&query, who, candidates, marker.as_ref())
    } else if fast {
        let walk = walk(&repo, &query, who, below)?;
        let (images, more) = repo.page(walk, query.limit, &|i| query.matches(who, i))?;
        let next_marker = images.last().filter(|_| more).map(|i| i.id.clone());
        listing::Page {
            images,
            next_marker,
        }
    } else {
        let (candidates, _skipped) = repo.drain(walk(&repo, &query, who, below)?)?;
        listing::page(&query, who, candidates, marker.as_ref())
    };
    let mut body = json!({
        "images": page.images.iter().map(view::to_json).collect::<Vec<_>>(),
        "first": query.link(None),
        "schema": "/v2/schemas/images",
    });
    if let (Some(next), Some(map)) = (page.next_marker, body.as_object_mut()) {
        map.insert("next".into(), Value::String(query.link(Some(&next))));
    }
    Ok(Response::json(200, &body))
}
