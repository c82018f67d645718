#!/usr/bin/env python3
"""The body of bench/tag_churn (which starts the real Spin and runs this):
add and remove one tag on the same images over and over, then list that tag,
and compare with the same listing after the first cycle (issue 9: a tag added
and removed a million times must not make its listing a million reads).

    tag_churn.py --url http://127.0.0.1:PORT [--cycles N | --seconds S] \\
                 [--clients K] [--redis-port P | --sqlite-db FILE]

Seeds --background images without the tag, --stable images that carry it
all along (fewer than a page, so a page must look at the whole log of the
tag to know nothing else follows), and --clients images to churn. Each
client holds one keep-alive connection and churns its own image (PUT then
DELETE of /v2/images/{id}/tags/churn), concurrently. Every listing is
checked: exactly the images that carry the tag. The store's key count before
and after shows whether the logs stay bounded. Stdlib only.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

from bench_http import Client, CpuWatch, loadavg, out, pct, post_all

TAG = "churn"


def count_keys(a):
    """(keys, bytes) in the store: Redis DBSIZE and used_memory, or the SQLite file's rows and size."""
    if a.redis_port:
        cli = ["redis-cli", "-p", str(a.redis_port)]
        keys = int(subprocess.check_output(cli + ["DBSIZE"], text=True).split()[-1])
        info = subprocess.check_output(cli + ["INFO", "memory"], text=True)
        used = next(int(l.split(":")[1]) for l in info.splitlines() if l.startswith("used_memory:"))
        return keys, "redis used_memory %d bytes" % used
    if a.sqlite_db:
        db = sqlite3.connect("file:%s?mode=ro" % a.sqlite_db, uri=True, timeout=30)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        keys = sum(db.execute('SELECT COUNT(*) FROM "%s"' % t).fetchone()[0] for t in tables)
        db.close()
        return keys, "sqlite file %d bytes" % os.path.getsize(a.sqlite_db)
    return None, "store not given"


def list_tag(client, tries, want):
    """p50 and p90 (ms) of GET /v2/images?tag=churn over `tries`, and a problem or None."""
    path = "/v2/images?tag=" + TAG
    body, _ = client.get_json(path)
    got = [i["id"] for i in body.get("images", [])]
    problem = None
    if sorted(got) != sorted(want):
        problem = "listed %d images (%d unexpected, %d missing), %d expected" % (
            len(got), len(set(got) - set(want)), len(set(want) - set(got)), len(want))
    elif body.get("next"):
        problem = "a next link after the last image"
    times = [client.get_json(path)[1] for _ in range(tries)]
    return pct(times, 50) * 1e3, pct(times, 90) * 1e3, problem


