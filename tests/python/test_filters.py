"""Differential test of the `GET /v2/images` filters (issue 17): the same images are
created in image-tags (auth_mode=headers) and in a real Glance 33 (the oracle of
tests/services/glance), with the same ids, and every filter and operator, valid and
malformed, is sent to both. For each query:

* the statuses are equal (or the pair SPEC departures name, in DEPARTURES);
* a 200 lists the same images in the same order, and exactly the ones the case
  expects (so an empty answer from both cannot pass for a filter that should match);
* a 400 carries Glance's message (Glance sends it in an HTML page, image-tags in JSON).

The images live in a project of their own; other tests' images (the servers are
shared by the session) are left out of the comparison, which keeps the relative
order of ours. Ties: several images are created within one second; image-tags keeps
whole seconds and breaks ties by id (descending in the default order), Glance keeps
microseconds, so ids are made to grow with creation order and both orders agree.
The time filters compare with a second in which no image was created (see `world`).
The filter table these cases walk is in the README, section Listing filters."""

import html
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

RUN = uuid.uuid4().hex[:8]
PROJECT = f"proj-filt-{RUN}"
MEMBER = {"X-Identity-Status": "Confirmed", "X-User-Id": "user-f", "X-Project-Id": PROJECT,
          "X-Roles": "member,reader"}
ADMIN = {"X-Identity-Status": "Confirmed", "X-User-Id": "user-admin", "X-Project-Id": "admin-proj",
         "X-Roles": "admin,member,reader"}

# (key, who creates it, body): created in this order, ids growing with it. Group 2 comes
# after a second in which nothing is created (the time filters' threshold S).
GROUP_1 = [
    ("A", MEMBER, {"name": "alpha", "container_format": "bare", "disk_format": "qcow2", "min_ram": 512,
                   "min_disk": 1, "protected": True, "tags": ["t1", "t2"], "os_distro": "ubuntu",
                   "visibility": "private"}),
    ("B", MEMBER, {"name": "b,c", "container_format": "ovf", "disk_format": "raw", "tags": ["t1"]}),
    ("C", MEMBER, {"name": 'q"x', "os_distro": "fedora", "visibility": "private"}),
    ("D", MEMBER, {"name": "a:b", "container_format": "bare", "disk_format": "raw", "min_ram": 1024,
                   "tags": ["t2"]}),
    ("E", MEMBER, {"name": "hidden", "os_hidden": True, "container_format": "bare"}),
    ("F", ADMIN, {"name": "pub", "visibility": "public", "container_format": "ami", "disk_format": "ami"}),
    ("G", MEMBER, {"name": "comm", "visibility": "community"}),
    ("H", MEMBER, {}),
    ("I", MEMBER, {"name": "2026-01-01T00:00:00"}),
    ("J", MEMBER, {"name": "sp ace"}),
    ("K", MEMBER, {"name": "a+b", "min_disk": 5}),
]
GROUP_2 = [
    ("L", MEMBER, {"name": "late1", "container_format": "bare", "disk_format": "qcow2"}),
    ("M", MEMBER, {"name": "late2", "tags": ["t1"], "min_ram": 512}),
    ("N", MEMBER, {"name": "late3", "protected": True, "visibility": "private"}),
]
KEYS = [k for k, _, _ in GROUP_1 + GROUP_2]
ALL_LISTED = set(KEYS) - {"E"}  # os_hidden is left out by default; G is the project's own community image
G1 = {k for k, _, _ in GROUP_1} - {"E"}
G2 = {k for k, _, _ in GROUP_2}
NOTHING = set()

# SPEC section 7, on the listing: case -> (Glance 33, image-tags)
DEPARTURES = {
    "a range on a field images do not have": (500, 400),
    "a filter on a relation of Glance's database": (500, 400),
    "more filters than the limit": (200, 400),
}


def ids_of(world, keys):
    return ",".join(world["ids"][k] for k in keys)


