"""One reading of the query string (issue 17): the AK/SK signature check and the handlers
decode a query the same way, `+` as a space (WebOb's reading, so Glance's). A request the
SDK's own Signer signed for `tag=a%2Bb` and re-sent with `tag=a+b` would otherwise keep its
signature and list other images: it is refused (401). One signed for `tag=a%20b` and
re-sent with `tag=a+b` means the same and is served the same listing."""

from urllib.parse import urlparse

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from conftest import AK_ALICE, AKSK, ALICE


def signed_get(url, path, query):
    """GET `path` with `query` ((key, value) pairs), signed by the SDK's Signer: the request
    goes out as `request.uri`, which the Signer writes (`%20` for a space, `%2B` for a plus)."""
    parsed = urlparse(url)
    request = SdkRequest(method="GET", schema=parsed.scheme, host=parsed.netloc, resource_path=path,
                         query_params=list(query), header_params={"User-Agent": "image-tags-tests"})
    return Signer(BasicCredentials(AK_ALICE, AKSK[AK_ALICE][0])).sign(request)


def get(url, request, uri=None):
    return requests.get(url + (uri or request.uri), headers=request.header_params, timeout=10)


@pytest.fixture
def tagged(aksk_host, unique):
    """Two images of alice's: one tagged `a+b-<unique>`, one `a b-<unique>`."""
    ids = {}
    for tag in (f"a+b-{unique}", f"a b-{unique}"):
        r = requests.post(aksk_host + "/v2/images", headers={"x-auth-token": ALICE},
                          json={"name": f"q-{unique}", "tags": [tag]}, timeout=10)
        assert r.status_code == 201, r.text
        ids[tag] = r.json()["id"]
    return ids


def listed(r):
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["images"]]


def test_a_plus_sent_for_percent_2b_is_refused(aksk_host, unique, tagged):
    request = signed_get(aksk_host, "/v2/images", [("tag", f"a+b-{unique}")])
    assert f"tag=a%2Bb-{unique}" in request.uri
    assert listed(get(aksk_host, request)) == [tagged[f"a+b-{unique}"]]
    r = get(aksk_host, request, request.uri.replace("%2B", "+"))
    assert r.status_code == 401, r.text
    assert "signature does not match" in r.json()["error"]["message"]


def test_a_plus_sent_for_percent_20_means_the_same(aksk_host, unique, tagged):
    request = signed_get(aksk_host, "/v2/images", [("tag", f"a b-{unique}")])
    assert f"tag=a%20b-{unique}" in request.uri
    same = listed(get(aksk_host, request))
    assert same == [tagged[f"a b-{unique}"]]
    assert listed(get(aksk_host, request, request.uri.replace("%20", "+"))) == same

