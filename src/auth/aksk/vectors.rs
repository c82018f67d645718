//! The canonical form and signature against requests signed by
//! huaweicloudsdkcore's own `Signer` (tests/vectors/make_aksk_vectors.py
//! wrote tests/vectors/aksk.json).

use super::*;
use crate::core::time;
use serde_json::Value;

const VECTORS: &str = include_str!("../../../tests/vectors/aksk.json");

struct Vector {
    name: String,
    request: Request,
    signed_headers: Vec<String>,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}"))
        .to_string()
}

/// The requests as the component sees them: no `Host` header (wasi-http
/// turns it into the authority, which the edge makes `Request::base`).
fn vectors() -> (Value, Vec<Vector>) {
    let data: Value = serde_json::from_str(VECTORS).unwrap();
    let host = text(&data, "host");
    let vectors = data["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let mut request = Request::new(&text(v, "method"), &text(v, "path"));
            request.query = text(v, "query");
            request.base = format!("http://{host}");
            for pair in v["headers"].as_array().unwrap() {
                let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
                if !name.eq_ignore_ascii_case("host") {
                    request = request.with_header(name, value);
                }
            }
            request.body = hex::decode(text(v, "body_hex")).unwrap();
            Vector {
                name: text(v, "name"),
                request,
                signed_headers: v["signed_headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_string())
                    .collect(),
                canonical_request: text(v, "canonical_request"),
                string_to_sign: text(v, "string_to_sign"),
                signature: text(v, "signature"),
            }
        })
        .collect();
    (data, vectors)
}

fn table(data: &Value) -> Vec<Credential> {
    vec![Credential::new(
        &text(data, "access_key"),
        &text(data, "secret_key"),
        Identity::new("p", &["member"]),
    )]
}

#[test]
fn canonical_requests_match_the_sdk_signer() {
    let (data, vectors) = vectors();
    assert!(vectors.len() >= 15);
    for v in &vectors {
        let req = &v.request;
        let names: Vec<&str> = v.signed_headers.iter().map(String::as_str).collect();
        let to_sign = client::to_sign(req, &names).unwrap();
        assert_eq!(to_sign.canonical_request, v.canonical_request, "{}", v.name);
        assert_eq!(to_sign.string_to_sign, v.string_to_sign, "{}", v.name);
        let credential = &table(&data)[0];
        assert_eq!(
            credential.sign(&to_sign.string_to_sign),
            v.signature,
            "{}",
            v.name
        );
        // The whole header, as the SDK sent it.
        assert_eq!(
            client::authorization(req, credential, &names).as_deref(),
            req.header("authorization"),
            "{}",
            v.name
        );
    }
}

#[test]
fn the_sdks_sorted_query_canonicalizes_alike() {
    let data: Value = serde_json::from_str(VECTORS).unwrap();
    for v in data["vectors"].as_array().unwrap() {
        let (given, sent) = (text(v, "query"), text(v, "sdk_query"));
        assert_eq!(canonical::query(&given), sent, "{}", text(v, "name"));
        assert_eq!(canonical::query(&sent), sent, "{}", text(v, "name"));
    }
}

#[test]
fn every_vector_verifies_with_or_without_a_host_header() {
    let (data, vectors) = vectors();
    let table = table(&data);
    let now = time::parse_basic(&text(&data, "date")).unwrap();
    for v in &vectors {
        assert_eq!(
            verify(&v.request, &table, now),
            Verification::Verified(&table[0]),
            "{}",
            v.name
        );
        let with_host = v.request.clone().with_header("Host", &text(&data, "host"));
        assert_eq!(
            verify(&with_host, &table, now + MAX_CLOCK_SKEW_SECONDS),
            Verification::Verified(&table[0]),
            "{}",
            v.name
        );
    }
}

#[test]
fn one_changed_byte_anywhere_breaks_the_signature() {
    let (data, vectors) = vectors();
    let table = table(&data);
    let now = time::parse_basic(&text(&data, "date")).unwrap();
    let mismatch = |req: &Request| match verify(req, &table, now) {
        Verification::Rejected {
            why: Rejection::SignatureMismatch { .. },
            access_key,
        } => access_key.as_deref() == Some(table[0].access_key.as_str()),
        _ => false,
    };
    for v in &vectors {
        let name = &v.name;
        let mut req = v.request.clone();
        req.path.push('x');
        assert!(mismatch(&req), "{name}: path");
        let mut req = v.request.clone();
        req.method = if req.method == "GET" { "HEAD" } else { "GET" }.into();
        assert!(mismatch(&req), "{name}: method");
        let mut req = v.request.clone();
        req.query.push_str("&extra=1");
        assert!(mismatch(&req), "{name}: query");
        let mut req = v.request.clone();
        req.base = "http://127.0.0.1:3001".into();
        assert!(mismatch(&req), "{name}: host");
        let unsigned =
            v.request.header("x-sdk-content-sha256") == Some(canonical::UNSIGNED_PAYLOAD);
        let mut req = v.request.clone();
        match req.body.first_mut() {
            Some(byte) => *byte ^= 1,
            None => req.body.push(b' '),
        }
        assert_eq!(mismatch(&req), !unsigned, "{name}: body");
        for signed in v.signed_headers.iter().filter(|h| *h != "host") {
            let mut req = v.request.clone();
            let slot = req.headers.iter_mut().find(|(n, _)| n == signed).unwrap();
            slot.1.push('x');
            let expected = signed != "x-sdk-date";
            assert_eq!(mismatch(&req), expected, "{name}: header {signed}");
        }
    }
}
