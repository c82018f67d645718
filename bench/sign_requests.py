#!/usr/bin/env python3
"""Sign tag PUTs with huaweicloudsdkcore's own Signer, for bench/wrk/tag_put_signed.lua.

    sign_requests.py --ak AK --sk SK --project P --host 127.0.0.1:PORT --ids FILE --count N --out FILE

Writes one request a line: path, X-Sdk-Date, Authorization, tab-separated. Each PUT gives an image
a tag of its own, so a replay within X-Sdk-Date's 15 minutes is a new write, as wrk sends it.
"""

import argparse

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


def main():
    p = argparse.ArgumentParser()
    for name in ("--ak", "--sk", "--project", "--host", "--ids", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--run", default="s")
    a = p.parse_args()
    ids = [line.strip() for line in open(a.ids) if line.strip()]
    signer = Signer(BasicCredentials(a.ak, a.sk, a.project))
    with open(a.out, "w") as out:
        for n in range(a.count):
            path = f"/v2/images/{ids[(n * 7919) % len(ids)]}/tags/{a.run}-{n}"
            request = SdkRequest(method="PUT", schema="http", host=a.host, resource_path=path,
                                 query_params=[], header_params={"X-Project-Id": a.project}, body="")
            signed = signer.sign(request)
            h = {k.lower(): v for k, v in signed.header_params.items()}
            out.write(f"{path}\t{h['x-sdk-date']}\t{h['authorization']}\n")


if __name__ == "__main__":
    main()
