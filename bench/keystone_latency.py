#!/usr/bin/env python3
"""Latency of a tag PUT whose token must be validated by Keystone, against
one whose validation is cached (issue 4's benchmark). Prints numbers; not a
test.

    bench/keystone_latency.py [N]

Needs the real Keystone of tests/services/keystone running (start.sh) and the
release builds (`cargo build --release -p image-tags-host` and the release
.wasm). Only 127.0.0.1 is contacted; N requests of each kind (default 100).
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
home = os.environ.get("KEYSTONE_HOME", "/tmp/keystone-real")
fx = dict(
    line.strip().split("=", 1)
    for line in open(os.path.join(home, "fixtures.env"))
    if "=" in line and not line.startswith("#")
)


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return resp.status, resp.getheaders(), data, elapsed


def fresh_token():
    body = json.dumps({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": fx["ALICE_USER"], "domain": {"id": "default"},
            "password": fx["ALICE_PASSWORD"]}}},
        "scope": {"project": {"id": fx["PROJ_A_ID"]}}}})
    status, headers, _, _ = request(5000, "POST", "/v3/auth/tokens",
                                    {"content-type": "application/json"}, body)
    assert status == 201, status
    return dict((k.lower(), v) for k, v in headers)["x-subject-token"]


env = dict(os.environ, SPIN_VARIABLE_AUTH_MODE="keystone",
           SPIN_VARIABLE_KEYSTONE_URL="http://127.0.0.1:5000/v3",
           SPIN_VARIABLE_IMAGE_TAG_QUOTA="-1", IMAGE_TAGS_HOST_OPT="speed")
host = subprocess.Popen(
    [os.path.join(ROOT, "target/release/image-tags-host"), "--listen", "127.0.0.1:0",
     "--manifest", os.path.join(ROOT, "spin.toml"), "--quiet"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
try:
    line = host.stdout.readline()
    assert line.startswith("listening on "), line
    port = int(line.rsplit(":", 1)[1])
    tokens = [fresh_token() for _ in range(N)]
    status, _, data, _ = request(port, "POST", "/v2/images",
                                 {"x-auth-token": tokens[0]}, b'{"name":"bench"}')
    assert status == 201, (status, data)
    image = json.loads(data)["id"]
    # Each fresh token's first PUT makes the component call Keystone.
    validated = []
    for n, tok in enumerate(tokens[1:]):
        status, _, _, ms = request(port, "PUT", f"/v2/images/{image}/tags/v{n}",
                                   {"x-auth-token": tok})
        assert status == 204, status
        validated.append(ms)
    # The same token again: answered from the cache in the key-value store.
    cached = []
    for n in range(N):
        status, _, _, ms = request(port, "PUT", f"/v2/images/{image}/tags/c{n % 50}",
                                   {"x-auth-token": tokens[0]})
        assert status == 204, status
        cached.append(ms)

    def row(name, xs):
        xs = sorted(xs)
        p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
        print(f"{name:<40} n={len(xs):4d}  p50 {statistics.median(xs):7.2f} ms  p99 {p99:7.2f} ms")

    print("tag PUT latency, one connection per request, release test host, real Keystone 30")
    row("token validated by Keystone (first use)", validated)
    row("token cached (key-value store)", cached)
finally:
    host.terminate()
    host.wait()
