//! Faults in the host and garbage from clients (SPEC sections 3 and 6): every
//! fault is a 503 with Retry-After and a JSON body, never a trap or a bare
//! 500, and a write cut off anywhere leaves nothing a reader can see as torn.
// Test code: the crate-wide panic lints guard request handling.
#![cfg(test)]

mod common;
use common::*;
use image_tags_host::KvOp;
use serde_json::{json, Value};

fn assert_503(r: &image_tags_host::Response, what: &str) {
    assert_eq!(r.status, 503, "{what}: {r:?}");
    assert_eq!(r.header("retry-after"), Some("1"), "{what}");
    assert_eq!(r.json().unwrap()["error"]["code"], 503, "{what}");
    assert!(r.header("x-openstack-request-id").is_some(), "{what}");
    assert!(
        !r.text().contains("injected"),
        "{what}: internals leak: {}",
        r.text()
    );
}

async fn every_route(c: &Client, id: &str) -> Vec<(String, image_tags_host::Response)> {
    let mut out = vec![];
    for (method, path, body) in [
        ("GET", "/healthcheck".to_string(), ""),
        ("GET", "/v2/images".to_string(), ""),
        ("GET", "/v2/images?tag=a".to_string(), ""),
        ("POST", "/v2/images".to_string(), r#"{"name":"x"}"#),
        ("GET", format!("/v2/images/{id}"), ""),
        ("DELETE", format!("/v2/images/{id}"), ""),
        ("PUT", format!("/v2/images/{id}/tags/t"), ""),
        ("DELETE", format!("/v2/images/{id}/tags/a"), ""),
    ] {
        let r = c.call(method, &path, ALICE, body.as_bytes()).await;
        out.push((format!("{method} {path}"), r));
    }
    let r = c
        .patch(ALICE, id, br#"[{"op":"add","path":"/tags","value":["p"]}]"#)
        .await;
    out.push(("PATCH".into(), r));
    out
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_or_is_down_is_503_everywhere_then_recovers() {
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let id = c
            .create(ALICE, json!({"name": "kept", "tags": ["a"]}))
            .await;
        for fault in ["open", "outage"] {
            match fault {
                "open" => c.host.kv().set_open_fails(true),
                _ => c.host.kv().set_outage(true),
            }
            for (what, r) in every_route(&c, &id).await {
                assert_503(&r, &format!("{mode:?} {fault} {what}"));
            }
            c.host.kv().clear_faults();
            assert_eq!(
                c.tags(ALICE, &id).await,
                vec!["a"],
                "{mode:?} {fault}: nothing lost"
            );
        }
        // Discovery needs no store.
        c.host.kv().set_outage(true);
        assert_eq!(c.call("GET", "/versions", "", b"").await.status, 200);
        c.host.kv().clear_faults();
    }
}

#[tokio::test]
async fn compare_and_swap_that_never_succeeds_ends_in_503_not_a_hang() {
    if strong_only("core::edge::tests::a_write_overwritten_before_its_check_is_made_again") {
        return;
    }
    let c = host().await;
    let id = c.create_named(ALICE, "stuck").await;
    c.host.kv().set_cas_always_fails(true);
    let started = std::time::Instant::now();
    assert_503(&c.put_tag(ALICE, &id, "t").await, "cas always fails");
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    c.host.kv().clear_faults();
    assert!(c.tags(ALICE, &id).await.is_empty());
}

/// Whatever call of a write fails, the answer is the write's success or a
/// 503, and afterwards the record (the source of truth) and the tag index
/// agree: every tag an image carries lists that image.
#[tokio::test]
async fn a_write_cut_off_at_any_store_call_leaves_record_and_index_agreeing() {
    for mode in MODES {
        let c = host_with(mode, &[]).await;
        let base = c
            .create(ALICE, json!({"name": "base", "tags": ["old"]}))
            .await;
        let mut expected_failures = 0;
        for n in 1..=12u64 {
            for op in ["create", "put", "delete", "patch"] {
                c.host.kv().fail_nth(&KvOp::DATA, n);
                let r = match op {
                    "create" => {
                        let body =
                            json!({"name": format!("c{n}"), "tags": ["new", format!("n{n}")]});
                        c.call("POST", "/v2/images", ALICE, body.to_string().as_bytes())
                            .await
                    }
                    "put" => c.put_tag(ALICE, &base, &format!("p{n}")).await,
                    "delete" => c.delete_tag(ALICE, &base, &format!("p{}", n - 1)).await,
                    _ => {
                        let body = json!([{"op": "add", "path": "/tags", "value": ["old", format!("q{n}")]}]);
                        c.patch(ALICE, &base, body.to_string().as_bytes()).await
                    }
                };
                c.host.kv().clear_faults();
                match r.status {
                    503 => {
                        assert_503(&r, &format!("{mode:?} {op} n={n}"));
                        expected_failures += 1;
                    }
                    200 | 201 | 204 | 404 => {}
                    other => panic!("{mode:?} {op} n={n}: {other} {r:?}"),
                }
                check_index_agrees(&c).await;
            }
        }
        // The edge build makes fewer store calls a write (and a catalog
        // edit that fails does not fail its request), so fewer cuts land.
        let injected = if edge_build() { 5 } else { 10 };
        assert!(
            expected_failures > injected,
            "{mode:?}: faults were injected ({expected_failures})"
        );
    }
}

async fn check_index_agrees(c: &Client) {
    let all = c.list(ADMIN, "?limit=1000").await;
    for image in all["images"].as_array().unwrap() {
        for tag in image["tags"].as_array().unwrap() {
            let tag = tag.as_str().unwrap();
            let listed = c.list(ADMIN, &format!("?limit=1000&tag={tag}")).await;
            let ids: Vec<&Value> = listed["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| &i["id"])
                .collect();
            assert!(
                ids.contains(&&image["id"]),
                "image {} carries {tag} but is not listed",
                image["id"]
            );
        }
    }
}

#[tokio::test]
async fn a_record_that_does_not_parse_is_a_500_that_spares_the_others() {
    let c = host().await;
    let bad = c.create_named(ALICE, "bad").await;
    let good = c
        .create(ALICE, json!({"name": "good", "tags": ["t"]}))
        .await;
    c.host
        .kv()
        .raw_set(&format!("image:{bad}"), b"{\"id\": 17".to_vec());
    c.host.take_logs();
    let r = c.show(ALICE, &bad).await;
    assert_error(&r, 500, "erred");
    let rid = r.header("x-openstack-request-id").unwrap().to_string();
    assert!(
        !r.text().contains("parse"),
        "no internals in the body: {}",
        r.text()
    );
    let logs = c.host.take_logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&rid))
        .expect("a log line for the request");
    let line: Value = serde_json::from_str(line).unwrap();
    assert!(
        line["detail"].as_str().unwrap().contains("does not parse"),
        "{line}"
    );
    assert_error(&c.put_tag(ALICE, &bad, "x").await, 500, "erred");
    assert_eq!(c.show(ALICE, &good).await.status, 200);
    assert_eq!(c.put_tag(ALICE, &good, "u").await.status, 204);
    assert_eq!(names(&c.list(ALICE, "?tag=t").await), vec!["good"]);
    assert_eq!(
        c.list(ALICE, "").await["images"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn one_access_log_line_per_request_and_never_the_token() {
    let c = host().await;
    c.host.take_logs();
    let id = c.create_named(ALICE, "logged").await;
    c.put_tag(ALICE, &id, "t").await;
    c.call("GET", "/v2/images", "wrong-token", b"").await;
    let logs = c.host.take_logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("request_id").is_some())
        .collect();
    assert_eq!(lines.len(), 3, "{logs}");
    assert_eq!(lines[1]["method"], "PUT");
    assert_eq!(lines[1]["route"], "PUT /v2/images/{id}/tags/{tag}");
    assert_eq!(lines[1]["status"], 204);
    assert_eq!(lines[1]["project"], "proj-a");
    assert!(lines[1]["duration_ms"].as_f64().is_some());
    assert_eq!(lines[2]["status"], 401);
    assert!(
        !logs.contains(ALICE) && !logs.contains("wrong-token"),
        "{logs}"
    );
}

/// Garbage from clients is a 4xx, never a 5xx.
#[tokio::test]
async fn garbage_input_is_never_a_server_error() {
    let c = host().await;
    let id = c.create_named(ALICE, "target").await;
    let bodies: [&[u8]; 6] = [
        b"",
        b"\xff\xfe",
        b"null",
        b"{\"tags\":[null]}",
        b"{\"min_ram\":1e999}",
        b"[[[[[[[[[[]]]]]]]]]]",
    ];
    for body in bodies {
        let r = c.call("POST", "/v2/images", ALICE, body).await;
        assert!((400..500).contains(&r.status), "POST {body:?}: {r:?}");
        let r = c.patch(ALICE, &id, body).await;
        assert!((400..500).contains(&r.status), "PATCH {body:?}: {r:?}");
    }
    for path in [
        "/v2/images/%/tags/x",
        "/v2/images/%ZZ",
        "/v2/images?limit=99999999999999999999999",
        "/v2/images?sort=name:sideways",
        "/v2/images?tag=%FF",
        "/v2/images?marker=%00",
        "/v2//images",
        "/v2/images/x/tags/%C0%AF",
    ] {
        for method in ["GET", "PUT", "DELETE", "POST", "PATCH"] {
            let r = c.call(method, path, ALICE, b"").await;
            assert!(r.status < 500, "{method} {path}: {r:?}");
        }
    }
}

/// Keystone refusing connections, or accepting and never answering: 503
/// with Retry-After, in bounded time. (A listener on loopback stands in for
/// the broken Keystone; the working one is tested in tests/keystone.rs.)
#[tokio::test]
async fn an_identity_provider_that_refuses_or_hangs_is_503() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = closed.local_addr().unwrap();
    drop(closed);
    // A listener that accepts and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung = hang.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((sock, _)) = hang.accept().await {
            held.push(sock);
        }
    });
    for addr in [refused, hung] {
        let origin = format!("http://{addr}");
        let c = host_with(
            MODES[0],
            &[
                ("auth_mode", "keystone"),
                ("keystone_url", &format!("{origin}/v3")),
                ("keystone_origin", &origin),
            ],
        )
        .await;
        let started = std::time::Instant::now();
        let r = c.call("GET", "/v2/images", "some-token", b"").await;
        assert_503(&r, &origin);
        assert!(
            started.elapsed().as_secs() < 10,
            "{origin}: {:?}",
            started.elapsed()
        );
    }
}