def churn(a, ids, deadline):
    """Every client churns its own image until --cycles or the deadline. Returns (cycles, errors)."""
    done, errors, lock = [0] * len(ids), [], threading.Lock()

    def worker(k):
        c = Client(a.url, a.admin_token)
        path = "/v2/images/%s/tags/%s" % (ids[k], TAG)
        while (done[k] < a.cycles) if a.cycles else (time.monotonic() < deadline):
            for method in ("PUT", "DELETE"):
                status, raw, _ = c.request(method, path)
                if status != 204:
                    with lock:
                        errors.append("%s %s: %s %s" % (method, ids[k], status, raw[:120]))
            done[k] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--admin-token", default="bench-admin")
    p.add_argument("--cycles", type=int, default=0, help="add/remove cycles per image (default: as many as --seconds allow)")
    p.add_argument("--seconds", type=float, default=150, help="how long to churn when --cycles is not given (150)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients, each on its own image (4)")
    p.add_argument("--stable", type=int, default=10, help="images that carry the tag throughout (10)")
    p.add_argument("--background", type=int, default=200, help="images without the tag (200)")
    p.add_argument("--tries", type=int, default=30, help="timed listings each time (30)")
    p.add_argument("--redis-port", type=int)
    p.add_argument("--sqlite-db")
    p.add_argument("--server-pids", default="")
    a = p.parse_args()
    pids = [int(x) for x in a.server_pids.split()]
    if a.stable + a.clients > 25:
        p.error("--stable plus --clients must fit one page of 25 (the listings are checked in full)")

    def body(name, tags):
        return {"id": str(uuid.uuid4()), "name": name, "tags": tags, "container_format": "bare", "disk_format": "qcow2"}

    background = [body("bg-%d" % i, ["other", "bg-%d" % (i % 50)]) for i in range(a.background)]
    stable = [body("stable-%d" % i, [TAG, "other"]) for i in range(a.stable)]
    churned = [body("churned-%d" % i, ["other"]) for i in range(a.clients)]
    seeded = background + stable + churned
    took, failed = post_all(a.url, a.admin_token, seeded, 16)
    if failed:
        out("seed", "FAIL %d POSTs failed, e.g. %s" % (len(failed), failed[:3]))
        sys.exit(1)
    out("seed", len(seeded), "images in %.1f s (%d without the tag, %d carry tag %s throughout, %d churned)" % (
        took, len(background), len(stable), TAG, len(churned)))
    stable_ids, churn_ids = [b["id"] for b in stable], [b["id"] for b in churned]
    keys0, bytes0 = count_keys(a)
    out("store keys before churn", keys0, "keys (%s)" % bytes0)

    admin, ok = Client(a.url, a.admin_token), True
    first, errors = churn(argparse.Namespace(**{**vars(a), "cycles": 1}), churn_ids, 0)
    if errors:
        ok = False
        out("first cycle", "FAIL " + "; ".join(errors[:3]))
    p50_1, p90_1, problem = list_tag(admin, a.tries, stable_ids)
    out("list tag=%s after 1 cycle p50" % TAG, "%.2f" % p50_1, "ms")
    out("list tag=%s after 1 cycle p90" % TAG, "%.2f" % p90_1, "ms")
    out("list tag=%s after 1 cycle check" % TAG, "FAIL " + problem if problem else "OK (%d images)" % len(stable_ids))
    ok = ok and not problem
    keys1, bytes1 = count_keys(a)
    out("store keys after 1 cycle", keys1, "keys (%s)" % bytes1)

    cpu = CpuWatch(pids)
    started = time.monotonic()
    done, errors = churn(a, churn_ids, started + a.seconds)
    took = time.monotonic() - started
    others = cpu.others_pct()
    total = sum(done) + len(churn_ids)  # with the first cycle
    out("clients", len(churn_ids), "(each on its own image, one keep-alive connection each)")
    out("cycles per image", "%d" % (total // len(churn_ids)), "(min %d, max %d; first cycle included)" % (
        min(done) + 1, max(done) + 1))
    out("cycles total", total, "add/remove cycles of tag %s" % TAG)
    out("churn time", "%.1f" % took, "s")
    out("churn rate", "%.0f" % (sum(done) / took), "cycles/s (%.0f requests/s)" % (2 * sum(done) / took))
    out("churn errors", len(errors), "(e.g. %s)" % errors[:2] if errors else "")
    out("others' cpu during churn", "%.0f" % others, "%")
    ok = ok and not errors
    keys2, bytes2 = count_keys(a)
    out("store keys after churn", keys2, "keys (%s)" % bytes2)
    if keys0 is not None:
        out("store keys added by churn", keys2 - keys0, "keys (%.3f per cycle)" % ((keys2 - keys0) / total))

    p50_2, p90_2, problem = list_tag(admin, a.tries, stable_ids)
    out("list tag=%s after %d cycles p50" % (TAG, total), "%.2f" % p50_2, "ms")
    out("list tag=%s after %d cycles p90" % (TAG, total), "%.2f" % p90_2, "ms")
    out("list tag=%s after %d cycles check" % (TAG, total),
        "FAIL " + problem if problem else "OK (%d images)" % len(stable_ids))
    ok = ok and not problem
    out("ratio list p50 after churn / after 1 cycle", "%.2f" % (p50_2 / p50_1), "x")

    # The churned images take the tag once more: a compacted log must still name them.
    for i in churn_ids:
        status, raw, _ = admin.request("PUT", "/v2/images/%s/tags/%s" % (i, TAG))
        if status != 204:
            ok = False
            out("tag again", "FAIL PUT %s: %s %s" % (i, status, raw[:120]))
    _, _, problem = list_tag(admin, 1, stable_ids + churn_ids)
    out("list tag=%s with the churned images tagged again check" % TAG,
        "FAIL " + problem if problem else "OK (%d images)" % (len(stable_ids) + len(churn_ids)))
    ok = ok and not problem
    out("load average at the end", loadavg())
    out("checks", "OK" if ok else "FAIL")
    admin.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
