//! OpenStack Glance v2's image and tag API (SPEC sections 2 to 8): its
//! routes, handlers, JSON views and error body.

pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod filters;
pub mod handlers;
pub mod listing;
pub mod patch;
pub mod schemas;
pub mod tags;
pub mod validate;
pub mod view;

use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::segment::decode_id;
use crate::http::Response;
use endpoint::Endpoint;
use handlers::Ctx;

/// Answer one Glance request.
pub fn handle<B: Backend>(endpoint: &Endpoint, ctx: &Ctx<'_, B>) -> Result<Response, Error> {
    let base = &ctx.req.base;
    match endpoint {
        Endpoint::RootVersions => Ok(Response::json(300, &discovery::versions(base))),
        Endpoint::Versions => Ok(Response::json(200, &discovery::versions(base))),
        Endpoint::ImageSchema => Ok(Response::json_text(200, schemas::image().into())),
        Endpoint::ImagesSchema => Ok(Response::json_text(200, schemas::images())),
        Endpoint::ListImages => handlers::list(ctx),
        Endpoint::CreateImage => handlers::create(ctx),
        Endpoint::ShowImage { image_id } => handlers::show(ctx, &decode_id(image_id)),
        Endpoint::UpdateImage { image_id } => handlers::update(ctx, &decode_id(image_id)),
        Endpoint::DeleteImage { image_id } => handlers::delete(ctx, &decode_id(image_id)),
        Endpoint::AddTag { image_id, tag } => tags::add(ctx, &decode_id(image_id), tag),
        Endpoint::RemoveTag { image_id, tag } => tags::remove(ctx, &decode_id(image_id), tag),
    }
}
