"""Huawei Cloud IMS's key/value tag API (SPEC section 9) with plain `requests` and
X-Auth-Token against the tokens-mode host: every route, both views of the one
tag list, the rules, the limit, the other project refused, and the search's
filter and count agreeing with each other and with ims_model on every form.
The same through huaweicloudsdkims (AK/SK) is test_ims_sdk.py."""

import uuid

import pytest
import requests

from conftest import ALICE, BOB, RITA
from ims_model import CORPUS, matches, search_forms

P = "proj-a"


class Ims:
    def __init__(self, url, token):
        self.url, self.headers = url, {"X-Auth-Token": token}

    def __call__(self, method, path, expect=None, **kw):
        r = requests.request(method, self.url + path, headers=self.headers, timeout=30, **kw)
        assert r.headers["x-request-id"] == r.headers["x-openstack-request-id"]
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r

    def create(self, name, tags=()):
        return self("POST", "/v2/images", 201, json={"name": name, "tags": list(tags)}).json()["id"]

    def native(self, iid):
        return self("GET", f"/v2/images/{iid}", 200).json()["tags"]

    def kv(self, iid, project=P):
        return self("GET", f"/v2/{project}/images/{iid}/tags", 200).json()["tags"]

    def search(self, body, project=P):
        return self("POST", f"/v2/{project}/images/resource_instances/action", 200, json=body).json()


def ims_error(r, status, code, part=""):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message"} and err["code"] == code, err
    assert part in err["message"], err


@pytest.fixture
def alice(host):
    return Ims(host, ALICE)


