//! Keystone stopped, restarted, and issuing short-lived tokens: one test,
//! in its own binary, because it stops and restarts the shared Keystone.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::keystone::{self as ks, fixtures};
use common::*;
use std::time::Duration;

#[tokio::test]
async fn outage_expiry_and_recovery() {
    let Some(f) = fixtures() else { return };
    let origin = ks::origin();
    let c = host_with(
        MODES[0],
        &[
            ("auth_mode", "keystone"),
            ("keystone_url", origin.as_str()),
            ("keystone_origin", origin.as_str()),
        ],
    )
    .await;
    let alice = f["ALICE_TOKEN"].clone();
    let id = c.create_named(&alice, "survivor").await;
    assert_eq!(c.put_tag(&alice, &id, "before").await.status, 204);

    // Keystone down: every authenticated route answers 503 for a token it
    // has not validated yet; routes without identity keep working.
    ks::script("stop.sh", &[]);
    let bob = f["BOB_TOKEN"].clone();
    for (method, path) in [
        ("GET", "/v2/images".to_string()),
        ("POST", "/v2/images".to_string()),
        ("GET", format!("/v2/images/{id}")),
        ("PATCH", format!("/v2/images/{id}")),
        ("DELETE", format!("/v2/images/{id}")),
        ("PUT", format!("/v2/images/{id}/tags/x")),
        ("DELETE", format!("/v2/images/{id}/tags/x")),
        ("GET", "/v2/schemas/image".to_string()),
    ] {
        let r = c.call(method, &path, &bob, b"").await;
        assert_error(&r, 503, "temporarily unavailable");
        assert_eq!(r.header("retry-after"), Some("1"), "{method} {path}");
    }
    assert_eq!(c.call("GET", "/healthcheck", "", b"").await.status, 200);

    // Keystone back: service resumes, nothing lost. start.sh recreates
    // Keystone's database, so projects get new ids: the admin reads on.
    ks::script("start.sh", &[("KEYSTONE_TOKEN_EXPIRATION", "20")]);
    let f = fixtures().expect("Keystone restarted");
    let admin = ks::password_token(&f, "ADMIN", &f["ADMIN_PROJECT_ID"]);
    let r = c.show(&admin, &id).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(c.tags(&admin, &id).await, vec!["before"]);
    assert_eq!(c.put_tag(&admin, &id, "after").await.status, 204);

    // Tokens expire: once past expires_at a cached validation is not used.
    // Counted from when the token is in hand: Keystone issued it before that,
    // so it has expired 21 s later however long issuing it took (counted from
    // before the request, a token issue slower than 1 s left it valid).
    let short = ks::password_token(&f, "ADMIN", &f["ADMIN_PROJECT_ID"]);
    let started = std::time::Instant::now();
    assert_eq!(c.put_tag(&short, &id, "short").await.status, 204);
    tokio::time::sleep(Duration::from_secs(21).saturating_sub(started.elapsed())).await;
    assert_error(&c.put_tag(&short, &id, "late").await, 401, "authentication");

    // Leave Keystone as tests/run found it: normal token lifetime.
    ks::script("start.sh", &[]);
    let f = fixtures().expect("Keystone restarted");
    assert_eq!(
        c.tags(&f["ADMIN_TOKEN"], &id).await,
        vec!["before", "after", "short"]
    );
}
