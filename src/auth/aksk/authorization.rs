//! The `Authorization` header of a signed request:
//! `SDK-HMAC-SHA256 Access=AK, SignedHeaders=h1;h2, Signature=HEX`.

/// The scheme name that marks a request as signed.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access_key: &'a str,
    /// Lower-cased, in the order the client listed (and signed) them.
    pub signed_headers: Vec<String>,
    pub signature: &'a str,
}

/// Whether an `Authorization` value claims this scheme (and so is judged by it).
pub fn claims_scheme(value: &str) -> bool {
    value
        .trim_start()
        .strip_prefix(ALGORITHM)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// `None` unless the value is the scheme with `Access`, `SignedHeaders` and
/// `Signature` each given once and not empty.
pub fn parse(value: &str) -> Option<Authorization<'_>> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let (mut access_key, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = match name.trim() {
            "Access" => &mut access_key,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return None,
        };
        let value = value.trim();
        if slot.is_some() || value.is_empty() {
            return None;
        }
        *slot = Some(value);
    }
    let signed_headers: Vec<String> = signed?
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if signed_headers.iter().any(String::is_empty) {
        return None;
    }
    Some(Authorization {
        access_key: access_key?,
        signed_headers,
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_form_parses() {
        let a = parse("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;X-Sdk-Date, Signature=ab12")
            .unwrap();
        assert_eq!(a.access_key, "AK1");
        assert_eq!(a.signed_headers, vec!["host", "x-sdk-date"]);
        assert_eq!(a.signature, "ab12");
        assert!(claims_scheme("SDK-HMAC-SHA256 Access=x"));
        assert!(claims_scheme("SDK-HMAC-SHA256"));
        assert!(!claims_scheme("SDK-HMAC-SHA2567 Access=x"));
        assert!(!claims_scheme("Bearer SDK-HMAC-SHA256"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "SDK-HMAC-SHA256",
            "SDK-HMAC-SHA256 ",
            "SDK-HMAC-SHA256Access=a, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SM3 Access=a, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=",
            "SDK-HMAC-SHA256 Access=a, Access=b, SignedHeaders=host, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;;x-sdk-date, Signature=s",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=s, Extra=1",
            "SDK-HMAC-SHA256 Access=a SignedHeaders=host Signature=s",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
