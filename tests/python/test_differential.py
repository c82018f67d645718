"""Differential test: the same tag requests sent to image-tags (auth_mode=headers)
and to a real Glance 33 (the oracle of tests/services/glance, headers identity),
both with image_tag_quota = DIFF_QUOTA. Images are created in both with the same
fixed id (POST {"id": ...}), so responses, tag sets and listings compare 1:1.

Statuses must be equal, except the departures of SPEC.md section 7, which are
named in DEPARTURES (case -> (Glance status, image-tags status)) and asserted as
such. After every step the image's tags are read back from both and compared as
sets (Glance's order is unspecified), again with the section 7 departures spelt
out per step."""

import json
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from conftest import DIFF_QUOTA

# SPEC section 7, as it shows on the tag routes: case -> (Glance 33, image-tags)
DEPARTURES = {
    "PUT tag containing '='": (204, 400),
    "DELETE of a '=' tag Glance stored and image-tags refused": (204, 404),
    "PUT empty tag .../tags/": (404, 400),
    "DELETE empty tag .../tags/": (404, 400),
    "PUT %2F inside a tag": (404, 204),
    "DELETE %2F inside a tag": (404, 204),
    # Latin-1 vs UTF-8: same status, different stored text (see the tags of that step)
    "PUT non-ASCII tag": (204, 204),
    # 200 x U+00FC: 200 code points (image-tags) but 400 Latin-1 characters (Glance)
    "PUT non-ASCII tag of 200 code points": (400, 204),
    "DELETE non-ASCII tag": (204, 204),
    # member without reader: Glance cannot GET the image it may tag
    "GET image as member without reader": (404, 200),
    # issue 10: C0 controls and DEL are refused in tags on every route
    "PUT tag with a control character": (204, 400),
    "POST tags with a control character": (201, 400),
}

IDENTITIES = {
    "alice": {"X-Project-Id": "proj-a", "X-Roles": "member,reader"},
    "rita": {"X-Project-Id": "proj-a", "X-Roles": "reader"},
    "bob": {"X-Project-Id": "proj-b", "X-Roles": "member,reader"},
    "admin": {"X-Project-Id": "admin-proj", "X-Roles": "admin,member,reader"},
    "member-only": {"X-Project-Id": "proj-a", "X-Roles": "member"},
}


def identity(who):
    if who == "anonymous":
        return {}
    if who == "invalid":
        return {"X-Identity-Status": "Invalid", "X-Project-Id": "proj-a", "X-Roles": "member,reader"}
    return {"X-Identity-Status": "Confirmed", "X-User-Id": f"user-{who}", **IDENTITIES[who]}


@dataclass
class Step:
    method: str
    path: str  # after /v2/images, raw (percent-encoded as sent); {main}, {pub}, {missing}, {new} are ids
    status: object  # int: both must answer it; str: a DEPARTURES key
    who: str = "alice"
    body: object = None  # bytes sent as is, or a dict sent as JSON (strings formatted with the ids)
    image: str = "main"  # whose tags to compare afterwards (None: no comparison)
    tags: tuple = None  # (Glance tags, image-tags tags) when they differ on purpose
    listing: dict = None  # query for GET /v2/images: compare the returned id sets
    headers: dict = field(default_factory=dict)


L255 = "x" * 255
U = "%C3%BC"  # U+00FC, UTF-8 percent-encoded

