"""Process with the queue message as ingest sends it: the payload carried in the message (no S3
read), and the record written from the pointer when the message arrives before it."""
from __future__ import annotations

import base64
import json

import pytest

from handler_harness import signed_event, sqs_record
from handlers import process
from handlers.contract import (
    AWS_LIMITS, PAYLOAD_ATTRIBUTE, Pointer, message_fits, payload_attributes, record_attributes, sqs_message_bytes,
)


def accept(pipeline, n: int, body=lambda i: json.dumps({"id": f"evt_{i}", "type": "invoice.paid"})) -> list[str]:
    ids = []
    for i in range(n):
        status, reply = pipeline.post(signed_event("stripe", body(i)))
        assert status == 202, reply
        ids.append(reply["webhook_id"])
    return ids


def run(records) -> list[str]:
    return [f["itemIdentifier"] for f in process.handler({"Records": records}, None)["batchItemFailures"]]


def test_a_batch_of_ten_costs_0_3_calls_per_record_and_reads_nothing_from_s3(pipeline, faults):
    # GIVEN ten accepted webhooks, received as Lambda's event source delivers them
    bodies = {i: json.dumps({"id": f"evt_{i}", "type": "invoice.paid", "n": i}) for i in range(10)}
    accept(pipeline, 10, body=bodies.get)
    records = pipeline.receive(10)
    assert len(records) == 10 and all(PAYLOAD_ATTRIBUTE in r["messageAttributes"] for r in records)
    faults.calls.clear()
    # WHEN processed
    assert run(records) == []
    # THEN one BatchGetItem, one PutEvents and one BatchWriteItem that marks them: 3 calls for 10
    assert sorted(faults.calls) == ["BatchGetItem", "BatchWriteItem", "PutEvents"]
    assert {pipeline.item(json.loads(r["body"])["webhook_id"])["status"] for r in records} == {"processed"}
    payloads = sorted((e["detail"]["payload"] for e in pipeline.published()), key=lambda p: p["n"])
    assert payloads == [json.loads(bodies[i]) for i in range(10)]


def test_a_carried_payload_that_is_not_the_pointers_size_is_ignored_and_s3_is_read(pipeline, faults):
    accept(pipeline, 1)
    [record] = pipeline.receive(1)
    record["messageAttributes"][PAYLOAD_ATTRIBUTE]["binaryValue"] = base64.b64encode(b'{"forged": 1}').decode()
    faults.calls.clear()
    assert run([record]) == []
    assert "GetObject" in faults.calls
    [event] = pipeline.published()
    assert event["detail"]["payload"] == {"id": "evt_0", "type": "invoice.paid"}


@pytest.mark.parametrize("value", ["not base64!", 42, None])
def test_a_carried_payload_that_is_not_base64_is_ignored(value):
    pointer = Pointer(webhook_id="a" * 32, provider="p", s3_key="k", size=3)
    assert process.carried_payload({PAYLOAD_ATTRIBUTE: {"binaryValue": value}}, pointer) is None
    assert process.carried_payload("garbage", pointer) is None
    assert process.carried_payload({PAYLOAD_ATTRIBUTE: {"binaryValue": "YWJj"}}, pointer) == b"abc"


def test_an_empty_payload_needs_no_read(pipeline, faults):
    record = pipeline.archived(b"", delivery_id="empty")
    faults.calls.clear()
    assert run([record]) == []
    assert "GetObject" not in faults.calls
    assert pipeline.published()[0]["detail"]["payload"] == ""


def test_a_carried_non_utf8_payload_is_a_claim_check_without_a_read(pipeline, faults):
    from handler_harness import SECRETS, api_event
    from handlers import signatures

    raw = b'{"id":"evt_bin","type":"x"}\xff'
    status, _ = pipeline.post(api_event("stripe", raw, signatures.sign("stripe", raw, SECRETS["stripe"]),
                                        base64_body=True))
    assert status == 202
    faults.calls.clear()
    assert run(pipeline.receive(1)) == []
    assert "GetObject" not in faults.calls
    assert pipeline.published()[0]["detail"]["payload_in_s3"] is True


def test_message_fits_counts_the_pointer_and_the_attribute_as_sqs_does():
    pointer = Pointer(webhook_id="a" * 32, provider="p", s3_key="k").to_json()
    room = AWS_LIMITS.sqs_message_bytes - len(pointer) - len(PAYLOAD_ATTRIBUTE) - len("Binary")
    assert message_fits(pointer, b"x" * room, inline_limit=10 ** 6)
    assert not message_fits(pointer, b"x" * (room + 1), inline_limit=10 ** 6)
    assert not message_fits(pointer, b"x" * 10, inline_limit=9)  # the event would not inline it
    assert not message_fits(pointer, b"", inline_limit=10)  # SQS refuses an empty attribute value
    assert sqs_message_bytes("é", payload_attributes(b"ab")) == 2 + 7 + 6 + 2


