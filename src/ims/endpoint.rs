//! The IMS tag API's paths (the ones huaweicloudsdkims calls), parsed from
//! the method and the raw path into one [`Endpoint`]. Segments stay raw, as
//! in the Glance table: handlers decode them.

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

fn not_allowed(allow: &'static str) -> Result<Endpoint, RouteError> {
    Err(RouteError::MethodNotAllowed { allow })
}

pub fn parse(method: &str, raw_path: &str) -> Result<Endpoint, RouteError> {
    let segments: Vec<&str> = raw_path.split('/').collect();
    let s = |x: &&str| x.to_string();
    // Project and image ids are non-empty; a key may be empty (400 later).
    let named = |x: &&str| !x.is_empty();
    match segments.as_slice() {
        ["", "v2", p, "images", "tags"] if named(p) => match method {
            "GET" => Ok(Endpoint::ProjectTags { project_id: s(p) }),
            _ => not_allowed("GET"),
        },
        ["", "v2", p, "images", "resource_instances", "action"] if named(p) => match method {
            "POST" => Ok(Endpoint::ResourceInstances { project_id: s(p) }),
            _ => not_allowed("POST"),
        },
        ["", "v2", p, "images", i, "tags"] if named(p) && named(i) => {
            let (project_id, image_id) = (s(p), s(i));
            match method {
                "GET" => Ok(Endpoint::ImageTags {
                    project_id,
                    image_id,
                }),
                "POST" => Ok(Endpoint::AddTag {
                    project_id,
                    image_id,
                }),
                _ => not_allowed("GET, POST"),
            }
        }
        ["", "v2", p, "images", i, "tags", k] if named(p) && named(i) => {
            let (project_id, image_id, key) = (s(p), s(i), s(k));
            match method {
                "POST" if key == "action" => Ok(Endpoint::BatchTags {
                    project_id,
                    image_id,
                }),
                "DELETE" => Ok(Endpoint::DeleteTag {
                    project_id,
                    image_id,
                    key,
                }),
                _ if key == "action" => not_allowed("POST, DELETE"),
                _ => not_allowed("DELETE"),
            }
        }
        ["", "v1", "cloudimages", "tags"] => match method {
            "GET" => Ok(Endpoint::LegacyListTags),
            "PUT" => Ok(Endpoint::LegacySetTag),
            _ => not_allowed("GET, PUT"),
        },
        ["", "v1", p, "cloudimages", i, "tags", "delete"] if named(p) && named(i) => match method {
            "DELETE" => Ok(Endpoint::LegacyDeleteTags {
                project_id: s(p),
                image_id: s(i),
            }),
            _ => not_allowed("DELETE"),
        },
        _ => Err(RouteError::NotFound),
    }
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
