"""Process, batch by batch: the FIFO rule of `Batch`, one record's failure never failing the
others (deep JSON, JSON that EventBridge would refuse, a bug in one record's work), pointers
to nothing, and the time budget."""
from __future__ import annotations

import json

import pytest

from handler_harness import sqs_record
from handlers import process


def run(records, context=None) -> list[str]:
    result = process.handler({"Records": records}, context)
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def published(pipeline) -> dict[str, dict]:
    return {e["detail"]["webhook_id"]: e["detail"] for e in pipeline.published()}


def wid_of(record: dict) -> str:
    return json.loads(record["body"])["webhook_id"]


# --------------------------------------------------------------------------- Batch


def test_batch_fails_a_record_and_blocks_only_the_later_records_of_its_group():
    raw = [sqs_record(json.dumps({"webhook_id": f"{i:032x}", "provider": "p", "s3_key": "k"}), message_id=f"m{i}",
                      group=g) for i, g in enumerate("ABAAB")]
    batch = process.Batch(raw)
    a0, b1, a2, a3, b4 = batch.records
    assert [r.index for r in batch.records] == [0, 1, 2, 3, 4]
    batch.fail(a2, "boom")
    assert (batch.blocked(a0), batch.blocked(a2), batch.blocked(a3), batch.blocked(b1), batch.blocked(b4)) == (
        False, False, True, False, False)
    batch.fail(a0, "first")  # an earlier failure moves the group's first failure back
    assert batch.blocked(a2) and a2.reason == "boom" and a0.reason == "first"
    batch.fail(a2, "again")
    assert a2.reason == "boom"  # the first reason stays


def test_batch_reads_any_record_shape_without_raising():
    batch = process.Batch([None, {"body": 5, "attributes": "x"}, {"messageId": 7, "attributes": {
        "ApproximateReceiveCount": "many", "MessageGroupId": None}, "body": "[" * 100_000}])
    assert [r.reason for r in batch.records] == ["malformed_message"] * 3
    assert [r.message_id for r in batch.records] == ["", "", "7"]
    assert [r.receive_count for r in batch.records] == [1, 1, 1]


# --------------------------------------------------------------------------- one record, not the batch


def test_deep_json_payload_is_a_claim_check_and_its_batch_is_unharmed(pipeline):
    # GIVEN a batch: a body nested 100,000 deep, then an ordinary one in the same group
    deep = pipeline.archived(b"[" * 100_000 + b"]" * 100_000, delivery_id="deep")
    plain = pipeline.archived(b'{"ok": true}', delivery_id="plain")
    # WHEN processed
    assert run([deep, plain]) == []
    # THEN both are published: the deep one as a claim check, the other inline
    events = published(pipeline)
    assert events[wid_of(deep)]["payload_in_s3"] is True and "payload" not in events[wid_of(deep)]
    assert events[wid_of(plain)]["payload"] == {"ok": True}


@pytest.mark.parametrize("body,expected", [
    (b'{"n": NaN}', '{"n": NaN}'),  # Python's json accepts NaN; EventBridge's JSON does not
    (b'[Infinity]', "[Infinity]"),
])
def test_non_standard_json_constants_are_inlined_as_a_string(pipeline, body, expected):
    record = pipeline.archived(body, delivery_id="nan")
    assert run([record]) == []
    assert published(pipeline)[wid_of(record)]["payload"] == expected


def test_escaped_lone_surrogates_are_published_as_valid_json(pipeline):
    # "\ud800" parses to a lone surrogate, which UTF-8 cannot encode: the detail keeps it escaped
    record = pipeline.archived(b'{"s": "\\ud800"}', delivery_id="surrogate")
    assert run([record]) == []
    assert published(pipeline)[wid_of(record)]["payload"] == {"s": "\ud800"}
    entry = process.event_entry({"webhook_id": "w", "provider": "p", "s3_key": "k"}, "t", {"payload": {"s": "\ud800"}},
                                "bus")
    assert "\\ud800" in entry["Detail"] and entry["Detail"].encode("utf-8")


