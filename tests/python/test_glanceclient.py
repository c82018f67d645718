"""python-glanceclient 4.13 against image-tags (tokens mode): the Python API
(which reads /v2/schemas/image and validates with warlock) and the `glance` CLI."""

import json
import re

import pytest
from glanceclient import exc

from conftest import ADMIN, ALICE, BOB, QUOTA_SMALL, RITA
from itutil import cli, glance_api, table_props, table_rows

REQ_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def gc(host):
    return glance_api(host, ALICE)


# ----- Python API ------------------------------------------------------------------


def test_create_and_tag_lifecycle(gc, unique):
    img = gc.images.create(name=f"gc-{unique}", tags=["a"], container_format="bare", disk_format="raw",
                           visibility="private")
    assert img["tags"] == ["a"] and img["owner"] == "proj-a" and img["visibility"] == "private"

    res = gc.image_tags.update(img["id"], "b")
    assert all(REQ_ID.match(r) for r in res.request_ids), res.request_ids
    gc.image_tags.update(img["id"], "b")  # idempotent
    assert gc.images.get(img["id"])["tags"] == ["a", "b"]

    gc.image_tags.delete(img["id"], "a")
    assert gc.images.get(img["id"])["tags"] == ["b"]
    with pytest.raises(exc.HTTPNotFound):
        gc.image_tags.delete(img["id"], "a")

    gc.images.delete(img["id"])
    with pytest.raises(exc.HTTPNotFound):
        gc.images.get(img["id"])


def test_create_validates_tags_against_the_schema(gc, unique):
    # warlock checks kwargs against GET /v2/schemas/image before anything is sent
    with pytest.raises(TypeError):
        gc.images.create(name=f"gc-bad-{unique}", tags="not-a-list")
    with pytest.raises(exc.HTTPBadRequest):
        gc.images.create(name=f"gc-bad-{unique}", tags=["k=v"])


def test_list_by_tag_follows_next(gc, unique):
    tag = f"page-{unique}"
    ids = {gc.images.create(name=f"p{i}-{unique}", tags=[tag, f"n{i}"])["id"] for i in range(5)}
    gc.images.create(name=f"other-{unique}", tags=[f"other-{unique}"])
    # page_size=2: three pages, the client stops when `next` is absent
    listed = list(gc.images.list(filters={"tag": [tag]}, page_size=2))
    assert {i["id"] for i in listed} == ids
    assert len(listed) == 5
    by_name = gc.images.list(filters={"tag": [tag]}, page_size=2, sort_key="name", sort_dir="desc")
    assert [i["name"] for i in by_name] == [f"p{i}-{unique}" for i in (4, 3, 2, 1, 0)]
    # AND of two tags
    assert [i["name"] for i in gc.images.list(filters={"tag": [tag, "n3"]})] == [f"p3-{unique}"]
    assert list(gc.images.list(filters={"tag": [f"absent-{unique}"]})) == []


def test_update_replaces_tags(gc, unique):
    img = gc.images.create(name=f"gc-upd-{unique}", tags=["old1", "old2"])
    updated = gc.images.update(img["id"], tags=["new1", "new2"])
    assert updated["tags"] == ["new1", "new2"]
    assert gc.images.get(img["id"])["tags"] == ["new1", "new2"]


def test_errors_map_to_exception_classes(host, gc, unique):
    img = gc.images.create(name=f"gc-err-{unique}", tags=["keep"], visibility="private")
    with pytest.raises(exc.HTTPBadRequest) as e:
        gc.image_tags.update(img["id"], "k=v")
    assert "=" in str(e.value)
    with pytest.raises(exc.HTTPNotFound):
        gc.image_tags.update(MISSING, "t")
    with pytest.raises(exc.HTTPNotFound):
        gc.images.get(MISSING)
    with pytest.raises(exc.HTTPNotFound):
        glance_api(host, BOB).image_tags.update(img["id"], "intruder")
    with pytest.raises(exc.HTTPForbidden):
        glance_api(host, RITA).image_tags.update(img["id"], "reader")
    with pytest.raises(exc.HTTPForbidden):
        glance_api(host, RITA).image_tags.delete(img["id"], "keep")
    with pytest.raises(exc.HTTPUnauthorized):
        glance_api(host, "bad-token").images.get(img["id"])
    glance_api(host, ADMIN).image_tags.update(img["id"], "admin-was-here")
    assert gc.images.get(img["id"])["tags"] == ["keep", "admin-was-here"]


