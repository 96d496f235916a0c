"""The SQS event source mapping emulation against a real moto server."""
from __future__ import annotations

import hashlib
import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from local_runtime.emulator import EMULATOR_ACCOUNT_ID, free_port
from local_runtime.sqs_poller import SqsPoller, build_record, failed_ids, lambda_message_attributes
from local_runtime_helpers import Recorder, assert_same_shape, failing_handler, live_threads, load_fixture

pytestmark = pytest.mark.emulator
REGION = "us-east-1"


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def sqs(emulator):
    return boto3.client("sqs", endpoint_url=emulator.endpoint, region_name=REGION,
                        config=Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 1}))


@pytest.fixture
def fifo(sqs):
    """A FIFO queue with a FIFO DLQ after 3 receives; the queue's own visibility timeout is 5 minutes."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "300",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    })["QueueUrl"]
    yield url, dlq_url
    for q in (url, dlq_url):
        sqs.delete_queue(QueueUrl=q)


def send(sqs, url, body, group="g1", dedup=None, **kw):
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                            MessageDeduplicationId=dedup or uuid.uuid4().hex, **kw)["MessageId"]


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_records_have_the_exact_sqs_lambda_shape(emulator, sqs, fifo):
    url, _ = fifo
    body = json.dumps({"webhook_id": "abc"})
    sent = send(sqs, url, body, group="stripe", dedup="abc", MessageAttributes={
        "provider": {"DataType": "String", "StringValue": "stripe"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
    stub = Recorder()
    poller = SqsPoller(url, stub, endpoint_url=emulator.endpoint, wait_time_seconds=1)
    result = poller.poll_once()
    assert result.received == 1 and result.deleted == [sent] and result.failed == []
    (event, context), = stub.calls
    assert list(event) == ["Records"]
    record, = event["Records"]
    reference = load_fixture("sqs_fifo_event.json")["Records"][0]
    ours = {k: v for k, v in record.items() if k != "md5OfMessageAttributes"}
    ours["messageAttributes"] = {k: v for k, v in ours["messageAttributes"].items() if k != "blob"}
    assert_same_shape(ours, reference, {"$.messageAttributes"})
    assert record["messageId"] == sent and record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == REGION
    assert record["eventSourceARN"] == f"arn:aws:sqs:{REGION}:{EMULATOR_ACCOUNT_ID}:{url.rsplit('/', 1)[1]}"
    attrs = record["attributes"]
    assert attrs["MessageGroupId"] == "stripe" and attrs["MessageDeduplicationId"] == "abc"
    assert attrs["ApproximateReceiveCount"] == "1" and attrs["SequenceNumber"].isdigit()
    assert int(attrs["ApproximateFirstReceiveTimestamp"]) >= int(attrs["SentTimestamp"]) > 0
    assert record["messageAttributes"] == {
        "provider": {"stringValue": "stripe", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "size": {"stringValue": "42", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "blob": {"binaryValue": "AP8=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert context.function_name == "process"
    assert counts(sqs, url) == (0, 0)  # succeeded: deleted


def test_partial_batch_deletes_exactly_the_successes(emulator, sqs, fifo):
    url, _ = fifo
    ids = [send(sqs, url, f"m{i}", group=f"g{i}") for i in range(4)]
    poison = ids[1]
    stub = Recorder(lambda event: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "m1"]})
    poller = SqsPoller(url, stub, endpoint_url=emulator.endpoint, batch_size=10, wait_time_seconds=1,
                       visibility_timeout=1)
    result = poller.poll_once()
    assert result.received == 4, "moto hands out one message per group per receive? got %d" % result.received
    assert sorted(result.deleted) == sorted(set(ids) - {poison}) and result.failed == [poison]
    assert counts(sqs, url) == (0, 1)  # the failure is in flight, not deleted
    # After the short visibility override it comes back, received a second time.
    again = wait_for(lambda: poller.poll_once().received and stub.events[-1], 5, what="redelivery")
    record, = again["Records"]
    assert record["messageId"] == poison and record["attributes"]["ApproximateReceiveCount"] == "2"


def test_handler_exception_fails_the_whole_batch(emulator, sqs, fifo, capfd):
    url, _ = fifo
    send(sqs, url, "a", group="ga")
    send(sqs, url, "b", group="gb")
    poller = SqsPoller(url, failing_handler, endpoint_url=emulator.endpoint, wait_time_seconds=1)
    result = poller.poll_once()
    assert result.received == 2 and result.deleted == [] and len(result.failed) == 2
    assert "RuntimeError" in result.error
    assert counts(sqs, url) == (0, 2)
    assert "boom" in capfd.readouterr().err


@pytest.mark.parametrize("response,expected", [
    (None, []), ({}, []), ({"batchItemFailures": []}, []), ({"batchItemFailures": None}, []), ("ok", []),
    ({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "b"}]}, ["b"]),
])
def test_failed_ids_success_shapes(response, expected):
    assert failed_ids(response, ["a", "b"]) == expected


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": ""}]}, {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"itemId": "a"}]}, {"batchItemFailures": [{"itemIdentifier": "zzz"}]},
    {"batchItemFailures": "a"}, {"batchItemFailures": [{"itemIdentifier": "a"}], "x": object()},
])
def test_malformed_response_fails_the_whole_batch(response):
    with pytest.raises(ValueError):
        failed_ids(response, ["a", "b"])


def test_poison_message_is_redriven_to_the_fifo_dlq_after_max_receive_count(emulator, sqs, fifo):
    url, dlq_url = fifo
    poison = send(sqs, url, "poison", group="stripe", dedup="p1")
    seen = Recorder(lambda event: {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                                         for r in event["Records"]]})
    # The 1 s visibility override is what lets the DLQ fill within the deadline (the queue's own is 300 s).
    with SqsPoller(url, seen, endpoint_url=emulator.endpoint, wait_time_seconds=1, visibility_timeout=1):
        moved = wait_for(lambda: sqs.receive_message(
            QueueUrl=dlq_url, AttributeNames=["All"], MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0).get("Messages"), 15, interval=0.2, what="the DLQ")
    # Received exactly maxReceiveCount times by the handler, then moved by SQS (moto) on the next receive.
    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for e in seen.events for r in e["Records"]]
    assert receive_counts == ["1", "2", "3"]
    msg, = moved
    assert msg["MessageId"] == poison and msg["Body"] == "poison"
    assert msg["Attributes"]["MessageGroupId"] == "stripe"
    assert counts(sqs, url) == (0, 0)


def test_queue_visibility_timeout_is_left_alone(emulator, sqs, fifo):
    url, _ = fifo
    send(sqs, url, "x")
    poller = SqsPoller(url, Recorder({"batchItemFailures": []}), endpoint_url=emulator.endpoint,
                       wait_time_seconds=1, visibility_timeout=1)
    poller.poll_once()
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "300"


def test_background_poller_hands_over_each_message_and_stops_cleanly(emulator, sqs, fifo):
    """Each message sent during a long poll reaches the handler; stop ends the thread within its
    documented bound (one long poll + 5 s). The latency itself is measured by bench/bench_poller.py."""
    url, _ = fifo
    stub = Recorder()
    poller = SqsPoller(url, stub, endpoint_url=emulator.endpoint, wait_time_seconds=2).start()
    try:
        time.sleep(0.3)  # the poller is now inside a long poll
        for i in range(5):
            stub.called.clear()
            send(sqs, url, f"n{i}", group=f"g{i}")
            assert stub.called.wait(5), "the handler was not called"
    finally:
        assert poller.stop() is True
    assert [r["body"] for e in stub.events for r in e["Records"]] == [f"n{i}" for i in range(5)]
    assert not poller.running and live_threads("sqs-poller:") == []
    assert wait_for(lambda: counts(sqs, url) == (0, 0), 3, what="deletes")


def test_poller_survives_an_unreachable_emulator_and_still_stops():
    url = f"http://127.0.0.1:{free_port()}/{EMULATOR_ACCOUNT_ID}/gone.fifo"
    poller = SqsPoller(url, Recorder(), endpoint_url=url.rsplit("/", 2)[0], wait_time_seconds=1,
                       max_backoff_s=0.5).start()
    wait_for(lambda: poller.last_error, 5, what="a polling error")
    assert poller.stop(timeout=3) is True  # the thread ended within 3 s: its backoff wait is interruptible


def test_build_record_without_fifo_attributes_or_message_attributes():
    record = build_record({"MessageId": "m", "ReceiptHandle": "r", "Body": "b",
                           "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "S",
                                          "ApproximateFirstReceiveTimestamp": "2"}}, "arn:q", "eu-west-1")
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "S",
                                    "ApproximateFirstReceiveTimestamp": "2"}
    assert record["messageAttributes"] == {} and "md5OfMessageAttributes" not in record
    assert lambda_message_attributes(None) == {}


def _cpu_seconds(pid: int) -> float:
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_blocked_fifo_group_does_not_spin_the_emulator(emulator, sqs, fifo):
    """moto busy-loops a long poll when every visible message's group is in flight; the poller avoids it."""
    url, _ = fifo
    send(sqs, url, "first", group="g")
    send(sqs, url, "second", group="g")
    # The handler fails the first message (Powertools FIFO style: the rest of the group too).
    stub = Recorder(lambda event: {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                                         for r in event["Records"]]})
    poller = SqsPoller(url, stub, endpoint_url=emulator.endpoint, batch_size=1, wait_time_seconds=1)
    assert poller.poll_once().failed  # "first" stays in flight for the queue's 300 s; "second" is visible
    cpu_before = _cpu_seconds(emulator.process.pid)
    with poller:
        time.sleep(2.5)
    spent = _cpu_seconds(emulator.process.pid) - cpu_before
    assert len(stub.calls) == 1  # FIFO: "second" is not delivered while "first" is in flight
    assert spent < 1.0, f"the emulator burnt {spent:.1f} s of CPU in 2.5 s"
