//! The tag rules of SPEC section 2, step 4.

use crate::segment::{self, DecodeError};

pub const MAX_TAG_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    BadEncoding,
    NotUtf8,
    Empty,
    ContainsEquals,
    TooLong(usize),
}

impl TagError {
    pub fn message(&self) -> String {
        match self {
            TagError::BadEncoding => "Tag is not valid percent-encoding.".into(),
            TagError::NotUtf8 => "Tag does not decode to valid UTF-8.".into(),
            TagError::Empty => "Tag must not be empty.".into(),
            TagError::ContainsEquals => "Tag must not contain '='.".into(),
            TagError::TooLong(n) => {
                format!("Tag is {n} characters long; at most {MAX_TAG_CHARS} are allowed.")
            }
        }
    }
}

/// A tag as a client may set it: non-empty, no `=`, at most 255 code points.
/// Spaces and case are kept as sent.
pub fn validate(tag: &str) -> Result<(), TagError> {
    if tag.is_empty() {
        return Err(TagError::Empty);
    }
    if tag.contains('=') {
        return Err(TagError::ContainsEquals);
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
    }
}