def test_a_bug_in_one_records_work_fails_that_record_alone(pipeline, monkeypatch):
    a1 = pipeline.archived(b'{"n": 1}', delivery_id="a1", group="A")
    boom = pipeline.archived(b'{"boom": 1}', delivery_id="boom", group="A")
    a3 = pipeline.archived(b'{"n": 3}', delivery_id="a3", group="A")
    b1 = pipeline.archived(b'{"n": 4}', delivery_id="b1", group="B")
    real = process.payload_fields

    def buggy(data, limit):
        if b"boom" in data:
            raise KeyError("a bug")
        return real(data, limit)

    monkeypatch.setattr(process, "payload_fields", buggy)
    assert run([a1, boom, a3, b1]) == [boom["messageId"], a3["messageId"]]
    assert set(published(pipeline)) == {wid_of(a1), wid_of(b1)}


def test_a_pointer_to_no_record_fails_and_creates_nothing(pipeline):
    # size over the inline limit: the old code published it as a claim check without reading S3
    nobody = "f" * 32
    ghost = sqs_record(json.dumps({"webhook_id": nobody, "provider": "acme", "s3_key": "acme/x",
                                   "size": 10_000_000}), message_id="ghost", receive_count=3)
    real = pipeline.archived(b"{}", delivery_id="real", group="other")
    assert run([ghost, real]) == ["ghost"]
    assert set(published(pipeline)) == {wid_of(real)}
    assert pipeline.item(nobody) is None  # not even on its last receive (marking `failed`)


@pytest.mark.parametrize("webhook_id", ["x" * 3000, "\ud800" * 16, "F" * 32, "ghost"])
def test_a_pointer_to_something_that_is_not_a_webhook_id_fails_alone(pipeline, webhook_id):
    # A key DynamoDB would refuse must not fail the batch's one BatchGetItem for everyone
    bad = sqs_record('{"webhook_id": "%s", "provider": "acme", "s3_key": "k"}' % webhook_id, message_id="bad")
    real = pipeline.archived(b"{}", delivery_id="fine", group="other")
    assert run([bad, real]) == ["bad"]
    assert set(published(pipeline)) == {wid_of(real)}


def test_a_failed_record_redriven_from_the_dlq_is_published(pipeline):
    record = pipeline.archived(b'{"n": 1}', delivery_id="redriven", status="failed")
    assert run([record]) == []
    assert pipeline.item(wid_of(record))["status"] == "processed"


# --------------------------------------------------------------------------- time budget


class Context:
    def __init__(self, remaining_ms: int):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_without_time_for_a_record_nothing_is_published_and_the_records_are_retried(pipeline, faults):
    records = [pipeline.archived(b'{"n": %d}' % i, delivery_id=f"t{i}") for i in range(3)]
    faults.calls.clear()
    assert run(records, Context(1000)) == [r["messageId"] for r in records]
    assert "PutEvents" not in faults.calls and "GetObject" not in faults.calls
    assert pipeline.published() == []
    assert run(records, Context(60_000)) == []  # the redelivery, with time, publishes them
    assert len(published(pipeline)) == 3


class Dwindling:
    """Time for the first check, none for the next ones."""

    def __init__(self):
        self.checks = 0

    def get_remaining_time_in_millis(self) -> int:
        self.checks += 1
        return 60_000 if self.checks == 1 else 100


def test_no_time_left_for_the_request_leaves_the_record_unpublished_and_retried(pipeline, faults, capsys):
    record = pipeline.archived(b'{"n": 1}', delivery_id="late")
    faults.calls.clear()
    assert run([record], Dwindling()) == [record["messageId"]]
    assert "GetObject" in faults.calls and "PutEvents" not in faults.calls
    assert pipeline.item(wid_of(record))["status"] == "queued"
    out = capsys.readouterr().out
    assert '"reason":"out_of_time"' in out and "publish_failed" not in out  # EventBridge refused nothing
