"""Huawei Cloud AK/SK signatures (SDK-HMAC-SHA256) against image-tags in
auth_mode=tokens,aksk: huaweicloudsdkims' own ImsClient on the native tag
routes, and requests signed with huaweicloudsdkcore's Signer and then
tampered with, for what the SDK will not send."""

import datetime
import warnings
from urllib.parse import urlparse

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions as hwexc
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkims.v2 import GlanceCreateTagRequest, GlanceDeleteTagRequest, ImsClient

from conftest import AK_ALICE, AK_BOB, AK_RITA, AKSK, ALICE

# glance_create_tag / glance_delete_tag are marked deprecated in the SDK (still shipped and documented)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ims(url, ak, sk=None, project_id=None):
    """An ImsClient signing with this key pair, talking to image-tags, no retries."""
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    credentials = BasicCredentials(ak, sk or AKSK[ak][0], project_id)
    return ImsClient.new_builder().with_credentials(credentials).with_endpoints([url]) \
        .with_http_config(config).build()


def token_headers(token=ALICE):
    return {"x-auth-token": token}


def new_image(url, unique, token=ALICE, **body):
    r = requests.post(url + "/v2/images", headers=token_headers(token), json={"name": f"aksk-{unique}", **body},
                      timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def show(url, image_id):
    r = requests.get(f"{url}/v2/images/{image_id}", headers=token_headers(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def images_named(url, name):
    r = requests.get(url + "/v2/images", params={"name": name}, headers=token_headers(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["images"]


def signed(url, method, path, ak=AK_ALICE, sk=None, body=b"", date=None, headers=None):
    """A request signed by the SDK's Signer, as an SdkRequest (its uri, header_params and body)."""
    parsed = urlparse(url)
    header_params = {"Content-Type": "application/json", "User-Agent": "image-tags-tests"}
    if date is not None:
        header_params["X-Sdk-Date"] = date.strftime("%Y%m%dT%H%M%SZ")
    header_params.update(headers or {})
    request = SdkRequest(method=method, schema=parsed.scheme, host=parsed.netloc, resource_path=path,
                         query_params=[], header_params=header_params, body=body or None)
    return Signer(BasicCredentials(ak, sk or AKSK.get(ak, ("unknown-secret",))[0])).sign(request)


def send(url, request, path=None, body=None):
    """Send a signed request, optionally to another path or with another body than was signed."""
    return requests.request(request.method, url + (path or request.uri), headers=request.header_params,
                            data=request.body if body is None else body, timeout=10)


def utcnow():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datetime.datetime.utcnow()


def assert_401(r, says=None):
    assert r.status_code == 401, r.text
    assert r.headers["x-request-id"] == r.headers["x-openstack-request-id"]
    if says:
        assert says in r.json()["error"]["message"]


# ----- the SDK's own calls --------------------------------------------------------------------


def test_glance_create_and_delete_tag_through_the_sdk(aksk_host, unique):
    image = new_image(aksk_host, unique)
    client = ims(aksk_host, AK_ALICE, project_id="proj-a")
    for tag in ["fedora", "a/b", "标签 é"]:
        client.glance_create_tag(GlanceCreateTagRequest(image_id=image["id"], tag=tag))
    client.glance_create_tag(GlanceCreateTagRequest(image_id=image["id"], tag="fedora"))  # idempotent
    assert show(aksk_host, image["id"])["tags"] == ["fedora", "a/b", "标签 é"]
    client.glance_delete_tag(GlanceDeleteTagRequest(image_id=image["id"], tag="a/b"))
    assert show(aksk_host, image["id"])["tags"] == ["fedora", "标签 é"]


def test_sdk_exceptions_carry_code_message_and_request_id(aksk_host, unique):
    image = new_image(aksk_host, unique)
    client = ims(aksk_host, AK_ALICE)
    with pytest.raises(hwexc.ClientRequestException) as err:
        client.glance_delete_tag(GlanceDeleteTagRequest(image_id=image["id"], tag="absent"))
    e = err.value
    assert e.status_code == 404 and str(e.error_code) == "404"
    assert e.error_msg == "The resource could not be found."
    assert e.request_id.startswith("req-")

    with pytest.raises(hwexc.ClientRequestException) as err:
        ims(aksk_host, AK_ALICE, sk="not-alices-secret").glance_create_tag(
            GlanceCreateTagRequest(image_id=image["id"], tag="x"))
    assert err.value.status_code == 401 and str(err.value.error_code) == "401"
    assert "signature does not match" in err.value.error_msg
    assert err.value.request_id.startswith("req-")
    assert show(aksk_host, image["id"])["tags"] == []


def test_the_credentials_project_and_roles_decide(aksk_host, unique):
    image = new_image(aksk_host, unique)
    # The SDK sends X-Project-Id from its credentials: naming another project is 403.
    with pytest.raises(hwexc.ClientRequestException) as err:
        ims(aksk_host, AK_ALICE, project_id="proj-b").glance_create_tag(
            GlanceCreateTagRequest(image_id=image["id"], tag="x"))
    assert err.value.status_code == 403
    # A reader of proj-a sees the image but may not change it; proj-b does not see it.
    with pytest.raises(hwexc.ClientRequestException) as err:
        ims(aksk_host, AK_RITA).glance_create_tag(GlanceCreateTagRequest(image_id=image["id"], tag="x"))
    assert err.value.status_code == 403
    with pytest.raises(hwexc.ClientRequestException) as err:
        ims(aksk_host, AK_BOB, project_id="proj-b").glance_create_tag(
            GlanceCreateTagRequest(image_id=image["id"], tag="x"))
    assert err.value.status_code == 404
    assert show(aksk_host, image["id"])["tags"] == []


# ----- signed by hand, for what the SDK will not send ---------------------------------------


def test_a_hand_signed_request_is_accepted(aksk_host, unique):
    image = new_image(aksk_host, unique)
    r = send(aksk_host, signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/by-hand"))
    assert r.status_code == 204, r.text
    assert r.headers["x-request-id"] == r.headers["x-openstack-request-id"]
    # 14 minutes off either way is inside the window.
    for minutes in (14, -14):
        date = utcnow() + datetime.timedelta(minutes=minutes)
        r = send(aksk_host, signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/m{minutes}", date=date))
        assert r.status_code == 204, r.text
    assert show(aksk_host, image["id"])["tags"] == ["by-hand", "m14", "m-14"]


@pytest.mark.parametrize("minutes", [16, -16])
def test_a_date_sixteen_minutes_off_is_401_and_writes_nothing(aksk_host, unique, minutes):
    image = new_image(aksk_host, unique)
    date = utcnow() + datetime.timedelta(minutes=minutes)
    r = send(aksk_host, signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/late", date=date))
    assert_401(r, "15 minutes")
    after = show(aksk_host, image["id"])
    assert after["tags"] == [] and after["updated_at"] == image["updated_at"]


def test_an_unknown_access_key_is_401_and_writes_nothing(aksk_host, unique):
    image = new_image(aksk_host, unique)
    r = send(aksk_host, signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/x", ak="AKNOBODY000000000001"))
    assert_401(r, "access key is not known")
    assert show(aksk_host, image["id"])["tags"] == []


def test_a_signature_over_another_path_is_401_and_writes_nothing(aksk_host, unique):
    image = new_image(aksk_host, unique)
    request = signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/signed")
    r = send(aksk_host, request, path=f"/v2/images/{image['id']}/tags/signeD")
    assert_401(r, "signature does not match")
    assert show(aksk_host, image["id"])["tags"] == []


def test_a_body_changed_by_one_byte_is_401_and_writes_nothing(aksk_host, unique):
    name = f"aksk-body-{unique}"
    request = signed(aksk_host, "POST", "/v2/images", body=f'{{"name": "{name}"}}'.encode())
    assert_401(send(aksk_host, request, body=f'{{"name": "{name}X"}}'.encode()), "signature does not match")
    assert_401(send(aksk_host, request, body=f'{{"name": "{name}" }}'.encode()), "signature does not match")
    assert images_named(aksk_host, name + "X") == [] and images_named(aksk_host, name) == []
    # The same request, untouched, is accepted.
    r = send(aksk_host, request)
    assert r.status_code == 201, r.text
    assert [i["id"] for i in images_named(aksk_host, name)] == [r.json()["id"]]


def test_a_json_patch_body_is_signed_as_the_sdk_signs_it(aksk_host, unique):
    # huaweicloudsdkcore signs only JSON and BSON bodies by their hash: for any other content type,
    # JSON Patch (glance_update_image) included, it sends X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.
    image = new_image(aksk_host, unique, tags=["keep"])
    body = b'[{"op": "replace", "path": "/tags", "value": ["mine"]}]'
    request = signed(aksk_host, "PATCH", f"/v2/images/{image['id']}", body=body,
                     headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert request.header_params["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    r = send(aksk_host, request)
    assert r.status_code == 200, r.text
    assert show(aksk_host, image["id"])["tags"] == ["mine"]


def test_temporary_credentials_are_refused(aksk_host, unique):
    image = new_image(aksk_host, unique)
    request = signed(aksk_host, "PUT", f"/v2/images/{image['id']}/tags/x", headers={"X-Security-Token": "sts"})
    assert_401(send(aksk_host, request), "IAM")
    assert show(aksk_host, image["id"])["tags"] == []


def test_tokens_and_signatures_are_both_served(aksk_host, unique):
    image = new_image(aksk_host, unique)
    r = requests.put(f"{aksk_host}/v2/images/{image['id']}/tags/by-token", headers=token_headers(), timeout=10)
    assert r.status_code == 204, r.text
    ims(aksk_host, AK_ALICE).glance_create_tag(GlanceCreateTagRequest(image_id=image["id"], tag="by-sdk"))
    assert show(aksk_host, image["id"])["tags"] == ["by-token", "by-sdk"]
    assert_401(requests.put(f"{aksk_host}/v2/images/{image['id']}/tags/anonymous", timeout=10))
    assert_401(requests.put(f"{aksk_host}/v2/images/{image['id']}/tags/x", headers=token_headers("nope"),
                            timeout=10))
    assert show(aksk_host, image["id"])["tags"] == ["by-token", "by-sdk"]
