"""Process: SQS FIFO batch -> EventBridge events, partial batch response.

Per batch:
1. One DynamoDB BatchGetItem (ConsistentRead) over the distinct webhook_ids:
   records already `processed` publish nothing and succeed (a redelivery).
2. Per record to publish, in order: S3 GetObject only when the payload can be
   inlined (`size` from the message <= INLINE_PAYLOAD_LIMIT), then the event.
   The detail carries `payload` (the parsed JSON; a non-JSON UTF-8 body is
   inlined as a JSON string; a non-UTF-8 body is never inlined) or
   `"payload_in_s3": true` when the payload is too big or the whole entry
   would exceed EventBridge's 256 KiB.
3. PutEvents in chunks of 10, checking EVERY entry: a failed entry is a
   failed record.
4. UpdateItem per published record: status `processed`, processed_at,
   attempts = ApproximateReceiveCount (condition: not already processed).
   If it fails after a successful publish it is retried, and if it still
   fails the record is NOT reported failed (a redelivery would publish
   twice): a log line and the `mark_processed_failed` metric instead.
5. FIFO semantics: once a record of a message group fails, every later
   record of that group is reported failed and is not published. If a later
   record of the group was already published in the same PutEvents call, it
   is reported failed but marked processed, so its redelivery publishes
   nothing. A failing record on its last receive (>= MAX_RECEIVE_COUNT) is
   marked `failed`: the message is about to move to the DLQ.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from . import aws
from . import observability as obs
from .contract import AWS_LIMITS, EVENT_DETAIL_TYPE, EVENT_SOURCE, Pointer, Settings, iso_timestamp

SOURCE = EVENT_SOURCE
DETAIL_TYPE = EVENT_DETAIL_TYPE
MAX_ENTRY_BYTES = AWS_LIMITS.put_events_entry_bytes
PUT_EVENTS_CHUNK = AWS_LIMITS.put_events_max_entries


def _now_iso() -> str:
    return iso_timestamp(datetime.now(timezone.utc))


class Record:
    __slots__ = ("message_id", "group", "receive_count", "pointer", "ok", "published", "reason")

    def __init__(self, raw: Mapping[str, Any]):
        attributes = raw.get("attributes") or {}
        self.message_id: str = raw.get("messageId", "")
        self.group: str = attributes.get("MessageGroupId") or ""
        try:
            self.receive_count = int(attributes.get("ApproximateReceiveCount") or 1)
        except ValueError:
            self.receive_count = 1
        parsed = Pointer.from_json(raw.get("body"))
        pointer = parsed.as_dict() if parsed else None
        self.pointer: dict[str, Any] | None = pointer
        self.ok: bool | None = None  # None: not decided yet
        self.published = False
        self.reason: str | None = None if pointer else "malformed_message"

    @property
    def webhook_id(self) -> str:
        return self.pointer["webhook_id"] if self.pointer else ""

    @property
    def provider(self) -> str:
        return (self.pointer or {}).get("provider") or "_unknown"


# --------------------------------------------------------------------------- AWS steps


def processed_ids(ids: list[str]) -> set[str] | None:
    """The ids whose record is `processed` (one BatchGetItem); None if it could not be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not ids:
        return set()
    table = Settings.from_env().table_name
    request = {
        table: {
            "Keys": [{"webhook_id": {"S": i}} for i in ids],
            "ConsistentRead": True,
            "ProjectionExpression": "webhook_id, #s",
            "ExpressionAttributeNames": {"#s": "status"},
        }
    }
    done: set[str] = set()
    for _ in range(3):  # UnprocessedKeys are retried; what is left after that counts as unknown
        try:
            response = aws.client("dynamodb").batch_get_item(RequestItems=request)
        except (ClientError, BotoCoreError) as exc:
            obs.log("ERROR", "batch_get_item failed", error=aws.error_code(exc))
            return None
        for item in response.get("Responses", {}).get(table, []):
            if item.get("status", {}).get("S") == "processed":
                done.add(item["webhook_id"]["S"])
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return done
    return None


