"""Fifty concurrent writers against a running image-tags, counting 5xx and lost writes.

    python3 race.py URL[,URL...] [WRITERS]   (alice-token must map to a member of proj-a)

Several URLs (Spin instances on one table): writer n goes to URL n mod their number.

Round 1: WRITERS concurrent POST /v2/images (they race for the shared index counters).
Round 2: WRITERS concurrent PUTs of distinct tags on one image (they race for its record).
A write is lost when it got a 2xx but is missing afterwards: a created image that GET or the
listing by its tag does not show, a tag the image does not carry. Prints one line per round
and exits 1 if any request answered 5xx or any acknowledged write is lost.
"""

import json
import sys
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

URLS = [u.rstrip("/") for u in sys.argv[1].split(",")]
WRITERS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
AUTH = {"X-Auth-Token": "alice-token", "Content-Type": "application/json"}


def call(method, path, body=None, n=0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URLS[n % len(URLS)] + path, data=data, headers=AUTH, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def report(name, statuses, lost):
    fivexx = sum(1 for s in statuses if s >= 500)
    ok = sum(1 for s in statuses if 200 <= s < 300)
    print(f"{name}: {len(statuses)} writers, {ok} 2xx, {fivexx} 5xx, {lost} lost "
          f"(statuses {sorted(set(statuses))})")
    return fivexx == 0 and lost == 0


def main():
    run = uuid.uuid4().hex[:8]
    tag = f"race-{run}"
    with ThreadPoolExecutor(WRITERS) as pool:
        created = list(pool.map(lambda n: call("POST", "/v2/images", {"name": f"race{n}", "tags": [tag]}, n),
                                range(WRITERS)))
    ids = [json.loads(b)["id"] for s, b in created if s == 201]
    status, body = call("GET", f"/v2/images?tag={tag}&limit=1000")
    listed = {i["id"] for i in json.loads(body)["images"]} if status == 200 else set()
    lost = sum(1 for i in ids if i not in listed or call("GET", f"/v2/images/{i}")[0] != 200)
    good = report("creates", [s for s, _ in created], lost)

    status, body = call("POST", "/v2/images", {"name": "race-target"})
    assert status == 201, body
    target = json.loads(body)["id"]
    tags = [f"w{n}" for n in range(WRITERS)]
    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = list(pool.map(lambda n: call("PUT", f"/v2/images/{target}/tags/{tags[n]}", n=n)[0],
                                 range(WRITERS)))
    kept = set(json.loads(call("GET", f"/v2/images/{target}")[1])["tags"])
    lost = sum(1 for t, s in zip(tags, statuses) if 200 <= s < 300 and t not in kept)
    good = report("tag PUTs on one image", statuses, lost) and good
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
