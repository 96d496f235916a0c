"""Fault matrix: every AWS call of ingest and of process fails in turn (an AWS error, a
connection error, or the function dying right after the call succeeded), followed by
the retry the provider (ingest) or SQS (process) would make.

Invariant checked in every case: the accepted webhook is not lost (one record, one
archived object, one event on the bus) and no event is published twice, with the
one documented exception below.
"""
from __future__ import annotations

import json

import pytest

from handler_harness import client_error, connection_error, signed_event
from handlers import aws, process

BODY = json.dumps({"id": "evt_fault", "type": "invoice.paid", "data": {"object": {"customer": "cus_1"}}})


class Crash(BaseException):
    """The Lambda runtime killing the function (timeout, OOM): no response, no cleanup."""


def inject(pipeline, operation: str, kind: str) -> None:
    service = {"GetSecretValue": "secretsmanager", "PutItem": "dynamodb", "PutObject": "s3",
               "SendMessage": "sqs", "UpdateItem": "dynamodb", "BatchGetItem": "dynamodb", "BatchWriteItem": "dynamodb",
               "GetObject": "s3", "PutEvents": "events"}[operation]
    fired = []

    def before(model, **_):
        if model.name == operation and not fired:
            fired.append(1)
            raise client_error(operation) if kind == "error" else connection_error()

    def after(model, **_):
        if model.name == operation and not fired:
            fired.append(1)
            raise Crash(operation)

    if kind == "crash_after":
        aws.client(service).meta.events.register("after-call", after)
    else:
        aws.client(service).meta.events.register("before-call", before)


def post(pipeline, event):
    """The provider's view: a response, or a timeout when the function died."""
    try:
        return pipeline.post(event)
    except Crash:
        return 504, {"error": "timeout"}


def drain(pipeline, rounds: int = 10) -> None:
    """Lambda's SQS event source: failed records (or the whole batch, on a crash) come back."""
    for _ in range(rounds):
        records = pipeline.receive()
        if not records:
            return
        try:
            result = process.handler({"Records": records}, None)
        except Crash:
            result = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
        pipeline.settle(records, result)


def assert_exactly_once(pipeline, expected_events: int = 1):
    items = pipeline.ddb.scan(TableName=pipeline.table)["Items"]
    assert len(items) == 1
    wid = items[0]["webhook_id"]["S"]
    assert items[0]["status"]["S"] == "processed"
    assert pipeline.objects() == [items[0]["s3_key"]["S"]]
    events = pipeline.published()
    assert [e["detail"]["webhook_id"] for e in events] == [wid] * expected_events
    assert events[0]["detail"]["payload"] == json.loads(BODY)
    assert pipeline.queue_depth() == 0


INGEST_CALLS = ["GetSecretValue", "PutObject", "SendMessage", "PutItem"]
KINDS = ["error", "connection", "crash_after"]


def retry_until_accepted(pipeline) -> tuple[int, dict]:
    status, reply = post(pipeline, signed_event("stripe", BODY))
    assert status in (200, 202), reply
    return status, reply


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", INGEST_CALLS)
def test_ingest_call_fails_then_provider_retries(pipeline, operation, kind):
    # GIVEN one AWS call of ingest fails (or the function dies right after it)
    inject(pipeline, operation, kind)
    # WHEN the provider delivers: every failure is a 5xx (or no answer), never a 2xx ...
    status, first = post(pipeline, signed_event("stripe", BODY))
    assert status >= 500, first
    if status < 504:
        assert first["error"] == "storage_unavailable"
    # ... and it retries until it gets a 2xx
    retry_until_accepted(pipeline)
    # AND a later redelivery is a duplicate
    drain(pipeline)
    status, again = post(pipeline, signed_event("stripe", BODY))
    assert status == 200 and again["duplicate"] is True
    drain(pipeline)
    # THEN one record, one object, one event
    assert_exactly_once(pipeline)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", INGEST_CALLS)
