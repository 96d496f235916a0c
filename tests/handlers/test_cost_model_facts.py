"""What `webhookctl cost` assumes of the handlers (cli.cost.DESIGN), checked against the handlers:
the AWS calls per webhook and per batch, the log bytes and lines they write, the sizes of the
record, the queue message and the event. A handler change that costs more fails here."""
from __future__ import annotations

import json
import re

import pytest

from cli.cost import DESIGN
from handler_harness import signed_event
from handlers import process
from handlers.contract import Pointer, dynamodb_item_bytes, put_events_entry_bytes


def body(i: int) -> str:
    return json.dumps({"id": f"evt_{i:06d}", "type": "invoice.payment_succeeded",
                       "data": {"object": {"customer": f"cus_{i % 7:014d}"}}})


def log_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("{")]


# The line's timings as Lambda typically writes them (ingest's three calls take ~100 ms on AWS,
# docs/capacity.md): what the model prices. Measured here they take as many digits as the machine
# is slow, which says nothing about the handler's log.
AWS_TIMINGS = '"timings":{"verify_ms":0.25,"store_ms":99.75,"total_ms":100.0}'


def at_aws_timings(line: str) -> str:
    return re.sub(r'"timings":\{[^}]*\}', lambda _: AWS_TIMINGS, line)


class LambdaContext:
    aws_request_id = "6f7f0961-2cf4-4b6f-9f3b-1f2a2c8e8e8e"  # logged with every request, as on Lambda

    def get_remaining_time_in_millis(self) -> int:
        return 9_000


def test_ingest_makes_the_designs_calls_and_writes_its_log_bytes(pipeline, faults, capsys):
    from handlers import ingest

    assert pipeline.post(signed_event("stripe", body(0)))[0] == 202  # warms the secret cache
    capsys.readouterr()
    for i in range(1, 6):
        faults.calls.clear()
        assert ingest.handler(signed_event("stripe", body(i)), LambdaContext())["statusCode"] == 202
        assert tuple(faults.calls) == DESIGN.ingest_calls
        lines = log_lines(capsys.readouterr().out)
        assert len(lines) == DESIGN.ingest_log_events
        assert all('"timings":{' in line for line in lines)
        assert sum(len(at_aws_timings(line).encode()) for line in lines) <= DESIGN.ingest_log_bytes


@pytest.mark.parametrize("batch", [1, 10])
def test_process_makes_the_designs_calls_and_writes_its_log_bytes(pipeline, faults, capsys, batch):
    for i in range(batch):
        assert pipeline.post(signed_event("stripe", body(i)))[0] == 202
    records = pipeline.receive(10)
    assert len(records) == batch
    faults.calls.clear()
    capsys.readouterr()
    assert process.handler({"Records": records}, None)["batchItemFailures"] == []
    assert sorted(faults.calls) == ["BatchGetItem", "BatchWriteItem", "PutEvents"]
    lines = log_lines(capsys.readouterr().out)
    assert len(lines) == DESIGN.process_batch_log_events
    assert sum(len(line.encode()) for line in lines) <= (
        DESIGN.process_batch_log_bytes + batch * DESIGN.process_record_log_bytes)


def test_the_record_the_message_and_the_event_fit_the_designs_sizes(pipeline):
    status, reply = pipeline.post(signed_event("stripe", body(1)))
    item = pipeline.ddb.get_item(TableName=pipeline.table, Key={"webhook_id": {"S": reply["webhook_id"]}})["Item"]
    assert dynamodb_item_bytes(item) <= DESIGN.record_bytes
    [record] = pipeline.receive(1)
    assert len(record["body"].encode()) <= DESIGN.pointer_bytes
    pointer = Pointer.from_json(record["body"])
    entry = process.event_entry(pointer.as_dict(), "2026-12-01T10:00:00.000Z", {"payload": json.loads(body(1))},
                                "webhooks-prod-bus")
    assert put_events_entry_bytes(entry) - len(body(1)) <= DESIGN.event_envelope_bytes