def test_every_route_and_both_views(alice, unique):
    iid = alice.create(f"ims-{unique}", ["plain"])
    base = f"/v2/{P}/images/{iid}/tags"
    alice("POST", base, 204, json={"tag": {"key": "env", "value": "prod"}})
    assert alice.kv(iid) == [{"key": "plain", "value": ""}, {"key": "env", "value": "prod"}]
    assert alice.native(iid) == ["plain", "env=prod"]
    # a native tag added later is a key with the empty value
    alice("PUT", f"/v2/images/{iid}/tags/later", 204)
    assert alice.kv(iid)[-1] == {"key": "later", "value": ""}
    # setting a key replaces its entry where it stands
    alice("POST", base, 204, json={"tag": {"key": "plain", "value": "now"}})
    assert alice.native(iid) == ["plain=now", "env=prod", "later"]
    body = {"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "env", "value": "dev"}]}
    alice("POST", f"{base}/action", 204, json=body)
    assert alice.native(iid) == ["plain=now", "env=dev", "later", "a=1"]
    body = {"action": "delete", "tags": [{"key": "a", "value": "other"}, {"key": "never", "value": ""}]}
    alice("POST", f"{base}/action", 204, json=body)
    alice("DELETE", f"{base}/later", 204)
    ims_error(alice("DELETE", f"{base}/later"), 404, "IMG.0121", "later")
    assert alice.native(iid) == ["plain=now", "env=dev"]
    # the native routes see and remove key/value tags as `k=v`
    listed = alice("GET", "/v2/images", 200, params={"tag": "env=dev"}).json()["images"]
    assert [i["id"] for i in listed] == [iid]
    alice("DELETE", f"/v2/images/{iid}/tags/env%3Ddev", 204)
    assert alice.kv(iid) == [{"key": "plain", "value": "now"}]

    # the legacy routes
    alice("PUT", "/v1/cloudimages/tags", 204, json={"image_id": iid, "tag": "ver.1.2"})
    alice("PUT", "/v1/cloudimages/tags", 204, json={"image_id": iid, "tag": "bare"})
    alice("PUT", "/v1/cloudimages/tags", 204, json={"image_id": iid, "image_tag": {"key": "team", "value": "a b"}})
    assert alice.native(iid) == ["plain=now", "ver=1.2", "bare", "team=a b"]
    listed = alice("GET", "/v1/cloudimages/tags", 200, params={"name": f"ims-{unique}"}).json()
    assert listed == {"tags": ["bare", "plain=now", "team=a b", "ver=1.2"]}
    pages = [alice("GET", "/v1/cloudimages/tags", 200, params={"name": f"ims-{unique}", "limit": 3, "page": n}).json()
             for n in (1, 2, 3)]
    assert [p["tags"] for p in pages] == [["bare", "plain=now", "team=a b"], ["ver=1.2"], []]
    alice("DELETE", f"/v1/{P}/cloudimages/{iid}/tags/delete", 204,
          json={"tags": [{"key": "ver", "value": ""}, {"key": "bare", "value": ""}]})
    assert alice.native(iid) == ["plain=now", "team=a b"]

    keys = alice("GET", f"/v2/{P}/images/tags", 200).json()["tags"]
    assert {"key": "team", "values": ["a b"]} in keys
    assert next(k for k in keys if k["key"] == "plain")["values"][-1] == "now"


def test_rules_and_errors_write_nothing(alice, unique):
    iid = alice.create(f"ims-rules-{unique}", ["keep"])
    base = f"/v2/{P}/images/{iid}/tags"
    ok = ["环境", "k_.:+-@ 1", "Ключ"]
    for key in ok:
        alice("POST", base, 204, json={"tag": {"key": key, "value": "v/1 ünï"}})
    for key in ok:
        alice("DELETE", f"{base}/{requests.utils.quote(key, safe='')}", 204)
    for key, value, part in [("a=b", "", "'='"), ("k", "a=b", "'='"), ("a/b", "", "'/'"), (" k", "", "space"),
                             ("k", "v ", "space"), ("k#", "", "'#'"), ("", "", "1 to 128"),
                             ("k" * 129, "", "1 to 128"), ("k", "v" * 256, "0 to 255")]:
        ims_error(alice("POST", base, json={"tag": {"key": key, "value": value}}), 400, "IMG.0115", part)
        body = {"image_id": iid, "image_tag": {"key": key, "value": value}}
        ims_error(alice("PUT", "/v1/cloudimages/tags", json=body), 400, "IMG.0115", part)
    ims_error(alice("POST", base, data=b""), 400, "IMG.0007")
    ims_error(alice("POST", base, data=b"[1]"), 400, "IMG.0001")
    ims_error(alice("POST", f"{base}/action", json={"action": "add", "tags": [{"key": "k"}]}), 400, "IMG.0001")
    ims_error(alice("POST", f"{base}/action", json={"action": "create", "tags": [{"key": "k"}, {"key": "k"}]}),
              400, "IMG.0001", "twice")
    ims_error(alice("PUT", "/v1/cloudimages/tags", json={"image_id": iid, "tag": "a.b",
                                                       "image_tag": {"key": "a", "value": "b"}}), 400, "IMG.0001")
    # deletes check only lengths
    alice("PUT", f"/v2/images/{iid}/tags/odd%23tag", 204)
    alice("DELETE", f"{base}/odd%23tag", 204)
    ims_error(alice("DELETE", f"{base}/{'k' * 129}"), 400, "IMG.0115", "1 to 128")
    r = alice("PATCH", base)
    ims_error(r, 405, "IMG.0001")
    assert r.headers["allow"] == "GET, POST"
    assert alice.native(iid) == ["keep"]


def test_the_limit_counts_the_whole_list(alice, unique):
    iid = alice.create(f"ims-limit-{unique}", [f"n{i}" for i in range(10)])
    base = f"/v2/{P}/images/{iid}/tags"
    tags = [{"key": f"k{i}", "value": str(i)} for i in range(10)]
    alice("POST", f"{base}/action", 204, json={"action": "create", "tags": tags})
    # 20 is the default ims_tag_limit: a new key is refused, an update is not
    ims_error(alice("POST", base, json={"tag": {"key": "new", "value": ""}}), 400, "IMG.0116", "at most 20")
    ims_error(alice("PUT", "/v1/cloudimages/tags", json={"image_id": iid, "tag": "new.1"}), 400, "IMG.0116")
    alice("POST", base, 204, json={"tag": {"key": "k0", "value": "changed"}})
    alice("POST", base, 204, json={"tag": {"key": "n0", "value": "kv"}})
    assert len(alice.native(iid)) == 20
    # the native routes keep image_tag_quota (128)
    alice("PUT", f"/v2/images/{iid}/tags/native-21", 204)


def test_other_projects_and_readers_are_refused(host, alice, unique):
    keep = f"keep-{unique}"
    iid = alice.create(f"ims-proj-{unique}", [keep])
    bob, rita = Ims(host, BOB), Ims(host, RITA)
    one = {"tag": {"key": "k", "value": "v"}}
    ims_error(alice("POST", f"/v2/proj-b/images/{iid}/tags", json=one), 403, "IMG.0067", "proj-b")
    ims_error(alice("GET", "/v2/proj-b/images/tags"), 403, "IMG.0067")
    ims_error(alice("POST", "/v2/proj-b/images/resource_instances/action", json={"action": "count"}), 403, "IMG.0067")
    ims_error(alice("DELETE", f"/v1/proj-b/cloudimages/{iid}/tags/delete", json={"tags": [{"key": keep}]}),
              403, "IMG.0067")
    ims_error(bob("POST", f"/v2/proj-b/images/{iid}/tags", json=one), 404, "IMG.0144", iid)
    ims_error(bob("GET", f"/v2/proj-b/images/{iid}/tags"), 404, "IMG.0144")
    ims_error(bob("PUT", "/v1/cloudimages/tags", json={"image_id": iid, "tag": "a.b"}), 404, "IMG.0144")
    assert bob.search({"action": "count", "matches": [{"key": "resource_id", "value": iid}]}, "proj-b") == \
        {"total_count": 0}
    assert keep not in bob("GET", "/v1/cloudimages/tags", 200).json()["tags"]
    ims_error(rita("POST", f"/v2/{P}/images/{iid}/tags", json=one), 403, "IMG.0161")
    ims_error(rita("DELETE", f"/v2/{P}/images/{iid}/tags/{keep}"), 403, "IMG.0161")
    assert rita.kv(iid) == [{"key": keep, "value": ""}]
    r = requests.post(f"{host}/v2/{P}/images/{iid}/tags", json=one, timeout=30)
    ims_error(r, 401, "APIGW.0301")
    assert alice.native(iid) == [keep]


def test_search_filter_and_count_agree_on_every_form(alice, unique):
    prefix = f"ims-ri-{unique}-"
    images = []
    for suffix, tags in CORPUS:
        # key/value tags go through IMS (POST /v2/images refuses `=`)
        iid = alice.create(prefix + suffix, [t for t in tags if "=" not in t])
        pairs = [{"key": k, "value": v} for k, _, v in (t.partition("=") for t in tags if "=" in t)]
        if pairs:
            alice("POST", f"/v2/{P}/images/{iid}/tags/action", 204, json={"action": "create", "tags": pairs})
        images.append({"id": iid, "name": prefix + suffix, "tags": alice.native(iid)})
    for body in search_forms(prefix, images[1]["id"]):
        want = {i["id"] for i in images if matches(i, body)}
        page = alice.search(dict(body, action="filter", limit="1000"))
        count = alice.search(dict(body, action="count"))
        got = {r["resource_id"] for r in page["resources"]}
        assert got == want, body
        assert page["total_count"] == count["total_count"] == len(want), body
        for r in page["resources"]:
            image = next(i for i in images if i["id"] == r["resource_id"])
            assert r["resource_name"] == image["name"] and r["resource_detail"] == {"status": "queued"}
            assert r["tags"] == [{"key": t.partition("=")[0], "value": t.partition("=")[2]} for t in image["tags"]]
    # pages of `filter` put together are the whole answer, in one order
    scope = {"matches": [{"key": "resource_name", "value": prefix}]}
    whole = [r["resource_id"] for r in alice.search(dict(scope, action="filter"))["resources"]]
    assert len(whole) == len(CORPUS)
    paged = []
    for offset in range(0, len(CORPUS) + 2, 2):
        page = alice.search(dict(scope, action="filter", limit="2", offset=str(offset)))
        assert page["total_count"] == len(CORPUS)
        paged += [r["resource_id"] for r in page["resources"]]
    assert paged == whole
    # the default page is 10
    assert len(alice.search({"action": "filter"})["resources"]) <= 10
    for bad in [{"action": "count", "tags": []}, {"action": "filter", "limit": "0"}, {"action": "filter", "limit": 5},
                {"action": "filter", "offset": "-1"}, {"action": "Count"},
                {"action": "count", "matches": [{"key": "owner", "value": "x"}]}]:
        ims_error(alice("POST", f"/v2/{P}/images/resource_instances/action", json=bad), 400, "IMG.0001")
    missing = str(uuid.uuid4())
    assert alice.search({"action": "count", "matches": [{"key": "resource_id", "value": missing}]}) == \
        {"total_count": 0}
