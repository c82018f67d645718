#!/usr/bin/env python3
"""One size of bench/page_walk (which starts the real Spin and runs this):
seed SIZE images through POST /v2/images, then time single pages, a page
deep in the walk, and whole walks that follow `next`, as an admin (sees
every image) and as a member of one project (its own images plus public
ones). Every walk is checked: each image it should see exactly once, in
Glance's default order (created_at desc, then id desc), every page but the
last full, `next` absent exactly on the last page.

    page_walk.py --url http://127.0.0.1:PORT --size 1000 --results FILE ...
    page_walk.py --summary FILE     # ratios across the sizes in FILE

Tags: every image carries `all`; exactly 25 carry `rare25`; min(SIZE, 2000)
carry `t2000`; both spread evenly over the creation order. Owners and
visibility come from a fixed-seed random draw: --projects projects
(proj-1..), 10% public, the rest shared or private. Stdlib only.
"""
import argparse
import json
import random
import sys
import time
import urllib.parse
import uuid

from bench_http import Client, CpuWatch, loadavg, out, pct, post_all

LIMIT = 25


def spread(size, count):
    """`count` indices spread evenly over range(size)."""
    count = min(count, size)
    return {(2 * k + 1) * size // (2 * count) for k in range(count)}


def plan(size, projects):
    """The images to seed: a list of POST bodies."""
    rng = random.Random(9)
    rare, t2000 = spread(size, 25), spread(size, 2000)
    bodies = []
    for i in range(size):
        tags = ["all"]
        if i in rare:
            tags.append("rare25")
        if i in t2000:
            tags.append("t2000")
        draw = rng.random()
        visibility = "public" if draw < 0.1 else "shared" if draw < 0.55 else "private"
        bodies.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "name": "walk-%d" % i,
                       "owner": "proj-%d" % rng.randint(1, projects), "visibility": visibility,
                       "tags": tags, "container_format": "bare", "disk_format": "qcow2"})
    return bodies


def expected(bodies, viewer_project, tag):
    """Ids a viewer should list (None: an admin, who sees every image)."""
    return {b["id"] for b in bodies
            if (tag is None or tag in b["tags"])
            and (viewer_project is None or b["owner"] == viewer_project or b["visibility"] == "public")}


def list_path(tag, limit=LIMIT):
    q = [("limit", str(limit))]
    if tag:
        q.append(("tag", tag))
    return "/v2/images?" + urllib.parse.urlencode(q)


def walk(client, tag, want, limit=LIMIT):
    """Follow `next` from the first page to the end. Returns (times, problems)."""
    path, times, seen, problems, prev = list_path(tag, limit), [], [], [], None
    max_pages = len(want) // limit + 10
    while path is not None:
        body, took = client.get_json(path)
        times.append(took)
        images, path = body.get("images", []), body.get("next")
        if path is not None and len(images) < limit:
            problems.append("page %d has %d images and a next link" % (len(times), len(images)))
        if not images and len(times) > 1:
            problems.append("page %d is empty (the page before it had a next link)" % len(times))
        for img in images:
            k = (img.get("created_at", ""), img.get("id", ""))
            if prev is not None and not k < prev:
                problems.append("out of order after %s: %s" % (prev[1], k[1]))
            prev = k
            seen.append(img.get("id"))
        if len(times) > max_pages:
            problems.append("more than %d pages; stopped" % max_pages)
            break
    dup = len(seen) - len(set(seen))
    missing, extra = want - set(seen), set(seen) - want
    if dup:
        problems.append("%d images listed more than once" % dup)
    if missing:
        problems.append("%d images missing, e.g. %s" % (len(missing), sorted(missing)[0]))
    if extra:
        problems.append("%d images it should not list, e.g. %s" % (len(extra), sorted(extra)[0]))
    return times, seen, problems


