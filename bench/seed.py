#!/usr/bin/env python3
"""Seed images through the API (POST /v2/images), concurrently, over keep-alive
connections; stdlib only. Writes the created ids, one a line, to --ids-out.

  seed.py --url http://127.0.0.1:PORT --count 1000 --match-every 20 --ids-out ids
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--first", type=int, default=0, help="number of the first image (names, tags)")
    p.add_argument("--match-every", type=int, default=0,
                   help="every Nth image also carries the tag 'match' (0: none)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--token", default="bench-token")
    p.add_argument("--ids-out", required=True)
    p.add_argument("--append", action="store_true")
    a = p.parse_args()

    u = urllib.parse.urlsplit(a.url)
    headers = {
        "Content-Type": "application/json",
        "X-Auth-Token": a.token,
        # Glance (and image-tags in headers mode) read the identity from these.
        "X-Identity-Status": "Confirmed",
        "X-Project-Id": "proj-a",
        "X-Roles": "admin,member,reader",
    }
    bodies = []
    for n in range(a.first, a.first + a.count):
        tags = ["bulk", "b%d" % (n % 100)]
        if a.match_every and n % a.match_every == 0:
            tags.insert(0, "match")
        bodies.append({"id": str(uuid.uuid4()), "name": "bench-%d" % n, "tags": tags,
                       "container_format": "bare", "disk_format": "qcow2"})

    lock = threading.Lock()
    state = {"next": 0, "failed": []}

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                break
            body = json.dumps(bodies[i])
            for attempt in range(3):
                try:
                    conn.request("POST", "/v2/images", body=body, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 201:
                        with lock:
                            state["failed"].append((i, r.status))
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                    if attempt == 2:
                        with lock:
                            state["failed"].append((i, "connection"))
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - started
    with open(a.ids_out, "a" if a.append else "w") as f:
        for b in bodies:
            f.write(b["id"] + "\n")
    if state["failed"]:
        print("seed: %d of %d POSTs failed, e.g. %s" % (len(state["failed"]), a.count, state["failed"][:3]),
              file=sys.stderr)
        sys.exit(1)
    print("seeded %d images in %.1f s (%.0f/s)" % (a.count, took, a.count / took))


if __name__ == "__main__":
    main()
