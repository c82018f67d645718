//! The request path on arbitrary bytes: the route table (`glance::endpoint::parse`, `ims::endpoint::parse`),
//! percent-decoding of every segment (`segment::decode`), the tag rules
//! (`tag::from_segment`) and the listing query (`listing::Query::parse` and
//! the `first`/`next` links it builds). Panics are findings, and so are broken
//! invariants, asserted below.
//!
//! Input: byte 0 picks the method; the rest, as (lossy) UTF-8, is the request
//! target `path[?query]`.
#![no_main]

use image_tags::core::{segment, tag};
use image_tags::glance::endpoint::{self, Endpoint, RouteError};
use image_tags::glance::listing::{Query, MAX_LIMIT};
use image_tags::{ims, service};
use libfuzzer_sys::fuzz_target;

const METHODS: &[&str] = &[
    "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "get", "",
];

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn check_segment(raw: &str) {
    if let Ok(decoded) = segment::decode(raw) {
        // whatever decodes, re-encoded, decodes to the same string
        assert_eq!(
            segment::decode(&encode(&decoded)).as_deref(),
            Ok(decoded.as_str())
        );
    }
    match tag::from_segment(raw, true) {
        Ok(t) => {
            assert!(!t.is_empty() && !t.contains('=') && t.chars().count() <= tag::MAX_TAG_CHARS)
        }
        Err(e) => assert!(!e.message().is_empty()),
    }
    if let Ok(t) = tag::from_segment(raw, false) {
        assert!(!t.is_empty());
    }
}

fn check_query(raw: &str) {
    let Ok(q) = Query::parse(raw) else { return };
    assert!(q.limit <= MAX_LIMIT, "limit {} from {raw:?}", q.limit);
    assert!(!q.sort.is_empty());
    for marker in [None, Some("6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11")] {
        let link = q.link(marker);
        assert!(link.starts_with("/v2/images"));
        let again = Query::parse(link.split_once('?').map(|(_, q)| q).unwrap_or(""))
            .unwrap_or_else(|e| panic!("link {link:?} of {raw:?} does not parse: {}", e.message()));
        assert_eq!(again.tags, q.tags);
        assert_eq!(again.limit, q.limit);
        assert_eq!(again.sort, q.sort);
        assert_eq!(again.properties, q.properties);
        assert_eq!(again.marker.as_deref(), marker);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[m as usize % METHODS.len()];
    let target = String::from_utf8_lossy(rest);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));

    let _ = service::needs_identity(path);
    let _ = ims::endpoint::parse(method, path);
    match endpoint::parse(method, path) {
        Ok(Endpoint::AddTag { image_id, tag: raw }) | Ok(Endpoint::RemoveTag { image_id, tag: raw }) => {
            assert!(!raw.contains('/') && !image_id.contains('/'));
            assert!(path.ends_with(&format!("/tags/{raw}")));
            check_segment(&raw);
            check_segment(&image_id);
        }
        Ok(Endpoint::ShowImage { image_id })
        | Ok(Endpoint::UpdateImage { image_id })
        | Ok(Endpoint::DeleteImage { image_id }) => {
            assert!(!image_id.is_empty() && !image_id.contains('/'));
            check_segment(&image_id);
        }
        Ok(_) | Err(RouteError::NotFound) => {}
        Err(RouteError::MethodNotAllowed { allow }) => {
            assert!(
                !allow.split(", ").any(|a| a == method),
                "{method} {path}: Allow {allow}"
            );
        }
    }
    for seg in path.split('/') {
        check_segment(seg);
    }
    check_query(query);
});
