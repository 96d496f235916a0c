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
               "SendMessage": "sqs", "UpdateItem": "dynamodb", "BatchGetItem": "dynamodb",
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


INGEST_CALLS = ["GetSecretValue", "PutItem", "PutObject", "SendMessage", "UpdateItem"]
KINDS = ["error", "connection", "crash_after"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", INGEST_CALLS)
def test_ingest_call_fails_then_provider_retries(pipeline, operation, kind):
    # GIVEN one AWS call of ingest fails (or the function dies right after it)
    inject(pipeline, operation, kind)
    # WHEN the provider delivers, and retries until it gets a 2xx
    status, first = post(pipeline, signed_event("stripe", BODY))
    if operation == "UpdateItem" and kind != "crash_after":
        assert status == 202  # stored and enqueued: bookkeeping only failed
    else:
        assert status >= 500, first
        if status < 504:
            assert first["error"] in ("storage_unavailable",)
        status, retry = post(pipeline, signed_event("stripe", BODY))
        assert status in (200, 202), retry
    # AND a later redelivery is a duplicate
    drain(pipeline)
    status, again = post(pipeline, signed_event("stripe", BODY))
    assert status == 200 and again["duplicate"] is True
    drain(pipeline)
    # THEN one record, one object, one event
    assert_exactly_once(pipeline)


PROCESS_CALLS = ["BatchGetItem", "GetObject", "PutEvents", "UpdateItem"]


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


def test_concurrent_attempt_already_queued(pipeline):
    # Two deliveries of the same webhook race: the second finds status `received` and resumes;
    # the first's UpdateItem then meets a failed condition and still answers 202.
    from handlers import ingest as ingest_mod

    event = signed_event("stripe", BODY)
    real_store = ingest_mod.store
    responses = []

    def racing_store(name, provider, request, verified, **kwargs):
        if not responses:
            responses.append(None)
            # the other attempt runs to completion between our SendMessage and UpdateItem
            def once(model, **_):
                if model.name == "SendMessage" and len(responses) == 1:
                    responses.append(None)
                    responses[1] = pipeline.post(signed_event("stripe", BODY))
            aws.client("sqs").meta.events.register("after-call", once)
        return real_store(name, provider, request, verified, **kwargs)

    ingest_mod.store = racing_store
    try:
        status, reply = pipeline.post(event)
    finally:
        ingest_mod.store = real_store
    assert status == 202 and responses[1][0] == 202
    drain(pipeline)
    assert_exactly_once(pipeline)
