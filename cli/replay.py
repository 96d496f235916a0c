"""`webhookctl replay`: publish archived deliveries to the bus again.

For a consumer that lost events or was added later. The records are found
through the table's `by_provider` index (provider, received_at), the payloads
read from the S3 archive, and each event is the processor's own event
(handlers.process.event_entry) with `"replayed": true` and `replayed_at`
added, so consumers can tell a replay from a first delivery.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from .errors import WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]


def parse_time(value: str | None, default: dt.datetime) -> str:
    """An ISO-8601 instant (a date alone means its start, UTC) in the records' format."""
    if value is None:
        moment = default
    else:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise WebhookctlError(f"'{value}' is not an ISO-8601 date or time (e.g. 2026-11-29 or 2026-11-29T08:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def find_records(ddb, table: str, providers: Iterable[str], since: str, until: str, status: str | None,
                 limit: int) -> list[dict]:
    found: list[dict] = []
    for provider in providers:
        kwargs = {
            "TableName": table, "IndexName": "by_provider",
            "KeyConditionExpression": "provider = :p AND received_at BETWEEN :since AND :until",
            "ExpressionAttributeValues": {":p": {"S": provider}, ":since": {"S": since}, ":until": {"S": until}},
        }
        if status:
            kwargs["FilterExpression"] = "#s = :status"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = {"S": status}
        while len(found) < limit:
            page = ddb.query(**kwargs)
            found += [{k: next(iter(v.values())) for k, v in item.items()} for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(found, key=lambda r: r["received_at"])[:limit]


def replay(ws: Workspace, *, providers: tuple[str, ...], since: str | None, until: str | None, status: str | None,
           limit: int, dry_run: bool, log: Log) -> dict:
    from handlers.process import PUT_EVENTS_CHUNK, event_entry, payload_fields

    from .operations import env_client, require_provider
    from .stack_ops import known_outputs

    for provider in providers:
        require_provider(ws, provider)
    now = dt.datetime.now(dt.timezone.utc)
    window = (parse_time(since, now - dt.timedelta(days=1)), parse_time(until, now))
    if window[0] > window[1]:
        raise WebhookctlError(f"--since {window[0]} is after --until {window[1]}")
    outputs = known_outputs(ws, log)
    ddb = env_client(ws, "dynamodb")
    records = find_records(ddb, outputs.table_name, providers or sorted(ws.config.providers),
                           window[0], window[1], status, limit)
    summary = {"since": window[0], "until": window[1], "matched": len(records), "published": 0, "failed": [],
               "webhook_ids": [r["webhook_id"] for r in records], "dry_run": dry_run}
    if dry_run or not records:
        log(f"replay: {len(records)} deliveries match" + (" (dry run: nothing published)" if dry_run else ""))
        return summary
    s3, events = env_client(ws, "s3"), env_client(ws, "events")
    limit_bytes = ws.config.limits.inline_payload_limit
    replayed_at = parse_time(None, now)
    entries = []
    for record in records:
        size = int(record.get("size", limit_bytes + 1))
        fields = {"payload_in_s3": True}
        if size <= limit_bytes:
            data = s3.get_object(Bucket=outputs.bucket_name, Key=record["s3_key"])["Body"].read()
            fields = payload_fields(data, limit_bytes)
        entries.append((record["webhook_id"], event_entry(
            record, record.get("processed_at") or replayed_at, fields, outputs.event_bus_name,
            extra={"replayed": True, "replayed_at": replayed_at})))
    for start in range(0, len(entries), PUT_EVENTS_CHUNK):
        chunk = entries[start:start + PUT_EVENTS_CHUNK]
        result = events.put_events(Entries=[entry for _, entry in chunk])
        for (webhook_id, _), outcome in zip(chunk, result["Entries"]):
            if outcome.get("EventId"):
                summary["published"] += 1
            else:
                summary["failed"].append({"webhook_id": webhook_id, "error": outcome.get("ErrorCode")})
    log(f"replay: published {summary['published']} of {len(records)} deliveries"
        + (f"; {len(summary['failed'])} failed (rerun to retry them)" if summary["failed"] else ""))
    if summary["failed"]:
        raise WebhookctlError(f"{len(summary['failed'])} of {len(records)} events were not accepted by EventBridge")
    return summary

