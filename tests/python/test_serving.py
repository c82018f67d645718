"""What the server in front of the component shows: keep-alive latency, whole access-log lines,
concurrent writers, a store outage, Keystone mode. Each runs on whichever server
IMAGE_TAGS_SERVER names; tests/run runs this file on the test host and on the real Spin with
both stores. The few that only make sense on one server say so and skip elsewhere."""

import json
import os
import shutil
import tempfile
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import ALICE, EDGE, KV, Host, SpinHost, on_spin, strong_only, tokens_variable


def auth(token):
    return {"X-Auth-Token": token}


def new_image(url, token=ALICE, **body):
    body.setdefault("name", "serving")
    r = requests.post(f"{url}/v2/images", json=body, headers=auth(token), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def tags_of(url, image_id, token=ALICE):
    r = requests.get(f"{url}/v2/images/{image_id}", headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["tags"]


# ----- one keep-alive connection, as keystoneauth and the clients hold one ---------------


@pytest.fixture(scope="module")
def memory_backed_host(_first_host, logdir):
    """On Spin's SQLite store each write is a disk commit (tens of ms on this machine's disk):
    the keep-alive test keeps that store in memory (/dev/shm), so what it times is the HTTP
    path alone. Elsewhere the shared host serves."""
    if not (on_spin() and KV == "sqlite"):
        yield _first_host.url
        return
    store = Path(tempfile.mkdtemp(prefix="image-tags-kv-", dir="/dev/shm"))
    server = SpinHost("keep-alive", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()},
                      store_dir=store)
    yield server.url
    server.stop()
    shutil.rmtree(store, ignore_errors=True)


def test_every_response_kind_is_fast_on_one_keep_alive_connection(memory_backed_host):
    """Spin leaves Nagle on: a response whose head went out before its body waited ~40 ms for the
    client's delayed ACK. 30 requests of each kind on one connection, p50 under 10 ms."""
    host = memory_backed_host
    image_id = new_image(host, tags=["keep"])
    s = requests.Session()
    kinds = {
        "GET / (300)": lambda i: s.get(f"{host}/"),
        "GET /versions": lambda i: s.get(f"{host}/versions"),
        "GET image": lambda i: s.get(f"{host}/v2/images/{image_id}", headers=auth(ALICE)),
        "list": lambda i: s.get(f"{host}/v2/images?tag=keep", headers=auth(ALICE)),
        "schema": lambda i: s.get(f"{host}/v2/schemas/image", headers=auth(ALICE)),
        "POST image": lambda i: s.post(f"{host}/v2/images", json={"name": f"k{i}"}, headers=auth(ALICE)),
        "PUT tag (204)": lambda i: s.put(f"{host}/v2/images/{image_id}/tags/t{i}", headers=auth(ALICE)),
        "DELETE tag (204)": lambda i: s.delete(f"{host}/v2/images/{image_id}/tags/t{i}", headers=auth(ALICE)),
        "404": lambda i: s.get(f"{host}/v2/images/{uuid.uuid4()}", headers=auth(ALICE)),
        "401": lambda i: s.get(f"{host}/v2/images", headers=auth("nobody")),
        "400": lambda i: s.put(f"{host}/v2/images/{image_id}/tags/a=b", headers=auth(ALICE)),
    }
    medians = {}
    for name, call in kinds.items():
        times = []
        for i in range(30):
            t0 = time.perf_counter()
            r = call(i)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code < 500, (name, r.status_code, r.text)
        medians[name] = statistics.median(times)
    slow = {k: round(v, 2) for k, v in medians.items() if v >= 10}
    assert not slow, f"p50 over 10 ms on one keep-alive connection: {slow} (all: {medians})"


# ----- the access log --------------------------------------------------------------------


def test_access_log_lines_stay_whole_under_concurrency(host_server):
    """32 requests at a time: every line of the component's log is one JSON object."""
    if not on_spin():
        pytest.skip("the test host's log mixes in its own lines; Spin's component log is the one that matters")
    url = host_server.url
    log = host_server.component_log()
    before = log.read_text().count("\n") if log.exists() else 0
    paths = [f"/v2/images/{uuid.uuid4()}" for _ in range(128)] + ["/v2/images?limit=3"] * 128
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda p: requests.get(url + p, headers=auth(ALICE), timeout=30).status_code,
                                 paths))
    assert set(statuses) <= {200, 404}, statuses
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()[before:]
        if len(lines) >= len(paths):
            break
        time.sleep(0.1)
    assert len(lines) >= len(paths), f"{len(lines)} log lines for {len(paths)} requests"
    broken = []
    for line in lines:
        try:
            entry = json.loads(line)
            assert {"request_id", "method", "route", "status"} <= entry.keys()
        except (ValueError, AssertionError):
            broken.append(line)
    assert not broken, f"{len(broken)} of {len(lines)} lines are not whole JSON: {broken[:3]}"
    assert "alice-token" not in "\n".join(lines)


