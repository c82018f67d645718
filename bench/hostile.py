#!/usr/bin/env python3
"""Time the hostile requests of issue 10 against a running image-tags in tokens
mode (a token `alice-token` of project `proj-a` with `member`). Prints one
Markdown table row per request: status, time, response size. Not a test.

    bench/hostile.py URL [TIMEOUT_SECONDS]      # default 30 s per request

On the real Spin (run it with the tests' venv, which has `requests`):

    SPIN_VARIABLE_AUTH_MODE=tokens SPIN_VARIABLE_AUTH_TOKENS='alice-token:proj-a:member+reader' \\
      spin up --from spin.toml --listen 127.0.0.1:3000 --state-dir $(mktemp -d) &
    bench/hostile.py http://127.0.0.1:3000 150

The 100,000-tag POST goes last: before issue 10 it kept a core busy for over a
minute, which would have slowed the others down.
"""
import json
import sys
import time
import uuid

import requests

URL = sys.argv[1]
TIMEOUT = int(sys.argv[2]) if len(sys.argv) > 2 else 30
AUTH = {"X-Auth-Token": "alice-token"}
JSON = {**AUTH, "Content-Type": "application/json"}
PATCH = {**AUTH, "Content-Type": "application/openstack-images-v2.1-json-patch"}


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def timed(label, method, path, body=None, headers=AUTH):
    started = time.monotonic()
    try:
        r = requests.request(method, URL + path, data=body, headers=headers, timeout=TIMEOUT)
    except requests.exceptions.ReadTimeout:
        print(f"| {label} | no answer | > {TIMEOUT} s | |", flush=True)
        return
    took = time.monotonic() - started
    print(f"| {label} | {r.status_code} | {took * 1000:.0f} ms | {len(r.content)} B |", flush=True)


def main():
    r = requests.post(URL + "/v2/images", data=compact({"name": "hostile"}), headers=JSON, timeout=30)
    assert r.status_code == 201, r.text
    image = r.json()["id"]
    props = compact({"name": "props", **{f"p{i}": "vvvvvv" for i in range(20_000)}})
    ops = compact([{"op": "add", "path": f"/prop{i}", "value": "xx"} for i in range(50_000)])
    # Tags no earlier run used: a counter read on a missing key is what costs most.
    run = uuid.uuid4().hex[:2]
    query = "&".join(f"tag={run}{i}" for i in range(5_000))
    tags = compact({"name": "many", "tags": [f"tag{i}" for i in range(100_000)]})
    print("| request | status | time | body |\n|---|---|---:|---:|")
    timed(f"POST 20,000 extra properties ({len(props) // 1024} KiB)", "POST", "/v2/images", props, JSON)
    timed(f"PATCH 50,000 ops ({len(ops) / 2**20:.1f} MiB)", "PATCH", f"/v2/images/{image}", ops, PATCH)
    timed("GET 5,000 tag parameters", "GET", f"/v2/images?{query}")
    timed("GET /v2/images/{60,000 characters}", "GET", "/v2/images/" + "a" * 60_000)
    for raw in ["a%00b", "%0A", "%1B", "%7F"]:
        timed(f"PUT .../tags/{raw}", "PUT", f"/v2/images/{image}/tags/{raw}")
    timed(f"POST 100,000 tags ({len(tags) // 1024} KiB)", "POST", "/v2/images", tags, JSON)


if __name__ == "__main__":
    main()
