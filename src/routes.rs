//! The route table. Paths are matched raw, one segment per parameter, so a
//! `%2F` inside a tag stays inside its segment; handlers decode parameters.

/// What a request asks for, once path and method are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    RootVersions,
    Versions,
    Healthcheck,
    ListImages,
    CreateImage,
    ShowImage {
        image_id: String,
    },
    UpdateImage {
        image_id: String,
    },
    DeleteImage {
        image_id: String,
    },
    AddTag {
        image_id: String,
        tag: String,
    },
    RemoveTag {
        image_id: String,
        tag: String,
    },
    ImageSchema,
    ImagesSchema,
    /// Huawei Cloud IMS's tag API (SPEC section 9).
    Ims(crate::ims::endpoint::Endpoint),
}

#[derive(Clone, Copy)]
enum Path {
    Root,
    Versions,
    Healthcheck,
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
    ("/healthcheck", Path::Healthcheck, "GET"),
    ("/v2/images", Path::Images, "GET, POST"),
    ("/v2/images/{image_id}", Path::Image, "GET, PATCH, DELETE"),
    ("/v2/images/{image_id}/tags/{tag}", Path::Tag, "PUT, DELETE"),
    ("/v2/images/{image_id}/tags/", Path::EmptyTag, "PUT, DELETE"),
    ("/v2/schemas/image", Path::ImageSchema, "GET"),
    ("/v2/schemas/images", Path::ImagesSchema, "GET"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed { allow: &'static str },
}

/// The table as a `matchit` router: a `{name}` segment takes any one
/// non-empty segment of the raw path, so `%2F` stays inside it.
fn router() -> matchit::Router<(Path, &'static str)> {
    let mut router = matchit::Router::new();
    for (pattern, path, allow) in TABLE {
        // The table is fixed; a unit test checks that every pattern inserts.
        let _ = router.insert(*pattern, (*path, *allow));
    }
    router
}

pub fn resolve(method: &str, raw_path: &str) -> Result<Route, RouteError> {
    let router = router();
    let Ok(found) = router.at(raw_path) else {
        // `/v2/{project_id}/images/...` and `/v1/...`: IMS's paths.
        return crate::ims::endpoint::parse(method, raw_path).map(Route::Ims);
    };
    let (path, allow) = *found.value;
    let param = |name: &str| found.params.get(name).unwrap_or_default().to_string();
    let route = match (path, method) {
        (Path::Root, "GET") => Route::RootVersions,
        (Path::Versions, "GET") => Route::Versions,
        (Path::Healthcheck, "GET") => Route::Healthcheck,
        (Path::Images, "GET") => Route::ListImages,
        (Path::Images, "POST") => Route::CreateImage,
        (Path::Image, "GET") => Route::ShowImage {
            image_id: param("image_id"),
        },
        (Path::Image, "PATCH") => Route::UpdateImage {
            image_id: param("image_id"),
        },
        (Path::Image, "DELETE") => Route::DeleteImage {
            image_id: param("image_id"),
        },
        (Path::Tag | Path::EmptyTag, "PUT") => Route::AddTag {
            image_id: param("image_id"),
            tag: param("tag"),
        },
        (Path::Tag | Path::EmptyTag, "DELETE") => Route::RemoveTag {
            image_id: param("image_id"),
            tag: param("tag"),
        },
        (Path::ImageSchema, "GET") => Route::ImageSchema,
        (Path::ImagesSchema, "GET") => Route::ImagesSchema,
        _ => return Err(RouteError::MethodNotAllowed { allow }),
    };
    Ok(route)
}

/// Only `/`, `/versions` and `/healthcheck` answer without an identity.
pub fn needs_identity(raw_path: &str) -> bool {
    ["/v1", "/v2"]
        .iter()
        .any(|v| raw_path == *v || raw_path.strip_prefix(v).is_some_and(|r| r.starts_with('/')))
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
            resolve("PUT", "/v2/images/abc/tags/a%2Fb"),
            Ok(Route::AddTag {
                image_id: "abc".into(),
                tag: "a%2Fb".into()
            })
        );
        assert_eq!(
            resolve("DELETE", "/v2/images/abc/tags/"),
            Ok(Route::RemoveTag {
                image_id: "abc".into(),
                tag: "".into()
            })
        );
        assert_eq!(
            resolve("PUT", "/v2/images/abc/tags/a/b"),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn wrong_methods_name_the_allowed_ones() {
        assert_eq!(
            resolve("GET", "/v2/images/abc/tags/x"),
            Err(RouteError::MethodNotAllowed {
                allow: "PUT, DELETE"
            })
        );
        assert_eq!(
            resolve("PUT", "/v2/images/abc"),
            Err(RouteError::MethodNotAllowed {
                allow: "GET, PATCH, DELETE"
            })
        );
        assert_eq!(
            resolve("DELETE", "/v2/images"),
            Err(RouteError::MethodNotAllowed { allow: "GET, POST" })
        );
        assert_eq!(resolve("GET", "/v3/images"), Err(RouteError::NotFound));
        assert_eq!(
            resolve("GET", "/v2/images/abc/tags"),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn identity_is_needed_under_v2_only() {
        assert!(needs_identity("/v2/images"));
        assert!(needs_identity("/v2"));
        assert!(!needs_identity("/"));
        assert!(!needs_identity("/healthcheck"));
        assert!(!needs_identity("/v22"));
        assert!(needs_identity("/v1/cloudimages/tags"));
        assert!(!needs_identity("/v11"));
    }
}
