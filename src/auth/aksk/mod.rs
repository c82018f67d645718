//! `aksk`: Huawei Cloud's access key / secret key request signature
//! (`SDK-HMAC-SHA256`), as huaweicloudsdkims and every Huawei Cloud SDK sign
//! (SPEC section 9). The credential table is the secret Spin variable
//! `aksk_credentials`.

pub mod authorization;
pub mod canonical;
pub mod client;
#[cfg(test)]
mod vectors;

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::http::Request;
use authorization::Authorization;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far `X-Sdk-Date` may be from the component's clock, either way.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// Signed header values that are secrets of their own: a failed signature's
/// canonical request is logged with these blanked.
const SECRET_HEADERS: &[&str] = &[
    "x-auth-token",
    "x-subject-token",
    "x-security-token",
    "cookie",
    "proxy-authorization",
];

/// One entry of `aksk_credentials`: `AK:SK:PROJECT_ID:ROLE[+ROLE...]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    secret_key: String,
    pub identity: Identity,
}

/// Never the secret key, whoever prints the configuration.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key", &self.access_key)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Credential {
    pub fn new(access_key: &str, secret_key: &str, identity: Identity) -> Self {
        Credential {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            identity,
        }
    }

    /// HMAC-SHA256 under the secret key over `string_to_sign`. HMAC takes
    /// keys of any length, so `None` does not happen.
    fn mac(&self, string_to_sign: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret_key.as_bytes()).ok()?;
        mac.update(string_to_sign.as_bytes());
        Some(mac)
    }

    /// The hex signature of a string to sign (what a client computes).
    pub fn sign(&self, string_to_sign: &str) -> String {
        self.mac(string_to_sign)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Whether `signature` (hex) is this key's over `string_to_sign`,
    /// compared in constant time.
    fn verifies(&self, string_to_sign: &str, signature: &str) -> bool {
        let Ok(claimed) = hex::decode(signature) else {
            return false;
        };
        self.mac(string_to_sign)
            .is_some_and(|mac| mac.verify_slice(&claimed).is_ok())
    }
}

pub fn parse_credentials(spec: &str) -> Result<Vec<Credential>, String> {
    let mut table: Vec<Credential> = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
        let credential = match parts.as_slice() {
            [ak, sk, project, roles] if !ak.is_empty() && !sk.is_empty() => {
                Identity::from_table(project, roles).map(|id| Credential::new(ak, sk, id))
            }
            _ => None,
        }
        // Never echo the entry: it holds a secret.
        .ok_or("an entry is not AK:SK:PROJECT_ID:ROLE[+ROLE...]")?;
        if table.iter().any(|c| c.access_key == credential.access_key) {
            return Err(format!(
                "lists the access key {} twice",
                credential.access_key
            ));
        }
        table.push(credential);
    }
    Ok(table)
}

/// Why a signed request is refused: each is a 401. The message is what
/// the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "The Authorization header is not a valid {} signature (Access, SignedHeaders and Signature, each once).",
        authorization::ALGORITHM
    )]
    MalformedAuthorization,
    /// Temporary (STS) credentials: only IAM could validate them.
    #[error("X-Security-Token is not accepted: temporary security credentials would need Huawei Cloud IAM to validate them. Sign with a permanent access key.")]
    SecurityToken,
    /// `host` or `x-sdk-date` is not among the signed headers.
    #[error("The signature must cover the {0} header.")]
    Unsigned(&'static str),
    /// A signature cannot cover the header that carries it.
    #[error("The Authorization header cannot be among the signed headers.")]
    SignsAuthorization,
    /// A signed header the request does not carry.
    #[error("The signed header {0} is not in the request.")]
    MissingHeader(String),
    #[error("X-Sdk-Date is missing.")]
    MissingDate,
    #[error("X-Sdk-Date is not a UTC date and time of the form YYYYMMDDTHHMMSSZ.")]
    MalformedDate,
    /// `X-Sdk-Date` minus the component's clock, in seconds.
    #[error("X-Sdk-Date is more than 15 minutes away from the server's clock.")]
    ClockSkew(i64),
    #[error("The access key is not known.")]
    UnknownAccessKey,
    /// The canonical request we rebuilt, secret header values blanked: the
    /// operator compares it with the client's.
    #[error("The request signature does not match.")]
    SignatureMismatch { canonical_request: String },
}

impl Rejection {
    /// What the client is told.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// What the access log carries: never the secret key or the signature.
    pub fn detail(&self) -> String {
        match self {
            Rejection::ClockSkew(seconds) => {
                format!("aksk: X-Sdk-Date is {seconds} s from the clock")
            }
            Rejection::SignatureMismatch { canonical_request } => {
                format!("aksk: signature mismatch; canonical request {canonical_request:?}")
            }
            other => format!("aksk: {}", other.message()),
        }
    }
}

