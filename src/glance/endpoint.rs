//! Glance's routes: the method and the raw path, matched with `matchit`,
//! give one [`Endpoint`]. Paths are matched raw, one segment per parameter,
//! so a `%2F` inside a tag stays inside its segment; handlers decode.

pub use crate::http::RouteError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    RootVersions,
    Versions,
    ListImages,
    CreateImage,
    ShowImage { image_id: String },
    UpdateImage { image_id: String },
    DeleteImage { image_id: String },
    AddTag { image_id: String, tag: String },
    RemoveTag { image_id: String, tag: String },
    ImageSchema,
    ImagesSchema,
}

#[derive(Clone, Copy)]
enum Path {
    Root,
    Versions,
    Images,
    Image,
    Tag,
    EmptyTag,
    ImageSchema,
    ImagesSchema,
}

/// (pattern, path, `Allow` header): the whole API on one screen.
const TABLE: &[(&str, Path, &str)] = &[
    ("/", Path::Root, "GET"),
    ("/versions", Path::Versions, "GET"),
    ("/v2/images", Path::Images, "GET, POST"),
    ("/v2/images/{image_id}", Path::Image, "GET, PATCH, DELETE"),
    ("/v2/images/{image_id}/tags/{tag}", Path::Tag, "PUT, DELETE"),
    ("/v2/images/{image_id}/tags/", Path::EmptyTag, "PUT, DELETE"),
    ("/v2/schemas/image", Path::ImageSchema, "GET"),
    ("/v2/schemas/images", Path::ImagesSchema, "GET"),
];

pub fn parse(method: &str, raw_path: &str) -> Result<Endpoint, RouteError> {
    let router = crate::http::router(TABLE);
    let found = router.at(raw_path).map_err(|_| RouteError::NotFound)?;
    let (path, allow) = *found.value;
    let param = |name: &str| found.params.get(name).unwrap_or_default().to_string();
    let (image_id, tag) = (param("image_id"), param("tag"));
    let endpoint = match (path, method) {
        (Path::Root, "GET") => Endpoint::RootVersions,
        (Path::Versions, "GET") => Endpoint::Versions,
        (Path::Images, "GET") => Endpoint::ListImages,
        (Path::Images, "POST") => Endpoint::CreateImage,
        (Path::Image, "GET") => Endpoint::ShowImage { image_id },
        (Path::Image, "PATCH") => Endpoint::UpdateImage { image_id },
        (Path::Image, "DELETE") => Endpoint::DeleteImage { image_id },
        (Path::Tag | Path::EmptyTag, "PUT") => Endpoint::AddTag { image_id, tag },
        (Path::Tag | Path::EmptyTag, "DELETE") => Endpoint::RemoveTag { image_id, tag },
        (Path::ImageSchema, "GET") => Endpoint::ImageSchema,
        (Path::ImagesSchema, "GET") => Endpoint::ImagesSchema,
        _ => return Err(RouteError::MethodNotAllowed { allow }),
    };
    Ok(endpoint)
}

impl Endpoint {
    /// The route as the access log names it.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::RootVersions => "GET /",
            Endpoint::Versions => "GET /versions",
            Endpoint::ImageSchema => "GET /v2/schemas/image",
            Endpoint::ImagesSchema => "GET /v2/schemas/images",
            Endpoint::ListImages => "GET /v2/images",
            Endpoint::CreateImage => "POST /v2/images",
            Endpoint::ShowImage { .. } => "GET /v2/images/{id}",
            Endpoint::UpdateImage { .. } => "PATCH /v2/images/{id}",
            Endpoint::DeleteImage { .. } => "DELETE /v2/images/{id}",
            Endpoint::AddTag { .. } => "PUT /v2/images/{id}/tags/{tag}",
            Endpoint::RemoveTag { .. } => "DELETE /v2/images/{id}/tags/{tag}",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_of_the_table_inserts() {
        let mut router = matchit::Router::new();
        for (pattern, _, _) in TABLE {
            router.insert(*pattern, ()).unwrap();
        }
        for path in [
            "",
            "//",
            "/v2/images//tags/b",
            "/v2/images/a/tags/b/c",
            "/v2//images",
        ] {
            assert!(router.at(path).is_err(), "{path}");
        }
    }

    #[test]
    fn tag_routes_keep_raw_segments() {
        assert_eq!(
            parse("PUT", "/v2/images/abc/tags/a%2Fb"),
            Ok(Endpoint::AddTag {
                image_id: "abc".into(),
                tag: "a%2Fb".into()
            })
        );
        assert_eq!(
            parse("DELETE", "/v2/images/abc/tags/"),
            Ok(Endpoint::RemoveTag {
                image_id: "abc".into(),
                tag: "".into()
            })
        );
        assert_eq!(
            parse("PUT", "/v2/images/abc/tags/a/b"),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn wrong_methods_name_the_allowed_ones() {
        assert_eq!(
            parse("GET", "/v2/images/abc/tags/x"),
            Err(RouteError::MethodNotAllowed {
                allow: "PUT, DELETE"
            })
        );
        assert_eq!(
            parse("PUT", "/v2/images/abc"),
            Err(RouteError::MethodNotAllowed {
                allow: "GET, PATCH, DELETE"
            })
        );
        assert_eq!(
            parse("DELETE", "/v2/images"),
            Err(RouteError::MethodNotAllowed { allow: "GET, POST" })
        );
        assert_eq!(parse("GET", "/v3/images"), Err(RouteError::NotFound));
        assert_eq!(
            parse("GET", "/v2/images/abc/tags"),
            Err(RouteError::NotFound)
        );
    }
}
