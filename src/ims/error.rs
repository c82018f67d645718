//! Errors on the IMS routes: IMS's shape, `{"error": {"code": "IMG.nnnn",
//! "message": "..."}}` (huaweicloudsdkcore reads `code` and `message` from
//! it into `error_code` and `error_msg`), with the headers the status
//! carries (`Retry-After`, `Allow`).
//!
//! The code follows the core error's variant. Codes are from IMS's
//! published error-code table where one fits; IMS answers most of them with
//! 400, this service keeps the status its contract gives the case (404 for
//! a missing image, 403 for another project).

use crate::core::error::Error;
use crate::http::Response;
use serde_json::json;

/// The request message format is invalid.
pub const MALFORMED: &str = "IMG.0001";
/// The request body is empty.
pub const BODY_EMPTY: &str = "IMG.0007";
/// The project ID is incorrect.
pub const WRONG_PROJECT: &str = "IMG.0067";
/// The image tag is invalid.
pub const TAG_INVALID: &str = "IMG.0115";
/// The number of image tags exceeds the quota.
pub const TAG_LIMIT: &str = "IMG.0116";
/// The object cannot be found.
pub const NOT_FOUND: &str = "IMG.0121";
/// The image does not exist.
pub const IMAGE_NOT_FOUND: &str = "IMG.0144";
/// You do not have permission.
pub const NO_PERMISSION: &str = "IMG.0161";
/// Unknown system error.
pub const SYSTEM_ERROR: &str = "IMG.0061";
/// IMS has no IMG code for a failed authentication: Huawei Cloud's API
/// gateway answers it, with this code.
pub const UNAUTHORIZED: &str = "APIGW.0301";

/// IMS's code for the error.
pub fn code(error: &Error) -> &'static str {
    match error {
        Error::EmptyBody => BODY_EMPTY,
        Error::TagInvalid(_) => TAG_INVALID,
        Error::TooManyTags { .. } => TAG_LIMIT,
        Error::Unauthorized { .. } => UNAUTHORIZED,
        Error::Forbidden(_) | Error::ModifyDenied => NO_PERMISSION,
        Error::WrongProject(_) => WRONG_PROJECT,
        Error::ImageNotFound(_) => IMAGE_NOT_FOUND,
        Error::NotFound(_) | Error::TagNotFound { .. } => NOT_FOUND,
        Error::Internal { .. } | Error::Unavailable { .. } => SYSTEM_ERROR,
        Error::BadRequest(_)
        | Error::MethodNotAllowed(_)
        | Error::Conflict(_)
        | Error::TooLarge(_)
        | Error::UnsupportedMediaType(_) => MALFORMED,
    }
}

/// IMS answers a tag limit with 400; the rest keep the core's status.
pub fn status(error: &Error) -> u16 {
    match error {
        Error::TooManyTags { .. } => 400,
        other => other.status(),
    }
}

/// What IMS says where its words differ from the core's.
fn message(error: &Error) -> String {
    match error {
        Error::TooManyTags {
            key: Some(key),
            attempted,
            max,
            ..
        } => {
            format!("An image takes at most {max} tags; adding key {key:?} would make {attempted}.")
        }
        other => other.message(),
    }
}

/// The IMS error response of `error`.
pub fn render(error: &Error, _request_id: &str) -> Response {
    let body = json!({"error": {"code": code(error), "message": message(error)}});
    let mut response = Response::json(status(error), &body);
    response.headers.extend(error.headers());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn body(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn the_body_has_ims_shape_and_the_status_keeps_its_headers() {
        let r = render(&Error::TagInvalid("Tag key is bad.".into()), "req-1");
        assert_eq!(r.status, 400);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            body(&r),
            json!({"error": {"code": "IMG.0115", "message": "Tag key is bad."}})
        );
        let r = render(&Error::unavailable("kv down"), "req-2");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(body(&r)["error"]["code"], "IMG.0061");
        assert!(!String::from_utf8(r.body).unwrap().contains("kv down"));
    }

    #[test]
    fn codes_follow_the_variant_not_the_status() {
        assert_eq!(code(&Error::image_not_found("x")), IMAGE_NOT_FOUND);
        let missing_key = Error::TagNotFound {
            image: "i".into(),
            key: "k".into(),
        };
        assert_eq!((code(&missing_key), status(&missing_key)), (NOT_FOUND, 404));
        assert_eq!(code(&Error::Forbidden("no".into())), NO_PERMISSION);
        assert_eq!(code(&Error::ModifyDenied), NO_PERMISSION);
        assert_eq!(code(&Error::WrongProject("p".into())), WRONG_PROJECT);
        assert_eq!(Error::WrongProject("p".into()).status(), 403);
        assert_eq!(code(&Error::BadRequest("no".into())), MALFORMED);
        assert_eq!(code(&Error::MethodNotAllowed("GET")), MALFORMED);
        assert_eq!(code(&Error::internal("bad record")), SYSTEM_ERROR);
        let r = render(&Error::MethodNotAllowed("GET, POST"), "r");
        assert_eq!(r.header("allow"), Some("GET, POST"));
        let limit = Error::TooManyTags {
            image: "i".into(),
            attempted: 4,
            max: 3,
            key: Some("k".into()),
        };
        let r = render(&limit, "r");
        assert_eq!(r.status, 400);
        assert_eq!(
            body(&r),
            json!({"error": {"code": "IMG.0116", "message": "An image takes at most 3 tags; adding key \"k\" would make 4."}})
        );
    }
}
