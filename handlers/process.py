"""Process: SQS FIFO batch -> EventBridge events, partial batch response.

The batch is read once, then handled one step at a time, each a pass over the
records in batch order. `Batch` holds the records and the FIFO rule (the model
is Powertools' `SqsFifoPartialProcessor`): once a record fails, every later
record of its message group is reported failed.

1. Read (`Batch`): each message body is a pointer (`contract.Pointer`) to a
   `contract.webhook_id`; one that is not fails alone. A delivery that appears
   twice mirrors its first copy.
2. Skip what is done (`skip_processed`): one DynamoDB BatchGetItem
   (ConsistentRead) reads the records of the distinct webhook_ids whole. Records already `processed`
   publish nothing and succeed (a redelivery). A record not written yet is not
   an error: ingest writes the record last (handlers/ingest.py), so its message
   can arrive first; the pointer carries the record's attributes and the mark
   (step 4) writes them. Only a pointer from before that order fails then.
3. Publish (`publish`), in order. Per record, the payload comes from the
   message (ingest carries it as the `payload` attribute when it fits), from S3
   GetObject when the message did not carry an inline-size payload, or nowhere:
   a claim check (`payload_source`). The detail carries `payload` (the parsed
   JSON; a non-JSON UTF-8 body as a JSON string) or `"payload_in_s3": true`, a
   claim check, when the payload is too big, is not UTF-8, is JSON nested too
   deep to parse, or the entry would not fit EventBridge's entry limit. Entries
   go out in PutEvents requests of at most 10 entries and PUT_EVENTS_MAX_BYTES
   in total, counted the way EventBridge counts them; EVERY entry of the answer
   is checked (a failed entry is a failed record), and a request refused for
   its size is split and sent again. A record of a group that failed is not
   published.
4. Mark (after each request): one BatchWriteItem writes the published records
   back whole (as read in step 2, or as ingest writes them when not written yet:
   contract.record_attributes) with status `processed`, processed_at and
   attempts = ApproximateReceiveCount (`mark_processed` says why unconditional
   puts are safe). Unprocessed items are retried; one still unmarked after a
   successful publish is NOT reported failed (a redelivery would publish
   twice): a log line and the `mark_processed_failed` metric instead.
5. Report (`report`), in batch order: a failed record, every later record of
   its group, and the copies of failed records. A later record of the group
   already published in the same PutEvents request is reported failed but
   marked processed, so its redelivery publishes nothing. A failing record on
   its last receive (>= MAX_RECEIVE_COUNT) is marked `failed`: the message is
   about to move to the DLQ.

No exception escapes one record's work to fail the others. Before each AWS call
the invocation's remaining time is checked against the worst case of the calls
still needed: work that could not finish is not started and its records are
reported failed (so retried), never left to a Lambda timeout, which would retry
the whole batch, published records included.

So a record under the inline limit costs 0.3 AWS calls in a batch of 10: a tenth
of the BatchGetItem, of the PutEvents and of the BatchWriteItem.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping

from . import aws
from . import observability as obs
from .contract import (
    AWS_LIMITS, EVENT_DETAIL_TYPE, EVENT_SOURCE, METRIC_UNKNOWN_PROVIDER, OUT_OF_TIME, PAYLOAD_ATTRIBUTE,
    VERIFY_HEADERS_ATTRIBUTE, Metric, Pointer, Settings, is_webhook_id, iso_timestamp, put_events_entry_bytes,
    record_attributes,
)

SOURCE = EVENT_SOURCE
DETAIL_TYPE = EVENT_DETAIL_TYPE
CLAIM_CHECK = {"payload_in_s3": True}
BLOCKED = "earlier_in_group_failed"


def _now_iso() -> str:
    return iso_timestamp(datetime.now(timezone.utc))


class RecordFailed(Exception):
    """One record cannot be handled now (its reason is reported); the others go on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- the batch


