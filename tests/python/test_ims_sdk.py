"""Huawei's own SDK, huaweicloudsdkims, against image-tags unchanged: requests
signed with real AK/SK pairs (SDK-HMAC-SHA256) by the SDK's signer, through
the SDK's own methods for every IMS tag route and the seed's Glance ones
(`glance_create_tag`, `glance_delete_tag`), its exceptions carrying IMS's
`error_code`, `error_msg` and the `request_id`; both views of the one tag
list, the rules, the limit, the other project refused, and the search's
filter and count agreeing on every filter form.

`aksk_host` (conftest.py) serves the component with auth_mode=tokens,aksk and
the aksk_credentials table of CREDENTIALS below."""

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkims.v2 import ImsClient
from huaweicloudsdkims.v2 import model as m

from conftest import AK_ALICE, AK_BOB, AK_RITA, AKSK
from ims_model import CORPUS, matches, search_forms

# who -> (AK, SK, project), from conftest.py's aksk_credentials
CREDENTIALS = {who: (ak, AKSK[ak][0], AKSK[ak][1])
               for who, ak in [("alice", AK_ALICE), ("bob", AK_BOB), ("rita", AK_RITA)]}


def ims_client(url, who, project=None):
    ak, sk, own = CREDENTIALS[who]
    config = HttpConfig.get_default_config()
    config.timeout = (10, 30)
    return (ImsClient.new_builder()
            .with_http_config(config)
            .with_credentials(BasicCredentials(ak, sk, project or own))
            .with_endpoints([url])
            .build())


@pytest.fixture(scope="module")
def alice(aksk_host):
    return ims_client(aksk_host, "alice")


@pytest.fixture(scope="module")
def bob(aksk_host):
    return ims_client(aksk_host, "bob")


@pytest.fixture(scope="module")
def rita(aksk_host):
    return ims_client(aksk_host, "rita")


def create(client, name, tags=()):
    body = m.GlanceCreateImageMetadataRequestBody(name=name, tags=list(tags))
    return client.glance_create_image_metadata(m.GlanceCreateImageMetadataRequest(body=body)).id


def native(client, iid):
    return client.glance_show_image(m.GlanceShowImageRequest(image_id=iid)).tags


def kv(client, iid):
    return [(t.key, t.value) for t in client.list_image_tags(m.ListImageTagsRequest(image_id=iid)).tags]


def add(client, iid, key, value):
    body = m.AddImageTagRequestBody(tag=m.ResourceTag(key=key, value=value))
    return client.add_image_tag(m.AddImageTagRequest(image_id=iid, body=body))


def batch(client, iid, action, pairs):
    tags = [m.ResourceTag(key=k, value=v) for k, v in pairs]
    body = m.BatchAddOrDeleteTagsRequestBody(action=action, tags=tags)
    return client.batch_add_or_delete_tags(m.BatchAddOrDeleteTagsRequest(image_id=iid, body=body))


def refused(call, status, code, part=""):
    """The SDK's exception for an error answer: IMS's code and message, and the request id."""
    with pytest.raises(ClientRequestException) as caught:
        call()
    e = caught.value
    assert e.status_code == status, (e.status_code, e.error_code, e.error_msg)
    assert str(e.error_code) == code, (e.error_code, e.error_msg)
    assert part in e.error_msg, e.error_msg
    assert e.request_id and e.request_id.startswith("req-"), e.request_id
    return e


def test_the_seed_api_and_ims_share_one_tag_list(alice, unique):
    iid = create(alice, f"sdk-{unique}", ["plain"])
    alice.glance_create_tag(m.GlanceCreateTagRequest(image_id=iid, tag="native"))
    add(alice, iid, "env", "prod")
    assert kv(alice, iid) == [("plain", ""), ("native", ""), ("env", "prod")]
    assert native(alice, iid) == ["plain", "native", "env=prod"]
    add(alice, iid, "plain", "now")
    assert native(alice, iid) == ["plain=now", "native", "env=prod"]
    alice.glance_delete_tag(m.GlanceDeleteTagRequest(image_id=iid, tag="native"))
    alice.glance_delete_tag(m.GlanceDeleteTagRequest(image_id=iid, tag="env=prod"))
    alice.delete_image_tag(m.DeleteImageTagRequest(image_id=iid, key="plain"))
    assert kv(alice, iid) == []
    refused(lambda: alice.delete_image_tag(m.DeleteImageTagRequest(image_id=iid, key="plain")), 404, "IMG.0121")
    # the seed's own rule, through the SDK that documents it
    refused(lambda: alice.glance_create_tag(m.GlanceCreateTagRequest(image_id=iid, tag="a=b")), 400, "400", "'='")


