//! Path segments arrive raw; each is percent-decoded here, strictly: a `%`
//! not followed by two hex digits is an error, not a literal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    BadPercentEncoding,
    NotUtf8,
}

pub fn decode(raw: &str) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    // percent-encoding passes a malformed escape through unchanged; reject it first.
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(DecodeError::BadPercentEncoding);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| DecodeError::NotUtf8)
}

/// An id from a path segment. One that does not decode cannot be a stored
/// id: it is kept raw, and gets the same 404 as any unknown id.
pub fn decode_id(raw: &str) -> String {
    decode(raw).unwrap_or_else(|_| raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_and_slashes() {
        assert_eq!(decode("a%20b").unwrap(), "a b");
        assert_eq!(decode("%C3%BC").unwrap(), "ü");
        assert_eq!(decode("a%2Fb").unwrap(), "a/b");
        assert_eq!(decode("plain").unwrap(), "plain");
        assert_eq!(decode("a+b").unwrap(), "a+b");
    }

    #[test]
    fn rejects_bad_escapes_and_invalid_utf8() {
        assert_eq!(decode("%"), Err(DecodeError::BadPercentEncoding));
        assert_eq!(decode("%4"), Err(DecodeError::BadPercentEncoding));
        assert_eq!(decode("%zz"), Err(DecodeError::BadPercentEncoding));
        assert_eq!(decode("%FF"), Err(DecodeError::NotUtf8));
        assert_eq!(decode("%C3"), Err(DecodeError::NotUtf8));
    }
}