# (query, expected): expected is a set of keys (listed newest first), an int status,
# or a DEPARTURES key. {A}..{N} are image ids, {S} the threshold second (RFC 3339, Z),
# {S_*} other spellings of it, {P} the project.
CASES = [
    ("", ALL_LISTED),
    # container_format, disk_format: eq and in:
    ("container_format=bare", {"A", "D", "L"}),
    ("container_format=eq:bare", {"A", "D", "L"}),
    ("container_format=in:bare,ovf", {"A", "B", "D", "L"}),
    ('container_format=in:"bare",ami', {"A", "D", "F", "L"}),
    ("container_format=BARE", NOTHING),
    ("container_format=in:", NOTHING),
    ("container_format=gt:bare", 400),
    ("container_format=in:bare&os_hidden=true", {"E"}),
    ("disk_format=raw", {"B", "D"}),
    ("disk_format=in:raw,qcow2", {"A", "B", "D", "L"}),
    ('disk_format=in:ami,"qcow2"', {"A", "F", "L"}),
    # name: eq, in: with quotes, the ':' rule, '+' and spaces
    ("name=alpha", {"A"}),
    ("name=eq:alpha", {"A"}),
    ('name=in:"b,c",alpha', {"A", "B"}),
    ("name=in:b,c", NOTHING),
    ("name=in:b%2Cc", NOTHING),
    ("name=b,c", {"B"}),
    ("name=in:alpha,,x", {"A"}),
    ("name=in:alpha,", {"A"}),
    ("name=in:,alpha", {"A"}),
    ('name=in:"alpha"', {"A"}),
    ('name=in:""', NOTHING),
    ('name=in:"q\\"x"', NOTHING),  # the backslash stays in the value
    ('name=q"x', {"C"}),
    ("name=in:a:b,late1", {"D", "L"}),
    ("name=a:b", 400),
    ("name=neq:alpha", 400),
    ('name=in:"b,c', 400),
    ('name=in:x"b,c"', 400),
    ('name=in:"b,c"x', 400),
    ('name=in:q"x', 400),
    ('name=in:"a\\"', 400),
    ("name=2026-01-01T00:00:00", {"I"}),
    ("name=sp+ace", {"J"}),
    ("name=sp%20ace", {"J"}),
    ("name=a%2Bb", {"K"}),
    ("name=a+b", NOTHING),
    ("name=", NOTHING),
    ("name=eq:", NOTHING),
    ("name=alpha&name=late1", {"L"}),  # the last one counts
    # id
    ("id={A}", {"A"}),
    ("id=eq:{B}", {"B"}),
    ("id=in:{A},{D}", {"A", "D"}),
    ("id=in:{A},{MISSING}", {"A"}),
    ("id=in:%20{A}", NOTHING),
    ("id={F}", {"F"}),
    ("id={E}", NOTHING),  # os_hidden still applies
    ("id={E}&os_hidden=true", {"E"}),
    ("id={MISSING}", NOTHING),
    ("id=in:", NOTHING),
    ("id=in:{A},{B}&name=b,c", {"B"}),
    ("id=lt:{A}", 400),
    # status
    ("status=queued", ALL_LISTED),
    ("status=in:queued,active", ALL_LISTED),
    ("status=eq:active", NOTHING),
    ("status=in:saving", NOTHING),
    ("status=in:", NOTHING),
    ("status=neq:queued", 400),
    # visibility and owner
    ("visibility=private", {"A", "C", "N"}),
    ("visibility=public", {"F"}),
    ("visibility=community", {"G"}),
    ("visibility=shared", {"B", "D", "H", "I", "J", "K", "L", "M"}),
    ("visibility=in:public,private", 400),
    ("visibility=bogus", 400),
    ("owner={P}", ALL_LISTED - {"F"}),
    ("owner={P}&visibility=private", {"A", "C", "N"}),
    # protected and os_hidden
    ("protected=true", {"A", "N"}),
    ("protected=false", ALL_LISTED - {"A", "N"}),
    ("protected=True", 400),
    ("protected=yes", 400),
    ("protected=", 400),
    ("protected=true&protected=false", ALL_LISTED - {"A", "N"}),
    ("os_hidden=true", {"E"}),
    ("os_hidden=TRUE", {"E"}),
    ("os_hidden=False", ALL_LISTED),
    ("os_hidden=yes", 400),
    ("os_hidden=YES", 400),
    ("os_hidden=", 400),
    # ranges: size (null here), min_ram, min_disk, other columns
    ("size_min=0", NOTHING),
    ("size_max=10", NOTHING),
    ("size_min=%201_0%20", NOTHING),
    ("size_max=-5", NOTHING),
    ("size_min=abc", 400),
    ("size_min=", 400),
    ("size_max=1.5", 400),
    ("virtual_size_min=0", NOTHING),
    ("min_ram_min=600", {"D"}),
    ("min_ram_max=600", ALL_LISTED - {"D"}),
    ("min_ram_min=%2B512", {"A", "D", "M"}),
    ("min_disk_min=1", {"A", "K"}),
    ("min_disk_max=0", ALL_LISTED - {"A", "K"}),
    ("min_ram_min=abc", 400),
    ("protected_max=0", ALL_LISTED - {"A", "N"}),
    ("protected_min=1", {"A", "N"}),
    # a text column compares as text with the number's digits (SQLite); null never matches
    ("name_min=5", ALL_LISTED - {"H", "I"}),
    ("name_max=5", {"I"}),
    ("created_at_min=5", ALL_LISTED),  # a time column: any time is above any number
    ("created_at_max=5", NOTHING),
    ("foo_min=1", "a range on a field images do not have"),
    ("foo_min=x", 400),
    # min_ram, min_disk by value (compared as numbers, as the oracle's SQLite does)
    ("min_ram=512", {"A", "M"}),
    ("min_ram=0512", {"A", "M"}),
    ("min_ram=512.0", {"A", "M"}),
    ("min_ram=abc", NOTHING),
    ("min_ram=0", ALL_LISTED - {"A", "D", "M"}),
    ("min_disk=1", {"A"}),
    ("min_disk=eq:1", NOTHING),
    # created_at and updated_at
    ("created_at=gte:{S}", G2),
    ("created_at=gt:{S}", G2),
    ("created_at=lt:{S}", G1),
    ("created_at=lte:{S}", G1),
    ("created_at=eq:{S}", NOTHING),
    ("created_at=neq:{S}", ALL_LISTED),
    ("created_at={S}", NOTHING),
    ("created_at=gte:{S_frac}", G2),
    ("created_at=lt:{S_comma}", G1),
    ("created_at=gte:{S_space}", G2),
    ("created_at=gte:{S_basic}", G2),
    ("created_at=gte:{S_naive}", G2),
    ("created_at=gte:{S_plus}", G2),
    ("created_at=lt:{S_plus}", G1),
    ("created_at=gte:{S_minus}", G2),
    ("created_at=gte:{S_plus_short}", G2),
    ("created_at=gte:{S_raw_plus}", 400),  # a raw '+' is a space
    ("created_at=gte:{YEAR}", ALL_LISTED),
    ("created_at=lt:{YEAR}-01", NOTHING),
    ("created_at=gte:{YEAR}-1-1", ALL_LISTED),
    ("created_at=gte:2000-01-01&created_at=lt:{S}", G1),  # the last one counts
    ("created_at=gte:junk", 400),
    ("created_at=junk", 400),
    ("created_at=", 400),
    ("created_at=gte:", 400),
    ("created_at=foo:2020-01-01", 400),
    ("created_at=in:2020-01-01", 400),
    ("created_at=foo:junk", 400),
    ("created_at=gte:202612", 400),
    ("created_at=gte:2026-13-01", 400),
    ("created_at=gte:2026-02-30", 400),
    ("created_at=gte:2026-12-04T24:00:00", 400),
    ("created_at=gte:2026-12-04T22:36:60", 400),
    ("created_at=gte:2026-12-04T22:36:56z", 400),
    ("created_at=gte:0000-01-01", 400),
    ("created_at=gte:2026-12-04T22:36:56%2B24:00", 400),
    ("updated_at=gt:2000-01-01T00:00:00Z", ALL_LISTED),
    ("updated_at=lt:2000-01-01T00:00:00Z", NOTHING),
    ("updated_at=lte:{S}", G1),
    ("updated_at=neq:{S}", ALL_LISTED),
    ("updated_at=gte:bad", 400),
    # tags, and filters together (AND)
    ("tag=t1", {"A", "B", "M"}),
    ("tag=t1&tag=t2", {"A"}),
    ("tag=t1&container_format=bare", {"A"}),
    ("tag=t2&name=in:alpha,a:b", {"A", "D"}),
    ("tag=t1&created_at=gte:{S}", {"M"}),
    ("container_format=bare&protected=true", {"A"}),
    ("disk_format=raw&min_ram=1024", {"D"}),
    ("container_format=bare&disk_format=qcow2&created_at=lt:{S}", {"A"}),
    # member_status, and parameters on columns that are null here or not filters
    ("member_status=all", ALL_LISTED),
    ("member_status=pending", ALL_LISTED),
    ("member_status=bogus", 400),
    ("changes-since=2020-01-01", 400),
    ("checksum=x", NOTHING),
    ("size=0", NOTHING),
    ("virtual_size=1", NOTHING),
    ("os_hash_algo=sha512", NOTHING),
    ("os_hash_value=x", NOTHING),
    ("deleted_at=x", NOTHING),
    ("deleted=true", ALL_LISTED),
    ("tags=t1", NOTHING),
    ("properties=x", "a filter on a relation of Glance's database"),
    ("locations=x", "a filter on a relation of Glance's database"),
    # extra properties: exact value, no operators
    ("os_distro=ubuntu", {"A"}),
    ("os_distro=in:ubuntu,fedora", NOTHING),
    ("os_distro=ubuntu&name=alpha", {"A"}),
    ("os_distro=Ubuntu", NOTHING),
    # which 400 comes first when several values are bad (Glance's order)
    ("protected=bogus&name=a:b", 400),
    ("os_hidden=bogus&protected=bogus", 400),
    ("size_min=x&name=a:b", 400),
    ("name=a:b&size_min=x", 400),
    ("name=a:b&created_at=x", 400),
    ("member_status=x&name=a:b", 400),
    ("limit=x&name=a:b", 400),
    ("name=a:b&marker={MISSING}", 400),
    ("visibility=private&visibility=bogus", 400),
    ("visibility=bogus&visibility=private", NOTHING),  # the last is checked, the first applies
    # limits (issue 10): Glance has none
    ("&".join(f"x{i}=v" for i in range(21)), "more filters than the limit"),
]

