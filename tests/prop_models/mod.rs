//! What the property test files share: the proptest configuration, a
//! strategy for tag-like text, and the models of valid and de-duplicated tags.
#![allow(dead_code)]

use proptest::prelude::*;

pub const CASES: u32 = 256;

pub fn config() -> ProptestConfig {
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

pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && !t.contains('=')
        && !t.chars().any(|c| c < ' ' || c == '\u{7f}')
        && t.chars().count() <= 255
}

pub fn dedup(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// Tag-like text: mostly valid, sometimes empty, with `=`, a control
/// character, or too long.
pub fn tag_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 _./:-]{1,12}",
        2 => "\\PC{1,8}",
        1 => Just(String::new()),
        1 => "[a-z]{0,3}=[a-z]{0,3}",
        1 => "[a-z]{0,3}[\\x00-\\x1f\\x7f][a-z]{0,3}",
        1 => (250usize..260).prop_map(|n| "ü".repeat(n)),
    ]
}
