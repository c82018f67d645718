//! Property tests of the pure core (the `image_tags` rlib): percent-decoding,
//! the tag rules, JSON Patch application and the listing query, each against a
//! straightforward model of SPEC sections 1-2 on generated input. Bounded (a few
//! hundred cases each) so the file runs in seconds; PROPTEST_CASES overrides.

#![cfg(test)]

use image_tags::core::identity::Identity;
use image_tags::core::image::Image;
use image_tags::core::segment::{self, DecodeError};
use image_tags::core::tag::{self, TagError, MAX_TAG_CHARS};
use image_tags::glance::listing::{Query, DEFAULT_LIMIT, MAX_LIMIT};
use image_tags::glance::{endpoint, patch};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const CASES: u32 = 256;
const PATCH_CT: Option<&str> = Some("application/openstack-images-v2.1-json-patch");

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES),
        // no regression files in the source tree
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- models -------------------------------------------------------------------

/// Strict percent-decoding as SPEC 2.4 states it: every `%` starts two hex
/// digits; the decoded bytes must be UTF-8.
fn model_decode(raw: &str) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| {
                (j < bytes.len())
                    .then(|| (bytes[j] as char).to_digit(16))
                    .flatten()
            };
            match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(DecodeError::BadPercentEncoding),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

/// The tag rules of SPEC 2.4, in their order: encoding, UTF-8, empty, then
/// (PUT only) `=`, control characters (U+0000..U+001F, U+007F; issue 10)
/// and length in code points.
fn model_tag(raw: &str, full: bool) -> Result<String, TagError> {
    let tag = model_decode(raw).map_err(|e| match e {
        DecodeError::BadPercentEncoding => TagError::BadEncoding,
        DecodeError::NotUtf8 => TagError::NotUtf8,
    })?;
    if tag.is_empty() {
        return Err(TagError::Empty);
    }
    if full {
        if tag.contains('=') {
            return Err(TagError::ContainsEquals);
        }
        if tag.chars().any(|c| c < ' ' || c == '\u{7f}') {
            return Err(TagError::ControlCharacter);
        }
        let n = tag.chars().count();
        if n > 255 {
            return Err(TagError::TooLong(n));
        }
    }
    Ok(tag)
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && !t.contains('=')
        && !t.chars().any(|c| c < ' ' || c == '\u{7f}')
        && t.chars().count() <= 255
}

/// Percent-encode `s`, each character either encoded (every byte, hex case
/// chosen by `upper`) or left raw; `%` is always encoded.
fn encode(s: &str, raw_mask: &[bool], upper: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let raw = raw_mask
            .get(i % raw_mask.len().max(1))
            .copied()
            .unwrap_or(false);
        if raw && c != '%' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                if upper {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push_str(&format!("%{b:02x}"));
                }
            }
        }
    }
    out
}

fn dedup(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

// ----- strategies -----------------------------------------------------------------

/// Strings dense in what matters to decoding: `%`, hex digits, `=`, `/`, non-ASCII.
fn raw_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[%0-9a-fA-FgG=/ .+~é€😀]{0,24}",
        any::<String>(),
        // long runs around the 255 code point limit
        ("[a-zé=]", 250usize..262).prop_map(|(c, n)| c.repeat(n)),
    ]
}

/// Tag-like text: mostly valid, sometimes empty, with `=`, a control
/// character, or too long.
fn tag_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 _./:-]{1,12}",
        2 => "\\PC{1,8}",
        1 => Just(String::new()),
        1 => "[a-z]{0,3}=[a-z]{0,3}",
        1 => "[a-z]{0,3}[\\x00-\\x1f\\x7f][a-z]{0,3}",
        1 => (250usize..260).prop_map(|n| "ü".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e3f64..1e12).prop_map(Value::from),
        Just(json!(5.0)),
        Just(json!(2_147_483_648u64)),
        tag_text().prop_map(Value::String),
        select(vec![
            "public",
            "private",
            "shared",
            "community",
            "bare",
            "qcow2",
            "x"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_path() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(vec![
            "/tags", "/tags/0", "/tags/-", "/name", "/visibility", "/protected", "/os_hidden",
            "/min_disk", "/min_ram", "/container_format", "/disk_format", "/owner", "/id",
            "/status", "/self", "/deleted", "/os_distro", "/hw_x", "/a~1b", "/a~0b", "/~2",
            "", "/", "//", "/x/y", "tags",
        ])
        .prop_map(String::from),
        1 => "/\\PC{0,6}",
        1 => any::<String>(),
    ]
}