def _payload_fields(record: Record, limit: int) -> dict[str, Any] | None:
    """`{"payload": ...}` or `{"payload_in_s3": True}`; None when S3 could not be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    size = record.pointer.get("size")
    if not isinstance(size, int) or size > limit:
        return {"payload_in_s3": True}
    try:
        obj = aws.client("s3").get_object(Bucket=Settings.from_env().bucket_name, Key=record.pointer["s3_key"])
        data = obj["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        obs.log("ERROR", "get_object failed", webhook_id=record.webhook_id, provider=record.provider,
                error=aws.error_code(exc))
        return None
    return payload_fields(data, limit)


def payload_fields(data: bytes, limit: int) -> dict[str, Any]:
    """The archived bytes as the event carries them: parsed JSON, a UTF-8 string, or a claim check."""
    if len(data) > limit:
        return {"payload_in_s3": True}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"payload_in_s3": True}
    try:
        return {"payload": json.loads(text)}
    except ValueError:
        return {"payload": text}


def build_entry(record: Record, processed_at: str, limit: int, bus: str) -> dict[str, Any] | None:
    fields = _payload_fields(record, limit)
    if fields is None:
        return None
    return event_entry(record.pointer, processed_at, fields, bus)


def event_entry(p: Mapping[str, Any], processed_at: str, fields: Mapping[str, Any], bus: str,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The PutEvents entry for one record (ARCHITECTURE.md's event); a claim check when it would not fit.

    `fields` is `{"payload": ...}` or `{"payload_in_s3": True}`; `extra` adds detail keys (replays).
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
    text = json.dumps({**detail, **fields}, separators=(",", ":"), ensure_ascii=False)
    # EventBridge counts Time (14 bytes), Source, DetailType and Detail against the entry limit.
    if len(text.encode("utf-8")) + len(SOURCE) + len(DETAIL_TYPE) + 14 > MAX_ENTRY_BYTES:
        text = json.dumps({**detail, "payload_in_s3": True}, separators=(",", ":"), ensure_ascii=False)
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": text, "EventBusName": bus}


def put_events(entries: list[dict[str, Any]]) -> list[bool]:
    """One PutEvents call; True per entry that EventBridge accepted."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = aws.client("events").put_events(Entries=entries)
    except (ClientError, BotoCoreError) as exc:
        obs.log("ERROR", "put_events failed", error=aws.error_code(exc), entries=len(entries))
        return [False] * len(entries)
    results = response.get("Entries") or []
    return [
        i < len(results) and bool(results[i].get("EventId")) and not results[i].get("ErrorCode")
        for i in range(len(entries))
    ]


