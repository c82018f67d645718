"""The cases of tempest's image tag tests (tempest/api/image/v2/test_images_tags.py,
test_images_tags_negative.py, and test_images.py's list-by-tag case), rewritten
against image-tags with a small client that checks status codes the way
tempest's ImagesClient does (expected_success: 201 create, 200 show/list,
204 tag add/delete and image delete; 404 raised as NotFound)."""

import uuid

import pytest
import requests

from conftest import ALICE


class NotFound(Exception):
    pass


class UnexpectedResponseCode(Exception):
    pass


def rand_name(prefix):
    return f"tempest-{prefix}-{uuid.uuid4().hex[:8]}"


class ImagesClient:
    def __init__(self, url, token):
        self.url = url + "/v2"
        self.s = requests.Session()
        self.s.headers.update({"X-Auth-Token": token, "Accept": "application/json"})

    def _check(self, r, expected):
        if r.status_code == 404:
            raise NotFound(r.text)
        if r.status_code != expected:
            raise UnexpectedResponseCode(f"{r.request.method} {r.url}: {r.status_code} {r.text}")
        if expected == 204:
            assert r.content == b"" and "content-type" not in r.headers, r.headers
        assert r.headers["x-openstack-request-id"].startswith("req-")
        return r.json() if r.content else None

    def create_image(self, **kw):
        return self._check(self.s.post(self.url + "/images", json=kw, timeout=10), 201)

    def show_image(self, image_id):
        return self._check(self.s.get(f"{self.url}/images/{image_id}", timeout=10), 200)

    def list_images(self, params=None):
        return self._check(self.s.get(self.url + "/images", params=params, timeout=10), 200)

    def delete_image(self, image_id):
        return self._check(self.s.delete(f"{self.url}/images/{image_id}", timeout=10), 204)

    def add_image_tag(self, image_id, tag):
        return self._check(self.s.put(f"{self.url}/images/{image_id}/tags/{tag}", timeout=10), 204)

    def delete_image_tag(self, image_id, tag):
        return self._check(self.s.delete(f"{self.url}/images/{image_id}/tags/{tag}", timeout=10), 204)


@pytest.fixture
def client(host):
    return ImagesClient(host, ALICE)


@pytest.fixture
def create_image(client):
    created = []

    def make(**kw):
        img = client.create_image(name=rand_name("image"), **kw)
        created.append(img["id"])
        return img

    yield make
    for image_id in created:  # addCleanup(delete_image), tolerant of an earlier delete
        try:
            client.delete_image(image_id)
        except NotFound:
            pass


# test_images_tags.py: ImagesTagsTest


def test_update_delete_tags_for_image(client, create_image):
    """idempotent_id 10407036-6059-4f95-a2cd-cbbbee7ed329"""
    image = create_image(container_format="bare", disk_format="raw", visibility="private")
    tag = rand_name("tag")

    client.add_image_tag(image["id"], tag)
    body = client.show_image(image["id"])
    assert tag in body["tags"]

    client.delete_image_tag(image["id"], tag)
    body = client.show_image(image["id"])
    assert tag not in body["tags"]


# test_images_tags_negative.py: ImagesTagsNegativeTest


def test_update_tags_for_non_existing_image(client):
    """idempotent_id 8cd30f82-6f9a-4c6e-8034-c1b51fba43d9"""
    with pytest.raises(NotFound):
        client.add_image_tag(str(uuid.uuid4()), rand_name("tag"))


def test_delete_non_existing_tag(client, create_image):
    """idempotent_id 39c023a2-325a-433a-9eea-649bf1414b19"""
    image = create_image(container_format="bare", disk_format="raw", visibility="private")
    with pytest.raises(NotFound):
        client.delete_image_tag(image["id"], rand_name("non-exist-tag"))


# test_images.py: ListUserImagesTest.test_list_images_param_tag


def test_list_images_param_tag(client, create_image):
    """idempotent_id aa8ac4df-cff9-418b-8d0f-dd9c67b072c9"""
    tag = rand_name("tag")
    mine = {create_image(container_format=cf, disk_format=df, tags=[tag])["id"]
            for cf, df in [("bare", "raw"), ("ami", "ami"), ("bare", "qcow2")]}
    create_image(container_format="bare", disk_format="raw", tags=[rand_name("tag")])
    images_list = client.list_images(params={"tag": tag})["images"]
    assert images_list
    for image in images_list:
        assert tag in image["tags"], f"{image['name']} lacks {tag}: {image['tags']}"
    assert {i["id"] for i in images_list} == mine


# Beyond tempest, in its style: the same lifecycle on a deleted image, and tags after delete.


def test_tags_on_deleted_image_are_not_found(client, create_image):
    image = create_image(container_format="bare", disk_format="raw", visibility="private", tags=["gone"])
    client.delete_image(image["id"])
    with pytest.raises(NotFound):
        client.add_image_tag(image["id"], rand_name("tag"))
    with pytest.raises(NotFound):
        client.delete_image_tag(image["id"], "gone")
    assert image["id"] not in {i["id"] for i in client.list_images({"tag": "gone"})["images"]}
