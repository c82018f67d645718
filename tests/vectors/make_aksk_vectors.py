#!/usr/bin/env python3
"""Sign a set of requests with huaweicloudsdkcore's own Signer and write
tests/vectors/aksk.json: the test data of src/auth/aksk/vectors.rs.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -r tests/python/requirements.txt
    /tmp/v/bin/python tests/vectors/make_aksk_vectors.py

Each vector is a request as it goes on the wire (method, raw path, raw query,
headers after signing, body as hex) with what the SDK computed on the way:
its canonical request, string to sign and signature. The query is stored in
the order the parameters were given, encoded as the SDK encodes them; the SDK
itself sends them sorted (`sdk_query`), and both must canonicalize alike.
"""

import json
import sys
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

OUT = Path(__file__).resolve().with_name("aksk.json")
AK, SK = "HPUAVECTORSAK0000001", "vectorSecretKey0000000000000000000000001"
HOST = "127.0.0.1:3000"
DATE = "20261201T101530Z"
IMAGE = "9f0c5e2a-1b2c-4d3e-8f4a-5b6c7d8e9f00"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class Credentials:
    ak, sk = AK, SK


class RecordingSigner(Signer):
    """The SDK's Signer, keeping what it computed on the way."""

    def _process_canonical_request(self, request, signed_headers):
        self.canonical_request = super()._process_canonical_request(request, signed_headers)
        return self.canonical_request

    def _process_string_to_sign(self, canonical_request, time):
        self.string_to_sign = super()._process_string_to_sign(canonical_request, time)
        return self.string_to_sign


def seg(value):
    """A path parameter as the SDK's client puts it in the path."""
    return quote(str(value), safe="")


def text(value):
    """A query value as the signer writes it (booleans lower-cased)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def given_order(query):
    return "&".join(f"{quote(k, safe='~')}={quote(text(v), safe='~')}" for k, v in query)


def vector(name, method, path, query=(), headers=None, body=b""):
    header_params = {"Content-Type": "application/json", "User-Agent": "huaweicloud-usdk-python/3.0",
                     "X-Sdk-Date": DATE}
    header_params.update(headers or {})
    request = SdkRequest(method=method, schema="http", host=HOST, resource_path=path,
                         query_params=list(query), header_params=header_params, body=body or None)
    signer = RecordingSigner(Credentials())
    signer.sign(request)
    authorization = request.header_params["Authorization"]
    raw_body = request.body or b""
    return {
        "name": name,
        "method": method,
        "path": path,
        "query": given_order(query),
        "sdk_query": request.uri.partition("?")[2],
        "headers": [[k, v] for k, v in request.header_params.items()],
        "body_hex": raw_body.hex(),
        "canonical_request": signer.canonical_request,
        "string_to_sign": signer.string_to_sign,
        "signature": authorization.rsplit("Signature=", 1)[1],
        "signed_headers": authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";"),
    }


def vectors():
    tags = f"/v2/images/{IMAGE}/tags"
    return [
        vector("glance_create_tag", "PUT", f"{tags}/{seg('fedora')}", headers={"X-Project-Id": PROJECT}),
        vector("glance_delete_tag", "DELETE", f"{tags}/{seg('fedora')}", headers={"X-Project-Id": PROJECT}),
        vector("tag with a slash signs as two segments", "PUT", f"{tags}/{seg('a/b')}"),
        vector("non-ASCII tag", "PUT", f"{tags}/{seg('标签-é')}"),
        vector("tag with reserved characters", "PUT", f"{tags}/{seg(chr(39) + 'x y+z:@!*()~')}"),
        vector("trailing slash", "GET", "/v2/images/"),
        vector("root", "GET", "/"),
        vector("query needing sorting", "GET", "/v2/images",
               query=[("sort_key", "name"), ("limit", 2), ("tag", "b"), ("tag", "a"), ("name", "a/b c")]),
        vector("query sorted decoded, not encoded", "GET", "/v1/cloudimages/tags",
               query=[("k", "a/b"), ("k", "a.b"), ("k", "a-b"), ("émoji", "✓"), ("empty", "")]),
        vector("query booleans and plus signs", "GET", "/v2/images",
               query=[("protected", True), ("name", "a+b"), ("visibility", "shared")]),
        vector("json body", "POST", f"/v2/{PROJECT}/images/{IMAGE}/tags",
               headers={"X-Project-Id": PROJECT},
               body=json.dumps({"tag": {"key": "env", "value": "prod"}}).encode()),
        vector("body with non-ASCII and binary bytes", "POST", f"/v2/{PROJECT}/images/{IMAGE}/tags/action",
               body='{"action":"create","tags":[{"key":"键","value":"值"}]}'.encode() + b"\xff\x00"),
        vector("unsigned payload", "PUT", f"/v2/images/{IMAGE}/file",
               headers={"Content-Type": "application/octet-stream"}, body=b"\x00\x01 image bytes"),
        vector("delete with a body", "DELETE", f"/v1/{PROJECT}/cloudimages/{IMAGE}/tags/delete",
               body=b'{"tags":[{"key":"k","value":""}]}'),
        vector("header values trimmed, underscores unsigned", "GET", f"/v2/images/{IMAGE}",
               headers={"X-Custom": "  padded value  ", "X_Not_Signed": "1"}),
    ]


def main():
    data = {
        "generator": f"tests/vectors/make_aksk_vectors.py, huaweicloudsdkcore {version('huaweicloudsdkcore')}",
        "access_key": AK,
        "secret_key": SK,
        "host": HOST,
        "date": DATE,
        "vectors": vectors(),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(data['vectors'])} vectors to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
