//! `PUT` and `DELETE /v2/images/{image_id}/tags/{tag}`.

use super::handlers::{no_body, Ctx};
use super::validate::check_tag_quota;
use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::image;
use crate::core::images::Change;
use crate::core::images::Images;
use crate::core::policy;
use crate::core::tag;
use crate::http::Response;

pub fn add<B: Backend>(ctx: &Ctx<'_, B>, id: &str, raw_tag: &str) -> Result<Response, Error> {
    no_body(ctx.req)?;
    let tag = tag::from_segment(raw_tag, true).map_err(|e| Error::TagInvalid(e.message()))?;
    let quota = ctx.config.image_tag_quota.clone()?;
    let now = image::timestamp(ctx.now);
    ctx.repo()?.update(id, &mut |img| {
        policy::check_modify(ctx.who, img, id)?;
        if !img.has_tag(&tag) {
            check_tag_quota(id, img.tags.len() + 1, quota)?;
            img.tags.push(tag.clone());
        }
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}

pub fn remove<B: Backend>(ctx: &Ctx<'_, B>, id: &str, raw_tag: &str) -> Result<Response, Error> {
    no_body(ctx.req)?;
    let tag = tag::from_segment(raw_tag, false).map_err(|e| Error::TagInvalid(e.message()))?;
    let now = image::timestamp(ctx.now);
    ctx.repo()?.update(id, &mut |img| {
        policy::check_modify(ctx.who, img, id)?;
        if !img.has_tag(&tag) {
            return Err(Error::TagNotFound {
                image: id.to_string(),
                key: tag.clone(),
            });
        }
        img.tags.retain(|t| *t != tag);
        img.updated_at = now.clone();
        Ok(Change::Write)
    })?;
    Ok(Response::empty(204))
}