def time_page(client, path, tries, want_len):
    """p50 and p90 (ms) of one page over `tries` (after one not counted), and a problem or None."""
    body, _ = client.get_json(path)
    got = len(body.get("images", []))
    problem = None if got == want_len else "%d images, %d expected" % (got, want_len)
    times = [client.get_json(path)[1] for _ in range(tries)]
    return pct(times, 50) * 1e3, pct(times, 90) * 1e3, problem


def deep_path(client, tag, depth):
    """The `next` path after `depth` pages from the first (fewer when the walk is shorter)."""
    path, reached = list_path(tag), 0
    for _ in range(depth):
        body, _ = client.get_json(path)
        if not body.get("next"):
            break
        path, reached = body["next"], reached + 1
    return path, reached


def run_size(a):
    size = a.size
    pre = "size=%d" % size
    bodies = plan(size, a.projects)
    admin, member = Client(a.url, a.admin_token), Client(a.url, a.member_token)
    viewers = [("admin", admin, None), ("member", member, a.member_project)]
    res = {"size": size, "t2000": len(expected(bodies, None, "t2000"))}

    started = time.monotonic()
    took, failed = post_all(a.url, a.admin_token, bodies, a.concurrency)
    if failed:
        out(pre + " seed", "FAIL %d of %d POSTs failed, e.g. %s" % (len(failed), size, failed[:3]))
        sys.exit(1)
    out(pre + " seed", "%.1f" % took, "s (%.0f images/s, %d connections)" % (size / took, a.concurrency))
    out(pre + " seed tags", "all=%d rare25=%d t2000=%d" % (
        size, len(expected(bodies, None, "rare25")), len(expected(bodies, None, "t2000"))))
    out(pre + " seed visible to member %s" % a.member_project, len(expected(bodies, a.member_project, None)), "images")
    out(pre + " load average after seeding", loadavg())

    ok = True
    cpu = CpuWatch(a.server_pids)
    def timed(client, path, want, name, key):
        """Time one page `a.tries` times and print it; False when its check failed."""
        p50, p90, problem = time_page(client, path, a.tries, want)
        out(name + " p50", "%.1f" % p50, "ms")
        out(name + " p90", "%.1f" % p90, "ms")
        res[key] = p50
        if problem:
            out(name + " check", "FAIL " + problem)
        return not problem

    for vname, client, proj in viewers:
        for tag in (None, "all", "rare25"):
            want = min(LIMIT, len(expected(bodies, proj, tag)))
            name = "%s page=first viewer=%s tag=%s" % (pre, vname, tag or "none")
            ok &= timed(client, list_path(tag), want, name, "first/%s/%s" % (vname, tag or "none"))
        for tag in (None, "all"):
            path, reached = deep_path(client, tag, a.deep)
            visible = len(expected(bodies, proj, tag))
            want = max(0, min(LIMIT, visible - reached * LIMIT))
            name = "%s page=%d viewer=%s tag=%s" % (pre, reached + 1, vname, tag or "none")
            ok &= timed(client, path, want, name, "deep/%s/%s" % (vname, tag or "none"))
    res["others_cpu_pages"] = cpu.others_pct()
    out(pre + " others' cpu during pages", "%.0f" % res["others_cpu_pages"], "%")

    cpu.start()
    for vname, client, proj in viewers:
        for tag in (None, "all", "t2000"):
            want = expected(bodies, proj, tag)
            wall0 = time.monotonic()
            times, seen, problems = walk(client, tag, want)
            wall = time.monotonic() - wall0
            name = "%s walk viewer=%s tag=%s" % (pre, vname, tag or "none")
            if problems:
                ok = False
                out(name + " check", "FAIL " + "; ".join(problems[:5]))
            else:
                out(name + " check", "OK (%d images, each once, in order, %d pages)" % (len(seen), len(times)))
            per_page = sum(times) / len(times) * 1e3
            tenth = times[-max(1, len(times) // 10):]
            out(name + " total", "%.2f" % sum(times), "s (%.2f s wall, %d pages)" % (wall, len(times)))
            out(name + " per-page mean", "%.1f" % per_page, "ms")
            out(name + " per-page p50", "%.1f" % (pct(times, 50) * 1e3), "ms")
            out(name + " per-page p90", "%.1f" % (pct(times, 90) * 1e3), "ms")
            out(name + " last-tenth per-page mean", "%.1f" % (sum(tenth) / len(tenth) * 1e3), "ms")
            res["walk/%s/%s" % (vname, tag or "none")] = pct(times, 50) * 1e3
    res["others_cpu_walks"] = cpu.others_pct()
    out(pre + " others' cpu during walks", "%.0f" % res["others_cpu_walks"], "%")
    out(pre + " checks", "OK" if ok else "FAIL")
    res["ok"] = ok
    for c in (admin, member):
        c.close()
    if a.results:
        with open(a.results, "a") as f:
            f.write(json.dumps(res) + "\n")
    return ok


def verdict(value, limit, applies):
    """Issue 9's target, judged only where it is set (else just named)."""
    if not applies:
        return "issue 9 sets <= %g for another case" % limit
    return "issue 9: <= %g; %s" % (limit, "met" if value <= limit else "MISSED")


def summary(path):
    """Ratios: each size against 1,000 images (or the smallest size run), and
    per-page cost of the t2000 walk against one page of rare25."""
    rows = sorted((json.loads(l) for l in open(path) if l.strip()), key=lambda r: r["size"])
    if not rows:
        return
    base = rows[0]
    if any(r["size"] == 1000 for r in rows) and rows[-1]["size"] > 1000:
        base = next(r for r in rows if r["size"] == 1000)
    for r in rows:
        if r["size"] <= base["size"]:
            continue
        applies = base["size"] == 1000 and r["size"] >= 10000
        for what, label in (("first", "page=first p50"), ("walk", "walk per-page p50")):
            for viewer in ("admin", "member"):
                for tag in ("none", "all"):
                    k = "%s/%s/%s" % (what, viewer, tag)
                    ratio = r[k] / base[k]
                    out("ratio %s viewer=%s tag=%s size=%d/size=%d" % (label, viewer, tag, r["size"], base["size"]),
                        "%.2f" % ratio, "x (%s)" % verdict(ratio, 1.5, applies))
    for r in rows:
        for viewer in ("admin", "member"):
            ratio = r["walk/%s/t2000" % viewer] / r["first/%s/rare25" % viewer]
            out("ratio size=%d viewer=%s walk tag=t2000 per-page p50 / page tag=rare25 p50" % (r["size"], viewer),
                "%.2f" % ratio, "x (%d images carry t2000; %s)" % (r["t2000"], verdict(ratio, 3, r["t2000"] == 2000)))
    worst = max(max(r["others_cpu_pages"], r["others_cpu_walks"]) for r in rows)
    out("others' cpu, worst section", "%.0f" % worst, "% (figures from a disturbed run are not comparable)")
    out("all checks", "OK" if all(r["ok"] for r in rows) else "FAIL")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url")
    p.add_argument("--size", type=int)
    p.add_argument("--summary", metavar="RESULTS", help="print the ratios across the sizes in RESULTS and stop")
    p.add_argument("--results", help="append this size's figures (JSON, one line) here")
    p.add_argument("--admin-token", default="bench-admin")
    p.add_argument("--member-token", default="bench-member")
    p.add_argument("--member-project", default="proj-1")
    p.add_argument("--projects", type=int, default=2, help="owners proj-1..proj-N (2)")
    p.add_argument("--concurrency", type=int, default=16, help="seeding connections (16)")
    p.add_argument("--tries", type=int, default=30, help="timed requests per single page (30)")
    p.add_argument("--deep", type=int, default=10, help="pages to follow before the deep page (10)")
    p.add_argument("--server-pids", default="", help="pids of the servers, for CPU accounting")
    a = p.parse_args()
    if a.summary:
        summary(a.summary)
        return
    if not a.url or not a.size:
        p.error("--url and --size are needed (or --summary)")
    a.server_pids = [int(x) for x in a.server_pids.split()]
    sys.exit(0 if run_size(a) else 1)


if __name__ == "__main__":
    main()