/// Spin refuses outbound requests to hosts the manifest does not allow; the
/// component turns that into a 503 too (an operator's misconfiguration of
/// `keystone_origin` shows in the log line).
#[tokio::test]
async fn a_keystone_outside_allowed_outbound_hosts_is_refused_by_the_host() {
    let c = host_with(
        MODES[0],
        &[
            ("auth_mode", "keystone"),
            ("keystone_url", "http://127.0.0.1:1/v3"),
            ("keystone_origin", "http://127.0.0.1:5000"),
        ],
    )
    .await;
    c.host.take_logs();
    assert_503(&c.call("GET", "/v2/images", "t", b"").await, "denied");
    assert!(c.host.take_logs().contains("Keystone unreachable"));
}

#[tokio::test]
async fn a_kv_store_label_spin_toml_does_not_grant_is_503_and_the_log_names_the_fix() {
    let c = host_with(
        image_tags_host::KvMode::Sqlite,
        &[("kv_store", "not-granted")],
    )
    .await;
    let r = c.call("GET", "/healthcheck/ready", "", b"").await;
    assert_503(&r, "ready with a label spin.toml does not grant");
    let r = c.call("GET", "/v2/images", ALICE, b"").await;
    assert_503(&r, "list with a label spin.toml does not grant");
    let logs = c.host.take_logs();
    assert!(
        logs.contains("not-granted") && logs.contains("key_value_stores"),
        "the log names the label and the fix: {logs}"
    );
}
