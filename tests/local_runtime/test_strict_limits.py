"""The strict embedded default: AWS limits moto 5.2.1 lets through fail locally the way AWS fails.

Each test runs the call on plain moto first (accepted: the leniency the strict
layer exists for), then with `strict_limits()` (refused with AWS's error).
"""
from __future__ import annotations

import io
import json
import zipfile
from contextlib import nullcontext

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from handlers.contract import AWS_LIMITS, sqs_message_bytes
from local_runtime import moto_patches
from local_runtime.moto_patches import (
    MotoVersionMismatch, check_moto_version, lambda_environment_size, put_events_size, s3_metadata_size,
    strict_limits,
)

REGION = "us-east-1"


def aws(service):
    return boto3.client(service, region_name=REGION)


def outcome(call) -> str:
    try:
        call()
        return "accepted"
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def both_ways(setup, call) -> tuple[str, str]:
    """(plain moto's answer, the strict layer's answer) to the same call on fresh state."""
    answers = []
    for guard in (nullcontext(), strict_limits()):
        with mock_aws(), guard:
            answers.append(outcome(call(setup())))
    return answers[0], answers[1]


def test_put_events_over_the_request_size_is_refused_whole():
    detail = json.dumps({"p": "x" * (100 * 1024)})  # ~100 KB each: three make ~300 KB
    entries = [{"Source": "webhook.processor", "DetailType": "Webhook Processed", "Detail": detail}] * 3
    assert put_events_size(entries) > AWS_LIMITS.put_events_request_bytes
    plain, strict = both_ways(lambda: aws("events"), lambda ev: lambda: ev.put_events(Entries=entries))
    assert (plain, strict) == ("accepted", "ValidationException")
    with mock_aws(), strict_limits():  # two fit
        assert aws("events").put_events(Entries=entries[:2])["FailedEntryCount"] == 0


def test_put_events_size_counts_as_eventbridge_documents():
    entry = {"Source": "é", "DetailType": "dt", "Detail": "{}", "Resources": ["arn:x"], "Time": "2026-01-01"}
    assert put_events_size([entry]) == 14 + 2 + 2 + 2 + 5


def test_sqs_message_over_the_queue_s_maximum_is_refused():
    def setup():
        sqs = aws("sqs")
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "MaximumMessageSize": "1024"})
        return sqs, url["QueueUrl"]

    def send(body, attributes=None):
        return lambda ctx: lambda: ctx[0].send_message(QueueUrl=ctx[1], MessageBody=body, MessageGroupId="g",
                                                        MessageDeduplicationId="d", **attributes or {})

    # 600 characters, 1200 bytes: moto counts characters
    assert both_ways(setup, send("é" * 600)) == ("accepted", "InvalidParameterValue")
    # body within the limit, attributes past it: SQS counts both
    attrs = {"MessageAttributes": {"trace": {"DataType": "String", "StringValue": "y" * 100}}}
    assert both_ways(setup, send("x" * 1000, attrs)) == ("accepted", "InvalidParameterValue")
    assert sqs_message_bytes("x" * 1000, attrs["MessageAttributes"]) == 1000 + 5 + 6 + 100


def test_s3_user_metadata_over_2_kb_is_refused_and_nothing_is_stored():
    def setup():
        s3 = aws("s3")
        s3.create_bucket(Bucket="archive")
        return s3

    metadata = {"stripe-signature": "v" * 2100}
    put = lambda s3: lambda: s3.put_object(Bucket="archive", Key="k", Body=b"x", Metadata=metadata)  # noqa: E731
    assert both_ways(setup, put) == ("accepted", "MetadataTooLarge")
    with mock_aws(), strict_limits():
        s3 = setup()
        assert outcome(put(s3)) == "MetadataTooLarge"
        assert s3.list_objects_v2(Bucket="archive")["KeyCount"] == 0
        s3.put_object(Bucket="archive", Key="ok", Body=b"x", Metadata={"a": "b" * 2000})
    assert s3_metadata_size({"x-amz-meta-ab": "cd", "content-type": "text/plain"}) == 4


def test_lambda_environment_over_4_kb_is_refused_on_create_and_update():
    def setup():
        role = aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("h.py", "def handler(e, c): return None\n")
        lam = aws("lambda")
        lam.create_function(FunctionName="small", Runtime="python3.13", Role=role, Handler="h.handler",
                            Code={"ZipFile": buf.getvalue()})
        return lam, role, buf.getvalue()

    big = {"Variables": {"PROVIDERS": "p" * 4100}}
    create = lambda ctx: lambda: ctx[0].create_function(  # noqa: E731
        FunctionName="big", Runtime="python3.13", Role=ctx[1], Handler="h.handler", Code={"ZipFile": ctx[2]},
        Environment=big)
    update = lambda ctx: lambda: ctx[0].update_function_configuration(FunctionName="small", Environment=big)  # noqa: E731
    assert both_ways(setup, create) == ("accepted", "InvalidParameterValueException")
    assert both_ways(setup, update) == ("accepted", "InvalidParameterValueException")
    assert lambda_environment_size({"A": "b"}) == len('{"A":"b"}')


def test_dynamodb_item_size_is_already_enforced_by_moto():
    """No strict patch: moto 5.2.1 itself refuses an item over 400 KB (at 405,000 bytes)."""
    with mock_aws():
        ddb = aws("dynamodb")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        too_big = "x" * (AWS_LIMITS.dynamodb_item_bytes + 1)
        assert outcome(lambda: ddb.put_item(TableName="t", Item={"k": {"S": "a"}, "v": {"S": too_big}})) \
            == "ValidationException"


def test_strict_limits_undo_cleanly():
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events
    with strict_limits():
        assert EventsBackend.put_events is not original
    assert EventsBackend.put_events is original and not moto_patches.installed("strict")


def test_any_other_moto_version_is_refused_in_one_line():
    check_moto_version("5.2.1")
    with pytest.raises(MotoVersionMismatch) as refused:
        check_moto_version("5.3.0")
    assert str(refused.value).startswith("local_runtime/moto_patches.py was written for moto 5.2.1, but moto 5.3.0 "
                                         "is installed: install moto[server]==5.2.1")


@pytest.mark.emulator
def test_the_emulator_is_strict_by_default(emulator):
    events = boto3.client("events", endpoint_url=emulator.endpoint, region_name=REGION)
    detail = json.dumps({"p": "x" * (AWS_LIMITS.put_events_request_bytes // 2)})
    entries = [{"Source": "s", "DetailType": "d", "Detail": detail}] * 2
    with pytest.raises(ClientError) as refused:
        events.put_events(Entries=entries)
    assert refused.value.response["Error"] == {
        "Code": "ValidationException", "Message": "Total size of the entries in the request is over the limit."}

