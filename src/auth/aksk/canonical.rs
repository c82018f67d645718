//! The canonical form of a request that an `SDK-HMAC-SHA256` signature
//! covers, rebuilt from what arrived on the wire, exactly as
//! huaweicloudsdkcore's `Signer` builds it from the request it sends.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Python's `quote(s, safe='~')`: every byte but RFC 3986's unreserved set.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a client sends in `X-Sdk-Content-Sha256` to leave the body unsigned.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

fn encode(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// Python's `unquote`: bad escapes stay as they are, bad UTF-8 becomes U+FFFD.
fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The raw path percent-decoded, split on `/`, each piece re-encoded, and
/// always ending in `/`: a `%2F` inside a segment signs as a `/`.
pub fn uri(raw_path: &str) -> String {
    let decoded = decode(raw_path);
    let mut uri = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The query's `key=value` pairs, decoded as the handlers decode them
/// ([`crate::query::pairs`]), sorted by key then value, and re-encoded. The
/// signer sorts the decoded parameters, so the order of the encoded text
/// would differ (`.` sorts after `%2F`). A raw `+` is a space, as it is to
/// the handlers: the signer sends `%20` for a space and `%2B` for a `+`, so
/// its signatures verify, and a `%2B` re-sent as `+` signs as `%20`: it no
/// longer verifies (issue 17).
pub fn query(raw_query: &str) -> String {
    let mut pairs = crate::query::pairs(raw_query);
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The payload line: the body's SHA-256, or `UNSIGNED-PAYLOAD` when the
/// client said so for a body it sent. An empty body always hashes.
pub fn payload(body: &[u8], content_sha256: Option<&str>) -> String {
    match content_sha256 {
        Some(UNSIGNED_PAYLOAD) if !body.is_empty() => UNSIGNED_PAYLOAD.to_string(),
        _ => sha256_hex(body),
    }
}

/// The parts of a request the canonical form is made of; header values as
/// received (they are trimmed here).
pub struct Parts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// `(name, value)` of each signed header, names lower-cased, in the
    /// order of the `SignedHeaders` list.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a str,
}

/// Method, URI, query, one `name:value` line per signed header, a blank
/// line, the signed-header list, and the payload hash.
pub fn request(parts: &Parts<'_>) -> String {
    let mut out = format!(
        "{}\n{}\n{}\n",
        parts.method.to_ascii_uppercase(),
        uri(parts.raw_path),
        query(parts.raw_query)
    );
    for (name, value) in parts.headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('\n');
    let names: Vec<&str> = parts.headers.iter().map(|(name, _)| *name).collect();
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(parts.payload);
    out
}

/// `SDK-HMAC-SHA256\n{X-Sdk-Date}\n{hex sha256(canonical request)}`.
pub fn string_to_sign(date: &str, canonical_request: &str) -> String {
    format!(
        "{}\n{date}\n{}",
        super::authorization::ALGORITHM,
        sha256_hex(canonical_request.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_decodes_splits_and_reencodes() {
        assert_eq!(uri("/"), "/");
        assert_eq!(uri("/v2/images"), "/v2/images/");
        assert_eq!(uri("/v2/images/"), "/v2/images/");
        assert_eq!(uri("/v2/images/x/tags/a%2Fb"), "/v2/images/x/tags/a/b/");
        assert_eq!(uri("/t/caf%C3%A9%20x~"), "/t/caf%C3%A9%20x~/");
        assert_eq!(uri("/t/a:b@c+d!"), "/t/a%3Ab%40c%2Bd%21/");
        assert_eq!(uri("/t/%zz%e9"), "/t/%25zz%EF%BF%BD/");
    }

    #[test]
    fn query_sorts_decoded_pairs() {
        assert_eq!(query(""), "");
        assert_eq!(query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(query("k=a%2Fb&k=a.b"), "k=a.b&k=a%2Fb");
        assert_eq!(query("flag&x=a+b%20c%2Bd"), "flag=&x=a%20b%20c%2Bd");
        assert_eq!(query("&&n=%E4%B8%AD"), "n=%E4%B8%AD");
        // One reading with the handlers (issue 17): a raw `+` is a space.
        assert_eq!(query("tag=a+b"), query("tag=a%20b"));
        assert_ne!(query("tag=a+b"), query("tag=a%2Bb"));
    }

    #[test]
    fn payload_is_hashed_unless_unsigned_and_present() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(payload(b"", None), empty);
        assert_eq!(payload(b"", Some(UNSIGNED_PAYLOAD)), empty);
        assert_eq!(payload(b"x", Some(UNSIGNED_PAYLOAD)), UNSIGNED_PAYLOAD);
        assert_eq!(payload(b"x", Some("abc")), sha256_hex(b"x"));
    }

    #[test]
    fn request_lines_are_in_the_signers_order() {
        let headers = [("host", " h:1 "), ("x-sdk-date", "20260101T000000Z")];
        let text = request(&Parts {
            method: "put",
            raw_path: "/a",
            raw_query: "z=1&y=2",
            headers: &headers,
            payload: "P",
        });
        assert_eq!(
            text,
            "PUT\n/a/\ny=2&z=1\nhost:h:1\nx-sdk-date:20260101T000000Z\n\nhost;x-sdk-date\nP"
        );
        assert!(string_to_sign("D", &text).starts_with("SDK-HMAC-SHA256\nD\n"));
    }
}
