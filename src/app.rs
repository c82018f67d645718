//! One request from start to finish: identity, route, the handler, and the
//! headers every response carries. Everything here is plain Rust over the
//! [`KvStore`] and [`TokenValidator`] traits.

use crate::auth::identity::Identity;
use crate::auth::keystone::TokenValidator;
use crate::auth::{self, KeystoneEnv};
use crate::config::Config;
use crate::http::{echo, request_id, ApiError, Request, Response};
use crate::image::{self, Image};
use crate::index::cursor::Merged;
use crate::listing::{self, Query};
use crate::policy;
use crate::repo::{Change, Repo};
use crate::routes::{self, Route, RouteError};
use crate::store::{KvStore, StoreError};
use crate::{discovery, ims, patch, schemas, segment, tag};
use serde_json::{json, Value};

/// What the host hands the core for one request.
pub struct Env<'a, S: KvStore, V: TokenValidator> {
    pub config: &'a Config,
    /// The opened store, or why it could not be opened.
    pub store: Result<&'a S, StoreError>,
    pub keystone: &'a V,
    /// Unix seconds.
    pub now: i64,
}

/// The response and what the access log line says about it.
pub struct Outcome {
    pub response: Response,
    pub request_id: String,
    pub route: &'static str,
    pub project: Option<String>,
    /// The access key of a request signed `SDK-HMAC-SHA256`, verified or not.
    pub access_key: Option<String>,
    /// Operator-only detail of a 5xx or a refused signature (never in the body).
    pub detail: Option<String>,
}

pub fn handle<S: KvStore, V: TokenValidator>(req: &Request, env: &Env<'_, S, V>) -> Outcome {
    let request_id = request_id(req.header("x-openstack-request-id"));
    let mut outcome = Outcome {
        response: Response::empty(500),
        request_id: request_id.clone(),
        route: "unmatched",
        project: None,
        access_key: None,
        detail: None,
    };
    let mut response = match dispatch(req, env, &mut outcome) {
        Ok(r) => r,
        Err(e) => {
            outcome.detail = e.detail().map(str::to_string);
            if ims::endpoint::is_ims_path(&req.path) {
                ims::error::ImsError::from(e).to_response(&request_id)
            } else {
                e.to_response(&request_id)
            }
        }
    };
    if req.method == "HEAD" {
        response.body.clear();
    }
    // The Huawei Cloud SDKs read the id from `X-Request-Id`.
    response
        .headers
        .push(("x-openstack-request-id".into(), request_id.clone()));
    response.headers.push(("x-request-id".into(), request_id));
    outcome.response = response;
    outcome
}

pub(crate) fn store<'a, S: KvStore, V: TokenValidator>(
    env: &Env<'a, S, V>,
) -> Result<&'a S, ApiError> {
    env.store
        .as_ref()
        .copied()
        .map_err(|e| ApiError::unavailable(format!("key-value store cannot be opened: {}", e.0)))
}

fn identify<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    outcome: &mut Outcome,
) -> Result<Identity, ApiError> {
    let auth = env.config.auth.as_ref().map_err(Clone::clone)?;
    let keystone = KeystoneEnv {
        store: store(env),
        validator: env.keystone,
        cache_seconds: env.config.token_cache_seconds.clone(),
    };
    let judgement = auth::identify(req, auth, keystone, env.now);
    outcome.access_key = judgement.access_key;
    judgement.identity
}

fn dispatch<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    outcome: &mut Outcome,
) -> Result<Response, ApiError> {
    let who = if routes::needs_identity(&req.path) {
        let who = identify(req, env, outcome)?;
        outcome.project = who.project.clone();
        Some(who)
    } else {
        None
    };
    let route = routes::resolve(&req.method, &req.path).map_err(|e| match e {
        RouteError::NotFound => ApiError::resource_not_found(),
        RouteError::MethodNotAllowed { allow } => ApiError::MethodNotAllowed(allow),
    })?;
    outcome.route = route_name(&route);
    check_body_size(req, env.config)?;
    let who = who.unwrap_or_default();
    match route {
        Route::RootVersions => Ok(Response::json(300, &discovery::versions(&req.base))),
        Route::Versions => Ok(Response::json(200, &discovery::versions(&req.base))),
        Route::Healthcheck => healthcheck(env),
        Route::ImageSchema => Ok(Response::json_text(200, schemas::image().into())),
        Route::ImagesSchema => Ok(Response::json_text(200, schemas::images())),
        Route::ListImages => list_images(req, env, &who),
        Route::CreateImage => create_image(req, env, &who),
        Route::ShowImage { image_id } => show_image(env, &who, &decode_id(&image_id)),
        Route::UpdateImage { image_id } => update_image(req, env, &who, &decode_id(&image_id)),
        Route::DeleteImage { image_id } => delete_image(env, &who, &decode_id(&image_id)),
        Route::AddTag { image_id, tag } => add_tag(req, env, &who, &decode_id(&image_id), &tag),
        Route::RemoveTag { image_id, tag } => {
            remove_tag(req, env, &who, &decode_id(&image_id), &tag)
        }
        Route::Ims(endpoint) => {
            let ctx = ims::handlers::Ctx {
                req,
                who: &who,
                repo: Repo::new(store(env)?),
                config: env.config,
                now: env.now,
            };
            Ok(ims::handlers::handle(&endpoint, &ctx).unwrap_or_else(|e| {
                outcome.detail = e.detail();
                e.to_response(&outcome.request_id)
            }))
        }
    }
}

