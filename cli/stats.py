"""`webhookctl stats`: the numbers a person looks at first when something seems wrong.

- deliveries per provider and status over the window: the records index Queried per provider and
  day, each page's records read whole for their status (`cli.events.iter_records`, never a Scan);
- the oldest delivery still `queued` in the window, and its age;
- the depths of the ingest queue, its dead-letter queue and the targets' dead-letter queue
  (GetQueueAttributes' approximate counts:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html);
- per route, what its target took, failed and dead-lettered (`cli.targets.target_stats`, from
  EventBridge's metrics; on the emulator the local deliverer of http targets puts the same ones).
"""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any, Callable, Sequence

from .workspace import Workspace

Log = Callable[[str], None]

STATUS_COLUMNS = ("processed", "queued", "failed", "received")
WAITING = ("queued", "received")  # not processed yet (`received`: records of the previous write order)
# CloudWatch keeps hourly data points for 63 days, but the targets' counts are about now: two weeks at most.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention
MAX_TARGET_HOURS = 24 * 14


def delivery_counts(ws: Workspace, providers: Sequence[str], since: str, until: str, *, ddb=None,
                    now: dt.datetime | None = None, on_record: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Per provider and status, and the oldest delivery still waiting; `on_record` sees each record read
    (the console's chart: one pass for both)."""
    from .events import Query, age_seconds, iter_records

    counts: dict[str, Counter] = {p: Counter() for p in providers}
    oldest = None
    for record in iter_records(ws, Query(tuple(providers), since, until), ddb=ddb):
        if on_record is not None:
            on_record(record)
        counts[record["provider"]][record.get("status") or "unknown"] += 1
        if record.get("status") in WAITING:
            oldest = record  # newest first: the last one seen is the oldest
    rows = [{"provider": p, "total": sum(c.values()), **{s: c.get(s, 0) for s in STATUS_COLUMNS}}
            for p, c in counts.items()]
    waiting = None
    if oldest is not None:
        waiting = {"webhook_id": oldest["webhook_id"], "provider": oldest["provider"],
                   "received_at": oldest["received_at"], "age_seconds": age_seconds(oldest["received_at"], now)}
    return {"providers": rows, "oldest_queued": waiting}


def queue_depths(ws: Workspace, *, sqs=None, log: Log | None = None) -> dict[str, Any]:
    from handlers.contract import bus_name, targets_dlq_name

    from .operations import env_client
    from .stack_ops import known_outputs

    outputs = known_outputs(ws, log or (lambda line: None))
    sqs = sqs or env_client(ws, "sqs")
    depths = {"queue": _depth(sqs, outputs.queue_url), "dlq": _depth(sqs, outputs.dlq_url)}
    depths["targets_dlq"] = _depth(sqs, _queue_url(sqs, targets_dlq_name(bus_name(ws.stack))))
    return depths


def _queue_url(sqs, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError:
        return None  # not deployed (a stack with no routes has no targets' DLQ)


def _depth(sqs, url: str | None) -> dict[str, int] | None:
    if url is None:
        return None
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return {"waiting": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))}


def stats(ws: Workspace, *, since: str | None = None, until: str | None = None, providers: Sequence[str] = (),
          ddb=None, sqs=None, cloudwatch=None, log: Log | None = None, now: dt.datetime | None = None,
          on_record: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Everything `webhookctl stats` shows, as plain data."""
    from .events import window
    from .operations import require_provider
    from .targets import target_stats

    for provider in providers:
        require_provider(ws, provider)
    now = now or dt.datetime.now(dt.timezone.utc)
    first, last = window(since, until, now)
    counts = delivery_counts(ws, sorted(providers or ws.config.providers), first, last, ddb=ddb, now=now,
                             on_record=on_record)
    hours = _hours(first, last)
    return {"since": first, "until": last, **counts, "queues": queue_depths(ws, sqs=sqs, log=log),
            "targets": target_stats(ws, hours=hours, now=now, cloudwatch=cloudwatch), "target_hours": hours}


def _hours(since: str, until: str) -> int:
    """The window in whole hours, for the targets' metrics (at most the span their hourly points are kept)."""
    span = dt.datetime.fromisoformat(until) - dt.datetime.fromisoformat(since)
    return min(MAX_TARGET_HOURS, max(1, math.ceil(span.total_seconds() / 3600)))


# --------------------------------------------------------------------------- for people


def render(doc: dict[str, Any]) -> str:
    from .output import Column, key_values, table

    busy = [row for row in doc["providers"] if row["total"]]
    quiet = len(doc["providers"]) - len(busy)
    parts = [f"deliveries received {doc['since']} .. {doc['until']}"]
    if busy:
        parts.append(table(busy, [Column("provider"), Column("total", align="right"),
                                  *[Column(s, align="right") for s in STATUS_COLUMNS]]))
    if quiet:
        parts.append(f"({quiet} other provider(s): none)" if busy else f"none from any of the {quiet} provider(s)")
    parts.append("")
    queues, waiting = doc["queues"], doc["oldest_queued"]
    parts += ["queues", key_values({
        "ingest queue": _depth_text(queues["queue"]),
        "ingest DLQ": _depth_text(queues["dlq"]),
        "targets' DLQ": _depth_text(queues["targets_dlq"]),
        "oldest queued": (f"{waiting['provider']} {waiting['webhook_id']}, received {waiting['received_at']} "
                          f"({int(waiting['age_seconds'])} s ago)") if waiting else "none waiting",
    }), ""]
    if doc["targets"]:
        parts += [f"route targets (last {doc['target_hours']} h)", table(doc["targets"], [
            Column("route"), Column("target"), Column("delivered", align="right"), Column("retried", align="right"),
            Column("failed", align="right"), Column("dead_lettered", "dead-lettered", align="right"),
            Column("lost", align="right")])]
        if any(row["delivered"] is None for row in doc["targets"]):
            parts.append("(-: not measured here; the emulator delivers these targets without EventBridge's metrics)")
    return "\n".join(parts).rstrip()


def _depth_text(depth: dict[str, int] | None) -> str:
    if depth is None:
        return "not deployed"
    return f"{depth['waiting']} waiting, {depth['in_flight']} in flight"
