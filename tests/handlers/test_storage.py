"""Ingest's storage steps: the records index key, where re-verification headers live, the
provider table file, the time budget, and the ordering key of bodies too deep to parse."""
from __future__ import annotations

import json
import os

import pytest

from handler_harness import SECRETS, api_event, signed_event
from handlers import ingest, signatures
from handlers.contract import (
    AWS_LIMITS, RECORDS_INDEX, VERIFY_HEADERS_ATTRIBUTE, VERIFY_HEADERS_IN_RECORD, VERIFY_HEADERS_MARKER,
    provider_day, reverify_headers, s3_user_metadata_bytes,
)

BODY = json.dumps({"id": "evt_store", "type": "invoice.paid", "data": {"object": {"customer": "cus_7"}}})


def stored(pipeline, webhook_id: str) -> tuple[dict, dict]:
    """(the object's user metadata, the low-level record) of a delivery."""
    item = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": webhook_id}},
                                 ConsistentRead=True)["Item"]
    head = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=item["s3_key"]["S"])
    return head["Metadata"], item


def acme_event(body: str, *, event_type: str, delivery_id: str = "a-1") -> dict:
    headers = signatures.sign("hmac-sha256", body, SECRETS["acme"], pipeline_acme_options(),
                              delivery_id=delivery_id, event_type=event_type)
    return api_event("acme", body, headers)


def pipeline_acme_options() -> dict:
    from handler_harness import provider_configs

    return provider_configs()["acme"]


# --------------------------------------------------------------------------- the records index


def test_first_write_carries_the_records_index_key_and_the_index_finds_it(pipeline):
    status, reply = pipeline.post(signed_event("stripe", BODY))
    assert status == 202
    item = pipeline.item(reply["webhook_id"])
    assert item["provider_day"] == provider_day("stripe", item["received_at"]) == f"stripe#{item['received_at'][:10]}"
    found = pipeline.ddb.query(
        TableName=pipeline.table, IndexName=RECORDS_INDEX,
        KeyConditionExpression="provider_day = :d", ExpressionAttributeValues={":d": {"S": item["provider_day"]}},
    )["Items"]
    assert [i["webhook_id"]["S"] for i in found] == [reply["webhook_id"]]


# --------------------------------------------------------------------------- re-verification headers


def test_ordinary_headers_live_in_the_object_metadata(pipeline):
    event = signed_event("stripe", BODY)
    status, reply = pipeline.post(event)
    metadata, item = stored(pipeline, reply["webhook_id"])
    assert metadata == {"stripe-signature": event["headers"]["Stripe-Signature"], "content-type": "application/json"}
    assert VERIFY_HEADERS_ATTRIBUTE not in item
    assert reverify_headers(metadata, item) == metadata


def test_a_padded_signature_header_moves_to_the_record_whole_and_the_metadata_stays_under_2_kb(pipeline):
    # GIVEN a validly signed request whose signature header is padded past S3's 2 KB of metadata
    event = signed_event("stripe", BODY)
    padded = event["headers"]["Stripe-Signature"] + ",v0=" + "a" * 3000
    event["headers"]["Stripe-Signature"] = event["multiValueHeaders"]["Stripe-Signature"][0] = padded
    # WHEN it is posted
    status, reply = pipeline.post(event)
    # THEN it is accepted (not 503 forever), the object's metadata is within AWS's limit ...
    assert status == 202, reply
    metadata, item = stored(pipeline, reply["webhook_id"])
    assert s3_user_metadata_bytes(metadata) <= AWS_LIMITS.s3_user_metadata_bytes
    assert metadata == {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    # ... and nothing needed to re-verify was dropped: the record holds the whole set
    headers = reverify_headers(metadata, item)
    assert headers == {"stripe-signature": padded, "content-type": "application/json"}
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=item["s3_key"]["S"])["Body"].read()
    verified = signatures.verify("stripe", body, headers, (SECRETS["stripe"],), {"tolerance_seconds": 300})
    assert verified.delivery_id == "evt_store"