fn route_name(route: &Route) -> &'static str {
    match route {
        Route::RootVersions => "GET /",
        Route::Versions => "GET /versions",
        Route::Healthcheck => "GET /healthcheck",
        Route::ImageSchema => "GET /v2/schemas/image",
        Route::ImagesSchema => "GET /v2/schemas/images",
        Route::ListImages => "GET /v2/images",
        Route::CreateImage => "POST /v2/images",
        Route::ShowImage { .. } => "GET /v2/images/{id}",
        Route::UpdateImage { .. } => "PATCH /v2/images/{id}",
        Route::DeleteImage { .. } => "DELETE /v2/images/{id}",
        Route::AddTag { .. } => "PUT /v2/images/{id}/tags/{tag}",
        Route::RemoveTag { .. } => "DELETE /v2/images/{id}/tags/{tag}",
        Route::Ims(endpoint) => endpoint.name(),
    }
}

/// An id that does not decode cannot be a stored id: it gets the same 404.
pub(crate) fn decode_id(raw: &str) -> String {
    segment::decode(raw).unwrap_or_else(|_| raw.to_string())
}

fn healthcheck<S: KvStore, V: TokenValidator>(env: &Env<'_, S, V>) -> Result<Response, ApiError> {
    // Opening is not enough on every backend: one cheap read proves the store answers.
    store(env)?
        .exists("healthcheck")
        .map_err(crate::store::unavailable)?;
    Ok(Response::text(200, "OK"))
}

/// Step 3 of every route, after identity (401) and the route (404, 405):
/// a body over `max_request_body_bytes` is 413, before any handler parses
/// it. The edge stops reading at the limit and sets `body_over_limit`; the
/// length check covers a core driven without the edge (tests, fuzzing).
/// Bodiless requests do not need the variable, so a bad value of it does
/// not take the health check down.
fn check_body_size(req: &Request, config: &Config) -> Result<(), ApiError> {
    if req.body.is_empty() && !req.body_over_limit {
        return Ok(());
    }
    let limit = config.max_request_body_bytes.clone()?;
    if req.body_over_limit || req.body.len() > limit {
        return Err(ApiError::TooLarge(format!(
            "The request body is larger than the limit of {limit} bytes."
        )));
    }
    Ok(())
}

fn no_body(req: &Request) -> Result<(), ApiError> {
    if req.body.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "A body is not expected with this request.".into(),
        ))
    }
}

fn image_response(status: u16, image: &Image) -> Response {
    Response::json(status, &image.to_json())
}

/// Seen but not changeable: 403. Not seen: 404, so ids of others' private
/// images do not leak.
pub(crate) fn check_modify(who: &Identity, image: &Image, id: &str) -> Result<(), ApiError> {
    if !policy::can_see(who, image) {
        return Err(ApiError::image_not_found(id));
    }
    if !policy::can_modify(who, image) {
        return Err(ApiError::Forbidden(policy::MODIFY_DENIED.into()));
    }
    Ok(())
}

