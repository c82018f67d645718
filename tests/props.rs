//! Property tests of the pure core (the `image_tags` rlib): percent-decoding,
//! the tag rules and the route table, each against a straightforward model of
//! SPEC sections 1-2 on generated input. Bounded (a few hundred cases each) so
//! the file runs in seconds; PROPTEST_CASES overrides. JSON Patch and the
//! listing query: `props_patch_query.rs`.

#![cfg(test)]

mod prop_models;

use image_tags::core::segment::{self, DecodeError};
use image_tags::core::tag::{self, TagError, MAX_TAG_CHARS};
use image_tags::glance::endpoint;
use prop_models::*;
use proptest::prelude::*;
use proptest::sample::select;

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
}
