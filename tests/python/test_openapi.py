"""openapi.yaml against the served component: discovery, schemas and Glance's API.

Every documented route is called for real (through the wasmtime test host),
with successes and the error statuses the document lists, and each response is
validated against the document (openapi_contract.py): its status must be
documented for the operation (or, for a method the path does not list, be the
documented 405 with `Allow` equal to the path's documented methods; for an
unknown path, the documented 404), every required documented header must be
present and valid, and the body must have a documented media type and be valid
against that media type's schema (204 and HEAD: no body). IMS's routes, and
the checks that every operation of the document was exercised and that the
validation is real, are in test_openapi_ims.py (it runs after this file).
"""

import uuid

from conftest import ALICE, BOB, QUOTA_SMALL, RITA
from openapi_contract import PATCH_CT, Api, new_image
from openapi_contract import admin, alice, contract, extra_hosts  # noqa: F401  (fixtures)


# ----- discovery, health, schemas -------------------------------------------------


def test_discovery_and_health(host, contract):
    anon = Api(host, contract)
    assert anon("GET", "/", 300).json()["versions"][0]["id"].startswith("v2.")
    assert anon("GET", "/versions", 200).json() == anon("GET", "/", 300).json()
    assert anon("GET", "/healthcheck", 200).text == "OK"
    anon("POST", "/healthcheck", 405)
    anon("HEAD", "/healthcheck", 405)
    anon("DELETE", "/", 405)
    anon("PUT", "/versions", 405)
    anon("GET", "/nowhere", 404)
    # a caller's request id is reused
    r = anon("GET", "/versions", 200, headers={"X-Openstack-Request-Id": "abc-123"})
    assert r.headers["x-openstack-request-id"] == "req-abc-123"


def test_schemas(alice):
    assert alice("GET", "/v2/schemas/image", 200).json()["name"] == "image"
    assert alice("GET", "/v2/schemas/images", 200).json()["name"] == "images"
    alice("POST", "/v2/schemas/image", 405)
    alice("DELETE", "/v2/schemas/images", 405)


def test_identity_errors(host, contract):
    for api in (Api(host, contract), Api(host, contract, "no-such-token")):
        for method, path in [("GET", "/v2/images"), ("POST", "/v2/images"), ("GET", "/v2/schemas/image"),
                             ("GET", "/v2/images/x"), ("PATCH", "/v2/images/x"), ("DELETE", "/v2/images/x"),
                             ("PUT", "/v2/images/x/tags/t"), ("DELETE", "/v2/images/x/tags/t"),
                             ("GET", "/v2/nowhere"), ("GET", "/v2/schemas/images")]:
            api(method, path, 401)
    Api(host, contract, ALICE)("GET", "/v2/nowhere", 404)


# ----- images ---------------------------------------------------------------------


def test_create_show_list_delete(alice, admin, host, contract, unique):
    img = new_image(alice, name=f"oa-{unique}", tags=["a", "b", "a"], os_distro="debian", min_ram=5,
                    container_format="bare", disk_format=None)
    assert img["tags"] == ["a", "b"] and img["owner"] == "proj-a" and img["os_distro"] == "debian"
    iid = img["id"]
    assert alice("GET", f"/v2/images/{iid}", 200).json() == img
    alice("POST", "/v2/images", 409, json_body={"id": iid})
    alice("POST", "/v2/images", 400, data="{not json", headers={"Content-Type": "application/json"})
    alice("POST", "/v2/images", 400, json_body=["a list"])
    alice("POST", "/v2/images", 400, json_body={"tags": ["x=y"]})
    alice("POST", "/v2/images", 400, json_body={"id": "not-a-uuid"})
    alice("POST", "/v2/images", 403, json_body={"visibility": "public"})
    alice("POST", "/v2/images", 403, json_body={"status": "active"})
    alice("POST", "/v2/images", 403, json_body={"owner": "proj-b"})
    Api(host, contract, RITA)("POST", "/v2/images", 403, json_body={"name": "reader"})
    pub = new_image(admin, name=f"oa-pub-{unique}", visibility="public", owner=None)
    assert pub["owner"] is None and pub["visibility"] == "public"
    alice("GET", f"/v2/images/{uuid.uuid4()}", 404)
    alice("GET", "/v2/images/not-an-id", 404)
    Api(host, contract, BOB)("GET", f"/v2/images/{iid}", 404)
    alice("PUT", f"/v2/images/{iid}", 405)
    alice("POST", f"/v2/images/{iid}", 405)
    alice("HEAD", f"/v2/images/{iid}", 405)
    alice("DELETE", "/v2/images", 405)
    alice("PATCH", "/v2/images", 405)

    protected = new_image(alice, name=f"oa-prot-{unique}", protected=True)
    alice("DELETE", f"/v2/images/{protected['id']}", 403)
    Api(host, contract, RITA)("DELETE", f"/v2/images/{iid}", 403)
    Api(host, contract, BOB)("DELETE", f"/v2/images/{iid}", 404)
    alice("DELETE", f"/v2/images/{iid}", 204)
    alice("GET", f"/v2/images/{iid}", 404)
    alice("DELETE", f"/v2/images/{iid}", 404)


