"""Fixes our emulator applies on top of moto's server."""
from __future__ import annotations

import boto3
import pytest

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
