//! Huawei Cloud IMS's key/value tag API (SPEC section 9), over the same
//! tag list, records and guarantees as the native Glance routes.

pub mod endpoint;
pub mod error;
pub mod handlers;
pub mod legacy;
pub mod rules;
pub mod search;

use crate::core::error::Error;
use crate::core::images::Images;
use crate::core::segment::decode_id;
use crate::http::Response;
use endpoint::Endpoint;
use handlers::Ctx;

/// Answer one IMS request. Order of checks: the path's project (403), the
/// body (400), the tag rules (400), the image (404), the permission (403),
/// the tag limit (400), a missing key (404).
pub fn handle<R: Images>(endpoint: &Endpoint, ctx: &Ctx<'_, R>) -> Result<Response, Error> {
    if let Some(raw) = endpoint.project_id() {
        handlers::check_project(ctx, raw)?;
    }
    match endpoint {
        Endpoint::AddTag { image_id, .. } => handlers::add_tag(ctx, &decode_id(image_id)),
        Endpoint::BatchTags { image_id, .. } => handlers::batch(ctx, &decode_id(image_id)),
        Endpoint::DeleteTag { image_id, key, .. } => {
            handlers::delete_tag(ctx, &decode_id(image_id), key)
        }
        Endpoint::ImageTags { image_id, .. } => handlers::image_tags(ctx, &decode_id(image_id)),
        Endpoint::ProjectTags { .. } => handlers::project_tags(ctx),
        Endpoint::ResourceInstances { .. } => handlers::resource_instances(ctx),
        Endpoint::LegacySetTag => legacy::set_tag(ctx),
        Endpoint::LegacyListTags => legacy::list_tags(ctx),
        Endpoint::LegacyDeleteTags { image_id, .. } => {
            legacy::delete_tags(ctx, &decode_id(image_id))
        }
    }
}
