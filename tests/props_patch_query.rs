//! Property tests of JSON Patch application and the listing query (the
//! `image_tags` rlib) on generated input: neither panics, tags stay valid
//! and unique, limits are clamped or refused. Bounded (a few hundred cases
//! each); PROPTEST_CASES overrides.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod prop_models;

use image_tags::core::identity::Identity;
use image_tags::core::image::Image;
use image_tags::glance::listing::{Query, DEFAULT_LIMIT, MAX_LIMIT};
use image_tags::glance::patch;
use prop_models::*;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const PATCH_CT: Option<&str> = Some("application/openstack-images-v2.1-json-patch");

// ----- strategies -----------------------------------------------------------------

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
