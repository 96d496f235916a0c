"""`webhookctl replay`: publish archived deliveries to the bus again.

For a consumer that lost events or was added later. Records are found through the
table's records index (`contract.RECORDS_INDEX`, hash key `provider#yyyy-mm-dd`,
range key `received_at`): one Query per provider per UTC day of the window. The
index projects only what never changes, so each page of it is then read whole
(status, s3_key, size) with one consistent BatchGetItem. The payloads come from
the S3 archive, and each event is the processor's own
(`handlers.process.event_entry`) with `"replayed": true` and `replayed_at` added,
so consumers can tell a replay from a first delivery. The events go out in
PutEvents requests packed by EventBridge's size rule, the processor's own
(`handlers.process.put_events_requests`, `put_events`).

A payload the lifecycle moved to Glacier cannot be read until it is restored
(`cli.archive.read_archived`): those deliveries are left out, each named on stderr
with the command that restores it, the others are published, and the replay ends
with one error line saying how many to run again once restored.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable, Iterable

from .archive import ArchivedObject, InGlacier, read_archived
from .errors import NotFound, WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

# BatchGetItem reads at most 100 keys, so an index page of 100 is one BatchGetItem:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
PAGE = 100
# What replay needs of a record; `status` and `size` are DynamoDB reserved words, hence the #names.
FIELDS = ("webhook_id", "provider", "delivery_id", "event_type", "received_at", "processed_at", "s3_key", "size",
          "status")


def parse_time(value: str | None, default: dt.datetime) -> str:
    """An ISO-8601 instant (a date alone means its start, UTC) in the records' format."""
    if value is None:
        moment = default
    else:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise WebhookctlError(f"'{value}' is not an ISO-8601 date or time (e.g. 2026-11-29 or 2026-11-29T08:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def days(since: str, until: str) -> list[str]:
    """The UTC days (yyyy-mm-dd) a window of records' timestamps touches, in order."""
    first, last = dt.date.fromisoformat(since[:10]), dt.date.fromisoformat(until[:10])
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def find_records(ddb, table: str, providers: Iterable[str], since: str, until: str, status: str | None,
                 limit: int) -> list[dict]:
    """Deliveries received in [since, until] (with `status`, if given), oldest first, at most `limit`.

    Days are read in order, every provider for each; once the days read hold `limit`
    matches, a later day cannot hold an earlier one.
    """
    from handlers.contract import provider_day

    providers = list(providers)
    found: list[dict] = []
    for day in days(since, until):
        for provider in providers:
            found += _matches(ddb, table, provider_day(provider, day), (since, until), status, limit)
        if len(found) >= limit:
            break
    return sorted(found, key=lambda r: (r["received_at"], r["webhook_id"]))[:limit]


def _matches(ddb, table: str, key: str, window: tuple[str, str], status: str | None, limit: int) -> list[dict]:
    """One provider-day of the index, in received_at order, page by page, until `limit` records match."""
    from handlers.contract import RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY

    query: dict[str, Any] = {
        "TableName": table, "IndexName": RECORDS_INDEX, "Limit": PAGE,
        "KeyConditionExpression": "#k = :k AND #r BETWEEN :since AND :until",
        "ExpressionAttributeNames": {"#k": RECORDS_INDEX_HASH_KEY, "#r": RECORDS_INDEX_RANGE_KEY},
        "ExpressionAttributeValues": {":k": {"S": key}, ":since": {"S": window[0]}, ":until": {"S": window[1]}},
    }
    matched: list[dict] = []
    while len(matched) < limit:
        page = ddb.query(**query)
        records = read_records(ddb, table, [item["webhook_id"]["S"] for item in page.get("Items", [])])
        matched += [r for r in records if status is None or r.get("status") == status]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return matched


def read_records(ddb, table: str, ids: list[str], attempts: int = 5) -> list[dict]:
    """The records of up to PAGE ids, read whole with one consistent BatchGetItem (unprocessed keys retried)."""
    if not ids:
        return []
    names = {f"#f{i}": name for i, name in enumerate(FIELDS)}
    request = {table: {"Keys": [{"webhook_id": {"S": i}} for i in ids], "ConsistentRead": True,
                       "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}}
    records: list[dict] = []
    for attempt in range(attempts):
        response = ddb.batch_get_item(RequestItems=request)
        records += [{k: next(iter(v.values())) for k, v in item.items()}
                    for item in response.get("Responses", {}).get(table, [])]
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return records
        time.sleep(0.05 * 2 ** attempt)  # DynamoDB throttled part of the batch: back off, then ask for the rest
    left = len(request.get(table, {}).get("Keys", []))
    raise WebhookctlError(f"DynamoDB left {left} records unread (throttled): run the replay again")


def publish(events, entries: list[tuple[str, dict]], max_bytes: int) -> tuple[int, list[dict]]:
    """PutEvents in requests that fit EventBridge's limits: (published, [{webhook_id, error}])."""
    from handlers.process import put_events, put_events_requests

    published, failed = 0, []
    for request in put_events_requests(entries, max_bytes):
        for webhook_id, error in zip(request.items, put_events(request.entries, client=events)):
            if error is None:
                published += 1
            else:
                failed.append({"webhook_id": webhook_id, "error": error})
    return published, failed


def replay(ws: Workspace, *, providers: tuple[str, ...], since: str | None, until: str | None, status: str | None,
           limit: int, dry_run: bool, log: Log) -> dict:
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
    return publish_records(ws, outputs, records, summary, now, log)


def replay_delivery(ws: Workspace, webhook_id: str, *, log: Log) -> dict:
    """Publish one delivery again, whatever its status (the console's Replay): `replay`'s own publishing."""
    from .operations import env_client
    from .stack_ops import known_outputs

    outputs = known_outputs(ws, log)
    records = read_records(env_client(ws, "dynamodb"), outputs.table_name, [webhook_id])
    if not records:
        raise NotFound(f"no delivery {webhook_id} in environment '{ws.env.name}' "
                       "(`webhookctl events list` shows the webhook ids)")
    now = dt.datetime.now(dt.timezone.utc)
    summary = {"matched": 1, "published": 0, "failed": [], "webhook_ids": [webhook_id], "dry_run": False}
    return publish_records(ws, outputs, records, summary, now, log)


def publish_records(ws: Workspace, outputs, records: list[dict], summary: dict, now: dt.datetime, log: Log) -> dict:
    """The records' events published again (marked replayed); one error line for what was not."""
    from .operations import env_client

    entries, frozen = replay_entries(env_client(ws, "s3"), outputs, records, ws.config.limits.inline_payload_limit,
                                     _put_events_max_bytes(ws), parse_time(None, now))
    summary["published"], summary["failed"] = publish(env_client(ws, "events"), entries, _put_events_max_bytes(ws))
    summary["in_glacier"] = [{"webhook_id": wid, "s3_key": archived.key, "storage_class": archived.storage_class,
                              "restoring": archived.restoring} for wid, archived in frozen]
    for wid, archived in frozen:
        log(f"replay: {wid} not replayed: {archived.explain()}")
    log(f"replay: published {summary['published']} of {len(records)} deliveries"
        + (f"; {len(summary['failed'])} failed (rerun to retry them)" if summary["failed"] else ""))
    if summary["failed"]:
        raise WebhookctlError(f"{len(summary['failed'])} of {len(records)} events were not accepted by EventBridge")
    if frozen:
        raise WebhookctlError(f"{len(frozen)} of {len(records)} deliveries are archived in Glacier and were not replayed: "
                              f"restore them as shown above, then run the same replay again")
    return summary


def replay_entries(s3, outputs, records: list[dict], inline_limit: int, max_bytes: int,
                   replayed_at: str) -> tuple[list[tuple[str, dict]], list[tuple[str, ArchivedObject]]]:
    """(webhook_id, the processor's entry marked as a replay) per record, and (webhook_id, where it
    is) of those whose payload is in Glacier and must be restored first."""
    from handlers.process import CLAIM_CHECK, event_entry, payload_fields

    entries, frozen = [], []
    for record in records:
        fields: dict = dict(CLAIM_CHECK)
        if int(record.get("size", inline_limit + 1)) <= inline_limit:
            try:
                data = read_archived(s3, outputs.bucket_name, record["s3_key"])
            except InGlacier as exc:
                frozen.append((record["webhook_id"], exc.archived))
                continue
            fields = payload_fields(data, inline_limit)
        entries.append((record["webhook_id"], event_entry(
            record, record.get("processed_at") or replayed_at, fields, outputs.event_bus_name,
            extra={"replayed": True, "replayed_at": replayed_at}, max_bytes=max_bytes)))
    return entries, frozen


def _put_events_max_bytes(ws: Workspace) -> int:
    """The PutEvents request limit the stack gives process (`[limits] put_events_max_bytes`, added by the
    config owner); the contract's default until the config carries it."""
    from handlers.contract import Settings

    return getattr(ws.config.limits, "put_events_max_bytes", Settings().put_events_max_bytes)