CASES = {
    "add, re-add, delete, delete again": [
        Step("PUT", "/{main}/tags/alpha", 204),
        Step("PUT", "/{main}/tags/alpha", 204),  # duplicate: idempotent
        Step("PUT", "/{main}/tags/beta", 204),
        Step("DELETE", "/{main}/tags/alpha", 204),
        Step("DELETE", "/{main}/tags/alpha", 404),
        Step("DELETE", "/{main}/tags/never", 404),
    ],
    "case, spaces and punctuation are kept": [
        Step("PUT", "/{main}/tags/Alpha", 204),
        Step("PUT", "/{main}/tags/alpha", 204),
        Step("PUT", "/{main}/tags/with%20space", 204),
        Step("PUT", "/{main}/tags/%20lead", 204),
        Step("PUT", "/{main}/tags/trail%20", 204),
        Step("PUT", "/{main}/tags/dot.dash-under_score~%3F%23%25", 204),
        Step("DELETE", "/{main}/tags/with%20space", 204),
        Step("DELETE", "/{main}/tags/WITH%20SPACE", 404),
    ],
    "length limit 255": [
        Step("PUT", "/{main}/tags/" + L255, 204),
        Step("PUT", "/{main}/tags/" + L255 + "x", 400),
        Step("DELETE", "/{main}/tags/" + L255 + "x", 404),
        Step("DELETE", "/{main}/tags/" + L255, 204),
    ],
    "non-ASCII (SPEC 7: UTF-8, not Latin-1)": [
        Step("PUT", "/{main}/tags/" + U, "PUT non-ASCII tag", tags=({"\u00c3\u00bc"}, {"\u00fc"})),
        Step("PUT", "/{main}/tags/" + U * 200, "PUT non-ASCII tag of 200 code points",
             tags=({"\u00c3\u00bc"}, {"\u00fc", "\u00fc" * 200})),
        Step("DELETE", "/{main}/tags/" + U, "DELETE non-ASCII tag", tags=(set(), {"\u00fc" * 200})),
    ],
    "'=' in a tag (SPEC 7: the seed forbids it)": [
        Step("PUT", "/{main}/tags/k%3Dv", "PUT tag containing '='", tags=({"k=v"}, set())),
        Step("PUT", "/{main}/tags/=", "PUT tag containing '='", tags=({"k=v", "="}, set())),
        Step("DELETE", "/{main}/tags/k%3Dv", "DELETE of a '=' tag Glance stored and image-tags refused",
             tags=({"="}, set())),
    ],
    "control characters (issue 10)": [
        Step("PUT", "/{main}/tags/a%1Bb", "PUT tag with a control character", tags=({"a\x1bb"}, set())),
        Step("PUT", "/{main}/tags/%7F", "PUT tag with a control character", tags=({"a\x1bb", "\x7f"}, set())),
        Step("POST", "", "POST tags with a control character", image=None,
             body={"id": "{new}", "name": "ctl", "tags": ["a\nb"]}),
    ],
    "empty tag (SPEC 7)": [
        Step("PUT", "/{main}/tags/", "PUT empty tag .../tags/"),
        Step("DELETE", "/{main}/tags/", "DELETE empty tag .../tags/"),
    ],
    "slashes (SPEC 7: %2F is a character of the tag)": [
        Step("PUT", "/{main}/tags/a/b", 404),  # a raw slash is another path segment in both
        Step("PUT", "/{main}/tags/a%2Fb", "PUT %2F inside a tag", tags=(set(), {"a/b"})),
        Step("DELETE", "/{main}/tags/a%2Fb", "DELETE %2F inside a tag"),
    ],
    "missing and deleted images": [
        Step("PUT", "/{missing}/tags/t", 404, image=None),
        Step("DELETE", "/{missing}/tags/t", 404, image=None),
        Step("PUT", "/not-a-uuid/tags/t", 404, image=None),
        Step("PUT", "/{main}/tags/t", 204),
        Step("DELETE", "/{main}", 204, image=None),
        Step("PUT", "/{main}/tags/t2", 404, image=None),
        Step("DELETE", "/{main}/tags/t", 404, image=None),
    ],
    "another project's private image": [
        Step("PUT", "/{main}/tags/mine", 204),
        Step("PUT", "/{main}/tags/theirs", 404, who="bob"),
        Step("DELETE", "/{main}/tags/mine", 404, who="bob"),
        Step("PUT", "/{main}/tags/by-admin", 204, who="admin"),
        Step("DELETE", "/{main}/tags/mine", 204, who="admin"),
    ],
    "reader role": [
        Step("PUT", "/{main}/tags/keep", 204),
        Step("PUT", "/{main}/tags/ro", 403, who="rita"),
        Step("DELETE", "/{main}/tags/keep", 403, who="rita"),
        Step("GET", "/{main}", 200, who="rita"),
    ],
    "member without reader": [
        Step("PUT", "/{main}/tags/m", 204, who="member-only"),
        Step("GET", "/{main}", "GET image as member without reader", who="member-only"),
        Step("DELETE", "/{main}/tags/m", 204, who="member-only"),
    ],
    "public image of another project": [
        Step("POST", "", 201, who="admin", image="pub",
             body={"id": "{pub}", "name": "pub", "visibility": "public", "tags": ["p"]}),
        Step("PUT", "/{pub}/tags/x", 403, who="bob", image="pub"),
        Step("DELETE", "/{pub}/tags/p", 403, who="alice", image="pub"),
        Step("PUT", "/{pub}/tags/by-admin", 204, who="admin", image="pub"),
        Step("GET", "/{pub}", 200, who="bob", image="pub"),
    ],
    "identity missing or not confirmed": [
        Step("PUT", "/{main}/tags/t", 401, who="anonymous"),
        Step("PUT", "/{main}/tags/t", 401, who="invalid"),
        Step("DELETE", "/{main}/tags/t", 401, who="anonymous"),
    ],
    "a body on a tag request": [
        Step("PUT", "/{main}/tags/b", 400, body=b'{"tags": ["x"]}'),
        Step("PUT", "/{main}/tags/b", 204, body=b"", headers={"Content-Type": "application/json"}),
        Step("DELETE", "/{main}/tags/b", 400, body=b"x"),
        Step("DELETE", "/{main}/tags/b", 204),
    ],
    "wrong methods on a tag": [
        Step("GET", "/{main}/tags/t", 405),
        Step("POST", "/{main}/tags/t", 405),
        Step("PATCH", "/{main}/tags/t", 405),
        Step("HEAD", "/{main}/tags/t", 405),
        Step("PUT", "/{main}/tags", 404),  # no tag segment at all
    ],
    f"quota of {DIFF_QUOTA} tags": [
        *[Step("PUT", f"/{{main}}/tags/q{i}", 204) for i in range(DIFF_QUOTA)],
        Step("PUT", "/{main}/tags/overflow", 413),
        Step("PUT", "/{main}/tags/q0", 204),  # re-adding at the limit
        Step("DELETE", "/{main}/tags/q0", 204),
        Step("PUT", "/{main}/tags/overflow", 204),
        Step("POST", "", 413, image=None,
             body={"id": "{new}", "name": "too-many", "tags": [f"n{i}" for i in range(DIFF_QUOTA + 1)]}),
        Step("GET", "/{new}", 404, image=None),
    ],
    "create with tags, duplicates collapse": [
        Step("POST", "", 201, image="new", body={"id": "{new}", "name": "n", "tags": ["d", "d", "e"]}),
        Step("PUT", "/{new}/tags/d", 204, image="new"),
        Step("POST", "", 400, image=None, body={"name": "bad", "tags": ["x" * 256]}),
        Step("POST", "", 400, image=None, body={"name": "bad", "tags": "notalist"}),
    ],
    "list by tag": [
        Step("PUT", "/{main}/tags/listed-{run}", 204),
        Step("PUT", "/{main}/tags/also-{run}", 204),
        Step("POST", "", 201, image="new", body={"id": "{new}", "name": "n2", "tags": ["listed-{run}"]}),
        Step("GET", "?tag=listed-{run}", 200, image=None, listing={"tag": "listed-{run}"}),
        Step("GET", "?tag=listed-{run}&tag=also-{run}", 200, image=None),
        Step("DELETE", "/{main}/tags/listed-{run}", 204),
        Step("GET", "?tag=listed-{run}", 200, image=None),
    ],
}


