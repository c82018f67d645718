//! Errors as Glance (and every OpenStack API) answers them, SPEC section 3:
//! `{"error": {"code", "title", "message", "request_id"}}`, with the
//! headers some statuses carry.

use crate::core::error::Error;
use crate::http::Response;
use serde_json::json;

/// The status text of `title`.
fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    }
}

/// What Glance says where its words differ from the core's.
fn message(error: &Error) -> String {
    match error {
        // Glance does not name the tag it did not find.
        Error::TagNotFound { .. } => "The resource could not be found.".into(),
        other => other.message(),
    }
}

/// The OpenStack error body of `error`, with its status-specific headers.
pub fn render(error: &Error, request_id: &str) -> Response {
    let status = error.status();
    let body = json!({"error": {
        "code": status,
        "title": title(status),
        "message": message(error),
        "request_id": request_id,
    }});
    let mut response = Response::json(status, &body);
    response.headers.extend(error.headers());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn error_body_has_the_openstack_shape() {
        let r = render(&Error::image_not_found("x"), "req-1");
        assert_eq!(r.status, 404);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["title"], "Not Found");
        assert_eq!(v["error"]["message"], "Image x not found.");
        assert_eq!(v["error"]["request_id"], "req-1");
        let r = render(&Error::unavailable("kv down"), "req-2");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(!String::from_utf8(r.body).unwrap().contains("kv down"));
        let r = render(&Error::image_not_found(&"a".repeat(60_000)), "req-1");
        assert!(r.body.len() < 2048, "{}", r.body.len());
    }

    #[test]
    fn the_headers_follow_the_variant() {
        let r = render(&Error::MethodNotAllowed("GET, POST"), "r");
        assert_eq!(r.header("allow"), Some("GET, POST"));
        let r = render(
            &Error::Unauthorized {
                keystone_uri: Some("http://ks:5000".into()),
                reason: None,
                detail: None,
            },
            "r",
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some("Keystone uri=\"http://ks:5000\"")
        );
        let r = render(
            &Error::TagNotFound {
                image: "i".into(),
                key: "k".into(),
            },
            "r",
        );
        assert_eq!(r.status, 404);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["message"], "The resource could not be found.");
    }
}