def test_the_access_log_line_carries_the_callers_trace_id(host_server):
    """Spin continues a caller's W3C trace (and exports it with OTEL_EXPORTER_OTLP_ENDPOINT set):
    the log line names the same trace, so the two can be joined."""
    if not on_spin():
        pytest.skip("Spin's component log is the one that matters")
    log = host_server.component_log()
    trace = uuid.uuid4().hex
    r = requests.get(host_server.url + "/v2/images?limit=1", timeout=30,
                     headers={**auth(ALICE), "traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert r.status_code == 200
    rid = r.headers["x-openstack-request-id"]
    deadline = time.monotonic() + 10
    entry = None
    while entry is None and time.monotonic() < deadline:
        entries = [json.loads(l) for l in log.read_text().splitlines() if rid in l]
        entry = entries[0] if entries else None
        time.sleep(0.1)
    assert entry is not None, f"no log line for {rid}"
    assert entry["trace_id"] == trace
    r = requests.get(host_server.url + "/healthcheck", timeout=30, headers={"traceparent": "garbage"})
    assert r.status_code == 200


# ----- concurrent writers ------------------------------------------------------------------


def test_fifty_writers_on_one_image_lose_nothing(host):
    strong_only("test_fifty_writers_on_one_image_are_answered_and_nearly_all_kept")
    image_id = new_image(host)
    tags = [f"w{n}" for n in range(50)]
    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(
            lambda t: requests.put(f"{host}/v2/images/{image_id}/tags/{t}", headers=auth(ALICE), timeout=60)
            .status_code, tags))
    assert statuses == [204] * 50
    assert sorted(tags_of(host, image_id)) == sorted(tags)
    r = requests.get(f"{host}/v2/images?tag=w17&tag=w42", headers=auth(ALICE), timeout=30)
    assert [i["id"] for i in r.json()["images"]] == [image_id]


# ----- a store outage on the real Spin's SQLite store --------------------------------------


def test_fifty_writers_on_one_image_are_answered_and_nearly_all_kept(host):
    """The edge build's promise for one image under 50 writers at once (README, "Edge build"):
    every writer is answered 204, and a write overwritten before its checks end is made again;
    one overwritten after them is lost. Counted and printed; the README gives the figures."""
    if not EDGE:
        pytest.skip("the edge build's test; the strong build's is test_fifty_writers_on_one_image_lose_nothing")
    image_id = new_image(host)
    tags = [f"w{n}" for n in range(50)]
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(
            lambda t: requests.put(f"{host}/v2/images/{image_id}/tags/{t}", headers=auth(ALICE), timeout=60),
            tags))
    statuses = [r.status_code for r in answers]
    # A write that kept being overwritten gives up with a 503 (the client retries): seen once
    # in many runs on a loaded machine. Never another status.
    assert set(statuses) <= {204, 503}, statuses
    assert all(r.headers.get("retry-after") for r in answers if r.status_code == 503)
    assert statuses.count(503) <= 5, statuses
    kept = set(tags_of(host, image_id))
    assert kept <= set(tags)
    acknowledged = {t for t, s in zip(tags, statuses) if s == 204}
    print(f"edge: 50 writers on one image: {len(acknowledged)} answered 204, {len(kept & acknowledged)} of those kept")
    assert len(kept & acknowledged) >= 40, f"kept {len(kept & acknowledged)} of {len(acknowledged)}"