def fmt(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fmt(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fmt(v, ids) for k, v in value.items()}
    return value


def send(base, step, ids):
    url = base + "/v2/images" + step.path.format(**ids)
    headers = {**identity(step.who), **step.headers}
    body = step.body
    if isinstance(body, dict):
        body = json.dumps(fmt(body, ids)).encode()
        headers["Content-Type"] = "application/json"
    return requests.request(step.method, url, headers=headers, data=body, timeout=20, allow_redirects=False)


def tags_of(base, image_id):
    r = requests.get(f"{base}/v2/images/{image_id}", headers=identity("admin"), timeout=20)
    return r.status_code, (set(r.json()["tags"]) if r.status_code == 200 else None)


def listed_ids(r):
    return {i["id"] for i in r.json()["images"]} if r.status_code == 200 else None


@pytest.fixture(scope="module")
def run_id():
    return uuid.uuid4().hex[:8]


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_same_answers_as_glance(case, glance, headers_host, run_id):
    ids = {k: str(uuid.uuid4()) for k in ("main", "pub", "missing", "new")}
    ids["run"] = run_id
    for base in (glance, headers_host):
        r = requests.post(base + "/v2/images", headers=identity("alice"), timeout=20,
                          json={"id": ids["main"], "name": f"diff {case}", "visibility": "private"})
        assert r.status_code == 201, (base, r.status_code, r.text)
    for n, step in enumerate(CASES[case], 1):
        where = f"step {n}: {step.method} /v2/images{step.path.format(**ids)} as {step.who}"
        g, it = send(glance, step, ids), send(headers_host, step, ids)
        if isinstance(step.status, str):
            assert (g.status_code, it.status_code) == DEPARTURES[step.status], f"{where} [{step.status}]"
        else:
            assert (g.status_code, it.status_code) == (step.status, step.status), \
                f"{where}: Glance {g.status_code}, image-tags {it.status_code} {it.text[:300]}"
        check_image_tags_response(it, where)
        if it.status_code == 405 and g.status_code == 405:
            assert allow(it) == allow(g), f"{where}: Allow {it.headers.get('Allow')!r} vs {g.headers.get('Allow')!r}"
        if step.method == "GET" and "?" in step.path:
            assert listed_ids(g) == listed_ids(it), f"{where}: listings differ"
            if step.listing is not None:
                assert listed_ids(it), f"{where}: nothing listed"
        if step.image:
            (gs, gt), (its, itt) = tags_of(glance, ids[step.image]), tags_of(headers_host, ids[step.image])
            assert gs == its == 200, f"{where}: image GET {gs} vs {its}"
            expected = step.tags if step.tags is not None else (gt, gt)
            assert (gt, itt) == expected, f"{where}: tags Glance {gt} image-tags {itt}"


def allow(r):
    return {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}


def check_image_tags_response(r, where):
    """SPEC 3 on every image-tags answer: a request id; 204 empty; errors as JSON."""
    assert r.headers.get("x-openstack-request-id", "").startswith("req-"), f"{where}: no request id"
    if r.status_code == 204:
        assert r.content == b"" and "Content-Type" not in r.headers, f"{where}: 204 with {r.headers}"
    elif r.status_code >= 400 and r.request.method != "HEAD":
        err = r.json()["error"]
        assert err["code"] == r.status_code and err["message"], f"{where}: {r.text}"


def test_401_request_id_departure(glance, headers_host):
    """SPEC 7: Glance's 401 carries no request id, image-tags' does."""
    path = f"/v2/images/{uuid.uuid4()}/tags/t"
    g = requests.put(glance + path, timeout=20)
    it = requests.put(headers_host + path, timeout=20)
    assert (g.status_code, it.status_code) == (401, 401)
    assert "x-openstack-request-id" not in g.headers
    assert it.headers["x-openstack-request-id"].startswith("req-")


def test_tag_filter_is_exact_departure(glance, headers_host, run_id):
    """SPEC 7: Glance strips spaces around a `tag` filter value; image-tags matches it exactly."""
    image_id = str(uuid.uuid4())
    tag = f"%20padded-{run_id}"
    for base in (glance, headers_host):
        r = requests.post(base + "/v2/images", headers=identity("alice"), json={"id": image_id, "name": "pad"},
                          timeout=20)
        assert r.status_code == 201
        assert requests.put(f"{base}/v2/images/{image_id}/tags/{tag}", headers=identity("alice"),
                            timeout=20).status_code == 204
    g = requests.get(f"{glance}/v2/images?tag={tag}", headers=identity("alice"), timeout=20)
    it = requests.get(f"{headers_host}/v2/images?tag={tag}", headers=identity("alice"), timeout=20)
    assert (listed_ids(g), listed_ids(it)) == (set(), {image_id})
