"""Prints the keys of the multipart uploads still open in a bucket, as a JSON list, asking with
the given credentials (moto checks their signature like any other request).

Usage: moto_uploads.py ENDPOINT BUCKET ACCESS_KEY_ID SECRET_ACCESS_KEY
"""

import json
import sys

import boto3
from botocore.config import Config

endpoint, bucket, key_id, secret = sys.argv[1:5]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key_id,
    aws_secret_access_key=secret,
    config=Config(s3={"addressing_style": "path"}),
)
uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
print(json.dumps([upload["Key"] for upload in uploads]))
