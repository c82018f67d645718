//! The IMS tag API's paths (the ones huaweicloudsdkims calls), matched with
//! `matchit` as Glance's are: the method and the raw path give one
//! [`Endpoint`]. Segments stay raw: handlers decode them.

pub use crate::http::RouteError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v2/{project_id}/images/{image_id}/tags`
    AddTag {
        project_id: String,
        image_id: String,
    },
    /// `GET /v2/{project_id}/images/{image_id}/tags`
    ImageTags {
        project_id: String,
        image_id: String,
    },
    /// `POST /v2/{project_id}/images/{image_id}/tags/action`
    BatchTags {
        project_id: String,
        image_id: String,
    },
    /// `DELETE /v2/{project_id}/images/{image_id}/tags/{key}`
    DeleteTag {
        project_id: String,
        image_id: String,
        key: String,
    },
    /// `GET /v2/{project_id}/images/tags`
    ProjectTags { project_id: String },
    /// `POST /v2/{project_id}/images/resource_instances/action`
    ResourceInstances { project_id: String },
    /// `PUT /v1/cloudimages/tags`
    LegacySetTag,
    /// `GET /v1/cloudimages/tags`
    LegacyListTags,
    /// `DELETE /v1/{project_id}/cloudimages/{image_id}/tags/delete`
    LegacyDeleteTags {
        project_id: String,
        image_id: String,
    },
}

impl Endpoint {
    /// The route as the access log names it.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::AddTag { .. } => "POST /v2/{project_id}/images/{image_id}/tags",
            Endpoint::ImageTags { .. } => "GET /v2/{project_id}/images/{image_id}/tags",
            Endpoint::BatchTags { .. } => "POST /v2/{project_id}/images/{image_id}/tags/action",
            Endpoint::DeleteTag { .. } => "DELETE /v2/{project_id}/images/{image_id}/tags/{key}",
            Endpoint::ProjectTags { .. } => "GET /v2/{project_id}/images/tags",
            Endpoint::ResourceInstances { .. } => {
                "POST /v2/{project_id}/images/resource_instances/action"
            }
            Endpoint::LegacySetTag => "PUT /v1/cloudimages/tags",
            Endpoint::LegacyListTags => "GET /v1/cloudimages/tags",
            Endpoint::LegacyDeleteTags { .. } => {
                "DELETE /v1/{project_id}/cloudimages/{image_id}/tags/delete"
            }
        }
    }

    /// The `{project_id}` of the path, for the paths that carry one.
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Endpoint::AddTag { project_id, .. }
            | Endpoint::ImageTags { project_id, .. }
            | Endpoint::BatchTags { project_id, .. }
            | Endpoint::DeleteTag { project_id, .. }
            | Endpoint::ProjectTags { project_id }
            | Endpoint::ResourceInstances { project_id }
            | Endpoint::LegacyDeleteTags { project_id, .. } => Some(project_id),
            Endpoint::LegacySetTag | Endpoint::LegacyListTags => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Path {
    ProjectTags,
    Search,
    ImageTags,
    Tag,
    EmptyTag,
    Legacy,
    LegacyDelete,
}

/// (pattern, path, `Allow` header): the whole API on one screen. A key
/// may be empty (400 later, naming the rule); project and image ids not.
const TABLE: &[(&str, Path, &str)] = &[
    ("/v2/{project_id}/images/tags", Path::ProjectTags, "GET"),
    (
        "/v2/{project_id}/images/resource_instances/action",
        Path::Search,
        "POST",
    ),
    (
        "/v2/{project_id}/images/{image_id}/tags",
        Path::ImageTags,
        "GET, POST",
    ),
    (
        "/v2/{project_id}/images/{image_id}/tags/{key}",
        Path::Tag,
        "DELETE",
    ),
    (
        "/v2/{project_id}/images/{image_id}/tags/",
        Path::EmptyTag,
        "DELETE",
    ),
    ("/v1/cloudimages/tags", Path::Legacy, "GET, PUT"),
    (
        "/v1/{project_id}/cloudimages/{image_id}/tags/delete",
        Path::LegacyDelete,
        "DELETE",
    ),
];

pub fn parse(method: &str, raw_path: &str) -> Result<Endpoint, RouteError> {
    let router = crate::http::router(TABLE);
    let found = router.at(raw_path).map_err(|_| RouteError::NotFound)?;
    let (path, allow) = *found.value;
    let param = |name: &str| found.params.get(name).unwrap_or_default().to_string();
    let (project_id, image_id, key) = (param("project_id"), param("image_id"), param("key"));
    let endpoint = match (path, method) {
        (Path::ProjectTags, "GET") => Endpoint::ProjectTags { project_id },
        (Path::Search, "POST") => Endpoint::ResourceInstances { project_id },
        (Path::ImageTags, "GET") => Endpoint::ImageTags {
            project_id,
            image_id,
        },
        (Path::ImageTags, "POST") => Endpoint::AddTag {
            project_id,
            image_id,
        },
        (Path::Tag, "POST") if key == "action" => Endpoint::BatchTags {
            project_id,
            image_id,
        },
        (Path::Tag | Path::EmptyTag, "DELETE") => Endpoint::DeleteTag {
            project_id,
            image_id,
            key,
        },
        (Path::Tag, _) if key == "action" => {
            return Err(RouteError::MethodNotAllowed {
                allow: "POST, DELETE",
            })
        }
        (Path::Legacy, "GET") => Endpoint::LegacyListTags,
        (Path::Legacy, "PUT") => Endpoint::LegacySetTag,
        (Path::LegacyDelete, "DELETE") => Endpoint::LegacyDeleteTags {
            project_id,
            image_id,
        },
        _ => return Err(RouteError::MethodNotAllowed { allow }),
    };
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "0b1f2c";
    const I: &str = "6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";

    fn ok(method: &str, path: &str) -> Endpoint {
        parse(method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"))
    }

    #[test]
    fn every_pattern_of_the_table_inserts() {
        let mut router = matchit::Router::new();
        for (pattern, _, _) in TABLE {
            router.insert(*pattern, ()).unwrap();
        }
    }

    #[test]
    fn static_segments_do_not_hide_ids_that_look_like_them() {
        for (path, id) in [
            ("/v2/p/images/tags/tags", "tags"),
            ("/v2/p/images/resource_instances/tags", "resource_instances"),
        ] {
            assert_eq!(
                ok("GET", path),
                Endpoint::ImageTags {
                    project_id: "p".into(),
                    image_id: id.into()
                }
            );
        }
        assert_eq!(
            ok("DELETE", "/v2/p/images/tags/tags/action"),
            Endpoint::DeleteTag {
                project_id: "p".into(),
                image_id: "tags".into(),
                key: "action".into()
            }
        );
        assert_eq!(
            ok("DELETE", "/v1/cloudimages/cloudimages/i/tags/delete"),
            Endpoint::LegacyDeleteTags {
                project_id: "cloudimages".into(),
                image_id: "i".into()
            }
        );
    }

    #[test]
    fn every_sdk_path_parses() {
        let (p, i) = (P.to_string(), I.to_string());
        let image = || (p.clone(), i.clone());
        let (project_id, image_id) = image();
        assert_eq!(
            ok("POST", &format!("/v2/{P}/images/{I}/tags")),
            Endpoint::AddTag {
                project_id,
                image_id
            }
        );
        let (project_id, image_id) = image();
        assert_eq!(
            ok("GET", &format!("/v2/{P}/images/{I}/tags")),
            Endpoint::ImageTags {
                project_id,
                image_id
            }
        );
        let (project_id, image_id) = image();
        assert_eq!(
            ok("POST", &format!("/v2/{P}/images/{I}/tags/action")),
            Endpoint::BatchTags {
                project_id,
                image_id
            }
        );
        let (project_id, image_id) = image();
        assert_eq!(
            ok("DELETE", &format!("/v2/{P}/images/{I}/tags/a%2Fb")),
            Endpoint::DeleteTag {
                project_id,
                image_id,
                key: "a%2Fb".into()
            }
        );
        // A key named `action` can be deleted too.
        let (project_id, image_id) = image();
        assert_eq!(
            ok("DELETE", &format!("/v2/{P}/images/{I}/tags/action")),
            Endpoint::DeleteTag {
                project_id,
                image_id,
                key: "action".into()
            }
        );
        assert_eq!(
            ok("GET", &format!("/v2/{P}/images/tags")),
            Endpoint::ProjectTags {
                project_id: p.clone()
            }
        );
        assert_eq!(
            ok("POST", &format!("/v2/{P}/images/resource_instances/action")),
            Endpoint::ResourceInstances {
                project_id: p.clone()
            }
        );
        assert_eq!(ok("PUT", "/v1/cloudimages/tags"), Endpoint::LegacySetTag);
        assert_eq!(ok("GET", "/v1/cloudimages/tags"), Endpoint::LegacyListTags);
        let (project_id, image_id) = image();
        assert_eq!(
            ok("DELETE", &format!("/v1/{P}/cloudimages/{I}/tags/delete")),
            Endpoint::LegacyDeleteTags {
                project_id,
                image_id
            }
        );
        assert_eq!(ok("PUT", "/v1/cloudimages/tags").project_id(), None);
        assert_eq!(
            ok("GET", &format!("/v2/{P}/images/tags")).project_id(),
            Some(P)
        );
    }

    #[test]
    fn wrong_methods_name_the_allowed_ones() {
        for (method, path, allow) in [
            ("PUT", format!("/v2/{P}/images/{I}/tags"), "GET, POST"),
            (
                "GET",
                format!("/v2/{P}/images/{I}/tags/action"),
                "POST, DELETE",
            ),
            ("GET", format!("/v2/{P}/images/{I}/tags/k"), "DELETE"),
            ("POST", format!("/v2/{P}/images/{I}/tags/k"), "DELETE"),
            ("POST", format!("/v2/{P}/images/tags"), "GET"),
            (
                "GET",
                format!("/v2/{P}/images/resource_instances/action"),
                "POST",
            ),
            ("POST", "/v1/cloudimages/tags".to_string(), "GET, PUT"),
            (
                "POST",
                format!("/v1/{P}/cloudimages/{I}/tags/delete"),
                "DELETE",
            ),
        ] {
            assert_eq!(
                parse(method, &path),
                Err(RouteError::MethodNotAllowed { allow }),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn other_paths_are_not_ims() {
        for path in [
            "/v2/images",
            "/v2/images/x",
            "/v2//images/tags",
            "/v2/p/images/tags/",
            "/v2/p/images//tags",
            "/v2/p/images/i/tags/k/x",
            "/v2/p/image/i/tags",
            "/v2/p/images/resource_instances",
            "/v1/cloudimages",
            "/v1/cloudimages/tags/",
            "/v1/p/cloudimages/i/tags",
            "/v1/p/cloudimages/i/tags/remove",
            "/v1//cloudimages/i/tags/delete",
            "/v3/p/images/tags",
            "",
            "/",
        ] {
            assert_eq!(parse("GET", path), Err(RouteError::NotFound), "{path}");
        }
        // An empty key still reaches the handler, which names the rule.
        assert!(matches!(
            parse("DELETE", "/v2/p/images/i/tags/"),
            Ok(Endpoint::DeleteTag { key, .. }) if key.is_empty()
        ));
    }
}
