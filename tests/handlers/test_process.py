"""Process: inline vs claim check, every PutEvents entry checked, FIFO partial batches."""
from __future__ import annotations

import json

import pytest

from handler_harness import load_event, signed_event
from handlers import process


class FakeHTTP:
    status_code = 200
    headers: dict = {}


def ingest(pipeline, n: int, provider: str = "github", body: str | None = None) -> list[str]:
    ids = []
    for i in range(n):
        status, reply = pipeline.post(signed_event(provider, body or json.dumps({"n": i}), delivery_id=f"d-{i}"))
        assert status == 202
        ids.append(reply["webhook_id"])
    return ids


def record(pipeline, wid: str, group: str = "g", receive_count: int = 1, message_id: str | None = None) -> dict:
    item = pipeline.item(wid)
    raw = load_event("sqs_record.json")
    raw["messageId"] = message_id or f"m-{wid}"
    raw["attributes"]["MessageGroupId"] = group
    raw["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    raw["body"] = json.dumps({k: item.get(k) for k in ("webhook_id", "provider", "delivery_id", "event_type",
                                                        "received_at", "s3_key")} | {"size": int(item["size"])})
    return raw


def run(records) -> list[str]:
    result = process.handler({"Records": records}, None)
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def details(pipeline) -> list[dict]:
    return [e["detail"] for e in pipeline.published()]


def test_payload_over_the_inline_limit_is_a_claim_check_without_reading_s3(pipeline, faults, monkeypatch):
    [wid] = ingest(pipeline, 1, body=json.dumps({"big": "x" * 100}))
    monkeypatch.setenv("INLINE_PAYLOAD_LIMIT", "50")
    faults.calls.clear()
    assert run([record(pipeline, wid)]) == []
    [detail] = details(pipeline)
    assert detail["payload_in_s3"] is True and "payload" not in detail
    assert "GetObject" not in faults.calls


def test_entry_that_would_exceed_256_kib_is_a_claim_check(pipeline):
    [wid] = ingest(pipeline, 1, body=json.dumps({"big": "x" * (262_144 - 20)}))
    assert run([record(pipeline, wid)]) == []
    [detail] = details(pipeline)
    assert detail["payload_in_s3"] is True


def test_non_json_bodies(pipeline):
    [text_id] = ingest(pipeline, 1, provider="acme", body="plain text, not json")
    assert run([record(pipeline, text_id)]) == []
    assert details(pipeline)[0]["payload"] == "plain text, not json"


def test_already_processed_record_publishes_nothing(pipeline, faults):
    [wid] = ingest(pipeline, 1)
    assert run([record(pipeline, wid)]) == []
    assert len(details(pipeline)) == 1
    faults.calls.clear()
    assert run([record(pipeline, wid, receive_count=2)]) == []
    assert details(pipeline) == []
    assert faults.calls == ["BatchGetItem"]


def test_same_delivery_twice_in_one_batch_publishes_once(pipeline):
    [wid] = ingest(pipeline, 1)
    assert run([record(pipeline, wid, message_id="a"), record(pipeline, wid, message_id="b")]) == []
    assert len(details(pipeline)) == 1


def test_calls_per_batch(pipeline, faults):
    ids = ingest(pipeline, 10)
    faults.calls.clear()
    assert run([record(pipeline, w, group=f"g{i % 3}") for i, w in enumerate(ids)]) == []
    # (these messages carry no payload, as after a DLQ redrive: each is read from S3)
    assert faults.calls.count("BatchGetItem") == 1
    assert faults.calls.count("PutEvents") == 1
    assert faults.calls.count("BatchWriteItem") == 1  # marks all ten processed
    assert faults.calls.count("GetObject") == 10
    assert len(faults.calls) == 3 + 10


