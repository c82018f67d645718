//! Errors on the IMS routes: IMS's shape, `{"error": {"code": "IMG.nnnn",
//! "message": "..."}}` (huaweicloudsdkcore reads `code` and `message` from
//! it into `error_code` and `error_msg`), over the shared [`ApiError`],
//! which keeps the status and its headers (`Retry-After`, `Allow`).
//!
//! Codes are from IMS's published error-code table where one fits; IMS
//! answers most of them with 400, this service keeps the status its
//! contract gives the case (404 for a missing image, 403 for another
//! project).

use crate::http::{ApiError, Response};
use serde_json::Value;

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

#[derive(Debug, Clone, PartialEq)]
pub struct ImsError {
    pub error: ApiError,
    pub code: &'static str,
}

impl ImsError {
    pub fn new(code: &'static str, error: ApiError) -> Self {
        ImsError { error, code }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        ImsError::new(MALFORMED, ApiError::BadRequest(message.into()))
    }

    pub fn body_empty() -> Self {
        ImsError::new(
            BODY_EMPTY,
            ApiError::BadRequest("The request body is empty.".into()),
        )
    }

    pub fn tag_invalid(message: impl Into<String>) -> Self {
        ImsError::new(TAG_INVALID, ApiError::BadRequest(message.into()))
    }

    pub fn tag_limit(message: impl Into<String>) -> Self {
        ImsError::new(TAG_LIMIT, ApiError::BadRequest(message.into()))
    }

    pub fn wrong_project(project_id: &str) -> Self {
        ImsError::new(
            WRONG_PROJECT,
            ApiError::Forbidden(format!(
                "Project {project_id} is not the project of the credentials used."
            )),
        )
    }

    pub fn tag_not_found(image_id: &str, key: &str) -> Self {
        ImsError::new(
            NOT_FOUND,
            ApiError::NotFound(format!("Image {image_id} has no tag with key {key:?}.")),
        )
    }

    pub fn detail(&self) -> Option<String> {
        self.error.detail().map(str::to_string)
    }

    /// The shared error response (status, headers), with IMS's body.
    pub fn to_response(&self, request_id: &str) -> Response {
        let mut response = self.error.to_response(request_id);
        let error = super::object([
            ("code", Value::String(self.code.into())),
            ("message", Value::String(self.error.message())),
        ]);
        let body = super::object([("error", error)]);
        response.body = body.to_string().into_bytes();
        response
    }
}

/// The code a shared error takes on an IMS route when the handler did not
/// name a more precise one.
impl From<ApiError> for ImsError {
    fn from(error: ApiError) -> Self {
        let code = match error.status() {
            401 => UNAUTHORIZED,
            403 => NO_PERMISSION,
            404 => IMAGE_NOT_FOUND,
            500 | 503 => SYSTEM_ERROR,
            _ => MALFORMED,
        };
        ImsError { error, code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn the_body_has_ims_shape_and_the_status_keeps_its_headers() {
        let r = ImsError::tag_invalid("Tag key is bad.").to_response("req-1");
        assert_eq!(r.status, 400);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            body(&r),
            json!({"error": {"code": "IMG.0115", "message": "Tag key is bad."}})
        );
        let r = ImsError::from(ApiError::unavailable("kv down")).to_response("req-2");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(body(&r)["error"]["code"], "IMG.0061");
        assert!(!String::from_utf8(r.body).unwrap().contains("kv down"));
    }

    #[test]
    fn shared_errors_take_a_code_by_status() {
        let code = |e: ApiError| ImsError::from(e).code;
        assert_eq!(code(ApiError::image_not_found("x")), IMAGE_NOT_FOUND);
        assert_eq!(code(ApiError::Forbidden("no".into())), NO_PERMISSION);
        assert_eq!(code(ApiError::BadRequest("no".into())), MALFORMED);
        assert_eq!(code(ApiError::MethodNotAllowed("GET")), MALFORMED);
        assert_eq!(code(ApiError::internal("bad record")), SYSTEM_ERROR);
        let r = ImsError::from(ApiError::MethodNotAllowed("GET, POST")).to_response("r");
        assert_eq!(r.header("allow"), Some("GET, POST"));
        assert_eq!(ImsError::wrong_project("p").error.status(), 403);
    }
}
