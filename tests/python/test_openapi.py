"""openapi.yaml against the served component.

Every documented route is called for real (through the wasmtime test host),
with successes and the error statuses the document lists, and each response is
validated against the document: its status must be documented for the
operation (or, for a method the path does not list, be the documented 405 with
`Allow` equal to the path's documented methods; for an unknown path, the
documented 404), every required documented header must be present and valid,
and the body must have a documented media type and be valid against that
media type's schema (204 and HEAD: no body). The last test checks that every
operation of the document was exercised; `test_validator_is_real` checks that
a document that disagrees with the service fails the same validation.
"""

import copy
import http.client
import json
import re
import urllib.parse
import uuid
from pathlib import Path

import jsonschema
import pytest
import requests
import requests.structures
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import ADMIN, ALICE, BOB, QUOTA_SMALL, RITA, Host, tokens_variable

REPO = Path(__file__).resolve().parents[2]
DOC_PATH = REPO / "openapi.yaml"
DOC_URI = "urn:image-tags:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PATCH_CT = "application/openstack-images-v2.1-json-patch"


def pointer_escape(part):
    return str(part).replace("~", "~0").replace("/", "~1")


class Contract:
    """openapi.yaml, with JSON Schema validation of its fragments by pointer."""

    def __init__(self, doc):
        self.doc = doc
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        self.templates = [(t, self._template_regex(t)) for t in doc["paths"]]
        self.seen = set()  # (template, method, status)

    @staticmethod
    def _template_regex(template):
        # a parameter is one raw path segment (the last one may be empty: `.../tags/`)
        parts = re.split(r"(\{[^}]+\})", template)
        return re.compile("^" + "".join("[^/]*" if p.startswith("{") else re.escape(p) for p in parts) + "$")

    def template_for(self, raw_path):
        for template, rx in self.templates:
            if rx.match(raw_path):
                return template
        return None

    def at(self, pointer):
        node = self.doc
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def resolve(self, obj, pointer):
        """Follow `$ref`s (inside the document) to (object, its pointer)."""
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), ref
            pointer = ref[1:]
            obj = self.at(pointer)
        return obj, pointer

    def validate(self, instance, pointer, what):
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{DOC_URI}#{pointer}"},
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{what} does not match {pointer}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5]
        )

    def check(self, method, raw_path, response):
        """Validate one real response; return the documented response object's pointer."""
        method = method.lower()
        status = str(response.status_code)
        what = f"{method.upper()} {raw_path} → {status}"
        template = self.template_for(raw_path)
        if template is None:
            responses = self.doc["x-unknown-path"]["responses"]
            assert status in responses, f"{what}: status not documented for an unknown path"
            assert status != "401" or raw_path.startswith(("/v1/", "/v2/")), f"{what}: 401 outside /v1, /v2"
            expected = f"/x-unknown-path/responses/{status}"
            self.seen.add((None, method, status))
        else:
            path_item = self.doc["paths"][template]
            documented = [m for m in METHODS if m in path_item]
            if method in path_item:
                responses = path_item[method]["responses"]
                assert status in responses, f"{what}: status not documented (documented: {sorted(responses)})"
                expected = f"/paths/{pointer_escape(template)}/{method}/responses/{status}"
            else:
                # IMS's paths answer in IMS's error shape (x-error-shape: ims)
                section = "x-ims-method-not-allowed" if path_item.get("x-error-shape") == "ims" else "x-method-not-allowed"
                responses = self.doc[section]["responses"]
                assert status in responses, f"{what}: status not documented for a method the path does not list"
                assert status == "405" or raw_path.startswith(("/v1/", "/v2/")), f"{what}: only /v1, /v2 need identity"
                expected = f"/{section}/responses/{status}"
                if status == "405":
                    allow = response.headers.get("allow", "")
                    assert {m.strip().lower() for m in allow.split(",")} == set(documented), (
                        f"{what}: Allow {allow!r} is not the documented methods {documented}"
                    )
            self.seen.add((template, method, status))
        spec, pointer = self.resolve(self.at(expected), expected)
        self._check_headers(spec, pointer, response, what)
        self._check_body(spec, pointer, method, response, what)
        return pointer

    def _check_headers(self, spec, pointer, response, what):
        headers = spec.get("headers", {})
        assert "x-openstack-request-id" in headers, f"{pointer} does not document x-openstack-request-id"
        for name, header in headers.items():
            header, hpointer = self.resolve(header, f"{pointer}/headers/{pointer_escape(name)}")
            value = response.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{what}: required header {name} missing"
                continue
            self.validate(value, f"{hpointer}/schema", f"{what}: header {name}")

    def _check_body(self, spec, pointer, method, response, what):
        content = spec.get("content")
        if not content:
            assert response.content == b"", f"{what}: no body is documented, got {response.content[:200]!r}"
            assert "content-type" not in response.headers, f"{what}: a body-less response has a content type"
            return
        ctype = response.headers.get("content-type", "")
        media = ctype.split(";")[0].strip().lower()
        assert media in content, f"{what}: content type {ctype!r} not documented ({sorted(content)})"
        if method == "head":
            assert response.content == b"", f"{what}: HEAD answered with a body"
            return
        if media == "application/json":
            body = response.json()
        else:
            body = response.content.decode("utf-8")
        self.validate(body, f"{pointer}/content/{pointer_escape(media)}/schema", f"{what}: body")


