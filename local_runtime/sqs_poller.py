"""An SQS event source mapping, emulated: long-poll a queue, invoke a handler.

moto stores the deployed event source mapping but never polls the queue, so
`webhookctl dev` runs this poller in a background thread. Like Lambda's
poller for an SQS source with `ReportBatchItemFailures`:

- ReceiveMessage with MaxNumberOfMessages = batch size, WaitTimeSeconds,
  AttributeNames All, MessageAttributeNames All and a ReceiveRequestAttemptId;
- one handler call per batch with the exact SQS → Lambda event;
- delete (DeleteMessageBatch) every record not named in `batchItemFailures`;
  the named ones stay in flight and come back after the visibility timeout;
- a handler exception, or a malformed response (an itemIdentifier that is
  empty or not in the batch), fails the whole batch: nothing is deleted;
- the queue's redrive policy then moves a message to the DLQ once it has
  been received maxReceiveCount times. moto applies the redrive on the next
  ReceiveMessage after the message becomes visible again, for FIFO queues too
  (verified by tests/local_runtime/test_local_sqs_poller.py), so the poller
  does not move messages itself.

moto quirk worked around here: a long poll on a FIFO queue whose visible
messages all belong to a message group with a message in flight (exactly the
state a partial batch failure leaves) busy-spins the moto server at 100 % of
a core for the whole WaitTimeSeconds (`Queue.wait_for_messages` returns at
once because messages are visible, and the receive loop skips them). After an
empty long poll the poller therefore checks ApproximateNumberOfMessages; while
messages are visible but not delivered it short-polls (WaitTimeSeconds 0)
every `blocked_poll_interval_s` instead (from the start when a FIFO batch had
failures, the usual cause), and returns to long polling once the queue drains
or delivers again. At most one WaitTimeSeconds of spinning per transition is
left, hence the 1 s default wait.

Visibility timeout. The queue's own timeout is what the stack deploys (6x the
function timeout, as AWS recommends: minutes). The poller never changes the
queue. A caller may pass `visibility_timeout=N`: it is sent as the
VisibilityTimeout parameter of each ReceiveMessage, which SQS applies to the
messages of that receive only. Locally that makes a failed message come back
in N seconds, so a poison message reaches the DLQ in ~maxReceiveCount x N
seconds instead of ~maxReceiveCount x minutes, with the deployed queue
unchanged. Keep N above the handler's worst-case duration, or a message can
be redelivered while it is still being processed (as on AWS).
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local_runtime.emulator import EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS
from local_runtime.function_env import LambdaContext

log = logging.getLogger("webhookctl.sqs_poller")

# The attributes Lambda puts in a record, in its order; FIFO ones only when present.
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)

Handler = Callable[[dict, Any], Any]


@dataclass
class BatchResult:
    """What happened to one received batch."""

    received: int = 0
    deleted: list[str] = field(default_factory=list)  # messageIds
    failed: list[str] = field(default_factory=list)  # messageIds left for redelivery
    error: str | None = None  # handler exception or malformed response
    duration_s: float = 0.0


def queue_arn_from_url(queue_url: str, region: str, account_id: str = EMULATOR_ACCOUNT_ID) -> str:
    """arn:aws:sqs:<region>:<account>:<name> from a queue URL (path /<account>/<name>)."""
    parts = queue_url.rstrip("/").split("/")
    account = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else account_id
    return f"arn:aws:sqs:{region}:{account}:{parts[-1]}"


def lambda_message_attributes(attrs: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """SQS MessageAttributes (boto3 shape) → the Lambda event shape."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (attrs or {}).items():
        item: dict[str, Any] = {}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            item["binaryValue"] = base64.b64encode(raw).decode("ascii") if isinstance(raw, bytes) else raw
        item["stringListValues"] = list(value.get("StringListValues") or [])
        item["binaryListValues"] = [
            base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v
            for v in (value.get("BinaryListValues") or [])
        ]
        item["dataType"] = value.get("DataType", "String")
        out[name] = item
    return out