# Cases asked as an admin (sees every project's images: restricted to ours below).
ADMIN_CASES = [
    ("visibility=all", ALL_LISTED),
    ("visibility=all&os_hidden=true", {"E"}),
    ("visibility=all&name=in:comm,pub", {"F", "G"}),
    ("owner={P}&container_format=bare", {"A", "D", "L"}),
    ("id=in:{A},{G}", {"A"}),  # another project's community image: only with a visibility
    ("id=in:{A},{G}&visibility=community", {"G"}),
]

# Filtered listings walked page by page by `next` (limit 2), to the same ids in the same order.
WALKS = [
    "owner={P}&container_format=in:bare,ovf",
    "owner={P}&created_at=lt:{S}",
    "owner={P}&protected=false&min_ram_max=600",
    "id=in:{A},{B},{C},{D},{F}",
]


def glance_message(r):
    """The explanation in Glance's WebOb HTML error page."""
    text = html.unescape(re.sub(r"<[^>]+>", "", r.text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def spellings(s):
    """The threshold second S in the forms Glance's ISO 8601 reader takes."""
    utc = s.replace(tzinfo=timezone.utc)
    plus, minus = utc.astimezone(timezone(timedelta(hours=1))), utc.astimezone(timezone(timedelta(hours=-1)))
    return {
        "S": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "S_frac": utc.strftime("%Y-%m-%dT%H:%M:%S.5Z"),
        "S_comma": utc.strftime("%Y-%m-%dT%H:%M:%S,5"),
        "S_space": utc.strftime("%Y-%m-%d%%20%H:%M:%S"),
        "S_basic": utc.strftime("%Y%m%dT%H%M%SZ"),
        "S_naive": utc.strftime("%Y-%m-%dT%H:%M:%S"),
        "S_plus": plus.strftime("%Y-%m-%dT%H:%M:%S%%2B01:00"),
        "S_plus_short": plus.strftime("%Y-%m-%dT%H:%M:%S%%2B01"),
        "S_minus": minus.strftime("%Y-%m-%dT%H:%M:%S-0100"),
        "S_raw_plus": plus.strftime("%Y-%m-%dT%H:%M:%S+01:00"),
        "YEAR": utc.strftime("%Y"),
    }


@pytest.fixture(scope="module")
def world(glance, headers_host):
    """The images in both services, and the threshold second S no image was created in."""
    ids = {k: f"{RUN}-0000-4000-8000-{n:012x}" for n, k in enumerate(KEYS)}

    def create(group):
        for key, who, body in group:
            for base in (glance, headers_host):
                r = requests.post(base + "/v2/images", headers=who, json={"id": ids[key], **body}, timeout=20)
                assert r.status_code == 201, (base, key, r.status_code, r.text)

    create(GROUP_1)
    # The second after the one group 1 ended in, with nothing created in it: image-tags
    # keeps whole seconds and Glance microseconds, so only such a second reads the same.
    s = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
    time.sleep(max(0.0, (s + timedelta(seconds=1, milliseconds=50)).timestamp()
                   - datetime.now(timezone.utc).replace(tzinfo=None).timestamp()))
    create(GROUP_2)
    fields = {**ids, **spellings(s), "P": PROJECT, "MISSING": str(uuid.uuid4())}
    return {"ids": ids, "fields": fields, "bases": (glance, headers_host)}


def ours(world, body):
    """The listed ids of our images, in the order listed."""
    mine = set(world["ids"].values())
    return [i["id"] for i in body["images"] if i["id"] in mine]


def expected_order(world, keys):
    return [world["ids"][k] for k in reversed(KEYS) if k in keys]


def check(world, query, expected, who):
    glance, it = world["bases"]
    query = query.format(**world["fields"])
    where = f"GET /v2/images?{query}"
    g = requests.get(f"{glance}/v2/images?{query}", headers=who, timeout=20)
    m = requests.get(f"{it}/v2/images?{query}", headers=who, timeout=20)
    if isinstance(expected, str):
        assert (g.status_code, m.status_code) == DEPARTURES[expected], f"{where} [{expected}]: {m.text[:300]}"
        return
    want = 200 if isinstance(expected, set) else expected
    assert (g.status_code, m.status_code) == (want, want), \
        f"{where}: Glance {g.status_code} {glance_message(g)!r}, image-tags {m.status_code} {m.text[:300]}"
    assert m.headers.get("x-openstack-request-id", "").startswith("req-"), where
    if want == 200:
        listed = ours(world, g.json()), ours(world, m.json())
        names = {v: k for k, v in world["ids"].items()}
        named = [[names[i] for i in side] for side in listed]
        assert listed[0] == listed[1], f"{where}: Glance {named[0]}, image-tags {named[1]}"
        assert listed[1] == expected_order(world, expected), f"{where}: listed {named[1]}, expected {sorted(expected)}"
    else:
        err = m.json()["error"]
        assert err["code"] == want, where
        assert err["message"] == glance_message(g), f"{where}: messages differ"


@pytest.mark.parametrize("query,expected", CASES, ids=[q[:80] for q, _ in CASES])
def test_filter_as_member_same_as_glance(world, query, expected):
    check(world, query, expected, MEMBER)


@pytest.mark.parametrize("query,expected", ADMIN_CASES, ids=[q for q, _ in ADMIN_CASES])
def test_filter_as_admin_same_as_glance(world, query, expected):
    check(world, query, expected, ADMIN)


def walk(base, query, who):
    ids, path = [], f"/v2/images?{query}&limit=2"
    for _ in range(50):
        r = requests.get(base + path, headers=who, timeout=20)
        assert r.status_code == 200, (base, path, r.text)
        body = r.json()
        ids += [i["id"] for i in body["images"]]
        if "next" not in body:
            return ids
        path = body["next"]
    raise AssertionError(f"{base}{path}: more than 50 pages")


@pytest.mark.parametrize("query", WALKS)
def test_filtered_walk_by_next_same_as_glance(world, query):
    query = query.format(**world["fields"])
    glance, it = world["bases"]
    g, m = walk(glance, query, ADMIN), walk(it, query, ADMIN)
    assert g == m and len(m) >= 3, (query, g, m)


WALKED = [
    ("container_format=bare", lambda body: body.get("container_format") == "bare"),
    ("container_format=in:bare,ovf&protected=false",
     lambda body: body.get("container_format") in ("bare", "ovf") and not body.get("protected")),
    ("name=in:w1,w3,w5&min_ram_min=1", lambda body: body["name"] in ("w1", "w3", "w5") and body["min_ram"] >= 1),
]


@pytest.mark.parametrize("query,matching", WALKED, ids=[q for q, _ in WALKED])
def test_filtered_walk_while_writers_create_and_delete(headers_host, query, matching):
    """Following `next` through a filtered listing (image-tags alone) while images are
    created and deleted between pages: every image that matches and exists for the whole
    walk is listed exactly once, in order, and nothing that does not match is listed."""
    who = {**MEMBER, "X-Project-Id": f"proj-walk-{uuid.uuid4().hex[:8]}"}
    base = headers_host + "/v2/images"

    def create(n, **extra):
        body = {"name": f"w{n % 7}", "container_format": ["bare", "ovf", "ami"][n % 3], "min_ram": n % 4,
                "protected": n % 5 == 0, **extra}
        r = requests.post(base, headers=who, json=body, timeout=20)
        assert r.status_code == 201, r.text
        return r.json()

    stable = [create(n) for n in range(36)]
    churn = [create(n, name="churn") for n in range(36, 48)]  # deleted during the walk
    writes = iter(range(100, 200))
    listed, path = [], f"?{query}&limit=3"
    for _ in range(100):
        r = requests.get(base + path, headers=who, timeout=20)
        assert r.status_code == 200, r.text
        page = r.json()
        listed += page["images"]
        if "next" not in page:
            break
        path = page["next"][len("/v2/images"):]
        # between pages: two new images, and one image not yet reached goes away (never one
        # already listed: the last of those is the marker, and a deleted marker is a 400 in
        # Glance too)
        create(next(writes))
        create(next(writes))
        seen = {i["id"] for i in listed}
        while churn:
            gone = churn.pop()
            if gone["id"] in seen or gone["protected"]:
                continue
            assert requests.delete(f"{base}/{gone['id']}", headers=who, timeout=20).status_code == 204
            break
    ids = [i["id"] for i in listed]
    assert len(ids) == len(set(ids)), "an image was listed twice"
    assert all(matching(i) for i in listed), [i for i in listed if not matching(i)]
    newest_first = sorted(stable, key=lambda i: (i["created_at"], i["id"]), reverse=True)
    want = [i["id"] for i in newest_first if matching(i)]
    assert len(want) >= 5
    assert [i for i in ids if i in set(want)] == want
