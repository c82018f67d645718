"""openapi.yaml as a checker of real responses, shared by test_openapi.py (Glance)
and test_openapi_ims.py (IMS, and the checks of the document as a whole).

`Contract` validates one response against the document; `Api` is a client that
sends the request target byte for byte and validates every response before the
test looks at it. `shared_contract()` is one `Contract` for the whole session,
so the last test of test_openapi_ims.py sees the operations both files exercised.
The fixtures at the end are imported by both test files (one instance per file).
"""

import functools
import http.client
import json
import re
import urllib.parse
from pathlib import Path

import jsonschema
import pytest
import requests.structures
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import ADMIN, ALICE, Host, tokens_variable

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



@functools.cache
def shared_contract():
    """The session's one Contract: its `seen` collects what every module exercised."""
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



def new_image(api, **body):
    return api("POST", "/v2/images", 201, json_body=body).json()


# ----- fixtures (module scope in each test file that imports them) -----------------


@pytest.fixture(scope="module")
def contract():
    return shared_contract()


@pytest.fixture(scope="module")
def alice(host, contract):
    return Api(host, contract, ALICE)


@pytest.fixture(scope="module")
def admin(host, contract):
    return Api(host, contract, ADMIN)


class FaultHosts:
    """Hosts that make the fault statuses happen, each started when a test first asks for it:
    no store (503), a bad auth_mode (500), keystone mode with Keystone unreachable (401 with
    WWW-Authenticate, 503)."""

    VARIABLES = {
        "nostore": lambda: {"auth_mode": "tokens", "auth_tokens": tokens_variable(), "kv_store": "no-such-store"},
        "misconfigured": lambda: {"auth_mode": "bogus"},
        "keystone": lambda: {"auth_mode": "keystone", "keystone_url": "http://127.0.0.1:9/v3",
                             "keystone_origin": "http://127.0.0.1:9"},
    }

    def __init__(self, logdir):
        self.logdir, self.started = logdir, {}

    def __getitem__(self, name):
        if name not in self.started:
            self.started[name] = Host(f"openapi-{name}", self.logdir, self.VARIABLES[name]())
        return self.started[name].url

    def stop(self):
        for h in self.started.values():
            h.stop()


@pytest.fixture(scope="module")
def extra_hosts(_first_host, logdir):
    hosts = FaultHosts(logdir)
    yield hosts
    hosts.stop()
