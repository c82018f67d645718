"""The `openstack` CLI (python-openstackclient 10.5 over openstacksdk) against
image-tags (tokens mode), as an operator runs it with a static token:

    OS_IMAGE_ENDPOINT_OVERRIDE=EP openstack --os-auth-type admin_token --os-endpoint EP --os-token TOK ...

`image set --tag` sends PATCH add /tags with the union of old and new tags;
`image unset --tag` sends DELETE /v2/images/{id}/tags/{tag} per tag."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ALICE, QUOTA_SMALL, RITA
from itutil import cli

MISSING = "00000000-0000-4000-8000-000000000000"


def osc(url, token, env, *args, create=False):
    env = dict(env, OS_IMAGE_ENDPOINT_OVERRIDE=url)
    return cli("openstack", ["--os-auth-type", "admin_token", "--os-endpoint", url, "--os-token", token, *args],
               env, create=create)


def ok_json(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return json.loads(r.stdout)


@pytest.fixture
def image(host, cli_env, unique):
    """An image made with `openstack image create --tag a --tag b` (stdin a pty: no upload)."""
    r = osc(host, ALICE, cli_env, "image", "create", f"osc-{unique}", "--tag", "a", "--tag", "b",
            "--container-format", "bare", "--disk-format", "raw", "-f", "json", create=True)
    img = ok_json(r)
    assert sorted(img["tags"]) == ["a", "b"]
    assert img["status"] == "queued" and img["owner"] == "proj-a"
    return img


def test_set_unset_show_list(host, cli_env, image, unique):
    iid = image["id"]
    t = f"c-{unique}"
    r = osc(host, ALICE, cli_env, "image", "set", "--tag", t, "--tag", "with space", iid)
    assert r.returncode == 0, r.stderr
    r = osc(host, ALICE, cli_env, "image", "unset", "--tag", "a", iid)
    assert r.returncode == 0, r.stderr
    shown = ok_json(osc(host, ALICE, cli_env, "image", "show", iid, "-f", "json", "-c", "tags"))
    assert set(shown["tags"]) == {"b", t, "with space"} and len(shown["tags"]) == 3

    listed = ok_json(osc(host, ALICE, cli_env, "image", "list", "--tag", t, "--tag", "b", "-f", "json"))
    assert [row["ID"] for row in listed] == [iid]
    assert listed[0]["Name"] == image["name"]

    # a tag that is not there: the CLI reports the failed DELETE (404) and exits 1
    r = osc(host, ALICE, cli_env, "image", "unset", "--tag", "never-set", iid)
    assert r.returncode == 1 and "Failed to unset 1 of 1 tags" in r.stderr, r.stderr


def test_errors(host, quota_host, cli_env, image):
    iid = image["id"]
    many = [x for i in range(QUOTA_SMALL + 1) for x in ("--tag", f"q{i}")]
    runs = {  # independent commands, run side by side (each CLI start costs ~3 s)
        "equals": lambda: osc(host, ALICE, cli_env, "image", "set", "--tag", "k=v", iid),
        "reader": lambda: osc(host, RITA, cli_env, "image", "set", "--tag", "reader", iid),
        "missing": lambda: osc(host, ALICE, cli_env, "image", "show", MISSING),
        "bad token": lambda: osc(host, "bad-token", cli_env, "image", "list"),
        # quota: more tags than image_tag_quota on create
        "quota": lambda: osc(quota_host, ALICE, cli_env, "image", "create", "osc-quota", *many, create=True),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = {k: pool.submit(f) for k, f in runs.items()}
        r = {k: f.result() for k, f in futures.items()}

    assert r["equals"].returncode == 1, r["equals"].stderr
    assert "BadRequestException: 400" in r["equals"].stderr and "'='" in r["equals"].stderr, r["equals"].stderr
    assert r["reader"].returncode == 1 and "ForbiddenException: 403" in r["reader"].stderr, r["reader"].stderr
    assert r["missing"].returncode == 1 and f"No Image found for {MISSING}" in r["missing"].stderr, r["missing"].stderr
    assert r["bad token"].returncode == 1 and "401" in r["bad token"].stderr, r["bad token"].stderr
    q = r["quota"]
    assert q.returncode == 1 and "413" in q.stderr and f"Maximum: {QUOTA_SMALL}" in q.stderr, q.stderr

    shown = ok_json(osc(host, ALICE, cli_env, "image", "show", iid, "-f", "json", "-c", "tags"))
    assert sorted(shown["tags"]) == ["a", "b"]