class Record:
    """One SQS record: its place in the batch, its FIFO group, its pointer, and what became of it."""

    __slots__ = ("index", "message_id", "group", "receive_count", "pointer", "carried", "stored", "copy_of",
                 "processed_at", "published", "reason")

    def __init__(self, raw: Any, index: int):
        raw = raw if isinstance(raw, Mapping) else {}
        attributes = raw.get("attributes")
        attributes = attributes if isinstance(attributes, Mapping) else {}
        body = raw.get("body")
        self.index = index
        self.message_id = str(raw.get("messageId") or "")
        self.group = str(attributes.get("MessageGroupId") or "")
        self.receive_count = _receive_count(attributes.get("ApproximateReceiveCount"))
        self.pointer: Pointer | None = Pointer.from_json(body) if isinstance(body, str) else None
        self.carried = carried_payload(raw.get("messageAttributes"), self.pointer)
        # its record as read (low-level); None when it is not written yet: the mark writes it from the pointer
        self.stored: dict[str, Any] | None = None
        self.copy_of: Record | None = None  # the first record of the same delivery in this batch
        self.processed_at: str | None = None
        self.published = False
        self.reason: str | None = None  # why it failed; None while it has not

    @property
    def failed(self) -> bool:
        return self.reason is not None

    @property
    def missing(self) -> bool:
        return self.stored is None

    @property
    def webhook_id(self) -> str:
        return self.pointer.webhook_id if self.pointer else ""

    @property
    def provider(self) -> str:
        return self.pointer.provider if self.pointer else METRIC_UNKNOWN_PROVIDER


def carried_payload(attributes: Any, pointer: Pointer | None) -> bytes | None:
    """The payload ingest put in the message (contract.PAYLOAD_ATTRIBUTE, base64 in Lambda's event), or
    None: absent, not base64, or not the size the pointer says (then S3 is read, as for a large one)."""
    value = attributes.get(PAYLOAD_ATTRIBUTE) if isinstance(attributes, Mapping) else None
    encoded = value.get("binaryValue") if isinstance(value, Mapping) else None
    if not isinstance(encoded, str) or pointer is None:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) == pointer.size else None