def test_a_non_ascii_signed_header_is_kept_in_the_record_not_dropped(pipeline):
    # S3 does not return metadata values that are not printable ASCII: the old code dropped them.
    status, reply = pipeline.post(acme_event('{"n": 1}', event_type="commande.créée"))
    assert status == 202, reply
    metadata, item = stored(pipeline, reply["webhook_id"])
    assert metadata == {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    assert reverify_headers(metadata, item)["x-webhook-event"] == "commande.créée"


def test_fits_s3_metadata_counts_keys_and_values_in_utf8():
    limit = AWS_LIMITS.s3_user_metadata_bytes
    assert ingest.fits_s3_metadata({"k": "v" * (limit - 1)})
    assert not ingest.fits_s3_metadata({"k": "v" * limit})
    assert not ingest.fits_s3_metadata({"k": " leading space"})
    assert not ingest.fits_s3_metadata({"k": "tab\tinside"})


def test_headers_too_large_for_a_dynamodb_item_are_a_400_and_store_nothing(pipeline):
    event = signed_event("stripe", BODY)
    padded = event["headers"]["Stripe-Signature"] + ",v0=" + "a" * AWS_LIMITS.dynamodb_item_bytes
    event["headers"]["Stripe-Signature"] = event["multiValueHeaders"]["Stripe-Signature"][0] = padded
    status, reply = pipeline.post(event)
    assert (status, reply["error"]) == (400, "headers_too_large")
    assert pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0 and pipeline.objects() == []
    assert pipeline.queue_depth() == 0


def test_a_resumed_attempt_with_overflowing_headers_writes_them_to_the_record(pipeline):
    # GIVEN a record of the previous write order, left at `received` (headers fitted: none in the record)
    wid = signatures.webhook_id("stripe", "evt_store")
    pipeline.ddb.put_item(TableName=pipeline.table, Item={
        "webhook_id": {"S": wid}, "provider": {"S": "stripe"}, "delivery_id": {"S": "evt_store"},
        "received_at": {"S": "2026-01-31T10:00:00.000Z"}, "status": {"S": "received"},
        "s3_key": {"S": f"stripe/2026/01/31/{wid}"}, "size": {"N": str(len(BODY))}, "attempts": {"N": "0"}})
    # WHEN the provider retries with a padded signature header, and the delivery is processed
    event = signed_event("stripe", BODY)
    padded = event["headers"]["Stripe-Signature"] + ",v0=" + "b" * 3000
    event["headers"]["Stripe-Signature"] = event["multiValueHeaders"]["Stripe-Signature"][0] = padded
    assert pipeline.post(event)[0] == 202
    pipeline.drain()
    # THEN the object says "in the record", and the record has them
    metadata, item = stored(pipeline, wid)
    assert metadata == {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    assert reverify_headers(metadata, item)["stripe-signature"] == padded


def test_a_retry_that_finds_the_object_keeps_it_and_its_record_holds_the_retrys_headers(pipeline):
    # GIVEN an attempt that archived the object with overflowing headers (metadata: "in the record")
    # and died before the message and the record
    event = signed_event("stripe", BODY)
    padded = event["headers"]["Stripe-Signature"] + ",v0=" + "c" * 3000
    event["headers"]["Stripe-Signature"] = event["multiValueHeaders"]["Stripe-Signature"][0] = padded
    from handlers import aws as aws_mod
    from handler_harness import client_error

    def die(model, **_):
        if model.name == "SendMessage":
            raise client_error("SendMessage")

    aws_mod.client("sqs").meta.events.register("before-call", die)
    assert pipeline.post(event)[0] == 503
    aws_mod.client("sqs").meta.events.unregister("before-call", die)
    # WHEN the provider retries with ordinary (fitting) headers: S3 keeps the first object (412)
    retry = signed_event("stripe", BODY)
    assert pipeline.post(retry)[0] == 202
    # THEN the record holds the retry's headers, so the object's "in the record" still re-verifies
    wid = signatures.webhook_id("stripe", "evt_store")
    metadata, item = stored(pipeline, wid)
    assert metadata == {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    headers = reverify_headers(metadata, item)
    assert headers["stripe-signature"] == retry["headers"]["Stripe-Signature"]
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=item["s3_key"]["S"])["Body"].read()
    assert signatures.verify("stripe", body, headers, (SECRETS["stripe"],), {"tolerance_seconds": 300})
    assert len(pipeline.s3.list_object_versions(Bucket=pipeline.bucket)["Versions"]) == 1  # no second version


# --------------------------------------------------------------------------- the provider table file


def test_missing_provider_table_is_a_500_internal_error_logged_with_its_path(pipeline, monkeypatch, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "providers.json"
    monkeypatch.setenv("PROVIDERS_FILE", str(missing))
    status, reply = pipeline.post(signed_event("stripe", BODY))
    assert (status, reply["error"]) == (500, "internal_error")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [problem] = [line for line in lines if line.get("message") == "provider table unreadable"]
    assert problem["path"] == str(missing) and problem["error"] == "FileNotFoundError"
    assert any(line.get("outcome") == "error" and line.get("status_code") == 500 for line in lines)
    assert pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"stripe": {"no_scheme": 1}}', "[" * 100_000])
def test_unreadable_provider_table_is_a_500(pipeline, monkeypatch, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    monkeypatch.setenv("PROVIDERS_FILE", str(path))
    assert pipeline.post(signed_event("stripe", BODY))[0] == 500


def test_provider_table_is_read_once_per_path(pipeline, monkeypatch):
    path = pipeline.write_providers(pipeline.providers)
    monkeypatch.setenv("PROVIDERS_FILE", str(path))
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    path.unlink()  # a deployed zip never changes: the cached table serves
    assert pipeline.post(signed_event("stripe", BODY))[0] == 200
    other = pipeline.write_providers({"acme": pipeline.providers["acme"]})
    monkeypatch.setenv("PROVIDERS_FILE", str(other))
    assert pipeline.post(signed_event("stripe", BODY))[0] == 404  # another path: another table


def test_relative_provider_table_resolves_against_the_task_root(pipeline, monkeypatch, tmp_path):
    root = tmp_path / "task"
    root.mkdir()
    (root / "providers.json").write_text(json.dumps(pipeline.providers))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(root))
    monkeypatch.delenv("PROVIDERS_FILE")  # default: contract.PROVIDERS_FILE_NAME at the zip root
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    monkeypatch.delenv("LAMBDA_TASK_ROOT")
    monkeypatch.chdir(root)  # no task root: the current directory
    assert ingest.providers() == pipeline.providers
    assert os.path.samefile(ingest.providers_file_path(""), root / "providers.json")


# --------------------------------------------------------------------------- the time budget


class Context:
    """A Lambda context whose remaining time is scripted per call."""

    def __init__(self, *remaining_ms: int):
        self.remaining = list(remaining_ms)
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_a_step_that_could_not_finish_in_time_answers_503_and_the_retry_resumes(pipeline, faults):
    # GIVEN time for the archive (PutObject), then not enough for one more worst-case call
    event = signed_event("stripe", BODY)
    response = ingest.handler(event, Context(9000, 100))
    # THEN 503 (the provider retries) before SendMessage, never a Lambda timeout
    assert response["statusCode"] == 503
    assert "SendMessage" not in faults.calls and "PutItem" not in faults.calls
    [key] = pipeline.objects()
    assert pipeline.queue_depth() == 0 and pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0
    # AND the provider's retry finishes, keeping the archived object
    status, reply = pipeline.post(signed_event("stripe", BODY))
    assert status == 202
    assert pipeline.item(reply["webhook_id"])["status"] == "queued"
    assert pipeline.objects() == [key] and pipeline.queue_depth() == 1


def test_no_time_left_for_the_record_answers_503_and_the_processor_records_the_delivery(pipeline, faults):
    # GIVEN time for PutObject and SendMessage, not for the PutItem
    response = ingest.handler(signed_event("stripe", BODY), Context(9000, 9000, 100))
    # THEN 503: a 202 means the record exists, and it does not yet
    assert response["statusCode"] == 503 and faults.calls.count("PutItem") == 0
    assert pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0 and pipeline.queue_depth() == 1
    # AND the enqueued message is processed all the same, its record written from the pointer
    pipeline.drain()
    [event] = pipeline.published()
    item = pipeline.item(event["detail"]["webhook_id"])
    assert item["status"] == "processed" and item["provider_day"].startswith("stripe#")
    # AND the provider's retry is then a duplicate
    status, reply = pipeline.post(signed_event("stripe", BODY))
    assert (status, reply["duplicate"]) == (200, True)


# --------------------------------------------------------------------------- ordering key


def test_ordering_key_of_a_body_too_deep_to_parse_is_the_provider():
    deep = b"[" * 100_000 + b"]" * 100_000
    assert ingest.message_group_id("stripe", "payload:data.object.customer", "w", None, deep) == "stripe"
    nested = b'{"data": {"object": {"customer": "c"}}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert ingest.message_group_id("stripe", "payload:data.object.customer", "w", None, nested) == "stripe"