def test_listing(alice, unique):
    tag = f"oa-list-{unique}"
    ids = [new_image(alice, name=f"{tag}-{n}", tags=[tag], hw=unique)["id"] for n in range(3)]
    page = alice("GET", "/v2/images", 200, query=f"tag={tag}&limit=2&sort_key=name&sort_dir=asc").json()
    assert [i["id"] for i in page["images"]] == ids[:2]
    assert "marker=" in page["next"]
    rest = alice("GET", page["next"].split("?")[0], 200, query=page["next"].split("?", 1)[1]).json()
    assert [i["id"] for i in rest["images"]] == ids[2:] and "next" not in rest
    alice("GET", "/v2/images", 200)
    alice("GET", "/v2/images", 200, query="sort=name:asc,created_at&limit=5000&visibility=all&os_hidden=false")
    alice("GET", "/v2/images", 200, query=f"hw={unique}&member_status=all&owner=proj-a&name={tag}-0&status=queued")
    for bad in ["limit=-1", "limit=x", f"marker={uuid.uuid4()}", "sort_key=size", "sort_dir=up",
                "visibility=everyone", "os_hidden=maybe", "sort=name:up", "sort=name&sort_key=id",
                "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc"]:
        alice("GET", "/v2/images", 400, query=bad)


def test_patch(alice, host, contract, unique):
    iid = new_image(alice, name=f"oa-patch-{unique}", tags=["old"], hw="x")["id"]
    ops = [{"op": "add", "path": "/tags", "value": ["t1", "t2", "t1"]},
           {"op": "replace", "path": "/name", "value": "renamed"},
           {"op": "add", "path": "/os_distro", "value": "debian"},
           {"op": "remove", "path": "/hw"}]
    img = alice("PATCH", f"/v2/images/{iid}", 200, json_body=ops, headers={"Content-Type": PATCH_CT}).json()
    assert img["tags"] == ["t1", "t2"] and img["name"] == "renamed" and "hw" not in img
    img = alice("PATCH", f"/v2/images/{iid}", 200, json_body=[{"op": "remove", "path": "/tags"}],
                headers={"Content-Type": "application/openstack-images-v2.0-json-patch"}).json()
    assert img["tags"] == []

    def patch(expect, ops, ct=PATCH_CT, api=alice, target=iid):
        return api("PATCH", f"/v2/images/{target}", expect, json_body=ops, headers={"Content-Type": ct})

    patch(415, [], ct="application/json")
    patch(400, [{"op": "add", "path": "/tags/-", "value": "x"}])
    patch(400, [{"op": "move", "from": "/name", "path": "/x"}])
    patch(400, {"op": "add"})
    patch(409, [{"op": "replace", "path": "/nope", "value": "x"}])
    patch(403, [{"op": "replace", "path": "/status", "value": "active"}])
    patch(403, [{"op": "add", "path": "/tags", "value": ["x"]}], api=Api(host, contract, RITA))
    patch(404, [], target=str(uuid.uuid4()))


# ----- tags -----------------------------------------------------------------------