def test_quota_is_over_limit(quota_host, unique):
    g = glance_api(quota_host, ALICE)
    img = g.images.create(name=f"gc-q-{unique}")
    for i in range(QUOTA_SMALL):
        g.image_tags.update(img["id"], f"t{i}")
    with pytest.raises(exc.HTTPOverLimit) as e:  # 413
        g.image_tags.update(img["id"], "extra")
    assert f"Attempted: {QUOTA_SMALL + 1}, Maximum: {QUOTA_SMALL}" in str(e.value)
    assert g.images.get(img["id"])["tags"] == [f"t{i}" for i in range(QUOTA_SMALL)]


# ----- the glance CLI ----------------------------------------------------------------


def glance_cli(url, token, env, *args, create=False):
    r = cli("glance", ["--os-image-url", url, "--os-auth-token", token, *args], env, create=create)
    return r


def test_glance_cli_tag_lifecycle(host, cli_env, unique):
    name = f"cli-{unique}"
    r = glance_cli(host, ALICE, cli_env, "image-create", "--name", name, "--container-format", "bare",
                   "--disk-format", "raw", "--tags", "one", "two", create=True)
    assert r.returncode == 0, r.stderr
    props = table_props(r.stdout)
    image_id = props["id"]
    assert json.loads(props["tags"]) == ["one", "two"]
    assert props["status"] == "queued"  # no data was uploaded from stdin

    r = glance_cli(host, ALICE, cli_env, "image-tag-update", image_id, "three")
    assert r.returncode == 0, r.stderr
    r = glance_cli(host, ALICE, cli_env, "image-tag-delete", image_id, "one")
    assert r.returncode == 0, r.stderr

    r = glance_cli(host, ALICE, cli_env, "image-show", image_id)
    assert r.returncode == 0, r.stderr
    assert json.loads(table_props(r.stdout)["tags"]) == ["two", "three"]

    r = glance_cli(host, ALICE, cli_env, "image-list", "--tag", "three", "--tag", "two", "--page-size", "1")
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert rows[0] == ["ID", "Name"]
    assert [image_id, name] in rows[1:]

    r = glance_cli(host, ALICE, cli_env, "image-tag-delete", image_id, "one")
    assert r.returncode != 0
    assert "404" in r.stderr or "not be found" in r.stderr, r.stderr


def test_glance_cli_errors(host, cli_env, unique):
    r = glance_cli(host, ALICE, cli_env, "image-tag-update", MISSING, "t")
    assert r.returncode != 0 and f"Image {MISSING} not found" in r.stderr, r.stderr
    r = glance_cli(host, "bad-token", cli_env, "image-show", MISSING)
    assert r.returncode != 0 and "Invalid OpenStack Identity credentials" in r.stderr, r.stderr  # its 401 text


def test_versions_and_schema_the_clients_read(host):
    import requests

    r = requests.get(host + "/versions", timeout=10)
    assert r.status_code == 200 and r.json()["versions"][0]["id"] == "v2.17"
    schema = requests.get(host + "/v2/schemas/image", headers={"X-Auth-Token": ALICE}, timeout=10).json()
    props = schema["properties"]
    assert props["file"]["readOnly"] is True and props["self"]["readOnly"] is True
    assert props["tags"]["type"] == "array"
    assert props["tags"]["items"]["type"] == "string" and props["tags"]["items"]["maxLength"] == 255
