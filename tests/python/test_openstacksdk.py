"""openstacksdk 4.22 against image-tags (tokens mode), with a static token as
`--os-auth-type admin_token` gives it: version discovery on GET /, then the
image proxy's tag calls."""

import pytest
import requests
from openstack import exceptions as exc

from conftest import ADMIN, ALICE, BOB, QUOTA_SMALL, RITA
from itutil import sdk


@pytest.fixture(scope="module")
def alice(host):
    return sdk(host, ALICE)


def test_discovery_and_version_document(host, alice):
    r = requests.get(host + "/", timeout=10)
    assert r.status_code == 300
    assert r.json()["versions"][0]["id"] == "v2.17"
    # The proxy resolved its endpoint through that document.
    list(alice.image.images(limit=1))
    assert alice.image.get_endpoint().startswith(host)


def test_create_add_remove_tag_lifecycle(alice, unique):
    img = alice.image.create_image(name=f"sdk-{unique}", allow_duplicates=True, tags=["first"],
                                   container_format="bare", disk_format="raw")
    assert img.tags == ["first"]
    assert img.owner == "proj-a" and img.status == "queued"

    alice.image.add_tag(img, "second")
    alice.image.add_tag(img.id, "second")  # idempotent
    assert alice.image.get_image(img.id).tags == ["first", "second"]

    alice.image.remove_tag(img, "first")
    assert alice.image.get_image(img.id).tags == ["second"]

    with pytest.raises(exc.NotFoundException):
        alice.image.remove_tag(img, "first")  # no longer carried

    alice.image.delete_image(img)
    with pytest.raises(exc.NotFoundException):
        alice.image.get_image(img.id)


def test_create_without_duplicates_probes_by_name(alice, unique):
    # allow_duplicates=False first GETs /v2/images/NAME (must be 404), then ?name= and ?os_hidden=True.
    name = f"sdk-nodup-{unique}"
    img = alice.image.create_image(name=name, allow_duplicates=False, tags=["nodup"])
    assert alice.image.find_image(name).id == img.id
    assert alice.image.get_image(img.id).tags == ["nodup"]


def test_unicode_and_space_tags_round_trip(alice, unique):
    # requests percent-encodes these as UTF-8; image-tags decodes UTF-8 (Glance: Latin-1, SPEC 7).
    img = alice.image.create_image(name=f"sdk-u-{unique}", allow_duplicates=True)
    for tag in ["with space", "Grüße", "CaSe"]:
        alice.image.add_tag(img, tag)
    assert alice.image.get_image(img.id).tags == ["with space", "Grüße", "CaSe"]
    assert [i.id for i in alice.image.images(tag=["Grüße"])] == [img.id]
    alice.image.remove_tag(img, "Grüße")
    assert alice.image.get_image(img.id).tags == ["with space", "CaSe"]


def test_images_filtered_by_tags_and(alice, unique):
    a, b = f"a-{unique}", f"b-{unique}"
    both = alice.image.create_image(name=f"both-{unique}", allow_duplicates=True, tags=[a, b])
    only_a = alice.image.create_image(name=f"a-{unique}", allow_duplicates=True, tags=[a])
    alice.image.create_image(name=f"none-{unique}", allow_duplicates=True, tags=["other"])
    assert {i.id for i in alice.image.images(tag=[a])} == {both.id, only_a.id}
    assert [i.id for i in alice.image.images(tag=[a, b])] == [both.id]
    assert list(alice.image.images(tag=[f"missing-{unique}"])) == []
    # the SDK pages through `next` with a small limit
    assert {i.id for i in alice.image.images(tag=[a], limit=1)} == {both.id, only_a.id}


def test_update_image_sets_the_whole_tag_list(alice, unique):
    img = alice.image.create_image(name=f"upd-{unique}", allow_duplicates=True, tags=["x", "y"])
    updated = alice.image.update_image(img.id, tags=["p", "q", "p"])
    assert updated.tags == ["p", "q"]
    assert alice.image.get_image(img.id).tags == ["p", "q"]
    assert alice.image.update_image(img.id, tags=[]).tags == []


def test_not_found_errors(alice, unique):
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(exc.NotFoundException):
        alice.image.get_image(missing)
    with pytest.raises(exc.NotFoundException):
        alice.image.add_tag(missing, "t")
    with pytest.raises(exc.NotFoundException):
        alice.image.remove_tag(missing, "t")


def test_other_projects_private_image_is_not_found(host, alice, unique):
    img = alice.image.create_image(name=f"priv-{unique}", allow_duplicates=True, visibility="private")
    bob = sdk(host, BOB)
    with pytest.raises(exc.NotFoundException):
        bob.image.add_tag(img.id, "intruder")
    with pytest.raises(exc.NotFoundException):
        bob.image.get_image(img.id)
    assert alice.image.get_image(img.id).tags == []


def test_reader_is_forbidden_admin_is_not(host, alice, unique):
    img = alice.image.create_image(name=f"ro-{unique}", allow_duplicates=True, tags=["keep"])
    rita = sdk(host, RITA)
    assert rita.image.get_image(img.id).tags == ["keep"]
    with pytest.raises(exc.ForbiddenException) as e:
        rita.image.add_tag(img.id, "nope")
    assert "modify_image" in str(e.value)
    with pytest.raises(exc.ForbiddenException):
        rita.image.remove_tag(img.id, "keep")
    sdk(host, ADMIN).image.add_tag(img.id, "by-admin")
    assert alice.image.get_image(img.id).tags == ["keep", "by-admin"]


def test_bad_tags_are_bad_request(alice, unique):
    img = alice.image.create_image(name=f"bad-{unique}", allow_duplicates=True)
    with pytest.raises(exc.BadRequestException) as e:
        alice.image.add_tag(img, "key=value")
    assert "=" in str(e.value)
    with pytest.raises(exc.BadRequestException):
        alice.image.add_tag(img, "x" * 256)
    alice.image.add_tag(img, "x" * 255)
    with pytest.raises(exc.BadRequestException):
        alice.image.update_image(img.id, tags=["ok", "k=v"])
    assert alice.image.get_image(img.id).tags == ["x" * 255]


def test_quota_is_413(quota_host, unique):
    c = sdk(quota_host, ALICE)
    img = c.image.create_image(name=f"q-{unique}", allow_duplicates=True)
    for i in range(QUOTA_SMALL):
        c.image.add_tag(img, f"t{i}")
    with pytest.raises(exc.HttpException) as e:
        c.image.add_tag(img, "one-too-many")
    assert e.value.status_code == 413
    assert f"Maximum: {QUOTA_SMALL}" in str(e.value)
    c.image.add_tag(img, "t0")  # a re-add at the limit is fine
    with pytest.raises(exc.HttpException) as e:
        c.image.update_image(img.id, tags=[f"u{i}" for i in range(QUOTA_SMALL + 1)])
    assert e.value.status_code == 413
    assert c.image.get_image(img.id).tags == [f"t{i}" for i in range(QUOTA_SMALL)]


def test_bad_token_is_401(host):
    bad = sdk(host, "not-a-token")
    with pytest.raises(exc.HttpException) as e:
        list(bad.image.images())
    assert e.value.status_code == 401
    with pytest.raises(exc.HttpException) as e:
        bad.image.add_tag("00000000-0000-4000-8000-000000000000", "t")
    assert e.value.status_code == 401