def test_sqlite_store_outage_is_503_and_loses_nothing(logdir):
    """Moving the store's directory away makes Spin's SQLite writes fail at once (no journal can be
    created); moving it back makes them work again."""
    if not (on_spin() and KV == "sqlite"):
        pytest.skip("Spin's SQLite store only (the test host's outages are in tests/faults.rs)")
    store = Path(logdir) / "outage-store"
    server = SpinHost("outage", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable()},
                      store_dir=store)
    try:
        url = server.url
        image_id = new_image(url, tags=["before"])
        away = store.with_name("outage-store-away")
        store.rename(away)
        try:
            r = requests.put(f"{url}/v2/images/{image_id}/tags/during", headers=auth(ALICE), timeout=30)
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"].isdigit()
            assert r.json()["error"]["request_id"] == r.headers["x-openstack-request-id"]
            r = requests.post(f"{url}/v2/images", json={"name": "during"}, headers=auth(ALICE), timeout=30)
            assert r.status_code == 503, r.text
            # Readiness fails while writes fail: a probe takes the instance out of service.
            r = requests.get(f"{url}/healthcheck/ready", timeout=30)
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"].isdigit()
        finally:
            away.rename(store)
        assert requests.get(f"{url}/healthcheck/ready", timeout=30).status_code == 200
        r = requests.put(f"{url}/v2/images/{image_id}/tags/after", headers=auth(ALICE), timeout=30)
        assert r.status_code == 204, r.text
        assert tags_of(url, image_id) == ["before", "after"]
        listed = requests.get(f"{url}/v2/images", headers=auth(ALICE), timeout=30).json()["images"]
        assert [i["name"] for i in listed] == ["serving"], "the refused POST left no image behind"
        r = requests.get(f"{url}/v2/images?tag=during", headers=auth(ALICE), timeout=30)
        assert r.json()["images"] == []
    finally:
        server.stop()


# ----- Keystone mode -------------------------------------------------------------------------


def keystone_fixtures():
    path = Path(os.environ.get("KEYSTONE_HOME", "/tmp/keystone-real")) / "fixtures.env"
    try:
        requests.get("http://127.0.0.1:5000/v3", timeout=5).raise_for_status()
        text = path.read_text()
    except (OSError, requests.RequestException) as e:
        if os.environ.get("IMAGE_TAGS_KEYSTONE") == "required":
            pytest.fail(f"Keystone is not running with {path}: {e}", pytrace=False)
        pytest.skip(f"Keystone is not running ({e}); tests/run starts it")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_keystone_mode_against_the_real_keystone(logdir):
    ks = keystone_fixtures()
    server = Host("keystone", logdir, {"auth_mode": "keystone", "keystone_url": ks["KEYSTONE_URL"],
                                       "keystone_origin": "http://127.0.0.1:5000"})
    try:
        url = server.url
        alice, rita, bob = ks["ALICE_TOKEN"], ks["RITA_TOKEN"], ks["BOB_TOKEN"]
        image_id = new_image(url, token=alice)
        for _ in range(2):  # the second round is served from the token cache
            r = requests.put(f"{url}/v2/images/{image_id}/tags/ks", headers=auth(alice), timeout=30)
            assert r.status_code == 204, r.text
        assert tags_of(url, image_id, alice) == ["ks"]
        r = requests.put(f"{url}/v2/images/{image_id}/tags/no", headers=auth(rita), timeout=30)
        assert r.status_code == 403, r.text
        r = requests.get(f"{url}/v2/images/{image_id}", headers=auth(bob), timeout=30)
        assert r.status_code == 404, r.text
        for token in ["garbage", ks["REVOKED_TOKEN"]]:
            r = requests.get(f"{url}/v2/images", headers=auth(token), timeout=30)
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"].startswith('Keystone uri="http://127.0.0.1:5000')
        r = requests.get(f"{url}/v2/images", timeout=30)
        assert r.status_code == 401
    finally:
        server.stop()


@pytest.fixture(scope="module")
def host_server(_first_host):
    return _first_host

