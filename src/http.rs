//! Plain request and response values, so the core runs and is tested without
//! Spin. The component edge converts to and from spin-sdk's types.

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

/// Why a path and method name no endpoint of an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed { allow: &'static str },
}

/// An API's route table as a `matchit` router: a `{name}` segment takes any
/// one non-empty segment of the raw path, so `%2F` stays inside it. Each
/// entry is (pattern, the endpoint kind, the methods it takes for `Allow`).
pub fn router<P: Copy>(table: &[(&str, P, &'static str)]) -> matchit::Router<(P, &'static str)> {
    let mut router = matchit::Router::new();
    for (pattern, path, allow) in table {
        // The tables are fixed; each API's unit test checks every pattern inserts.
        let _ = router.insert(*pattern, (*path, *allow));
    }
    router
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

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
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

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`):
/// Spin continues the caller's trace, so the access-log line and the trace
/// Spin exports (`OTEL_EXPORTER_OTLP_ENDPOINT`) share it.
pub fn trace_id(traceparent: Option<&str>) -> Option<&str> {
    let id = traceparent?.trim().split('-').nth(1)?;
    let hex = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && id.bytes().any(|b| b != b'0')).then_some(id)
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
    }

    #[test]
    fn a_trace_id_comes_from_a_well_formed_traceparent_only() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let header = format!("00-{id}-00f067aa0ba902b7-01");
        assert_eq!(trace_id(Some(&header)), Some(id));
        assert_eq!(trace_id(None), None);
        assert_eq!(trace_id(Some("00-xyz-00f067aa0ba902b7-01")), None);
        let zero = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
        assert_eq!(trace_id(Some(&zero)), None, "all zeros is invalid");
    }
}
