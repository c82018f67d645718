//! Plain request and response values, so the core runs and is tested without
//! Spin. The component edge converts to and from spin-sdk's types.

use serde_json::{json, Value};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct Request {
    /// Upper-case method name, as sent.
    pub method: String,
    /// The raw path, percent-encoding untouched.
    pub path: String,
    /// The raw query string without `?`, empty when absent.
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// What the edge read of the body: at most `max_request_body_bytes`.
    pub body: Vec<u8>,
    /// The body was longer than `max_request_body_bytes` (by its
    /// `Content-Length`, or once that many bytes were read). The edge then
    /// stops reading and leaves `body` empty; the core answers 413.
    pub body_over_limit: bool,
    /// `scheme://authority` the request came in on, for `Location`, `self` links, discovery.
    pub base: String,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.to_string(), String::new()),
        };
        Request {
            method: method.to_ascii_uppercase(),
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            body_over_limit: false,
            base: "http://localhost".to_string(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The first value of a header, by case-insensitive name.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &Value) -> Self {
        Response::json_text(status, value.to_string())
    }

    /// A JSON body already serialized.
    pub fn json_text(status: u16, text: String) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: text.into_bytes(),
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Every failure a request can end in. Each maps to one status and a short
/// message; details for operators go to the log line, never to the body.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized {
        /// Keystone mode: the `WWW-Authenticate` challenge's `uri`.
        keystone_uri: Option<String>,
        /// Why, when the client may be told (a signature's precise fault);
        /// `None`: the generic message.
        reason: Option<String>,
        /// Operator-only: what the log line carries. Never a secret.
        detail: Option<String>,
    },
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(&'static str),
    Conflict(String),
    TooLarge(String),
    UnsupportedMediaType(String),
    /// Our own fault (a record that does not parse, a misconfiguration).
    Internal {
        message: String,
        detail: String,
    },
    /// The host's fault (store, identity provider): try again later.
    Unavailable {
        detail: String,
    },
}

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::Internal {
            message:
                "The server has either erred or is incapable of performing the requested operation."
                    .into(),
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::Unavailable {
            detail: detail.into(),
        }
    }

    /// 401 with the generic message.
    pub fn unauthorized() -> Self {
        ApiError::Unauthorized {
            keystone_uri: None,
            reason: None,
            detail: None,
        }
    }

    pub fn image_not_found(id: &str) -> Self {
        ApiError::NotFound(format!("Image {} not found.", echo(id)))
    }

    pub fn resource_not_found() -> Self {
        ApiError::NotFound("The resource could not be found.".into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Internal { .. } => 500,
            ApiError::Unavailable { .. } => 503,
        }
    }

    pub fn title(&self) -> &'static str {
        match self.status() {
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

    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::TooLarge(m)
            | ApiError::UnsupportedMediaType(m) => m.clone(),
            ApiError::Unauthorized {
                reason: Some(reason),
                ..
            } => reason.clone(),
            ApiError::Unauthorized { .. } => {
                "The request you have made requires authentication.".into()
            }
            ApiError::MethodNotAllowed(_) => {
                "The method is not allowed for the requested URL.".into()
            }
            ApiError::Internal { message, .. } => message.clone(),
            ApiError::Unavailable { .. } => {
                "The service is temporarily unavailable. Try again later.".into()
            }
        }
    }

    /// What the log line carries beyond the status: never shown to clients.
    pub fn detail(&self) -> Option<&str> {
        match self {
            ApiError::Internal { detail, .. } | ApiError::Unavailable { detail } => Some(detail),
            ApiError::Unauthorized {
                detail: Some(detail),
                ..
            } => Some(detail),
            _ => None,
        }
    }

    /// The JSON error body of SPEC section 3, with its status-specific headers.
    pub fn to_response(&self, request_id: &str) -> Response {
        let body = json!({"error": {
            "code": self.status(),
            "title": self.title(),
            "message": self.message(),
            "request_id": request_id,
        }});
        let response = Response::json(self.status(), &body);
        match self {
            ApiError::MethodNotAllowed(allow) => response.with_header("allow", *allow),
            ApiError::Unavailable { .. } => {
                response.with_header("retry-after", RETRY_AFTER_SECONDS.to_string())
            }
            ApiError::Unauthorized {
                keystone_uri: Some(uri),
                ..
            } => response.with_header("www-authenticate", format!("Keystone uri=\"{uri}\"")),
            _ => response,
        }
    }
}

/// How much of a client's text an error message quotes.
pub const ECHO_CHARS: usize = 64;

/// Client text (an id, a tag, a marker, a header, a property name) as an
/// error message or log line quotes it: its first [`ECHO_CHARS`] characters,
/// then `…` when there were more. A hostile 60 KiB id must not come back
/// as a 60 KiB answer.
pub fn echo(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => Cow::Owned(format!("{}…", text.get(..cut).unwrap_or_default())),
        None => Cow::Borrowed(text),
    }
}

/// `x-openstack-request-id`: reuse a caller's id of at most 64 characters
/// (adding `req-` when missing), else mint `req-<uuid4>`.
pub fn request_id(incoming: Option<&str>) -> String {
    match incoming.map(str::trim) {
        Some(id) if !id.is_empty() && id.chars().count() <= 64 && id.chars().all(is_id_char) => {
            if id.starts_with("req-") {
                id.to_string()
            } else {
                format!("req-{id}")
            }
        }
        _ => format!("req-{}", uuid::Uuid::new_v4()),
    }
}

/// Header-safe characters only: an id is echoed back in a header and a log line.
fn is_id_char(c: char) -> bool {
    c.is_ascii_graphic()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_reused_or_minted() {
        assert_eq!(request_id(Some("req-abc")), "req-abc");
        assert_eq!(request_id(Some("abc")), "req-abc");
        let minted = request_id(None);
        assert!(minted.starts_with("req-") && minted.len() == 40, "{minted}");
        let long = "x".repeat(65);
        assert_ne!(request_id(Some(&long)), format!("req-{long}"));
        assert_ne!(request_id(Some("a\u{7f}b")), "req-a\u{7f}b");
    }

    #[test]
    fn echo_keeps_64_characters() {
        assert_eq!(echo("short"), "short");
        let exact = "x".repeat(64);
        assert_eq!(echo(&exact), exact);
        assert_eq!(echo(&"x".repeat(65)), format!("{exact}…"));
        // Characters, not bytes: a multi-byte character is never split.
        let wide = "ü".repeat(100);
        assert_eq!(echo(&wide), format!("{}…", "ü".repeat(64)));
        let r = ApiError::image_not_found(&"a".repeat(60_000)).to_response("req-1");
        assert!(r.body.len() < 2048, "{}", r.body.len());
    }

    #[test]
    fn error_body_has_the_openstack_shape() {
        let r = ApiError::image_not_found("x").to_response("req-1");
        assert_eq!(r.status, 404);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["title"], "Not Found");
        assert_eq!(v["error"]["message"], "Image x not found.");
        assert_eq!(v["error"]["request_id"], "req-1");
        let r = ApiError::unavailable("kv down").to_response("req-2");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(!String::from_utf8(r.body).unwrap().contains("kv down"));
    }
}