def test_ingest_call_fails_and_the_processor_runs_before_the_retry(pipeline, operation, kind):
    # GIVEN one AWS call of ingest fails, and the processor drains the queue before the provider retries
    inject(pipeline, operation, kind)
    status, first = post(pipeline, signed_event("stripe", BODY))
    assert status >= 500, first
    drain(pipeline)
    # WHEN the provider retries
    status, retry = retry_until_accepted(pipeline)
    # THEN it is a duplicate exactly when the first attempt had enqueued the message, whose record
    # the processor wrote (it publishes and records what reaches it, even before ingest's last write)
    enqueued = operation == "PutItem" or (operation == "SendMessage" and kind == "crash_after")
    assert (status, retry.get("duplicate", False)) == ((200, True) if enqueued else (202, False))
    drain(pipeline)
    assert_exactly_once(pipeline)


def test_the_processor_handles_the_message_before_ingest_writes_the_record(pipeline):
    # GIVEN the processor runs between ingest's SendMessage and its PutItem (the race)
    def process_now(model, **_):
        if model.name == "SendMessage":
            drain(pipeline)

    aws.client("sqs").meta.events.register("after-call", process_now)
    # WHEN the webhook is delivered
    status, reply = pipeline.post(signed_event("stripe", BODY))
    # THEN it is accepted (the record the processor wrote is this attempt's own), published once,
    # the record is complete (index key, TTL, ids) and processed
    assert status == 202 and reply["status"] == "queued"
    item = pipeline.item(reply["webhook_id"])
    assert item["status"] == "processed" and item["provider_day"].startswith("stripe#")
    assert item["delivery_id"] == "evt_fault" and int(item["expires_at"]) > 0 and item["event_type"] == "invoice.paid"
    aws.client("sqs").meta.events.unregister("after-call", process_now)
    status, again = pipeline.post(signed_event("stripe", BODY))
    assert status == 200 and again["duplicate"] is True
    drain(pipeline)
    assert_exactly_once(pipeline)


PROCESS_CALLS = ["BatchGetItem", "PutEvents", "BatchWriteItem"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", PROCESS_CALLS)
def test_process_call_fails_then_sqs_redelivers(pipeline, operation, kind):
    # GIVEN an accepted webhook on the queue
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    # WHEN one AWS call of process fails (or the function dies right after it), and SQS redelivers
    inject(pipeline, operation, kind)
    drain(pipeline)
    # THEN the event is published exactly once ...
    if operation == "PutEvents" and kind == "crash_after":
        # ... except when the function dies between a successful PutEvents and the status
        # update: EventBridge has no idempotent put, so the redelivery publishes again.
        # Consumers deduplicate on detail.webhook_id (documented at-least-once window).
        assert_exactly_once(pipeline, expected_events=2)
    else:
        assert_exactly_once(pipeline)


@pytest.mark.parametrize("kind", KINDS)
def test_reading_a_payload_the_message_did_not_carry_fails_then_sqs_redelivers(pipeline, kind):
    # GIVEN an accepted webhook whose message reaches process without its payload (a redrive keeps
    # only the body): process reads it from S3
    assert pipeline.post(signed_event("stripe", BODY))[0] == 202
    real_receive = pipeline.receive
    pipeline.receive = lambda n=10: [dict(r, messageAttributes={}) for r in real_receive(n)]
    # WHEN that GetObject fails (or the function dies right after it), and SQS redelivers
    inject(pipeline, "GetObject", kind)
    drain(pipeline)
    # THEN the event is published exactly once, with the payload read from S3
    assert_exactly_once(pipeline)


def test_concurrent_attempt_completes_between_send_and_record(pipeline):
    # Two deliveries of the same webhook race: the second runs to completion between the first's
    # SendMessage and PutItem. It finds the object (412: kept), SQS drops its message as a
    # duplicate, and its PutItem wins: 202. The first's PutItem then finds that record: 200 duplicate.
    responses: list = []

    def second_attempt(model, **_):
        if model.name == "SendMessage" and not responses:
            responses.append(None)  # before posting: the second attempt's own SendMessage comes here too
            responses[0] = pipeline.post(signed_event("stripe", BODY))

    aws.client("sqs").meta.events.register("after-call", second_attempt)
    status, reply = pipeline.post(signed_event("stripe", BODY))
    aws.client("sqs").meta.events.unregister("after-call", second_attempt)
    assert responses[0][0] == 202 and (status, reply["duplicate"]) == (200, True)
    drain(pipeline)
    assert_exactly_once(pipeline)
