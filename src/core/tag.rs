//! The tag rules of SPEC section 2, step 4, and the `k=v` view of a tag
//! that IMS's key/value tags (SPEC section 9) and the key logs share.

use crate::core::segment::{self, DecodeError};

pub const MAX_TAG_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("Tag is not valid percent-encoding.")]
    BadEncoding,
    #[error("Tag does not decode to valid UTF-8.")]
    NotUtf8,
    #[error("Tag must not be empty.")]
    Empty,
    #[error("Tag must not contain '='.")]
    ContainsEquals,
    #[error("Tag must not contain control characters (U+0000 to U+001F, U+007F).")]
    ControlCharacter,
    #[error("Tag is {0} characters long; at most {MAX_TAG_CHARS} are allowed.")]
    TooLong(usize),
}

impl TagError {
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// A tag as a client may set it: non-empty, no `=`, no C0 control
/// character or DEL, at most 255 code points. Spaces and case are kept as
/// sent. Every route that sets tags (PUT, and the arrays of POST and PATCH)
/// goes through this one function.
pub fn validate(tag: &str) -> Result<(), TagError> {
    if tag.is_empty() {
        return Err(TagError::Empty);
    }
    if tag.contains('=') {
        return Err(TagError::ContainsEquals);
    }
    // Glance stores them; a NUL, newline or ESC in a tag breaks log lines,
    // terminals and clients that print tags. The rule is the ASCII controls
    // (C0 and DEL) only: C1 (U+0080..U+009F) stays allowed, as in Glance.
    if tag.chars().any(|c| c.is_ascii_control()) {
        return Err(TagError::ControlCharacter);
    }
    let chars = tag.chars().count();
    if chars > MAX_TAG_CHARS {
        return Err(TagError::TooLong(chars));
    }
    Ok(())
}

/// Decode a raw path segment into a tag. `full` applies every rule (PUT);
/// otherwise only decoding and emptiness (DELETE: a tag breaking the other
/// rules cannot be on an image, so the caller answers 404 later).
pub fn from_segment(raw: &str, full: bool) -> Result<String, TagError> {
    let tag = segment::decode(raw).map_err(|e| match e {
        DecodeError::BadPercentEncoding => TagError::BadEncoding,
        DecodeError::NotUtf8 => TagError::NotUtf8,
    })?;
    if full {
        validate(&tag)?;
    } else if tag.is_empty() {
        return Err(TagError::Empty);
    }
    Ok(tag)
}

/// A tag as IMS's key/value view reads it: `k=v` is key `k` with value
/// `v`, split at the first `=`; a plain `k` is key `k` without one. The
/// indexes (a key's log) and the IMS routes both read tags through this.
pub fn split(tag: &str) -> (&str, Option<&str>) {
    match tag.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (tag, None),
    }
}

/// The tag a key/value pair is stored as: an empty value is the plain key.
pub fn join(key: &str, value: &str) -> String {
    if value.is_empty() {
        key.to_string()
    } else {
        format!("{key}={value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_order() {
        assert_eq!(from_segment("ok", true).unwrap(), "ok");
        assert_eq!(from_segment("%zz", true), Err(TagError::BadEncoding));
        assert_eq!(from_segment("%FF", true), Err(TagError::NotUtf8));
        assert_eq!(from_segment("", true), Err(TagError::Empty));
        assert_eq!(from_segment("a%3Db", true), Err(TagError::ContainsEquals));
        assert_eq!(from_segment("a=b", true), Err(TagError::ContainsEquals));
        for control in ["a%00b", "%0A", "x%1B", "%7F", "tab%09", "a\u{1}"] {
            assert_eq!(
                from_segment(control, true),
                Err(TagError::ControlCharacter),
                "{control}"
            );
        }
        assert_eq!(from_segment("%C2%80", true).unwrap(), "\u{80}");
        assert_eq!(from_segment("a%2Fb", true).unwrap(), "a/b");
        assert_eq!(from_segment("Mixed%20Case", true).unwrap(), "Mixed Case");
    }

    #[test]
    fn length_counts_code_points_after_decoding() {
        let ok = "%C3%BC".repeat(255);
        assert_eq!(from_segment(&ok, true).unwrap().chars().count(), 255);
        let long = "%C3%BC".repeat(256);
        assert_eq!(from_segment(&long, true), Err(TagError::TooLong(256)));
    }

    #[test]
    fn delete_checks_only_encoding_and_emptiness() {
        assert_eq!(from_segment("a=b", false).unwrap(), "a=b");
        assert_eq!(from_segment(&"x".repeat(300), false).unwrap().len(), 300);
        assert_eq!(from_segment("", false), Err(TagError::Empty));
        assert_eq!(from_segment("%FF", false), Err(TagError::NotUtf8));
        // A control-character tag stored before the rule can still be removed.
        assert_eq!(from_segment("a%00b", false).unwrap(), "a\u{0}b");
    }
}