def test_batch_and_legacy_routes(alice, unique):
    name = f"sdk-legacy-{unique}"
    iid = create(alice, name)
    batch(alice, iid, "create", [("a", "1"), ("b", ""), ("c", "x/y")])
    batch(alice, iid, "delete", [("b", "ignored"), ("absent", "")])
    assert native(alice, iid) == ["a=1", "c=x/y"]
    alice.create_or_update_tags(m.CreateOrUpdateTagsRequest(
        body=m.AddOrUpdateTagsRequestBody(image_id=iid, tag="ver.1.2")))
    alice.create_or_update_tags(m.CreateOrUpdateTagsRequest(
        body=m.AddOrUpdateTagsRequestBody(image_id=iid, image_tag=m.ResourceTag(key="a", value="2"))))
    assert native(alice, iid) == ["a=2", "c=x/y", "ver=1.2"]
    assert alice.list_tags(m.ListTagsRequest(name=name)).tags == ["a=2", "c=x/y", "ver=1.2"]
    assert alice.list_tags(m.ListTagsRequest(name=name, limit=2, page=2)).tags == ["ver=1.2"]
    assert alice.list_tags(m.ListTagsRequest(name=name, status="active")).tags == []
    alice.batch_delete_tags(m.BatchDeleteTagsRequest(
        image_id=iid, body=m.BatchDeleteTagsRequestBody(tags=[m.ResourceTag(key="ver", value="")])))
    assert native(alice, iid) == ["a=2", "c=x/y"]
    keys = {t.key: t.values for t in alice.list_images_tags(m.ListImagesTagsRequest()).tags}
    assert "2" in keys["a"] and "x/y" in keys["c"]


def test_rules_and_the_limit(alice, unique):
    iid = create(alice, f"sdk-rules-{unique}", ["keep"])
    for key, value, part in [("a=b", "", "'='"), ("a/b", "", "'/'"), (" k", "", "space"), ("k", "v" * 256, "0 to 255")]:
        refused(lambda: add(alice, iid, key, value), 400, "IMG.0115", part)
    refused(lambda: batch(alice, iid, "Create", [("k", "")]), 400, "IMG.0001", "case-sensitive")
    refused(lambda: batch(alice, iid, "create", [("k", "1"), ("k", "2")]), 400, "IMG.0001", "twice")
    assert native(alice, iid) == ["keep"]
    batch(alice, iid, "create", [(f"k{n}", str(n)) for n in range(19)])
    e = refused(lambda: add(alice, iid, "one-more", ""), 400, "IMG.0116", "at most 20")
    assert e.error_msg
    add(alice, iid, "keep", "updated")
    assert len(native(alice, iid)) == 20


def test_other_projects_and_readers_are_refused(aksk_host, alice, bob, rita, unique):
    iid = create(alice, f"sdk-proj-{unique}", ["keep"])
    refused(lambda: add(bob, iid, "k", "v"), 404, "IMG.0144", iid)
    refused(lambda: kv(bob, iid), 404, "IMG.0144")
    refused(lambda: add(rita, iid, "k", "v"), 403, "IMG.0161")
    assert kv(rita, iid) == [("keep", "")]
    # Alice's keys with another project: the path and X-Project-Id name proj-b
    other = ims_client(aksk_host, "alice", project="proj-b")
    with pytest.raises(ClientRequestException) as caught:
        add(other, iid, "k", "v")
    assert caught.value.status_code == 403 and caught.value.error_code.startswith("IMG."), caught.value
    assert native(alice, iid) == ["keep"]


def search_body(form, action, **paging):
    def items(name):
        return [m.Tags(key=i["key"], values=i.get("values")) for i in form[name]] if name in form else None
    matches_ = [m.TagKeyValue(key=x["key"], value=x["value"]) for x in form["matches"]] if "matches" in form else None
    return m.ListImageByTagsRequestBody(
        action=action, tags=items("tags"), tags_any=items("tags_any"), not_tags=items("not_tags"),
        not_tags_any=items("not_tags_any"), without_any_tag=form.get("without_any_tag"), matches=matches_,
        **paging)


def test_search_filter_and_count_agree_on_every_form(alice, unique):
    prefix = f"sdk-ri-{unique}-"
    images = []
    for suffix, tags in CORPUS:
        iid = create(alice, prefix + suffix, [t for t in tags if "=" not in t])
        pairs = [t.partition("=")[::2] for t in tags if "=" in t]
        if pairs:
            batch(alice, iid, "create", pairs)
        images.append({"id": iid, "name": prefix + suffix, "tags": native(alice, iid)})
    for form in search_forms(prefix, images[1]["id"]):
        want = {i["id"] for i in images if matches(i, form)}
        page = alice.list_image_by_tags(m.ListImageByTagsRequest(body=search_body(form, "filter", limit="1000")))
        count = alice.list_image_by_tags(m.ListImageByTagsRequest(body=search_body(form, "count")))
        assert {r.resource_id for r in page.resources} == want, form
        assert page.total_count == count.total_count == len(want), form
        for r in page.resources:
            image = next(i for i in images if i["id"] == r.resource_id)
            assert r.resource_name == image["name"] and r.resource_detail.status == "queued"
            assert [(t.key, t.value) for t in r.tags] == [t.partition("=")[::2] for t in image["tags"]]
    refused(lambda: alice.list_image_by_tags(m.ListImageByTagsRequest(
        body=m.ListImageByTagsRequestBody(action="filter", limit="0"))), 400, "IMG.0001", "limit")