fn patch_op() -> impl Strategy<Value = Value> {
    let tags_value = prop::collection::vec(tag_text(), 0..7)
        .prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect()));
    (
        select(vec![
            "add", "replace", "remove", "move", "copy", "test", "Add", "junk",
        ]),
        patch_path(),
        prop_oneof![3 => json_value(), 2 => tags_value],
        any::<bool>(),
    )
        .prop_map(|(op, path, value, with_value)| {
            let mut o = json!({"op": op, "path": path});
            if with_value {
                o["value"] = value;
            }
            if op == "move" || op == "copy" {
                o["from"] = json!("/name");
            }
            o
        })
}

fn who() -> impl Strategy<Value = Identity> {
    prop_oneof![
        Just(Identity::new("p", &["member"])),
        Just(Identity::new("p", &["reader"])),
        Just(Identity::new("p", &["admin"])),
        Just(Identity::new("other", &["member"])),
        Just(Identity::new("other", &["admin"])),
    ]
}

fn quota() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (0usize..6).prop_map(Some), Just(Some(128))]
}

fn start_image(tags: Vec<String>) -> Image {
    let mut img = Image::new("6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11".into(), "p".into(), 0);
    img.tags = tags;
    img.extra.insert("hw_x".into(), "1".into());
    img
}

fn query_string() -> impl Strategy<Value = String> {
    let key = select(vec![
        "limit",
        "marker",
        "tag",
        "sort",
        "sort_key",
        "sort_dir",
        "visibility",
        "os_hidden",
        "owner",
        "name",
        "status",
        "member_status",
        "os_distro",
        "",
        "li%6Dit",
        "limit+",
    ]);
    let value = prop_oneof![
        "-?[0-9]{1,25}",
        select(vec![
            "+5",
            "1e3",
            "-0",
            "0x10",
            " 5",
            "1000",
            "1001",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "name:asc,id",
            "name:asc,,id:desc",
            "created_at:up",
            ":asc",
            "name:",
            "asc",
            "desc",
            "all",
            "public",
            "TRUE",
            "%zz",
            "%FF",
            "a+b",
            "a%26b=c",
            "",
        ])
        .prop_map(String::from),
        "\\PC{0,8}",
    ];
    prop_oneof![
        4 => prop::collection::vec((key, value, select(vec!["=", "", "=="])), 0..6).prop_map(
            |pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v, eq)| format!("{k}{eq}{v}"))
                    .collect::<Vec<_>>()
                    .join("&")
            }
        ),
        1 => any::<String>(),
        1 => "[&=%a-z0-9+;]{0,30}",
    ]
}