def build_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS → Lambda event record from a ReceiveMessage message (boto3 shape)."""
    attributes = message.get("Attributes") or {}
    body = message.get("Body", "")
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {k: str(attributes[k]) for k in RECORD_ATTRIBUTES if k in attributes},
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes")),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        # Lambda includes it (after md5OfBody) when the message has attributes.
        record = {**{k: record[k] for k in ("messageId", "receiptHandle", "body", "attributes",
                                            "messageAttributes", "md5OfBody")},
                  "md5OfMessageAttributes": message["MD5OfMessageAttributes"],
                  **{k: record[k] for k in ("eventSource", "eventSourceARN", "awsRegion")}}
    return record


def failed_ids(response: Any, batch_ids: Sequence[str]) -> list[str]:
    """The messageIds a handler reported failed; ValueError when the response is malformed.

    Lambda's rules with ReportBatchItemFailures: None / {} / an empty list means
    all succeeded; an itemIdentifier that is missing, empty or not in the batch
    fails the whole batch.
    """
    if response is None:
        return []
    try:
        json.dumps(response)
    except (TypeError, ValueError):
        raise ValueError(f"the response is not JSON: {type(response).__name__}") from None
    if not isinstance(response, Mapping):
        return []  # valid JSON without batchItemFailures: Lambda counts it a success
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        raise ValueError(f"batchItemFailures must be a list, got {type(failures).__name__}")
    ids: list[str] = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not ident or not isinstance(ident, str) or ident not in batch_ids:
            raise ValueError(f"invalid itemIdentifier {ident!r} in batchItemFailures")
        if ident not in ids:
            ids.append(ident)
    return ids


class SqsPoller:
    """Poll `queue_url` and feed batches to `handler` until `stop()`.

    `poll_once()` runs one receive → invoke → delete cycle synchronously
    (tests, benchmarks); `start()` runs cycles in a daemon thread. `stop()`
    returns within `wait_time_seconds` + the running handler's time + a
    margin: the thread checks the stop flag between cycles, never in the
    middle of a batch, so a batch is never half-deleted by a shutdown.
    """

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        batch_size: int = 10,
        wait_time_seconds: int = 1,
        visibility_timeout: int | None = None,
        function_name: str = "process",
        context_factory: Callable[[str], Any] | None = None,
        queue_arn: str | None = None,
        sqs_client: Any = None,
        max_backoff_s: float = 5.0,
        blocked_poll_interval_s: float = 0.25,
    ):
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1..10 (a FIFO queue's ReceiveMessage maximum)")
        if not 0 <= wait_time_seconds <= 20:
            raise ValueError("wait_time_seconds must be 0..20")
        if visibility_timeout is not None and not 0 <= visibility_timeout <= 43200:
            raise ValueError("visibility_timeout must be 0..43200 seconds")
        self.queue_url = queue_url
        self.handler = handler
        self.region = region
        self.batch_size = batch_size
        self.wait_time_seconds = wait_time_seconds
        self.visibility_timeout = visibility_timeout
        self.queue_arn = queue_arn or queue_arn_from_url(queue_url, region)
        self.context_factory = context_factory or (
            lambda request_id: LambdaContext.local(function_name, region, 30, request_id)
        )
        self.max_backoff_s = max_backoff_s
        self.blocked_poll_interval_s = blocked_poll_interval_s
        self._blocked = False  # visible messages that moto will not deliver yet (group in flight)
        self._sqs = sqs_client or _sqs_client(endpoint_url, region, read_timeout=wait_time_seconds + 10)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.processed = 0
        self.failures = 0
        self.last_error: str | None = None

    # -- one cycle ---------------------------------------------------------
    def receive(self) -> list[dict]:
        """One ReceiveMessage; long poll, or a short one while the visible messages are blocked."""
        wait = 0 if self._blocked else self.wait_time_seconds
        messages = self._receive(wait)
        if messages:
            self._blocked = False
        elif wait or self._blocked:
            self._blocked = self._visible_count() > 0
            if self._blocked:
                self._stop.wait(self.blocked_poll_interval_s)
        return messages

    def _visible_count(self) -> int:
        attrs = self._sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                               AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))

    def _receive(self, wait: int) -> list[dict]:
        params: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.batch_size,
            "WaitTimeSeconds": wait,
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
            "ReceiveRequestAttemptId": uuid.uuid4().hex,
        }
        if self.visibility_timeout is not None:
            params["VisibilityTimeout"] = self.visibility_timeout
        return self._sqs.receive_message(**params).get("Messages", [])

    def poll_once(self) -> BatchResult:
        """Receive one batch (waiting up to wait_time_seconds), invoke, delete what succeeded."""
        messages = self.receive()
        if not messages:
            return BatchResult()
        return self.process_batch(messages)

    def process_batch(self, messages: Sequence[Mapping[str, Any]]) -> BatchResult:
        started = time.monotonic()
        records = [build_record(m, self.queue_arn, self.region) for m in messages]
        ids = [r["messageId"] for r in records]
        result = BatchResult(received=len(records))
        request_id = str(uuid.uuid4())
        try:
            response = self.handler({"Records": records}, self.context_factory(request_id))
            result.failed = failed_ids(response, ids)
        except Exception as exc:  # noqa: BLE001 - Lambda treats any failure as "whole batch failed"
            result.failed = list(ids)
            result.error = f"{type(exc).__name__}: {exc}"
            sys.stderr.write(f"[sqs-poller {request_id}] batch of {len(ids)} failed, all will be retried:\n"
                             f"{traceback.format_exc()}")
            sys.stderr.flush()
        if result.failed and self.queue_url.endswith(".fifo"):
            self._blocked = True  # their groups stay in flight: later messages would spin moto
        to_delete = [r for r in records if r["messageId"] not in result.failed]
        result.deleted = self._delete([r for r in to_delete])
        result.duration_s = time.monotonic() - started
        with self._lock:
            self.batches += 1
            self.processed += len(result.deleted)
            self.failures += len(result.failed)
        return result

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        deleted: list[str] = []
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            resp = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for ok in resp.get("Successful", []):
                deleted.append(chunk[int(ok["Id"])]["messageId"])
            for bad in resp.get("Failed", []):
                log.warning("could not delete %s: %s %s", chunk[int(bad["Id"])]["messageId"],
                            bad.get("Code"), bad.get("Message"))
        return deleted

    # -- background thread -------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "SqsPoller":
        if self.running:
            return self
        self._stop.clear()
        name = f"sqs-poller:{self.queue_url.rsplit('/', 1)[-1]}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - keep polling through emulator hiccups
                self.last_error = f"{type(exc).__name__}: {exc}"
                backoff = min(self.max_backoff_s, max(0.2, backoff * 2))
                log.warning("polling %s failed (%s); retrying in %.1f s", self.queue_url, self.last_error, backoff)
                self._stop.wait(backoff)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop polling; True when the thread ended within timeout (default: one poll + 5 s)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(self.wait_time_seconds + 5.0 if timeout is None else timeout)
        return not thread.is_alive()

    def __enter__(self) -> "SqsPoller":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _sqs_client(endpoint_url: str | None, region: str, read_timeout: float):
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {}
    if endpoint_url:
        kwargs.update(
            endpoint_url=endpoint_url,
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=EMULATOR_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
    config = Config(connect_timeout=2, read_timeout=read_timeout, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("sqs", region_name=region, config=config, **kwargs)
