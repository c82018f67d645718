"""openapi.yaml against the served component: Huawei Cloud IMS's routes, and the
document as a whole.

The same validation of every response as test_openapi.py (openapi_contract.py).
This file runs after test_openapi.py (pytest collects files in name order) and
its last tests check the document itself: every documented operation was
exercised by the two files together (their calls land in one shared
`Contract`), and a document that disagrees with the service fails the same
validation.
"""

import copy
import uuid

import pytest
import requests

from conftest import ALICE, RITA
from openapi_contract import METHODS, Api, Contract, new_image
from openapi_contract import alice, contract, extra_hosts  # noqa: F401  (fixtures)

# the files whose calls test_every_operation_was_exercised counts
OPENAPI_FILES = ("test_openapi.py", "test_openapi_ims.py")


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
    """Runs after the tests of both files (file order, then this file's order): each
    documented operation was called, and every documented status of the tag endpoints
    and of POST /v2/images was seen."""
    modules = {i.module for i in request.session.items if i.path.name in OPENAPI_FILES}
    selected = {(i.module.__name__, i.name) for i in request.session.items if i.module in modules}
    everything = {(m.__name__, n) for m in modules for n, f in vars(m).items() if n.startswith("test_") and callable(f)}
    if len(modules) != len(OPENAPI_FILES) or selected != everything:
        pytest.skip(f"needs the whole of {' and '.join(OPENAPI_FILES)} to have run")
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