// ----- properties ------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decode_round_trips_percent_encoded_utf8(
        s in any::<String>(),
        mask in prop::collection::vec(any::<bool>(), 1..8),
        upper in any::<bool>(),
    ) {
        prop_assert_eq!(segment::decode(&encode(&s, &mask, upper)), Ok(s.clone()));
        prop_assert_eq!(segment::decode(&encode(&s, &[false], upper)), Ok(s));
    }

    #[test]
    fn decode_rejects_malformed_escapes(
        prefix in any::<String>(),
        mask in prop::collection::vec(any::<bool>(), 1..4),
        bad in prop_oneof![
            Just(String::new()),
            "[0-9a-fA-F]",
            "[0-9a-fA-F]?[g-zG-Z%/ é=]",
        ],
        suffix in any::<String>(),
    ) {
        // a well-formed prefix, then `%` without two hex digits, then anything
        let raw = format!("{}%{bad}{suffix}", encode(&prefix, &mask, false));
        let next_two_hex = {
            let tail = format!("{bad}{suffix}");
            tail.len() >= 2 && tail.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit)
        };
        prop_assume!(!next_two_hex);
        prop_assert_eq!(segment::decode(&raw), Err(DecodeError::BadPercentEncoding));
    }

    #[test]
    fn decode_agrees_with_the_model(raw in raw_segment()) {
        prop_assert_eq!(segment::decode(&raw), model_decode(&raw));
    }

    #[test]
    fn tag_rules_agree_with_the_spec(
        raw in prop_oneof![
            raw_segment(),
            (tag_text(), prop::collection::vec(any::<bool>(), 1..5), any::<bool>())
                .prop_map(|(t, m, u)| encode(&t, &m, u)),
        ],
        full in any::<bool>(),
    ) {
        let got = tag::from_segment(&raw, full);
        prop_assert_eq!(&got, &model_tag(&raw, full));
        match got {
            Ok(t) => {
                prop_assert!(!full || tag::validate(&t).is_ok());
                prop_assert!(!full || t.chars().count() <= MAX_TAG_CHARS);
            }
            Err(e) => prop_assert!(!e.message().is_empty()),
        }
    }

    #[test]
    fn routes_resolve_any_path_without_panicking(
        method in select(vec!["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "get"]),
        path in prop_oneof![
            "(/[a-z0-9%=.]{0,6}){0,6}/?",
            "/v2/images/[a-z0-9-]{0,8}/tags/[^/?#]{0,10}",
            any::<String>(),
        ],
    ) {
        match endpoint::parse(method, &path) {
            Ok(endpoint::Endpoint::AddTag { tag, .. }) | Ok(endpoint::Endpoint::RemoveTag { tag, .. }) => {
                prop_assert!(!tag.contains('/'));
                let suffix = format!("/tags/{}", tag);
                prop_assert!(path.ends_with(&suffix));
            }
            Ok(_) | Err(endpoint::RouteError::NotFound) => {}
            Err(endpoint::RouteError::MethodNotAllowed { allow }) => {
                prop_assert!(!allow.split(", ").any(|m| m == method));
            }
        }
    }

    #[test]
    fn json_patch_never_panics_and_keeps_tags_valid(
        ops in prop::collection::vec(patch_op(), 0..6),
        start in prop::collection::vec("[a-z]{1,3}", 0..4),
        who in who(),
        quota in quota(),
        garbage in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let start = dedup(&start);
        let start: Vec<String> = start.into_iter().take(quota.unwrap_or(usize::MAX)).collect();
        let body = if garbage { bytes } else { serde_json::to_vec(&Value::Array(ops.clone())).unwrap_or_default() };
        let parsed = match patch::parse(PATCH_CT, &body) {
            Ok(parsed) => parsed,
            Err(e) => {
                prop_assert_eq!(e.status(), 400);
                return Ok(());
            }
        };
        let mut img = start_image(start.clone());
        match patch::apply(&mut img, &parsed, &who, quota) {
            Ok(()) => {
                // the model: /tags add and replace set the whole array deduplicated, remove empties it
                let mut want = start;
                for op in &ops {
                    if op["path"] == "/tags" {
                        match op["op"].as_str() {
                            Some("add" | "replace") => {
                                let tags: Vec<String> = op["value"]
                                    .as_array()
                                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                                    .unwrap_or_default();
                                want = dedup(&tags);
                            }
                            Some("remove") => want.clear(),
                            _ => {}
                        }
                    }
                }
                prop_assert_eq!(&img.tags, &want);
                prop_assert!(img.tags.iter().all(|t| valid_tag(t)), "{:?}", img.tags);
                prop_assert_eq!(img.tags.len(), dedup(&img.tags).len());
                if let Some(q) = quota {
                    prop_assert!(img.tags.len() <= q, "{} tags over quota {}", img.tags.len(), q);
                }
            }
            Err(e) => prop_assert!(
                [400, 403, 409, 413].contains(&e.status()),
                "unexpected {} {}", e.status(), e.message()
            ),
        }
    }

    #[test]
    fn tags_add_and_replace_set_the_whole_array(
        op in select(vec!["add", "replace"]),
        tags in prop::collection::vec(tag_text(), 0..10),
        start in prop::collection::vec("[a-z]{1,3}", 0..3),
        quota in quota(),
    ) {
        let who = Identity::new("p", &["member"]);
        let body = json!([{"op": op, "path": "/tags", "value": tags}]).to_string();
        let parsed = patch::parse(PATCH_CT, body.as_bytes());
        prop_assert!(parsed.is_ok());
        let Ok(parsed) = parsed else { return Ok(()) };
        let mut img = start_image(dedup(&start));
        let result = patch::apply(&mut img, &parsed, &who, quota);
        let want = dedup(&tags);
        if !tags.iter().all(|t| valid_tag(t)) {
            prop_assert_eq!(result.map_err(|e| e.status()), Err(400));
        } else if quota.is_some_and(|q| want.len() > q) {
            prop_assert_eq!(result.map_err(|e| e.status()), Err(413));
        } else {
            prop_assert!(result.is_ok());
            prop_assert_eq!(img.tags, want);
        }
        // and remove empties it, whatever was there
        let remove = patch::parse(PATCH_CT, br#"[{"op":"remove","path":"/tags"}]"#);
        prop_assert!(remove.is_ok());
        if let Ok(remove) = remove {
            let mut img = start_image(dedup(&start));
            prop_assert!(patch::apply(&mut img, &remove, &who, quota).is_ok());
            prop_assert!(img.tags.is_empty());
        }
    }

    #[test]
    fn query_parse_never_panics_and_caps_limit(raw in query_string()) {
        match Query::parse(&raw) {
            Ok(q) => {
                prop_assert!(q.limit <= MAX_LIMIT);
                prop_assert!(!q.sort.is_empty());
                // the links re-parse to the same query, marker set as asked
                let link = q.link(Some("m"));
                prop_assert!(link.starts_with("/v2/images?"));
                let again = Query::parse(link.split_once('?').map(|(_, q)| q).unwrap_or(""));
                prop_assert!(again.is_ok(), "{}", link);
                if let Ok(again) = again {
                    prop_assert_eq!(again.marker.as_deref(), Some("m"));
                    prop_assert_eq!(&again.tags, &q.tags);
                    prop_assert_eq!(again.limit, q.limit);
                    prop_assert_eq!(&again.sort, &q.sort);
                }
            }
            Err(e) => prop_assert_eq!(e.status(), 400),
        }
    }

    #[test]
    fn limit_is_clamped_or_rejected(n in any::<i64>(), big in any::<u128>()) {
        let got = Query::parse(&format!("limit={n}")).map(|q| q.limit).map_err(|e| e.status());
        if n < 0 {
            prop_assert_eq!(got, Err(400));
        } else {
            prop_assert_eq!(got, Ok((n as u64).min(MAX_LIMIT as u64) as usize));
        }
        let got = Query::parse(&format!("limit={big}")).map(|q| q.limit).map_err(|e| e.status());
        prop_assert!(matches!(got, Ok(l) if l <= MAX_LIMIT) || got == Err(400));
        prop_assert_eq!(Query::parse("").map(|q| q.limit).ok(), Some(DEFAULT_LIMIT));
    }
}

/// Found while writing these properties: Glance reads `limit` with Python's
/// `int()`, which strips whitespace, so `limit=+5` (a `+` is a space in a
/// query) and `limit=%205` list 5 images there, and here too.
#[test]
fn limit_with_surrounding_spaces_is_a_number_as_in_glance() {
    for raw in ["limit=+5", "limit=%205", "limit=5+"] {
        let got = Query::parse(raw).map(|q| q.limit).map_err(|e| e.status());
        assert_eq!(got, Ok(5), "{raw}");
    }
}
