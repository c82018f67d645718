//! IMS's older `/v1` tag routes, which huaweicloudsdkims still calls
//! (`create_or_update_tags`, `list_tags`, `batch_delete_tags`). Same list,
//! same rules as the `/v2` ones.

use super::handlers::{
    body_object, delete_keys, key_value, key_values, malformed, project_images, project_log,
    set_tags, Ctx,
};
use super::rules::{self, KeyValue};
use crate::core::compare::Op;
use crate::core::error::Error;
use crate::core::image::Image;
use crate::core::images::Images;
use crate::http::Response;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `PUT /v1/cloudimages/tags`: `image_id` and exactly one of `tag`
/// (legacy `"key.value"`, split at the first `.`) or `image_tag`.
pub fn set_tag<R: Images>(ctx: &Ctx<'_, R>) -> Result<Response, Error> {
    let body = body_object(ctx.req)?;
    let present = |name: &str| body.get(name).filter(|v| !v.is_null());
    let id = present("image_id")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("The body needs a string 'image_id'."))?;
    let kv = match (present("tag"), present("image_tag")) {
        (Some(Value::String(tag)), None) => {
            let (key, value) = tag.split_once('.').unwrap_or((tag, ""));
            KeyValue::new(key, value)
        }
        (Some(_), None) => return Err(malformed("'tag' must be a string \"key.value\".")),
        (None, Some(tag)) => key_value(tag, "image_tag")?,
        _ => return Err(malformed("Give exactly one of 'tag' and 'image_tag'.")),
    };
    rules::validate(&kv).map_err(Error::TagInvalid)?;
    set_tags(ctx, id, &[kv])
}

/// `DELETE /v1/{project_id}/cloudimages/{image_id}/tags/delete`.
pub fn delete_tags<R: Images>(ctx: &Ctx<'_, R>, id: &str) -> Result<Response, Error> {
    let body = body_object(ctx.req)?;
    delete_keys(ctx, id, &key_values(&body)?)
}

/// One filter of `GET /v1/cloudimages/tags`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    /// `__imagetype`: `gold` (public), `private` (the project's own, not
    /// public) or `shared` (shared with the project: none here).
    ImageType(String),
    /// `created_at` / `updated_at`: `OP:TIME`.
    Time {
        field: &'static str,
        op: Op,
        at: i64,
    },
    /// Any other parameter: the image property of that name, exactly.
    Property(String, String),
}

fn bad(message: impl Into<String>) -> Error {
    malformed(message)
}

fn time_filter(field: &'static str, value: &str) -> Result<Filter, Error> {
    let why = || {
        bad(format!(
            "'{field}' must be OP:TIME, OP one of gt, gte, lt, lte, eq, neq and TIME yyyy-MM-ddThh:mm:ssZ or yyyy-MM-dd hh:mm:ss."
        ))
    };
    let (op, time) = value.split_once(':').ok_or_else(why)?;
    let op = Op::parse(op).ok_or_else(why)?;
    let time = match time.split_once(' ') {
        Some((date, clock)) => format!("{date}T{clock}Z"),
        None => time.to_string(),
    };
    let at = crate::core::time::parse(&time).ok_or_else(why)?;
    Ok(Filter::Time { field, op, at })
}

/// (limit, page, filters) of the query: `limit` tags a page (all when
/// absent), `page` from 1.
fn parse_query(raw: &str) -> Result<(Option<usize>, usize, Vec<Filter>), Error> {
    let positive = |name: &str, v: &str| {
        v.parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad(format!("'{name}' must be a whole number of at least 1.")))
    };
    let (mut limit, mut page, mut filters) = (None, 1, Vec::new());
    for (name, value) in crate::query::pairs(raw) {
        match name.as_str() {
            "limit" => limit = Some(positive("limit", &value)?),
            "page" => page = positive("page", &value)?,
            "__imagetype" => match value.as_str() {
                "gold" | "private" | "shared" => filters.push(Filter::ImageType(value)),
                _ => return Err(bad("'__imagetype' must be gold, private or shared.")),
            },
            "created_at" => filters.push(time_filter("created_at", &value)?),
            "updated_at" => filters.push(time_filter("updated_at", &value)?),
            // Image members are not kept here: nothing to filter on.
            "member_status" => {}
            _ => filters.push(Filter::Property(name, value)),
        }
    }
    Ok((limit, page, filters))
}

