"""Fixes our emulator applies on top of moto's server."""
from __future__ import annotations

import io
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"

pytestmark = pytest.mark.emulator


def test_form_encoded_object_keeps_its_exact_bytes(emulator):
    """A Twilio webhook is form-encoded; its archived payload must be byte for byte what arrived."""
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="form-bodies-test")
    body = b"AccountSid=AC1&Body=Hello+there&From=%2B15005550006&key=x&uploadId=3"
    s3.put_object(Bucket="form-bodies-test", Key="twilio/1", Body=body,
                  ContentType="application/x-www-form-urlencoded")
    obj = s3.get_object(Bucket="form-bodies-test", Key="twilio/1")
    assert obj["Body"].read() == body
    assert obj["ContentType"] == "application/x-www-form-urlencoded"


def test_a_create_function_repeated_byte_for_byte_gets_the_first_answer(emulator):
    """Terraform's SDK retries a CreateFunction whose 201 was lost; any other repeat still gets 409."""
    iam = boto3.client("iam", endpoint_url=emulator.endpoint, region_name=REGION)
    lam = boto3.client("lambda", endpoint_url=emulator.endpoint, region_name=REGION)
    role = iam.create_role(RoleName="retry-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(e, c): return None\n")
    spec = dict(FunctionName="retried", Runtime="python3.13", Role=role, Handler="h.handler",
                Code={"ZipFile": buf.getvalue()})
    first = lam.create_function(**spec)
    again = lam.create_function(**spec)
    assert again["FunctionArn"] == first["FunctionArn"] and again["CodeSha256"] == first["CodeSha256"]
    with pytest.raises(ClientError) as conflict:
        lam.create_function(**{**spec, "Handler": "h.other"})
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"
