"""Signs S3 requests with botocore, independently of videospool's Swift signer.

Reads a JSON list of cases on stdin and prints a JSON list of results. For each case botocore
builds the URL itself from the unencoded bucket and key (its S3 serializer encodes a key with
percent_encode(key, safe='/~')), derives the host header from the URL, hashes the body itself,
and signs with S3SigV4Auth (Authorization header) or S3SigV4QueryAuth (presigned URL) at the
case's fixed time.

Case fields: kind ("header" or "presign"), method, endpoint (scheme://host[:port]), addressing
("path" or "virtual"), bucket, key, params (list of [name, value], unencoded), headers (list of
[name, value]), body_base64, unsigned_payload (bool), access_key, secret_key, token (or null),
region, time (seconds since the epoch, UTC), expires (seconds, presign only).
"""

import base64
import datetime
import json
import sys
from urllib.parse import urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode


def url_for(case):
    parts = urlsplit(case["endpoint"])
    key_path = "/" + percent_encode(case["key"], safe="/~")
    if case["addressing"] == "virtual":
        return f"{parts.scheme}://{case['bucket']}.{parts.netloc}{key_path}"
    return f"{parts.scheme}://{parts.netloc}/{percent_encode(case['bucket'])}{key_path}"


def sign(case):
    fixed = datetime.datetime.fromtimestamp(case["time"], tz=datetime.timezone.utc)
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    request = AWSRequest(method=case["method"], url=url_for(case), data=base64.b64decode(case.get("body_base64", "")))
    for name, value in case.get("headers", []):
        request.headers[name] = value
    params = dict(case.get("params", []))
    if params:
        request.params = params
    if case["kind"] == "presign":
        botocore.auth.S3SigV4QueryAuth(credentials, "s3", case["region"], expires=case["expires"]).add_auth(request)
        return {"url": request.url}
    if case.get("unsigned_payload"):
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    auth = botocore.auth.S3SigV4Auth(credentials, "s3", case["region"])
    auth.add_auth(request)
    authorization = request.headers["Authorization"]
    del request.headers["Authorization"]
    return {
        "authorization": authorization,
        "content_sha256": request.headers["X-Amz-Content-SHA256"],
        "date": request.headers["X-Amz-Date"],
        # For a readable failure message only.
        "canonical_request": auth.canonical_request(request),
    }


print(json.dumps([sign(case) for case in json.load(sys.stdin)]))