/// The outcome of checking a signed request against the credential table.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification<'t> {
    Verified(&'t Credential),
    Rejected {
        /// The AK the request named, when it could be read.
        access_key: Option<String>,
        why: Rejection,
    },
}

/// Whether the request is signed with this scheme (and so judged by it).
pub fn is_signed(req: &Request) -> bool {
    req.header("authorization")
        .is_some_and(authorization::claims_scheme)
}

/// The value a signed header had when the client signed it. wasi-http hands
/// the component the authority, not a `Host` header: it is the request's base.
fn header_value<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    match req.header(name) {
        Some(value) => Some(value),
        None if name == "host" => req.base.split_once("://").map(|(_, authority)| authority),
        None => None,
    }
}

pub fn verify<'t>(req: &Request, table: &'t [Credential], now: i64) -> Verification<'t> {
    let parsed = req.header("authorization").and_then(authorization::parse);
    let access_key = parsed.as_ref().map(|a| a.access_key.to_string());
    match check(req, parsed, table, now) {
        Ok(credential) => Verification::Verified(credential),
        Err(why) => Verification::Rejected { access_key, why },
    }
}

fn check<'t>(
    req: &Request,
    parsed: Option<Authorization<'_>>,
    table: &'t [Credential],
    now: i64,
) -> Result<&'t Credential, Rejection> {
    let auth = parsed.ok_or(Rejection::MalformedAuthorization)?;
    if req.header("x-security-token").is_some() {
        return Err(Rejection::SecurityToken);
    }
    let signs = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    for required in ["host", "x-sdk-date"] {
        if !signs(required) {
            return Err(Rejection::Unsigned(required));
        }
    }
    if signs("authorization") {
        return Err(Rejection::SignsAuthorization);
    }
    let date = req
        .header("x-sdk-date")
        .map(str::trim)
        .ok_or(Rejection::MissingDate)?;
    let signed_at = crate::core::time::parse_basic(date).ok_or(Rejection::MalformedDate)?;
    let skew = signed_at.saturating_sub(now);
    if skew.saturating_abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(Rejection::ClockSkew(skew));
    }
    let credential = table
        .iter()
        .find(|c| c.access_key == auth.access_key)
        .ok_or(Rejection::UnknownAccessKey)?;
    let headers = auth
        .signed_headers
        .iter()
        .map(|name| {
            header_value(req, name)
                .map(|value| (name.as_str(), value))
                .ok_or_else(|| Rejection::MissingHeader(name.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A body over `max_request_body_bytes` was never read (the edge stops
    // at the limit): one the client left unsigned still verifies, so the
    // caller gets its 413; a signed one cannot be checked and stays a 401.
    let payload = match req.header("x-sdk-content-sha256") {
        Some(canonical::UNSIGNED_PAYLOAD) if req.body_over_limit => {
            canonical::UNSIGNED_PAYLOAD.to_string()
        }
        declared => canonical::payload(&req.body, declared),
    };
    let mut parts = canonical::Parts {
        method: &req.method,
        raw_path: &req.path,
        raw_query: &req.query,
        headers: &headers,
        payload: &payload,
    };
    let canonical_request = canonical::request(&parts);
    let string_to_sign = canonical::string_to_sign(date, &canonical_request);
    if credential.verifies(&string_to_sign, auth.signature) {
        return Ok(credential);
    }
    let blanked: Vec<(&str, &str)> = headers
        .iter()
        .map(|&(name, value)| {
            if SECRET_HEADERS.contains(&name) {
                (name, "<redacted>")
            } else {
                (name, value)
            }
        })
        .collect();
    parts.headers = &blanked;
    Err(Rejection::SignatureMismatch {
        canonical_request: canonical::request(&parts),
    })
}

/// The caller of a signed request: the credential's identity. An
/// `X-Project-Id` naming another project is 403.
pub fn identify(
    req: &Request,
    table: &[Credential],
    now: i64,
) -> (Option<String>, Result<Identity, Error>) {
    match verify(req, table, now) {
        Verification::Verified(credential) => {
            let identity = &credential.identity;
            let result = match req.header("x-project-id").map(str::trim) {
                Some(project) if identity.project.as_deref() != Some(project) => {
                    Err(Error::Forbidden(
                        "X-Project-Id names another project than the access key's.".into(),
                    ))
                }
                _ => Ok(identity.clone()),
            };
            (Some(credential.access_key.clone()), result)
        }
        Verification::Rejected { access_key, why } => (
            access_key,
            Err(Error::Unauthorized {
                keystone_uri: None,
                reason: Some(why.message()),
                detail: Some(why.detail()),
            }),
        ),
    }
}
