//! Choosing the scheme, and every refusal of a signed request.

use super::aksk::{client, Credential, MAX_CLOCK_SKEW_SECONDS};
use super::config::AuthConfig;
use super::*;
use crate::core::backend::Strong;
use crate::core::error::Error;
use crate::core::store::MemStore;
use std::cell::Cell;

const NOW: i64 = 1_796_119_200; // 2026-12-01T10:40:00Z
const AK: &str = "AKPROJA0000000000001";
const SK: &str = "sk-of-proj-a-0000000000000000000000000001";

/// Counts calls; answers as Keystone does for the one token it knows.
#[derive(Default)]
struct Keystone {
    calls: Cell<u32>,
}

impl TokenValidator for Keystone {
    fn validate(&self, _url: &str, token: &str) -> Result<(u16, Vec<u8>), String> {
        self.calls.set(self.calls.get() + 1);
        if token != "keystone-token" {
            return Ok((404, Vec::new()));
        }
        let body = r#"{"token":{"expires_at":"2030-01-01T00:00:00Z","project":{"id":"ks-proj"},"roles":[{"name":"reader"}]}}"#;
        Ok((200, body.as_bytes().to_vec()))
    }
}

fn config(mode: &str) -> AuthConfig {
    let get = |name: &str, default: &str| match name {
        "auth_tokens" => "tok-a:proj-a:member".to_string(),
        "aksk_credentials" => format!("{AK}:{SK}:proj-a:member+reader, AK2:sk2:proj-b:admin"),
        "keystone_url" => "http://ks:5000/v3".to_string(),
        _ => default.to_string(),
    };
    super::config::load(mode, &get).unwrap()
}

fn judge(mode: &str, req: &Request, keystone: &Keystone) -> Judgement {
    let config = config(mode);
    let store = Strong(MemStore::default());
    let env = KeystoneEnv {
        store: Ok(&store),
        validator: keystone,
        cache_seconds: Ok(0),
    };
    identify(req, &config, env, NOW)
}