def load_contract():
    return Contract(yaml.safe_load(DOC_PATH.read_text()))


@pytest.fixture(scope="module")
def contract():
    return load_contract()


class Api:
    """A client that validates every response against the document before the test looks at it."""

    def __init__(self, base, contract, token=None, headers=None):
        self.base, self.contract = base, contract
        self.headers = dict(headers or {})
        if token:
            self.headers["X-Auth-Token"] = token

    def __call__(self, method, path, expect, *, query=None, json_body=None, data=None, headers=None):
        h = dict(self.headers, **(headers or {}))
        if json_body is not None:
            data = json.dumps(json_body)
            h.setdefault("Content-Type", "application/json")
        raw = path + ("?" + query if query else "")
        r = raw_request(self.base, method, raw, h, data)
        pointer = self.contract.check(method, path, r)
        assert r.status_code == expect, f"{method} {raw}: {r.status_code} {r.text[:300]} (validated as {pointer})"
        return r


class RawResponse:
    """The parts of a `requests` response the checks read."""

    def __init__(self, status, headers, content):
        self.status_code = status
        self.headers = requests.structures.CaseInsensitiveDict(headers)
        self.content = content

    @property
    def text(self):
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


def raw_request(base, method, target, headers, data=None):
    """One request with the target sent byte for byte: `requests` (urllib3) would re-encode a
    malformed escape such as `%zz` into `%25zz`, and the service must see it as sent."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        body = data.encode() if isinstance(data, str) else data
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        content = resp.read()
        return RawResponse(resp.status, resp.getheaders(), content)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def alice(host, contract):
    return Api(host, contract, ALICE)


@pytest.fixture(scope="module")
def admin(host, contract):
    return Api(host, contract, ADMIN)


@pytest.fixture(scope="module")
def extra_hosts(_first_host, logdir):
    """Hosts that make the fault statuses happen: no store (503), a bad auth_mode (500),
    keystone mode with Keystone unreachable (401 with WWW-Authenticate, 503)."""
    started = {
        "nostore": Host("openapi-nostore", logdir, {"auth_mode": "tokens", "auth_tokens": tokens_variable(),
                                                    "kv_store": "no-such-store"}),
        "misconfigured": Host("openapi-misconfigured", logdir, {"auth_mode": "bogus"}),
        "keystone": Host("openapi-keystone", logdir, {"auth_mode": "keystone",
                                                      "keystone_url": "http://127.0.0.1:9/v3",
                                                      "keystone_origin": "http://127.0.0.1:9"}),
    }
    yield {k: h.url for k, h in started.items()}
    for h in started.values():
        h.stop()


def new_image(api, **body):
    return api("POST", "/v2/images", 201, json_body=body).json()


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


# ----- Huawei Cloud IMS's key/value tag API -------------------------------------


def test_ims_routes(alice, host, contract, unique):
    p, rita, name = "proj-a", Api(host, contract, RITA), f"oa-ims-{unique}"
    iid = new_image(alice, name=name, tags=["native"])["id"]
    gone = str(uuid.uuid4())
    one = {"tag": {"key": "env", "value": "prod"}}
    base = f"/v2/{p}/images/{iid}/tags"
    alice("POST", base, 204, json_body=one)
    assert alice("GET", base, 200).json()["tags"] == [{"key": "native", "value": ""}, {"key": "env", "value": "prod"}]
    # the Glance view shows the key/value tag as `k=v`
    assert alice("GET", f"/v2/images/{iid}", 200).json()["tags"] == ["native", "env=prod"]
    alice("POST", base, 400, json_body={"tag": {"key": "a=b", "value": ""}})
    alice("POST", base, 400, data="", headers={"Content-Type": "application/json"})
    alice("POST", f"/v2/proj-b/images/{iid}/tags", 403, json_body=one)
    rita("POST", base, 403, json_body=one)
    alice("POST", f"/v2/{p}/images/{gone}/tags", 404, json_body=one)
    alice("GET", f"/v2/proj-b/images/{iid}/tags", 403)
    alice("GET", f"/v2/{p}/images/{gone}/tags", 404)

    batch = {"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "action", "value": ""}]}
    alice("POST", f"{base}/action", 204, json_body=batch)
    alice("POST", f"{base}/action", 204, json_body={"action": "delete", "tags": [{"key": "a", "value": ""}]})
    alice("POST", f"{base}/action", 400, json_body={"action": "Create", "tags": [{"key": "k"}]})
    alice("POST", f"/v2/proj-b/images/{iid}/tags/action", 403, json_body=batch)
    rita("POST", f"{base}/action", 403, json_body=batch)
    alice("POST", f"/v2/{p}/images/{gone}/tags/action", 404, json_body=batch)
    # DELETE on `.../tags/action` removes the key named `action`
    alice("DELETE", f"{base}/action", 204)
    alice("DELETE", f"{base}/action", 404)
    rita("DELETE", f"{base}/action", 403)
    alice("DELETE", f"{base}/env", 204)
    alice("DELETE", f"{base}/env", 404)
    alice("DELETE", f"{base}/%FF", 400)
    rita("DELETE", f"{base}/native", 403)
    alice("DELETE", f"/v2/{p}/images/{gone}/tags/native", 404)

    keys = alice("GET", f"/v2/{p}/images/tags", 200).json()["tags"]
    assert {"key": "native", "values": [""]} in keys
    alice("GET", "/v2/proj-b/images/tags", 403)

    search = f"/v2/{p}/images/resource_instances/action"
    body = {"action": "filter", "tags": [{"key": "native", "values": []}],
            "matches": [{"key": "resource_name", "value": name}]}
    page = alice("POST", search, 200, json_body=body).json()
    assert page["total_count"] == 1 and page["resources"][0]["resource_id"] == iid
    assert alice("POST", search, 200, json_body=dict(body, action="count")).json() == {"total_count": 1}
    alice("POST", search, 400, json_body={"action": "count", "tags": []})
    alice("POST", "/v2/proj-b/images/resource_instances/action", 403, json_body={"action": "count"})

    alice("PUT", "/v1/cloudimages/tags", 204, json_body={"image_id": iid, "tag": "os.linux"})
    alice("PUT", "/v1/cloudimages/tags", 204, json_body={"image_id": iid, "image_tag": {"key": "k", "value": "v"}})
    alice("PUT", "/v1/cloudimages/tags", 400, json_body={"image_id": iid})
    alice("PUT", "/v1/cloudimages/tags", 404, json_body={"image_id": gone, "tag": "a.b"})
    rita("PUT", "/v1/cloudimages/tags", 403, json_body={"image_id": iid, "tag": "a.b"})
    assert alice("GET", "/v1/cloudimages/tags", 200, query=f"name={name}").json() == {"tags": ["k=v", "native", "os=linux"]}
    query = f"name={name}&limit=1&page=2&__imagetype=private&created_at=gt:2000-01-01T00:00:00Z&member_status=accepted"
    assert alice("GET", "/v1/cloudimages/tags", 200, query=query).json() == {"tags": ["native"]}
    alice("GET", "/v1/cloudimages/tags", 400, query="limit=0")
    delete = f"/v1/{p}/cloudimages/{iid}/tags/delete"
    drop = {"tags": [{"key": "os", "value": ""}]}
    alice("DELETE", delete, 204, json_body=drop)
    alice("DELETE", delete, 400, json_body={"tags": []})
    alice("DELETE", f"/v1/proj-b/cloudimages/{iid}/tags/delete", 403, json_body=drop)
    rita("DELETE", delete, 403, json_body=drop)
    alice("DELETE", f"/v1/{p}/cloudimages/{gone}/tags/delete", 404, json_body=drop)

    anon = Api(host, contract)
    for method, path in [("GET", base), ("POST", base), ("POST", f"{base}/action"), ("DELETE", f"{base}/action"),
                         ("DELETE", f"{base}/k"), ("GET", f"/v2/{p}/images/tags"), ("POST", search),
                         ("GET", "/v1/cloudimages/tags"), ("PUT", "/v1/cloudimages/tags"), ("DELETE", delete),
                         ("PATCH", base), ("GET", "/v1/nowhere")]:
        r = anon(method, path, 401)
        assert r.headers["x-request-id"] == r.headers["x-openstack-request-id"]
    for method, path in [("PUT", base), ("GET", f"{base}/action"), ("GET", f"{base}/k"), ("POST", f"/v2/{p}/images/tags"),
                         ("GET", search), ("POST", "/v1/cloudimages/tags"), ("GET", delete)]:
        r = alice(method, path, 405)
        assert r.json()["error"]["code"] == "IMG.0001"
    alice("GET", "/v1/nowhere", 404)


def test_ims_faults(extra_hosts, contract):
    iid = str(uuid.uuid4())
    calls = [("POST", f"/v2/proj-a/images/{iid}/tags", {"tag": {"key": "k"}}),
             ("GET", f"/v2/proj-a/images/{iid}/tags", None),
             ("POST", f"/v2/proj-a/images/{iid}/tags/action", {"action": "delete", "tags": [{"key": "k"}]}),
             ("DELETE", f"/v2/proj-a/images/{iid}/tags/action", None),
             ("DELETE", f"/v2/proj-a/images/{iid}/tags/k", None),
             ("GET", "/v2/proj-a/images/tags", None),
             ("POST", "/v2/proj-a/images/resource_instances/action", {"action": "count"}),
             ("GET", "/v1/cloudimages/tags", None),
             ("PUT", "/v1/cloudimages/tags", {"image_id": iid, "tag": "k"}),
             ("DELETE", f"/v1/proj-a/cloudimages/{iid}/tags/delete", {"tags": [{"key": "k"}]})]
    for host, status in [(extra_hosts["nostore"], 503), (extra_hosts["misconfigured"], 500)]:
        api = Api(host, contract, ALICE)
        for method, path, body in calls:
            r = api(method, path, status, json_body=body)
            assert r.json()["error"]["code"] == "IMG.0061"


# ----- the document itself ---------------------------------------------------------


def test_every_operation_was_exercised(contract, request):
    """Runs after the tests above (file order): each documented operation was called, and
    every documented status of the tag endpoints and of POST /v2/images was seen."""
    selected = {i.name for i in request.session.items if i.module is request.module}
    everything = {n for n, f in globals().items() if n.startswith("test_") and callable(f)}
    if selected != everything:
        pytest.skip("needs the whole module to have run")
    for template, item in contract.doc["paths"].items():
        for method in METHODS:
            if method in item:
                statuses = {s for t, m, s in contract.seen if t == template and m == method}
                assert statuses, f"{method.upper()} {template} was never called"
                if template.endswith("{tag}") or template == "/v2/images" and method == "post":
                    missing = set(item[method]["responses"]) - statuses
                    assert not missing, f"{method.upper()} {template}: statuses {sorted(missing)} not exercised"
        assert any(t == template and s == "405" for t, m, s in contract.seen), f"405 on {template} not exercised"


def test_validator_is_real(host, contract, alice, unique):
    """The same validation fails when the document disagrees with the service."""
    img = new_image(alice, name=f"oa-real-{unique}", os_distro="x")
    r = requests.get(f"{host}/v2/images/{img['id']}", headers={"X-Auth-Token": ALICE}, timeout=30)
    contract.check("GET", f"/v2/images/{img['id']}", r)
    breakages = {
        "status enum": lambda d: d["components"]["schemas"]["Image"]["properties"]["status"].update(enum=["active"]),
        "min_ram type": lambda d: d["components"]["schemas"]["MinSize"].update(type="string"),
        "checksum not nullable": lambda d: d["components"]["schemas"]["Image"]["properties"]["checksum"].update(
            type="string"),
        "no extra properties": lambda d: d["components"]["schemas"]["Image"].update(additionalProperties=False),
        "200 undocumented": lambda d: d["paths"]["/v2/images/{image_id}"]["get"]["responses"].pop("200"),
        "header required": lambda d: d["components"]["headers"]["RequestId"]["schema"].update(pattern="^nope"),
    }
    for name, breakage in breakages.items():
        doc = copy.deepcopy(contract.doc)
        breakage(doc)
        with pytest.raises(AssertionError):
            Contract(doc).check("GET", f"/v2/images/{img['id']}", r)
            pytest.fail(f"a document with {name} broken still validated the response")
    # the same for an IMS error (another project in the path)
    r = requests.get(f"{host}/v2/proj-b/images/tags", headers={"X-Auth-Token": ALICE}, timeout=30)
    contract.check("GET", "/v2/proj-b/images/tags", r)
    ims_breakages = {
        "IMS code": lambda d: d["components"]["schemas"]["ImsError403"]["allOf"][1].update(
            properties={"error": {"properties": {"code": {"enum": ["IMG.0161"]}}}}),
        "x-request-id": lambda d: d["components"]["headers"]["XRequestId"]["schema"].update(pattern="^nope"),
        "OpenStack shape": lambda d: d["paths"]["/v2/{project_id}/images/tags"].pop("x-error-shape")
        and d["paths"]["/v2/{project_id}/images/tags"]["get"]["responses"].update(
            {"403": {"$ref": "#/components/responses/Forbidden"}}),
    }
    for name, breakage in ims_breakages.items():
        doc = copy.deepcopy(contract.doc)
        breakage(doc)
        with pytest.raises(AssertionError):
            Contract(doc).check("GET", "/v2/proj-b/images/tags", r)
            pytest.fail(f"a document with {name} broken still validated the response")