def test_tags(alice, host, contract, unique):
    iid = new_image(alice, name=f"oa-tags-{unique}")["id"]
    base = f"/v2/images/{iid}/tags"
    alice("PUT", f"{base}/plain", 204)
    alice("PUT", f"{base}/plain", 204)
    alice("PUT", f"{base}/a%2Fb%20%C3%BC", 204)
    assert alice("GET", f"/v2/images/{iid}", 200).json()["tags"] == ["plain", "a/b ü"]
    for bad in ["a%3Db", "a=b", "%zz", "%FF", "", "x" * 256]:
        alice("PUT", f"{base}/{bad}", 400)
    alice("PUT", f"{base}/with-body", 400, data=b"x")
    alice("DELETE", f"{base}/plain", 400, data=b"x")
    alice("DELETE", f"{base}/", 400)
    alice("DELETE", f"{base}/%zz", 400)
    alice("PUT", f"/v2/images/{uuid.uuid4()}/tags/t", 404)
    alice("DELETE", f"/v2/images/{uuid.uuid4()}/tags/t", 404)
    alice("PUT", "/v2/images/not-an-id/tags/t", 404)
    Api(host, contract, RITA)("PUT", f"{base}/t", 403)
    Api(host, contract, RITA)("DELETE", f"{base}/plain", 403)
    Api(host, contract, BOB)("PUT", f"{base}/t", 404)
    for method in ("GET", "POST", "PATCH", "HEAD"):
        alice(method, f"{base}/plain", 405)
    alice("GET", f"{base}/a/b", 404)
    alice("DELETE", f"{base}/plain", 204)
    alice("DELETE", f"{base}/plain", 404)
    alice("DELETE", f"{base}/a=b", 404)


def test_quota(quota_host, contract, unique):
    api = Api(quota_host, contract, ALICE)
    api("POST", "/v2/images", 413, json_body={"tags": [f"q{n}" for n in range(QUOTA_SMALL + 1)]})
    iid = new_image(api, name=f"oa-quota-{unique}", tags=[f"q{n}" for n in range(QUOTA_SMALL)])["id"]
    api("PUT", f"/v2/images/{iid}/tags/q0", 204)
    api("PUT", f"/v2/images/{iid}/tags/one-more", 413)
    api("PATCH", f"/v2/images/{iid}", 413, json_body=[{"op": "add", "path": "/tags", "value": ["a", "b", "c", "d"]}],
        headers={"Content-Type": PATCH_CT})


# ----- identity modes and faults ---------------------------------------------------


def test_headers_mode(headers_host, contract, unique):
    confirmed = {"X-Identity-Status": "Confirmed", "X-Project-Id": "proj-h", "X-Roles": "member,reader"}
    api = Api(headers_host, contract, headers=confirmed)
    iid = new_image(api, name=f"oa-headers-{unique}")["id"]
    api("PUT", f"/v2/images/{iid}/tags/h", 204)
    Api(headers_host, contract, headers=dict(confirmed, **{"X-Identity-Status": "Invalid"}))(
        "GET", f"/v2/images/{iid}", 401)
    Api(headers_host, contract)("GET", "/v2/images", 401)


def test_faults(extra_hosts, contract):
    nostore = Api(extra_hosts["nostore"], contract, ALICE)
    r = nostore("GET", "/healthcheck", 503)
    assert r.headers["retry-after"].isdigit()
    iid = str(uuid.uuid4())
    nostore("GET", "/v2/images", 503)
    nostore("POST", "/v2/images", 503, json_body={"name": "x"})
    nostore("GET", f"/v2/images/{iid}", 503)
    nostore("PATCH", f"/v2/images/{iid}", 503, json_body=[], headers={"Content-Type": PATCH_CT})
    nostore("DELETE", f"/v2/images/{iid}", 503)
    nostore("PUT", f"/v2/images/{iid}/tags/t", 503)
    nostore("DELETE", f"/v2/images/{iid}/tags/t", 503)

    bad = Api(extra_hosts["misconfigured"], contract, ALICE)
    for method, path in [("GET", "/v2/images"), ("POST", "/v2/images"), ("GET", f"/v2/images/{iid}"),
                         ("PATCH", f"/v2/images/{iid}"), ("DELETE", f"/v2/images/{iid}"),
                         ("PUT", f"/v2/images/{iid}/tags/t"), ("DELETE", f"/v2/images/{iid}/tags/t"),
                         ("GET", "/v2/schemas/image"), ("GET", "/v2/schemas/images")]:
        r = bad(method, path, 500)
        assert "auth_mode" in r.json()["error"]["message"]
    Api(extra_hosts["misconfigured"], contract)("GET", "/healthcheck", 200)

    keystone = extra_hosts["keystone"]
    r = Api(keystone, contract)("GET", "/v2/images", 401)
    # the keystone_url's base: without its /v3, as keystonemiddleware's www_authenticate_uri
    assert r.headers["www-authenticate"] == 'Keystone uri="http://127.0.0.1:9"'
    for method, path in [("GET", "/v2/schemas/image"), ("GET", "/v2/schemas/images"), ("GET", "/v2/images")]:
        Api(keystone, contract, "some-token")(method, path, 503)