def _receive_count(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


class Batch:
    """The records in batch order, and the FIFO rule: `fail()` one, and `blocked()` tells
    whether an earlier record of the same message group has failed."""

    def __init__(self, raw_records: Iterable[Any]):
        self.records = [Record(raw, i) for i, raw in enumerate(raw_records)]
        self._first_failure: dict[str, int] = {}  # message group -> index of its first failed record
        first: dict[str, Record] = {}
        for record in self.records:
            if record.pointer is None or not is_webhook_id(record.pointer.webhook_id):
                self.fail(record, "malformed_message")
            elif record.webhook_id in first:
                record.copy_of = first[record.webhook_id]
            else:
                first[record.webhook_id] = record

    def fail(self, record: Record, reason: str) -> None:
        record.reason = record.reason or reason
        first = self._first_failure.get(record.group)
        if first is None or record.index < first:
            self._first_failure[record.group] = record.index

    def blocked(self, record: Record) -> bool:
        return self._first_failure.get(record.group, record.index) < record.index

    def originals(self) -> list[Record]:
        """The records to look up: a pointer, not a second copy, not failed."""
        return [r for r in self.records if r.pointer is not None and r.copy_of is None and not r.failed]


@dataclass(frozen=True)
class Invocation:
    settings: Settings
    deadline: aws.Deadline
    metrics: obs.Metrics


def process_batch(raw_records: list[Any], metrics: obs.Metrics, context: Any = None) -> list[str]:
    """Returns the messageIds to report as failed (in batch order)."""
    settings = Settings.from_env()
    run = Invocation(settings, aws.Deadline(context, settings), metrics)
    batch = Batch(raw_records)
    pending = skip_processed(batch, run)
    publish(batch, pending, run)
    return report(batch, run)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = obs.Metrics()
    try:
        failures = process_batch(list(event.get("Records") or []), metrics, context)
    finally:
        metrics.flush()
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


# --------------------------------------------------------------------------- step 2: skip what is done


def skip_processed(batch: Batch, run: Invocation) -> list[Record]:
    """The records still to publish. Already `processed` ones succeed. One whose record is not
    written yet (ingest writes it last) is published, and its mark writes the record from the
    pointer; a pointer that cannot (from before ingest wrote last) fails, as does an unreadable status."""
    originals = batch.originals()
    stored = read_records([r.webhook_id for r in originals], run.settings.table_name)
    pending = []
    for record in originals:
        item = None if stored is None else stored.get(record.webhook_id)
        if stored is None:
            batch.fail(record, "status_unreadable")
        elif item is None and not record.pointer.creates_record:
            batch.fail(record, "record_missing")
        elif item is not None and (item.get("status") or {}).get("S") == "processed":
            run.metrics.add(Metric.ALREADY_PROCESSED, record.provider)
        else:
            record.stored = item
            pending.append(record)
    return pending


def read_records(ids: list[str], table: str) -> dict[str, dict[str, Any]] | None:
    """`{webhook_id: record}` of the records that exist, read whole with one consistent BatchGetItem
    (a record is well under 4 KB: one read unit whatever is projected); None if it could not be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not ids:
        return {}
    request = {table: {"Keys": [{"webhook_id": {"S": i}} for i in ids], "ConsistentRead": True}}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(3):  # UnprocessedKeys are retried; what is left after that counts as unknown
        try:
            response = aws.client("dynamodb").batch_get_item(RequestItems=request)
        except (ClientError, BotoCoreError) as exc:
            obs.log("ERROR", "batch_get_item failed", error=aws.error_code(exc))
            return None
        for item in response.get("Responses", {}).get(table, []):
            found[item["webhook_id"]["S"]] = item
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
    return None


# --------------------------------------------------------------------------- steps 3-4: publish, mark


def publish(batch: Batch, pending: list[Record], run: Invocation) -> None:
    """Each pending record's event, in batch order, in requests that fit EventBridge's limits."""
    request = PutEventsRequest(run.settings.put_events_max_bytes)
    for record in pending:
        built = prepare(batch, record, len(request), run)
        if built is None:
            continue
        entry, size = built
        if not request.fits(size):
            send(batch, request, run)
            request = PutEventsRequest(run.settings.put_events_max_bytes)
            if batch.blocked(record):  # the request just sent failed a record of its group
                batch.fail(record, BLOCKED)
                continue
        request.add(record, entry, size)
    send(batch, request, run)


def prepare(batch: Batch, record: Record, queued: int, run: Invocation) -> tuple[dict[str, Any], int] | None:
    """The record's entry and its size; None when the record fails (its reason set) or must wait."""
    if batch.blocked(record):  # never publish past a failure of the same group
        batch.fail(record, BLOCKED)
        return None
    reads = 0 if record.pointer is None or payload_source(record.pointer, record.carried, run.settings) != "s3" else 1
    if not run.deadline.allows(reads + 2):  # its GetObject if any, the PutEvents, the BatchWriteItem that marks
        batch.fail(record, OUT_OF_TIME)
        return None
    try:
        entry = entry_for(record, run.settings)
    except RecordFailed as exc:
        batch.fail(record, exc.reason)
        return None
    except Exception as exc:  # a bug in one record's work fails that record alone
        obs.log("ERROR", "internal error", webhook_id=record.webhook_id, provider=record.provider,
                error=type(exc).__name__)
        run.metrics.add(Metric.INTERNAL_ERROR, record.provider)
        batch.fail(record, "internal_error")
        return None
    return entry, put_events_entry_bytes(entry)


def send(batch: Batch, request: "PutEventsRequest", run: Invocation) -> None:
    """One PutEvents request, then each published record marked `processed`."""
    if not request.entries:
        return
    errors = put_events(request.entries, deadline=run.deadline)
    for record, error in zip(request.items, errors):
        if error is None:
            record.published = True
            run.metrics.add(Metric.PUBLISHED, record.provider)
        elif error == OUT_OF_TIME:  # not sent: no time left to publish and mark it
            batch.fail(record, OUT_OF_TIME)
        else:
            batch.fail(record, "put_events_failed")
            run.metrics.add(Metric.PUBLISH_FAILED, record.provider, error)
    published = [r for r in request.items if r.published]
    unmarked = mark_processed(published, run)
    for record in published:
        if record.webhook_id in unmarked:
            run.metrics.add(Metric.MARK_PROCESSED_FAILED, record.provider)
            obs.log("ERROR", "published but not marked processed", webhook_id=record.webhook_id,
                    provider=record.provider)


def mark_processed(records: list[Record], run: Invocation, attempts: int = 3) -> set[str]:
    """Write each record back whole with status `processed`: one BatchWriteItem for up to 25.

    Unconditional puts are safe here: they only ever write `processed`, a group's messages are
    processed one batch at a time (FIFO), and the item is the record as read (or, not yet
    written, as ingest would write it: `processed_item`), so nothing ingest or the CLI keeps is
    lost. A put that leaves the record's index key and projected attributes as they were writes
    nothing to the index. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
    Unprocessed items are retried while there is time; the webhook_ids left unmarked are returned.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    table = run.settings.table_name
    requests = [{"PutRequest": {"Item": processed_item(r)}} for r in records]
    for attempt in range(attempts):
        if not requests or (attempt and not run.deadline.allows(1)):
            break
        try:
            answer = aws.client("dynamodb").batch_write_item(RequestItems={table: requests})
            requests = (answer.get("UnprocessedItems") or {}).get(table, [])
        except (ClientError, BotoCoreError) as exc:
            obs.log("WARNING", "marking processed failed", error=aws.error_code(exc), attempt=attempt + 1)
    return {r["PutRequest"]["Item"]["webhook_id"]["S"] for r in requests}


def processed_item(record: Record) -> dict[str, Any]:
    """The record as read (or, not written yet, as ingest writes it) with status `processed`."""
    pointer = record.pointer
    item = dict(record.stored) if record.stored is not None else record_attributes(pointer)
    if record.stored is not None and item.get("status", {}).get("S") == "received":
        # written by the previous write order, whose attempt may never have stored its object
        item["s3_key"] = {"S": pointer.s3_key}
    if pointer.verify_headers is not None and VERIFY_HEADERS_ATTRIBUTE not in item:
        item[VERIFY_HEADERS_ATTRIBUTE] = {"M": {k: {"S": v} for k, v in pointer.verify_headers.items()}}
    item.update({"status": {"S": "processed"}, "processed_at": {"S": record.processed_at},
                 "attempts": {"N": str(record.receive_count)}})
    return item


def mark_failed(record: Record, run: Invocation) -> bool:
    """On the last receive: the record `failed` (never off `processed`), written whole if it is not
    yet; True when it is (now or already) past that point."""
    from botocore.exceptions import BotoCoreError, ClientError

    values: dict[str, Any] = {":status": {"S": "failed"}, ":processed": {"S": "processed"},
                              ":attempts": {"N": str(record.receive_count)}}
    names = {"#s": "status"}
    sets = ["#s = :status", "attempts = :attempts"]
    # attribute_exists: an update must never create a record for a pointer to nothing
    condition = "attribute_exists(webhook_id) AND #s <> :processed"
    if record.missing and record.pointer.creates_record:
        sets += _create_record(record.pointer, names, values)
        condition = "attribute_not_exists(webhook_id) OR #s <> :processed"
    try:
        aws.client("dynamodb").update_item(
            TableName=run.settings.table_name, Key={"webhook_id": {"S": record.webhook_id}},
            UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        return True
    except (ClientError, BotoCoreError) as exc:
        code = aws.error_code(exc)
        if code == "ConditionalCheckFailedException":
            return True  # already processed, or there is no record: nothing to do
        obs.log("WARNING", "marking failed failed", webhook_id=record.webhook_id, provider=record.provider, error=code)
        return False


def _create_record(pointer: Pointer, names: dict[str, str], values: dict[str, Any]) -> list[str]:
    """SET clauses writing the record's first-write attributes where ingest has not (`if_not_exists`):
    the same ones ingest's PutItem writes, so the record is the same whichever comes first."""
    sets = []
    for i, (name, value) in enumerate(record_attributes(pointer).items()):
        if name == "webhook_id":
            continue  # the key
        names[f"#a{i}"], values[f":a{i}"] = name, value
        sets.append(f"#a{i} = if_not_exists(#a{i}, :a{i})")
    return sets


# --------------------------------------------------------------------------- step 5: report


def report(batch: Batch, run: Invocation) -> list[str]:
    """The messageIds to report failed, in batch order (a group's first failure comes before its later records).

    Each failure gets its own log line; the published records share one line per batch (their
    records say `processed`, and CloudWatch Logs bills every line: docs/cost.md).
    """
    failures: list[str] = []
    for record in batch.records:
        first = record.copy_of
        if first is not None and first.failed:
            batch.fail(record, first.reason or "duplicate_failed")
        elif batch.blocked(record):
            batch.fail(record, BLOCKED)
        if record.failed:
            failures.append(record.message_id)
            _failed(record, run)
    published = [r.webhook_id for r in batch.records if r.published and not r.failed]
    if published:
        run.metrics.log("INFO", "webhooks processed", outcome="processed", count=len(published), webhook_ids=published)
    return failures


def _failed(record: Record, run: Invocation) -> None:
    run.metrics.add(Metric.FAILED, record.provider, record.reason)
    last = record.receive_count >= run.settings.max_receive_count
    if last and record.pointer is not None and not record.published and record.copy_of is None:
        mark_failed(record, run)
    obs.log("WARNING", "record failed", outcome="failed", webhook_id=record.webhook_id or None,
            provider=record.provider, reason=record.reason, attempts=record.receive_count, to_dlq=last)


# --------------------------------------------------------------------------- events


def entry_for(record: Record, settings: Settings) -> dict[str, Any]:
    """The record's PutEvents entry (RecordFailed when its payload cannot be read)."""
    pointer = record.pointer
    if pointer is None:
        raise RecordFailed("malformed_message")
    fields = _payload_fields(pointer, record.carried, settings)
    record.processed_at = _now_iso()
    return event_entry(pointer.as_dict(), record.processed_at, fields, settings.event_bus_name,
                       max_bytes=settings.put_events_max_bytes)


def payload_source(pointer: Pointer, carried: bytes | None, settings: Settings) -> str:
    """Where the event's payload comes from: "claim_check" (too big, or size unknown), "message"
    (carried, or empty), or "s3" (an inline-size payload the message did not carry)."""
    if pointer.size is None or pointer.size > settings.inline_payload_limit:
        return "claim_check"
    return "message" if carried is not None or pointer.size == 0 else "s3"


def _payload_fields(pointer: Pointer, carried: bytes | None, settings: Settings) -> dict[str, Any]:
    """`{"payload": ...}` or the claim check, reading S3 only for an inline-size payload not carried."""
    from botocore.exceptions import BotoCoreError, ClientError

    limit = settings.inline_payload_limit
    source = payload_source(pointer, carried, settings)
    if source == "claim_check":
        return dict(CLAIM_CHECK)
    if source == "message":
        return payload_fields(carried or b"", limit)
    try:
        obj = aws.client("s3").get_object(Bucket=settings.bucket_name, Key=pointer.s3_key)
        data = obj["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        obs.log("ERROR", "get_object failed", webhook_id=pointer.webhook_id, provider=pointer.provider,
                error=aws.error_code(exc))
        raise RecordFailed("payload_unreadable") from None
    return payload_fields(data, limit)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json accepts NaN/Infinity; EventBridge does not


def payload_fields(data: bytes, limit: int) -> dict[str, Any]:
    """The archived bytes as the event carries them: parsed JSON, a UTF-8 string, or a claim check.

    JSON nested too deep to parse (RecursionError) is a claim check rather than a string:
    `payload` is the parsed body by contract, so a JSON provider's consumers never find a
    string where they expect an object, and the claim check is a path they handle already.
    """
    if len(data) > limit:
        return dict(CLAIM_CHECK)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return dict(CLAIM_CHECK)
    try:
        return {"payload": json.loads(text, parse_constant=_not_json)}
    except RecursionError:
        return dict(CLAIM_CHECK)
    except ValueError:
        return {"payload": text}


def event_entry(p: Mapping[str, Any], processed_at: str, fields: Mapping[str, Any], bus: str,
                extra: Mapping[str, Any] | None = None,
                max_bytes: int = AWS_LIMITS.put_events_entry_bytes) -> dict[str, Any]:
    """The PutEvents entry for one record (the published event of the public contract).

    `fields` is `{"payload": ...}` or the claim check; `extra` adds detail keys (replays).
    The entry becomes a claim check when it would reach `max_bytes` (EventBridge: "less
    than" the limit) or its payload cannot be written as JSON.
    """
    detail = {
        "webhook_id": p["webhook_id"],
        "provider": p["provider"],
        "delivery_id": p.get("delivery_id"),
        "event_type": p.get("event_type"),
        "received_at": p.get("received_at"),
        "processed_at": processed_at,
        "s3_key": p["s3_key"],
        **(extra or {}),
    }
    entry = _entry(bus, {**detail, **fields})
    if entry is None or put_events_entry_bytes(entry) >= max_bytes:
        entry = _entry(bus, {**detail, **CLAIM_CHECK})
    assert entry is not None  # the detail without a payload is flat strings
    return entry


def _entry(bus: str, detail: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        text = json.dumps(detail, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: keep it escaped
        text = json.dumps(detail, separators=(",", ":"), allow_nan=False)
    except (RecursionError, ValueError):
        return None
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": text, "EventBusName": bus}


# --------------------------------------------------------------------------- PutEvents


class PutEventsRequest:
    """The entries of one PutEvents call: at most 10, their total size under `max_bytes`.

    EventBridge limits the entries of a request and their total size, counted as
    `contract.put_events_entry_bytes` does:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html. An entry
    always fits an empty request: EventBridge then judges it alone.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: list[Any] = []
        self.entries: list[dict[str, Any]] = []
        self.size = 0

    def __len__(self) -> int:
        return len(self.entries)

    def fits(self, size: int) -> bool:
        if not self.entries:
            return True
        return len(self.entries) < AWS_LIMITS.put_events_max_entries and self.size + size < self.max_bytes

    def add(self, item: Any, entry: dict[str, Any], size: int) -> None:
        self.items.append(item)
        self.entries.append(entry)
        self.size += size


def put_events_requests(items: Iterable[tuple[Any, dict[str, Any]]], max_bytes: int) -> Iterator[PutEventsRequest]:
    """`(item, entry)` pairs, in order, packed into requests that fit (replay's chunker; process packs as it goes)."""
    request = PutEventsRequest(max_bytes)
    for item, entry in items:
        size = put_events_entry_bytes(entry)
        if not request.fits(size):
            yield request
            request = PutEventsRequest(max_bytes)
        request.add(item, entry, size)
    if request.entries:
        yield request


def put_events(entries: list[dict[str, Any]], client: Any = None, deadline: aws.Deadline | None = None
               ) -> list[str | None]:
    """Send one request: per entry None when EventBridge accepted it, else its error code.

    A request refused for its total size (ValidationException, "Total size of the entries
    in the request is over the limit.") is split in halves and each sent again, so only an
    entry too big on its own fails. With a deadline, a call starts only while there is time
    for it and for marking each of its entries.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if deadline is not None and not deadline.allows(2):  # the PutEvents, and the BatchWriteItem that marks them
        return [OUT_OF_TIME] * len(entries)
    try:
        response = (client or aws.client("events")).put_events(Entries=entries)
    except (ClientError, BotoCoreError) as exc:
        if len(entries) > 1 and refused_for_size(exc):
            half = len(entries) // 2
            return put_events(entries[:half], client, deadline) + put_events(entries[half:], client, deadline)
        obs.log("ERROR", "put_events failed", error=aws.error_code(exc), entries=len(entries))
        return [aws.error_code(exc)] * len(entries)
    results = response.get("Entries") or []
    return [_entry_error(results[i] if i < len(results) else None) for i in range(len(entries))]


def refused_for_size(exc: BaseException) -> bool:
    """EventBridge's answer to a request over its size limit (or a 413 from the front door)."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    if (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") == 413:
        return True
    return error.get("Code") == "ValidationException" and "size" in str(error.get("Message", "")).lower()


def _entry_error(result: Any) -> str | None:
    if not isinstance(result, Mapping):
        return "no_result"
    if result.get("EventId") and not result.get("ErrorCode"):
        return None
    return str(result.get("ErrorCode") or "no_result")