fn keep(image: &Image, filter: &Filter) -> bool {
    match filter {
        Filter::ImageType(t) => match t.as_str() {
            "gold" => image.visibility == "public",
            "private" => image.visibility != "public",
            _ => false,
        },
        Filter::Time { field, op, at } => {
            let stamp = if *field == "created_at" {
                &image.created_at
            } else {
                &image.updated_at
            };
            let Some(t) = crate::core::time::parse(stamp) else {
                return false;
            };
            op.holds(t.cmp(at))
        }
        Filter::Property(name, value) => image.property(name).as_deref() == Some(value.as_str()),
    }
}

/// `GET /v1/cloudimages/tags`: the distinct native entries (`k=v`, `k`) of
/// the project's images that pass the filters, sorted, one page of them.
pub fn list_tags<R: Images>(ctx: &Ctx<'_, R>) -> Result<Response, Error> {
    let (limit, page, filters) = parse_query(&ctx.req.query)?;
    let tags: BTreeSet<String> = project_images(ctx, project_log(ctx)?)
        .into_iter()
        .filter(|image| filters.iter().all(|f| keep(image, f)))
        .flat_map(|image| image.tags)
        .collect();
    let per_page = limit.unwrap_or(usize::MAX);
    let tags: Vec<Value> = tags
        .into_iter()
        .skip(per_page.saturating_mul(page - 1))
        .take(per_page)
        .map(Value::String)
        .collect();
    Ok(Response::json(200, &json!({ "tags": tags })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_takes_paging_types_times_and_properties() {
        let (limit, page, filters) =
            parse_query("limit=5&page=2&__imagetype=private&name=web&member_status=accepted&created_at=lt:2018-10-28T10:00:00Z&updated_at=gte:2018-10-28%2010:00:00")
                .unwrap();
        assert_eq!((limit, page), (Some(5), 2));
        assert_eq!(
            filters,
            vec![
                Filter::ImageType("private".into()),
                Filter::Property("name".into(), "web".into()),
                Filter::Time {
                    field: "created_at",
                    op: Op::Lt,
                    at: 1_540_720_800
                },
                Filter::Time {
                    field: "updated_at",
                    op: Op::Gte,
                    at: 1_540_720_800
                },
            ]
        );
        assert_eq!(parse_query("").unwrap(), (None, 1, vec![]));
        for bad in [
            "limit=0",
            "limit=x",
            "page=0",
            "page=-1",
            "__imagetype=market",
            "created_at=2018-10-28T10:00:00Z",
            "created_at=before:2018-10-28T10:00:00Z",
            "updated_at=lt:yesterday",
        ] {
            let err = parse_query(bad).unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "{bad}");
        }
    }

    #[test]
    fn filters_keep_the_images_they_name() {
        let mut img = Image::new("id-1".into(), "p".into(), 1_540_720_800);
        img.name = Some("web".into());
        img.min_disk = 10;
        let f = |q: &str| parse_query(q).unwrap().2;
        let keeps = |q: &str| f(q).iter().all(|x| keep(&img, x));
        assert!(keeps("name=web&min_disk=10&id=id-1&status=queued"));
        assert!(!keeps("name=db"));
        assert!(!keeps("__platform=Ubuntu"));
        assert!(keeps("__imagetype=private") && !keeps("__imagetype=gold"));
        assert!(!keeps("__imagetype=shared"));
        assert!(keeps("created_at=eq:2018-10-28T10:00:00Z"));
        assert!(keeps("created_at=lte:2018-10-28 10:00:00"));
        assert!(!keeps("created_at=gt:2018-10-28T10:00:00Z"));
        assert!(keeps("updated_at=neq:2018-10-28T10:00:01Z"));
        img.visibility = "public".into();
        assert!(f("__imagetype=gold").iter().all(|x| keep(&img, x)));
    }
}
