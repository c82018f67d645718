#!/usr/bin/env python3
"""Latency of each call a real OpenStack client makes, over one keep-alive
connection: a python-requests Session per server, as keystoneauth and
openstacksdk hold one. Prints p50 and p99 of every call for every server in
the same run; not a test.

    bench/client_session.py --target image-tags=http://127.0.0.1:3000 \\
                            --target glance=http://127.0.0.1:9292 [--iterations 50]

(bench/client_session starts image-tags on the real Spin with both stores
and Glance 33, then runs this.) Identity comes from the headers Glance's
noauth-headers flavor and image-tags' auth_mode=headers both read. Only the
given URLs are contacted.

Each iteration sends, on every server in turn (so drift in the machine's load
hits all of them): POST /v2/images, GET /v2/images/{id}, PUT and DELETE a
tag, GET /v2/images?limit=20, GET of an unknown image (404) and GET /.
The first iterations (--warmup) are not counted. With 50 samples p99 is the
nearest rank, i.e. the slowest but none.
"""
import argparse
import json
import math
import statistics
import sys
import time
import uuid

import requests

HEADERS = {
    "X-Identity-Status": "Confirmed",
    "X-Project-Id": "proj-a",
    "X-Roles": "admin,member,reader",
}

# (name, method, path template, expected statuses); {id} is the image of the iteration.
CALLS = [
    ("POST /v2/images", "POST", "/v2/images", {201}),
    ("GET /v2/images/{id}", "GET", "/v2/images/{id}", {200}),
    ("PUT tag", "PUT", "/v2/images/{id}/tags/{tag}", {204}),
    ("DELETE tag", "DELETE", "/v2/images/{id}/tags/{tag}", {204}),
    ("GET /v2/images?limit=20", "GET", "/v2/images?limit=20", {200}),
    ("GET unknown image (404)", "GET", "/v2/images/{missing}", {404}),
    ("GET / (versions)", "GET", "/", {200, 300}),
]


class Target:
    def __init__(self, name, url):
        self.name, self.url = name, url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(HEADERS)
        self.times = {c[0]: [] for c in CALLS}

    def call(self, method, path, body=None):
        started = time.perf_counter()
        r = self.session.request(method, self.url + path, data=body,
                                 headers={"Content-Type": "application/json"} if body else None, timeout=30)
        _ = r.content
        return r, (time.perf_counter() - started) * 1000

    def connections_opened(self):
        pools = self.session.get_adapter(self.url).poolmanager.pools
        return sum(pools[key].num_connections for key in pools.keys())


def iteration(t, n, counted):
    image = {"id": str(uuid.uuid4()), "name": "session-%d" % n, "tags": ["session"],
             "container_format": "bare", "disk_format": "qcow2"}
    values = {"id": image["id"], "tag": "t%d" % n, "missing": str(uuid.uuid4())}
    for name, method, template, expected in CALLS:
        body = json.dumps(image) if method == "POST" else None
        r, ms = t.call(method, template.format(**values), body)
        if r.status_code not in expected:
            sys.exit("%s: %s %s answered %d, expected %s: %s" % (
                t.name, method, template, r.status_code, sorted(expected), r.text[:200]))
        if counted:
            t.times[name].append(ms)


def nearest_rank(xs, q):
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", action="append", required=True, help="NAME=URL (the first is compared with the last)")
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    a = p.parse_args()
    targets = [Target(*spec.split("=", 1)) for spec in a.target]
    # Twenty images first, so the list answers twenty from the first iteration on.
    for t in targets:
        for n in range(20):
            iteration(t, -1 - n, False)
    for n in range(a.warmup + a.iterations):
        for t in targets:
            iteration(t, n, n >= a.warmup)

    ref = targets[-1]
    head = "| call |" + "".join(" %s p50 ms | p99 ms |" % t.name for t in targets)
    rule = "|---|" + "---:|---:|" * len(targets)
    ratios = [t for t in targets if t is not ref]
    head += "".join(" p50 %s/%s |" % (t.name, ref.name) for t in ratios)
    rule += "---:|" * len(ratios)
    lines = [head, rule]
    for name, *_ in CALLS:
        row = "| %s |" % name
        for t in targets:
            row += " %.2f | %.2f |" % (statistics.median(t.times[name]), nearest_rank(t.times[name], 0.99))
        for t in ratios:
            row += " %.2fx |" % (statistics.median(t.times[name]) / statistics.median(ref.times[name]))
        lines.append(row)
    lines.append("")
    lines.append("%d iterations (after %d not counted), one requests %s Session per server; connections opened: %s" % (
        a.iterations, a.warmup, requests.__version__,
        ", ".join("%s %d" % (t.name, t.connections_opened()) for t in targets)))
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
