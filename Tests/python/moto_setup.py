"""Prepares a fresh moto server (started with IAM authentication off) for the S3 client's tests.

Creates an IAM user with an access key and a policy allowing s3:*, and the bucket, then prints
{"access_key_id": ..., "secret_access_key": ...}. The test turns authentication on afterwards
(POST /moto-api/reset-auth with 0), so that every later request must carry a valid SigV4 signature
of that user: moto recomputes it with botocore from the request as it arrived.

Usage: moto_setup.py ENDPOINT BUCKET [REGION]
"""

import json
import sys

import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
region = sys.argv[3] if len(sys.argv) > 3 else "us-east-1"
options = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **options)
iam.create_user(UserName="videospool")
key = iam.create_access_key(UserName="videospool")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_user_policy(UserName="videospool", PolicyName="results", PolicyDocument=json.dumps(policy))
s3 = boto3.client("s3", **options)
if region == "us-east-1":
    s3.create_bucket(Bucket=bucket)
else:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))
