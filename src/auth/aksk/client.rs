//! The client's side of the signature: what huaweicloudsdkcore's `Signer`
//! does to a request before sending it. The component only verifies (the
//! parent module); the crate's tests and benches sign with this. Nothing on
//! the request path calls it, so the release .wasm leaves it out.

use super::{authorization::ALGORITHM, canonical, header_value, Credential};
use crate::http::Request;

/// The two strings a client derives from a request before it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToSign {
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// The canonical request and string to sign of `req` over `signed_headers`
/// (lower-case names, in the order the `SignedHeaders` list gives them).
/// Values are `req`'s, `host` from its base when it carries no `Host`
/// header, as the component sees it; a header `req` lacks signs as empty
/// (which the server refuses: tests of that refusal sign so). `None` when
/// `req` has no `X-Sdk-Date`, the date a client sets before signing.
pub fn to_sign(req: &Request, signed_headers: &[&str]) -> Option<ToSign> {
    let date = req.header("x-sdk-date")?;
    let headers: Vec<(&str, &str)> = signed_headers
        .iter()
        .map(|&name| (name, header_value(req, name).unwrap_or_default()))
        .collect();
    let payload = canonical::payload(&req.body, req.header("x-sdk-content-sha256"));
    let canonical_request = canonical::request(&canonical::Parts {
        method: &req.method,
        raw_path: &req.path,
        raw_query: &req.query,
        headers: &headers,
        payload: &payload,
    });
    let string_to_sign = canonical::string_to_sign(date, &canonical_request);
    Some(ToSign {
        canonical_request,
        string_to_sign,
    })
}

/// The `Authorization` value a client sends with `req`, signed with
/// `credential` over `signed_headers` (see [`to_sign`]).
pub fn authorization(
    req: &Request,
    credential: &Credential,
    signed_headers: &[&str],
) -> Option<String> {
    let signature = credential.sign(&to_sign(req, signed_headers)?.string_to_sign);
    Some(format!(
        "{ALGORITHM} Access={}, SignedHeaders={}, Signature={signature}",
        credential.access_key,
        signed_headers.join(";")
    ))
}