def _update(record: Record, status: str, processed_at: str | None) -> None:
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":status": {"S": status},
        ":processed": {"S": "processed"},
        ":attempts": {"N": str(record.receive_count)},
    }
    expression = "SET #s = :status, attempts = :attempts"
    if processed_at:
        expression += ", processed_at = :at"
        values[":at"] = {"S": processed_at}
    aws.client("dynamodb").update_item(
        TableName=Settings.from_env().table_name,
        Key={"webhook_id": {"S": record.webhook_id}},
        UpdateExpression=expression,
        ConditionExpression="#s <> :processed",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def mark(record: Record, status: str, processed_at: str | None, attempts: int = 1) -> bool:
    """UpdateItem with retries; True when the record is (now or already) in that state."""
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(attempts):
        try:
            _update(record, status, processed_at)
            return True
        except (ClientError, BotoCoreError) as exc:
            code = aws.error_code(exc)
            if code == "ConditionalCheckFailedException":
                return True  # already processed (or the record is gone): nothing to do
            obs.log("WARNING", f"marking {status} failed", webhook_id=record.webhook_id,
                    provider=record.provider, error=code, attempt=attempt + 1)
    return False


# --------------------------------------------------------------------------- the batch


def process_batch(raw_records: list[Mapping[str, Any]], metrics: obs.Metrics) -> list[str]:
    """Returns the messageIds to report as failed (in batch order)."""
    records = [Record(r) for r in raw_records]
    position = {id(r): i for i, r in enumerate(records)}
    settings = Settings.from_env()
    limit = settings.inline_payload_limit
    max_receive = settings.max_receive_count
    bus = settings.event_bus_name
    group_failed_at: dict[str, int] = {}  # group -> position of its first failed record
    first_of: dict[str, Record] = {}  # webhook_id -> its first record in this batch
    copy_of: dict[int, Record] = {}  # id(later duplicate) -> first record

    def fail(record: Record, reason: str) -> None:
        record.ok = False
        record.reason = record.reason or reason
        at = position[id(record)]
        if at < group_failed_at.get(record.group, at + 1):
            group_failed_at[record.group] = at

    def blocked(record: Record) -> bool:
        return group_failed_at.get(record.group, len(records)) < position[id(record)]

    for record in records:
        if record.pointer is None:
            fail(record, "malformed_message")
        elif record.webhook_id in first_of:  # the same delivery twice in one batch: mirrors the first
            copy_of[id(record)] = first_of[record.webhook_id]
        else:
            first_of[record.webhook_id] = record

    done = processed_ids(list(first_of))
    for record in first_of.values():
        if done is None:
            fail(record, "status_unreadable")
        elif record.webhook_id in done:
            record.ok = True
            metrics.add("already_processed", record.provider)

    pending = [r for r in records if r.ok is None and id(r) not in copy_of]
    while pending:
        chunk: list[tuple[Record, dict[str, Any]]] = []
        processed_at = _now_iso()
        while pending and len(chunk) < PUT_EVENTS_CHUNK:
            record = pending.pop(0)
            if blocked(record):  # never publish past a failure of the same group
                fail(record, "earlier_in_group_failed")
                continue
            entry = build_entry(record, processed_at, limit, bus)
            if entry is None:
                fail(record, "payload_unreadable")
                continue
            chunk.append((record, entry))
        if not chunk:
            continue
        results = put_events([entry for _, entry in chunk])
        for (record, _), accepted in zip(chunk, results):
            if accepted:
                record.published = True
                metrics.add("published", record.provider)
            else:
                fail(record, "put_events_failed")
        for record, _ in chunk:
            if record.published and not mark(record, "processed", processed_at, attempts=3):
                metrics.add("mark_processed_failed", record.provider)
                obs.log("ERROR", "published but not marked processed", webhook_id=record.webhook_id,
                        provider=record.provider)

    failures: list[str] = []
    for record in records:  # batch order: a group's first failure is known before its later records
        first = copy_of.get(id(record))
        if first is not None and first.ok is False:
            fail(record, first.reason or "duplicate_failed")
        elif record.ok is not False:
            if blocked(record):
                fail(record, "earlier_in_group_failed")
            else:
                record.ok = True
        if record.ok:
            if record.published:
                obs.log("INFO", "webhook processed", outcome="processed", webhook_id=record.webhook_id,
                        provider=record.provider, attempts=record.receive_count)
            continue
        failures.append(record.message_id)
        metrics.add("failed", record.provider, record.reason)
        last = record.receive_count >= max_receive
        if last and record.pointer is not None and not record.published and first is None:
            mark(record, "failed", None)
        obs.log("WARNING", "record failed", outcome="failed", webhook_id=record.webhook_id or None,
                provider=record.provider, reason=record.reason, attempts=record.receive_count,
                to_dlq=last)
    return failures


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = obs.Metrics()
    try:
        failures = process_batch(list(event.get("Records") or []), metrics)
    finally:
        metrics.flush()
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