fn add_tag<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    who: &Identity,
    id: &str,
    raw_tag: &str,
) -> Result<Response, ApiError> {
    no_body(req)?;
    let tag = tag::from_segment(raw_tag, true).map_err(|e| ApiError::BadRequest(e.message()))?;
    let quota = env.config.image_tag_quota.clone()?;
    let now = image::timestamp(env.now);
    Repo::new(store(env)?).update(id, &mut |img| {
        check_modify(who, img, id)?;
        if !img.has_tag(&tag) {
            image::check_tag_quota(id, img.tags.len() + 1, quota)?;
            img.tags.push(tag.clone());
        }
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}

fn remove_tag<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    who: &Identity,
    id: &str,
    raw_tag: &str,
) -> Result<Response, ApiError> {
    no_body(req)?;
    let tag = tag::from_segment(raw_tag, false).map_err(|e| ApiError::BadRequest(e.message()))?;
    let now = image::timestamp(env.now);
    Repo::new(store(env)?).update(id, &mut |img| {
        check_modify(who, img, id)?;
        if !img.has_tag(&tag) {
            return Err(ApiError::resource_not_found());
        }
        img.tags.retain(|t| *t != tag);
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}

fn show_image<S: KvStore, V: TokenValidator>(
    env: &Env<'_, S, V>,
    who: &Identity,
    id: &str,
) -> Result<Response, ApiError> {
    match Repo::new(store(env)?).load(id)? {
        Some(image) if policy::can_see(who, &image) => Ok(image_response(200, &image)),
        _ => Err(ApiError::image_not_found(id)),
    }
}

fn delete_image<S: KvStore, V: TokenValidator>(
    env: &Env<'_, S, V>,
    who: &Identity,
    id: &str,
) -> Result<Response, ApiError> {
    let now = image::timestamp(env.now);
    Repo::new(store(env)?).update(id, &mut |img| {
        if !policy::can_see(who, img) {
            return Err(ApiError::image_not_found(id));
        }
        if !policy::can_modify(who, img) {
            return Err(ApiError::Forbidden(
                "You are not authorized to complete delete_image action.".into(),
            ));
        }
        if img.protected {
            return Err(ApiError::Forbidden(format!(
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

fn update_image<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    who: &Identity,
    id: &str,
) -> Result<Response, ApiError> {
    let ops = patch::parse(req.header("content-type"), &req.body)?;
    let quota = env.config.image_tag_quota.clone()?;
    let now = image::timestamp(env.now);
    let image = Repo::new(store(env)?).update(id, &mut |img| {
        check_modify(who, img, id)?;
        patch::apply(img, &ops, who, quota)?;
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(image_response(200, &image))
}

fn create_image<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    who: &Identity,
) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(body) = body else {
        return Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    if !policy::can_create(who) {
        return Err(ApiError::Forbidden(
            "You are not authorized to complete add_image action.".into(),
        ));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s)) if crate::keys::is_image_id(s) => s.to_ascii_lowercase(),
        Some(_) => {
            return Err(ApiError::BadRequest(
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
            return Err(ApiError::Forbidden(
                "You are not permitted to create images owned by another project.".into(),
            ))
        }
    };
    let mut image = Image::new(id, String::new(), env.now);
    image.owner = owner;
    image::apply_create_body(&mut image, &body, env.config.image_tag_quota.clone()?)?;
    if image.visibility == "public" && !policy::can_publicize(who) {
        return Err(ApiError::Forbidden(
            "You are not authorized to complete publicize_image action.".into(),
        ));
    }
    let image = Repo::new(store(env)?).create(image)?;
    Ok(image_response(201, &image)
        .with_header("location", format!("{}/v2/images/{}", req.base, image.id)))
}

/// The logs a listing walks, merged: the rarest tag's, else its scopes'.
fn walk<'a, S: KvStore>(
    repo: &Repo<'a, S>,
    query: &Query,
    who: &Identity,
    below: Option<&str>,
) -> Result<Merged<'a, S>, ApiError> {
    match repo.rarest_tag(&query.tags, below)? {
        Some(tag) => Merged::new(vec![tag]),
        None => repo.walk(&query.scopes(who), below),
    }
}

fn list_images<S: KvStore, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, S, V>,
    who: &Identity,
) -> Result<Response, ApiError> {
    let query = Query::parse(&req.query)?;
    let repo = Repo::new(store(env)?);
    let marker = match &query.marker {
        None => None,
        Some(m) => match repo.load(m)? {
            Some(image) if policy::can_see(who, &image) => Some(image),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid marker: image {} could not be found.",
                    echo(m)
                )))
            }
        },
    };
    // The default order walks the logs from the marker's entry: O(limit).
    // Another order reads every image the logs name and sorts them here.
    let fast = query.default_order();
    let below = marker.as_ref().filter(|_| fast).map(crate::index::entry);
    let below = below.as_deref();
    let ids = query.filters.ids();
    let page = if query.never() {
        listing::Page {
            images: Vec::new(),
            next_marker: None,
        }
    } else if let Some(ids) = ids {
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
        "images": page.images.iter().map(Image::to_json).collect::<Vec<_>>(),
        "first": query.link(None),
        "schema": "/v2/schemas/images",
    });
    if let (Some(next), Some(map)) = (page.next_marker, body.as_object_mut()) {
        map.insert("next".into(), Value::String(query.link(Some(&next))));
    }
    Ok(Response::json(200, &body))
}