fn status(mode: &str, req: &Request) -> u16 {
    match judge(mode, req, &Keystone::default()).identity {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

fn date(unix: i64) -> String {
    let extended = crate::core::time::format(unix);
    extended.replace(['-', ':'], "")
}

/// Sign as the SDK does (aksk/vectors.rs checks the signer against the
/// SDK's), dated now unless `req` carries its own date.
fn sign(req: Request, ak: &str, sk: &str, signed: &[&str]) -> Request {
    let req = match req.header("x-sdk-date") {
        Some(_) => req,
        None => req.with_header("X-Sdk-Date", &date(NOW)),
    };
    let credential = Credential::new(ak, sk, Identity::default());
    let value = client::authorization(&req, &credential, signed).unwrap();
    req.with_header("Authorization", &value)
}

fn signed(req: Request) -> Request {
    sign(req, AK, SK, &["host", "x-sdk-date"])
}

fn put() -> Request {
    Request::new("PUT", "/v2/images/x/tags/t")
}

fn rejection(req: &Request) -> (u16, String, String, Option<String>) {
    let j = judge("aksk", req, &Keystone::default());
    let e = j.identity.unwrap_err();
    (
        e.status(),
        e.message(),
        e.detail().unwrap_or_default().to_string(),
        j.access_key,
    )
}

#[test]
fn single_modes_work_as_before() {
    let token = put().with_header("X-Auth-Token", "tok-a");
    assert_eq!(status("tokens", &token), 200);
    assert_eq!(
        status("tokens", &put().with_header("X-Auth-Token", "nope")),
        401
    );
    assert_eq!(status("tokens", &put()), 401);
    // tokens alone ignores a signature, as it always did.
    assert_eq!(status("tokens", &signed(put())), 401);
    assert_eq!(status("tokens", &signed(token.clone())), 200);
    let ks = Keystone::default();
    let err = judge("keystone", &put(), &ks).identity.unwrap_err();
    assert_eq!(
        err.headers(),
        vec![(
            "www-authenticate".to_string(),
            "Keystone uri=\"http://ks:5000\"".to_string()
        )]
    );
    let kt = put().with_header("X-Auth-Token", "keystone-token");
    let id = judge("keystone", &kt, &ks).identity.unwrap();
    assert_eq!(id.project.as_deref(), Some("ks-proj"));
    let proxy = put()
        .with_header("X-Identity-Status", "Confirmed")
        .with_header("X-Project-Id", "p9");
    assert_eq!(status("headers", &proxy), 200);
    assert_eq!(status("headers", &signed(put())), 401);
}

#[test]
fn a_list_judges_each_request_by_its_own_credentials() {
    let token = put().with_header("X-Auth-Token", "tok-a");
    let sig = signed(put());
    for mode in ["tokens,aksk", "aksk,tokens"] {
        assert_eq!(status(mode, &token), 200, "{mode}");
        let j = judge(mode, &sig, &Keystone::default());
        assert_eq!(
            j.identity.unwrap(),
            Identity::new("proj-a", &["member", "reader"])
        );
        assert_eq!(j.access_key.as_deref(), Some(AK));
        assert_eq!(status(mode, &put()), 401, "{mode}");
    }
    assert_eq!(status("aksk", &token), 401);
    // A signed request is judged by its signature, whatever token it carries.
    let both = signed(put().with_header("X-Auth-Token", "tok-a"));
    let mut broken = both.clone();
    broken.path.push('x');
    assert_eq!(status("tokens,aksk", &both), 200);
    assert_eq!(status("tokens,aksk", &broken), 401);
    // tokens before keystone: only tokens the table lacks go to Keystone.
    let ks = Keystone::default();
    assert!(judge("keystone,tokens", &token, &ks).identity.is_ok());
    assert_eq!(ks.calls.get(), 0);
    let kt = put().with_header("X-Auth-Token", "keystone-token");
    assert!(judge("keystone,tokens", &kt, &ks).identity.is_ok());
    assert_eq!(ks.calls.get(), 1);
    let err = judge("aksk,keystone", &put(), &ks).identity.unwrap_err();
    assert!(err.headers().iter().any(|(n, _)| n == "www-authenticate"));
}

#[test]
fn keystone_faults_only_matter_when_keystone_is_asked() {
    let config = config("tokens,keystone");
    let ks = Keystone::default();
    let judge = |req: &Request| {
        let env: KeystoneEnv<'_, Strong<MemStore>, Keystone> = KeystoneEnv {
            store: Err(Error::unavailable("store down")),
            validator: &ks,
            cache_seconds: Ok(300),
        };
        identify(req, &config, env, NOW).identity
    };
    assert!(judge(&put().with_header("X-Auth-Token", "tok-a")).is_ok());
    let err = judge(&put().with_header("X-Auth-Token", "other")).unwrap_err();
    assert_eq!(err.status(), 503);
}

#[test]
fn dates_more_than_fifteen_minutes_off_either_way_are_refused() {
    for (offset, ok) in [
        (0, true),
        (MAX_CLOCK_SKEW_SECONDS, true),
        (-MAX_CLOCK_SKEW_SECONDS, true),
        (MAX_CLOCK_SKEW_SECONDS + 1, false),
        (-MAX_CLOCK_SKEW_SECONDS - 1, false),
        (16 * 60, false),
        (-16 * 60, false),
    ] {
        let req = signed(put().with_header("X-Sdk-Date", &date(NOW + offset)));
        let got = status("aksk", &req);
        assert_eq!(got == 200, ok, "{offset}: {got}");
        if !ok {
            let (_, message, detail, _) = rejection(&req);
            assert!(message.contains("15 minutes"), "{message}");
            assert!(detail.contains(&offset.to_string()), "{detail}");
        }
    }
}

#[test]
fn every_refusal_is_a_401_naming_its_reason() {
    let base = || put().with_header("X-Sdk-Date", &date(NOW));
    let cases: Vec<(Request, &str)> = vec![
        (
            base().with_header("Authorization", "SDK-HMAC-SHA256 Access=x"),
            "not a valid",
        ),
        (signed(base().with_header("X-Security-Token", "sts")), "IAM"),
        (sign(base(), AK, SK, &["x-sdk-date"]), "host header"),
        (sign(base(), AK, SK, &["host"]), "x-sdk-date header"),
        (
            sign(
                base().with_header("X-Auth-Token", "t"),
                AK,
                SK,
                &["host", "x-sdk-date", "authorization"],
            ),
            "cannot be among",
        ),
        (
            sign(base(), AK, SK, &["host", "x-custom", "x-sdk-date"]),
            "x-custom is not in the request",
        ),
        (
            signed(put().with_header("X-Sdk-Date", "2026-12-01T10:40:00Z")),
            "YYYYMMDDTHHMMSSZ",
        ),
        (
            sign(base(), "AKUNKNOWN", SK, &["host", "x-sdk-date"]),
            "access key is not known",
        ),
        (
            sign(base(), AK, "wrong-sk", &["host", "x-sdk-date"]),
            "does not match",
        ),
    ];
    for (req, reason) in cases {
        let (status, message, detail, _) = rejection(&req);
        assert_eq!(status, 401, "{reason}");
        assert!(message.contains(reason), "{reason}: {message}");
        assert!(detail.starts_with("aksk: "), "{detail}");
    }
    // The date header is looked for once it is signed.
    let mut no_date = signed(put());
    no_date.headers.retain(|(n, _)| n != "x-sdk-date");
    assert!(rejection(&no_date).1.contains("X-Sdk-Date is missing"));
}

#[test]
fn the_log_names_the_key_and_never_the_secret_or_signature() {
    let good = signed(put().with_header("X-Auth-Token", "tok-secret"));
    let mut tampered = sign(
        put().with_header("X-Auth-Token", "tok-secret"),
        AK,
        SK,
        &["host", "x-auth-token", "x-sdk-date"],
    );
    tampered.path = "/v2/images/x/tags/other".into();
    let (status, _, detail, access_key) = rejection(&tampered);
    assert_eq!(status, 401);
    assert_eq!(access_key.as_deref(), Some(AK));
    let signature = good
        .header("authorization")
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap();
    let their_signature = tampered
        .header("authorization")
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap();
    for secret in [SK, signature, their_signature, "tok-secret"] {
        assert!(!detail.contains(secret), "{detail}");
    }
    assert!(detail.contains("canonical request"), "{detail}");
    assert!(detail.contains(r"/v2/images/x/tags/other/\n"), "{detail}");
    assert!(detail.contains("x-auth-token:<redacted>"), "{detail}");
    assert!(!format!("{:?}", config("aksk")).contains(SK));
}

#[test]
fn x_project_id_must_be_the_credentials_project() {
    let with = |project: &str| signed(put().with_header("X-Project-Id", project));
    assert_eq!(status("aksk", &with("proj-a")), 200);
    let j = judge("aksk", &with("proj-b"), &Keystone::default());
    assert_eq!(j.identity.unwrap_err().status(), 403);
    assert_eq!(j.access_key.as_deref(), Some(AK));
    // The other credential is judged by its own project.
    let b = sign(
        put().with_header("X-Project-Id", "proj-b"),
        "AK2",
        "sk2",
        &["host", "x-sdk-date"],
    );
    let id = judge("aksk", &b, &Keystone::default()).identity.unwrap();
    assert!(id.is_admin() && id.project.as_deref() == Some("proj-b"));
}

/// What the edge hands over for a body over the limit: nothing read.
fn cut_off(mut req: Request) -> Request {
    req.body.clear();
    req.body_over_limit = true;
    req
}

#[test]
fn a_body_over_the_limit_verifies_only_when_unsigned() {
    let unsigned = signed(
        Request::new("PATCH", "/v2/images/x")
            .with_header("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD")
            .with_body("[]"),
    );
    assert_eq!(status("aksk", &unsigned), 200);
    assert_eq!(status("aksk", &cut_off(unsigned)), 200);
    let hashed = signed(Request::new("POST", "/v2/images").with_body("{}"));
    assert_eq!(status("aksk", &hashed), 200);
    assert_eq!(status("aksk", &cut_off(hashed)), 401);
}