def test_failed_entry_fails_its_record_and_later_records_of_its_group(pipeline, faults):
    # GIVEN a batch: a1 a2 a3 in group A, b1 in group B; EventBridge rejects a2's entry only
    a1, a2, a3, b1 = ingest(pipeline, 4)
    batch = [record(pipeline, a1, "A"), record(pipeline, a2, "A"), record(pipeline, a3, "A"),
             record(pipeline, b1, "B")]

    def partial(model, params, **_):
        if model.name == "PutEvents":
            entries = [{"EventId": f"e{i}"} for i in range(len(json.loads(params["body"])["Entries"]))]
            entries[1] = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
            return FakeHTTP(), {"FailedEntryCount": 1, "Entries": entries}

    from handlers import aws

    aws.client("events").meta.events.register_first("before-call.eventbridge.PutEvents", partial)
    # WHEN processed
    failed = run(batch)
    aws.client("events").meta.events.unregister("before-call.eventbridge.PutEvents", partial)
    # THEN a2 fails, a3 (same group, after it) is reported failed too, a1 and b1 succeed
    assert failed == [f"m-{a2}", f"m-{a3}"]
    # a3 was published in that same call: it is marked processed so its redelivery publishes nothing
    assert pipeline.item(a3)["status"] == "processed"
    assert pipeline.item(a2)["status"] == "queued"
    # AND the redelivery of a2, a3 publishes a2 only
    assert run([record(pipeline, a2, "A", 2), record(pipeline, a3, "A", 2)]) == []
    assert [d["webhook_id"] for d in details(pipeline)] == [a2]


def test_unreadable_payload_blocks_the_rest_of_its_group_only(pipeline, faults):
    a1, a2, b1 = ingest(pipeline, 3)
    from handler_harness import client_error

    faults.fail("GetObject", client_error("GetObject", "SlowDown", 503))
    failed = run([record(pipeline, a1, "A"), record(pipeline, a2, "A"), record(pipeline, b1, "B")])
    assert failed == [f"m-{a1}", f"m-{a2}"]
    assert [d["webhook_id"] for d in details(pipeline)] == [b1]  # a2 was never published out of order


def test_malformed_message_does_not_fail_earlier_records_of_its_group(pipeline):
    a1, a2 = ingest(pipeline, 2)
    bad = load_event("sqs_record.json") | {"messageId": "bad", "body": "not json"}
    bad["attributes"] = dict(bad["attributes"], MessageGroupId="A")
    failed = run([record(pipeline, a1, "A"), bad, record(pipeline, a2, "A")])
    assert failed == ["bad", f"m-{a2}"]
    assert [d["webhook_id"] for d in details(pipeline)] == [a1]


def test_last_receive_marks_the_record_failed(pipeline, faults):
    from handler_harness import client_error

    [wid] = ingest(pipeline, 1)
    faults.fail("PutEvents", client_error("PutEvents"))
    assert run([record(pipeline, wid, receive_count=2)]) == [f"m-{wid}"]
    assert pipeline.item(wid)["status"] == "queued"
    faults.fail("PutEvents", client_error("PutEvents"))
    assert run([record(pipeline, wid, receive_count=3)]) == [f"m-{wid}"]
    item = pipeline.item(wid)
    assert item["status"] == "failed" and item["attempts"] == "3"


def test_mark_processed_failure_is_retried_then_not_reported(pipeline, faults, capsys):
    from handler_harness import client_error

    w1, w2 = ingest(pipeline, 2)
    faults.fail("BatchWriteItem", client_error("BatchWriteItem", "ProvisionedThroughputExceededException", 400))
    assert run([record(pipeline, w1)]) == []
    assert pipeline.item(w1)["status"] == "processed"  # the retry worked
    faults.fail("BatchWriteItem", client_error("BatchWriteItem"), times=3)
    assert run([record(pipeline, w2)]) == []  # published: reporting it failed would publish twice
    assert pipeline.item(w2)["status"] == "queued"
    out = capsys.readouterr().out
    assert '"mark_processed_failed":1' in out.replace(" ", "")


def test_chunks_of_ten(pipeline, faults):
    ids = ingest(pipeline, 12)
    faults.calls.clear()
    assert run([record(pipeline, w, group=w) for w in ids]) == []
    assert faults.calls.count("PutEvents") == 2
    assert len(details(pipeline)) == 12


@pytest.mark.parametrize("body", ["", "{}", '{"webhook_id": 1}'])
def test_garbage_messages_fail_without_crashing(pipeline, body):
    bad = load_event("sqs_record.json") | {"body": body}
    assert run([bad]) == [bad["messageId"]]