def test_the_largest_inline_payload_rides_in_the_message(pipeline, faults):
    # GIVEN a JSON payload at the committed inline limit (240 KiB)
    from config import load
    from handler_harness import ROOT

    limit = load(ROOT / "webhookctl.toml").limits.inline_payload_limit
    pad = limit - len(json.dumps({"id": "evt_big", "type": "t", "pad": ""}))
    body = json.dumps({"id": "evt_big", "type": "t", "pad": "x" * pad})
    assert len(body) == limit
    accept(pipeline, 1, body=lambda i: body)
    # WHEN processed: no S3 read
    faults.calls.clear()
    assert run(pipeline.receive(1)) == []
    assert "GetObject" not in faults.calls


# --------------------------------------------------------------------------- the record written by process


def test_a_message_before_its_record_publishes_and_writes_the_record_ingest_would_have(pipeline):
    # GIVEN an accepted webhook whose record we set aside, as if ingest's PutItem had not happened yet
    [wid] = accept(pipeline, 1)
    written_by_ingest = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": wid}})["Item"]
    pipeline.ddb.delete_item(TableName=pipeline.table, Key={"webhook_id": {"S": wid}})
    # WHEN its message is processed
    assert run(pipeline.receive(1)) == []
    # THEN it is published, and the record holds the same first-write attributes ingest writes
    assert [e["detail"]["webhook_id"] for e in pipeline.published()] == [wid]
    written_by_process = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": wid}})["Item"]
    first_write = set(record_attributes(Pointer.from_json(json.dumps({
        "webhook_id": wid, "provider": "stripe", "s3_key": "k", "delivery_id": "d", "received_at": "r",
        "expires_at": 1}))))
    assert {k: written_by_process[k] for k in first_write} == {k: written_by_ingest[k] for k in first_write}
    assert written_by_process["status"] == {"S": "processed"} and "processed_at" in written_by_process
    # AND ingest's PutItem, arriving now, finds it: the same delivery is not written twice
    assert pipeline.post(signed_event("stripe", json.dumps({"id": "evt_0", "type": "invoice.paid"})))[0] == 200


def test_a_message_whose_record_is_missing_marks_it_failed_on_its_last_receive(pipeline, faults):
    from handler_harness import client_error

    [wid] = accept(pipeline, 1)
    pipeline.ddb.delete_item(TableName=pipeline.table, Key={"webhook_id": {"S": wid}})
    [record] = pipeline.receive(1)
    record["attributes"]["ApproximateReceiveCount"] = "3"  # MAX_RECEIVE_COUNT in the harness
    faults.fail("PutEvents", client_error("PutEvents"))
    assert run([record]) == [record["messageId"]]
    item = pipeline.item(wid)
    assert item["status"] == "failed" and item["provider_day"].startswith("stripe#")


def test_a_pointer_from_before_the_record_was_written_last_still_needs_its_record(pipeline):
    # A pointer without expires_at (sent by the previous version) cannot write the record: it fails.
    legacy = Pointer(webhook_id="b" * 32, provider="stripe", s3_key="stripe/2026/01/01/" + "b" * 32,
                     delivery_id="d", received_at="2026-01-01T00:00:00.000Z", size=2)
    assert run([sqs_record(legacy.to_json(), message_id="legacy")]) == ["legacy"]
    assert pipeline.published() == [] and pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0


def test_marking_processed_keeps_everything_else_the_record_holds(pipeline):
    # GIVEN an accepted webhook whose headers live in its record (too big for the object's metadata)
    event = signed_event("stripe", json.dumps({"id": "evt_keep", "type": "invoice.paid"}))
    padded = event["headers"]["Stripe-Signature"] + ",v0=" + "d" * 3000
    event["headers"]["Stripe-Signature"] = event["multiValueHeaders"]["Stripe-Signature"][0] = padded
    status, reply = pipeline.post(event)
    assert status == 202
    before = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": reply["webhook_id"]}})["Item"]
    # WHEN it is processed (the record is written back whole, unconditionally)
    assert run(pipeline.receive(1)) == []
    after = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": reply["webhook_id"]}})["Item"]
    # THEN only the status, the attempts and processed_at changed
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {"status", "attempts", "processed_at"} and after["status"] == {"S": "processed"}
    assert after["verify_headers"]["M"]["stripe-signature"] == {"S": padded}


def test_items_dynamodb_leaves_unprocessed_are_written_again(pipeline):
    from handlers import aws

    accept(pipeline, 3)
    records = pipeline.receive(10)
    # the first BatchWriteItem writes all but the last item and answers it unprocessed (as under throttling)
    real = aws.client("dynamodb").batch_write_item
    calls = []

    def once_unprocessed(RequestItems):
        calls.append(sum(len(v) for v in RequestItems.values()))
        if len(calls) == 1:
            table, requests = next(iter(RequestItems.items()))
            real(RequestItems={table: requests[:-1]})
            return {"UnprocessedItems": {table: requests[-1:]}}
        return real(RequestItems=RequestItems)

    client = aws.client("dynamodb")
    client.batch_write_item = once_unprocessed
    try:
        assert run(records) == []
    finally:
        del client.batch_write_item
    assert calls == [3, 1]
    assert {pipeline.item(json.loads(r["body"])["webhook_id"])["status"] for r in records} == {"processed"}
