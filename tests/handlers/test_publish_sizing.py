"""PutEvents sizing: requests are packed by EventBridge's size rule, a size refusal is split
and retried, and the limit is configurable (PUT_EVENTS_MAX_BYTES)."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from handler_harness import client_error, load_event, signed_event
from handlers import aws, process
from handlers.contract import AWS_LIMITS, put_events_entry_bytes

SIZE_ERROR = "Total size of the entries in the request is over the limit."


def ingest(pipeline, payload_bytes: int, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = json.dumps({"id": f"evt_{i}", "type": "t", "pad": "x" * payload_bytes})
        status, reply = pipeline.post(signed_event("github", body, delivery_id=f"d-{i}"))
        assert status == 202
        ids.append(reply["webhook_id"])
    return ids


def records(pipeline, ids: list[str], group: str = "g") -> list[dict]:
    out = []
    for wid in ids:
        item = pipeline.item(wid)
        raw = load_event("sqs_record.json")
        raw["messageId"] = f"m-{wid}"
        raw["attributes"]["MessageGroupId"] = group
        raw["body"] = json.dumps({k: item.get(k) for k in ("webhook_id", "provider", "delivery_id", "event_type",
                                                            "received_at", "s3_key")} | {"size": int(item["size"])})
        out.append(raw)
    return out


class Recorder:
    """Every PutEvents request the handler sends (entries), and a scripted refusal."""

    def __init__(self, refuse_over: int | None = None):
        self.requests: list[list[dict]] = []
        self.refuse_over = refuse_over

    def __call__(self, model, params, **_):
        if model.name != "PutEvents":
            return
        entries = params["Entries"]
        self.requests.append(entries)
        total = sum(put_events_entry_bytes(e) for e in entries)
        if self.refuse_over is not None and total > self.refuse_over:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": SIZE_ERROR},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutEvents")

    def totals(self) -> list[int]:
        return [sum(put_events_entry_bytes(e) for e in entries) for entries in self.requests]


@pytest.fixture
def recorder(pipeline):
    r = Recorder()
    aws.client("events").meta.events.register("provide-client-params.events.PutEvents", r)
    return r


def run(batch) -> list[str]:
    return [f["itemIdentifier"] for f in process.handler({"Records": batch}, None)["batchItemFailures"]]


def published_ids(pipeline) -> list[str]:
    return [e["detail"]["webhook_id"] for e in pipeline.published()]


def test_ten_mid_size_payloads_go_out_in_several_requests_under_the_limit_and_none_fails(pipeline, recorder):
    # GIVEN ten records whose payloads are each well under the inline limit (60 KB of 256 KiB),
    # but together over EventBridge's request limit (256 KiB)
    ids = ingest(pipeline, 60_000, 10)
    # WHEN processed as one batch of one FIFO group
    assert run(records(pipeline, ids)) == []
    # THEN several PutEvents requests, each under the limit, every payload inline, in order
    assert len(recorder.requests) == 3
    assert all(total < AWS_LIMITS.put_events_request_bytes for total in recorder.totals())
    assert [json.loads(e["Detail"])["webhook_id"] for r in recorder.requests for e in r] == ids
    details = [e["detail"] for e in pipeline.published()]
    assert sorted(d["webhook_id"] for d in details) == sorted(ids)
    assert all("payload" in d and "payload_in_s3" not in d for d in details)
    assert all(pipeline.item(w)["status"] == "processed" for w in ids)


def test_the_limit_is_configurable(pipeline, recorder, monkeypatch):
    ids = ingest(pipeline, 30_000, 6)
    monkeypatch.setenv("PUT_EVENTS_MAX_BYTES", str(100 * 1024))
    assert run(records(pipeline, ids)) == []
    assert [len(r) for r in recorder.requests] == [3, 3]
    assert all(total < 100 * 1024 for total in recorder.totals())


def test_an_entry_over_the_configured_limit_is_a_claim_check(pipeline, recorder, monkeypatch):
    [wid] = ingest(pipeline, 30_000, 1)
    monkeypatch.setenv("PUT_EVENTS_MAX_BYTES", str(20 * 1024))
    assert run(records(pipeline, [wid])) == []
    [detail] = [e["detail"] for e in pipeline.published()]
    assert detail["payload_in_s3"] is True and "payload" not in detail


def test_a_size_refusal_splits_the_request_and_retries_without_failing_a_record(pipeline):
    # GIVEN an EventBridge whose real limit is lower than configured (a region without the raise)
    ids = ingest(pipeline, 20_000, 8)
    refusing = Recorder(refuse_over=50_000)
    aws.client("events").meta.events.register("provide-client-params.events.PutEvents", refusing)
    # WHEN processed
    assert run(records(pipeline, ids)) == []
    # THEN the refused request was halved until each part was accepted, in order, none failed
    assert [len(r) for r in refusing.requests] == [8, 4, 2, 2, 4, 2, 2]
    assert sorted(published_ids(pipeline)) == sorted(ids)


def test_an_entry_refused_for_size_on_its_own_fails_alone_with_the_rest_of_its_group(pipeline):
    a1, a2, b1 = ingest(pipeline, 20_000, 3)
    refusing = Recorder(refuse_over=15_000)  # every entry is over it: nothing can be accepted
    aws.client("events").meta.events.register("provide-client-params.events.PutEvents", refusing)
    batch = records(pipeline, [a1, a2], group="A") + records(pipeline, [b1], group="B")
    assert run(batch) == [f"m-{a1}", f"m-{a2}", f"m-{b1}"]
    assert published_ids(pipeline) == []


def test_requests_are_packed_in_order_by_count_and_size():
    entry = {"Source": "s", "DetailType": "d", "Detail": "x" * 98}  # 100 bytes
    packed = list(process.put_events_requests(((i, entry) for i in range(25)), max_bytes=10_000))
    assert [r.items for r in packed] == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]
    packed = list(process.put_events_requests(((i, entry) for i in range(5)), max_bytes=250))
    assert [r.items for r in packed] == [[0, 1], [2, 3], [4]]  # "less than" the limit: 200 < 250, 300 is not
    assert list(process.put_events_requests([], max_bytes=250)) == []


def test_refused_for_size_recognizes_eventbridges_answer():
    size = ClientError({"Error": {"Code": "ValidationException", "Message": SIZE_ERROR}}, "PutEvents")
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "bad bus"}}, "PutEvents")
    assert process.refused_for_size(size) and not process.refused_for_size(other)
    assert process.refused_for_size(client_error("PutEvents", "RequestEntityTooLarge", 413))
    assert not process.refused_for_size(client_error("PutEvents"))
