//! The real Keystone that `tests/services/keystone` installs and starts, for
//! the keystone auth mode tests: its fixtures, its scripts, and a few calls
//! made with curl.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn home() -> PathBuf {
    std::env::var_os("KEYSTONE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/keystone-real"))
}

/// `http://127.0.0.1:PORT` of the Keystone under test: start.sh's
/// KEYSTONE_PORT (default 5000), so a second Keystone with its own
/// KEYSTONE_HOME and KEYSTONE_PORT can serve one run without touching another.
pub fn origin() -> String {
    let port = std::env::var("KEYSTONE_PORT").unwrap_or_else(|_| "5000".into());
    format!("http://127.0.0.1:{port}")
}

/// The project's own install/start/stop scripts for Keystone.
pub fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services/keystone")
}

/// `fixtures.env` of the running Keystone. `None` (the test is skipped)
/// only when Keystone is not set up and `IMAGE_TAGS_KEYSTONE` is not
/// `required`; `tests/run` and CI set it, so there these tests always run.
pub fn fixtures() -> Option<HashMap<String, String>> {
    let path = home().join("fixtures.env");
    let running = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", &format!("{}/v3", origin())])
        .status()
        .is_ok_and(|s| s.success());
    match std::fs::read_to_string(&path) {
        Ok(text) if running => Some(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        _ if std::env::var("IMAGE_TAGS_KEYSTONE").as_deref() == Ok("required") => {
            panic!(
                "Keystone is not running with {path:?}: run tests/services/keystone/install.sh and start.sh"
            )
        }
        _ => {
            eprintln!("SKIPPED: Keystone is not running ({path:?}); tests/run starts it");
            None
        }
    }
}

/// Run one of the Keystone scripts with extra environment.
pub fn script(name: &str, env: &[(&str, &str)]) {
    let status = Command::new("bash")
        .arg(scripts().join(name))
        .envs(env.iter().copied())
        .env("KEYSTONE_HOME", home())
        .status()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(status.success(), "{name} failed: {status}");
}

/// A fresh project-scoped token by password, as a client would get one.
pub fn password_token(f: &HashMap<String, String>, user: &str, project_id: &str) -> String {
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": f[&format!("{user}_USER")], "domain": {"id": "default"},
            "password": f[&format!("{user}_PASSWORD")]}}},
        "scope": {"project": {"id": project_id}}}});
    let out = Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "content-type: application/json",
        ])
        .args([
            "-d",
            &body.to_string(),
            &format!("{}/v3/auth/tokens", origin()),
        ])
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&out.stdout);
    headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-subject-token")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no token in Keystone's answer: {headers}"))
}

/// Revoke `token` with the admin token.
pub fn revoke(f: &HashMap<String, String>, token: &str) {
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .args(["-H", &format!("x-auth-token: {}", f["ADMIN_TOKEN"])])
        .args(["-H", &format!("x-subject-token: {token}")])
        .arg(format!("{}/v3/auth/tokens", origin()))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "204");
}

/// How many token validations image-tags has sent Keystone so far, from
/// Keystone's own access log (our requests carry `User-Agent: image-tags`).
///
/// gunicorn writes a request's access line after it has sent the response,
/// so the line of a validation whose answer the component already has may
/// not be in the file yet: reading the file at once raced that write (the
/// flake of issue 19, "the first request validates, left: 0, right: 1").
/// A barrier makes the count exact instead: one request of our own with a
/// user agent no other request has, waited for in the log. start.sh's
/// Keystone runs one worker with one thread, which handles requests one at
/// a time and writes each one's line before it takes the next; so once the
/// barrier's line is in the file, so is the line of every request answered
/// before the barrier was sent, and none is still to come.
pub fn validations_seen() -> usize {
    static BARRIERS: AtomicUsize = AtomicUsize::new(0);
    let conf = home().join("run/gunicorn.conf.py");
    let conf = std::fs::read_to_string(&conf).unwrap_or_default();
    assert!(
        conf.lines().any(|l| l.trim() == "workers = 1")
            && conf.lines().any(|l| l.trim() == "threads = 1"),
        "counting validations needs Keystone with one worker and one thread (start.sh's default), \
         not as configured in {:?}",
        home().join("run/gunicorn.conf.py")
    );
    let marker = format!(
        "image-tags-test-log-barrier/{}-{}",
        std::process::id(),
        BARRIERS.fetch_add(1, Ordering::Relaxed)
    );
    let status = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-m", "30", "-A", &marker])
        .arg(format!("{}/v3", origin()))
        .status()
        .expect("curl runs");
    assert!(
        status.success(),
        "the barrier request to Keystone failed: {status}"
    );
    let log = home().join("keystone.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&marker) {
            return text
                .lines()
                .filter(|l| l.contains("GET /v3/auth/tokens") && l.contains("\"image-tags\""))
                .count();
        }
        assert!(
            Instant::now() < deadline,
            "the barrier request {marker} never reached Keystone's access log {log:?} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
