"""The console's JSON endpoints: each a thin call to the function the CLI command calls.

`ROUTES` maps (method, path pattern) to a function `(ws, request) -> dict`; `cli.console.server`
does the HTTP (token, Host, methods, headers) and turns a `WebhookctlError` into `{"error": ...}`
(`status_for`). Nothing here talks to AWS itself except `alarm_states` (no CLI command lists the
alarms yet).

| endpoint | library call (the CLI command) |
|---|---|
| GET /api/meta | the config (providers, routes), `events.STATUSES` |
| GET /api/overview | `stats.stats` (`webhookctl stats --since 1h`; its records also fill the chart), CloudWatch DescribeAlarms |
| GET /api/deliveries | `events.list_events` (`events list`: provider, type, status, since, until, limit, next) |
| GET /api/deliveries/ID | `events.show_event` + `events.verify_event` (`events show --verify`) |
| POST /api/deliveries/ID/replay | `replay.replay_delivery` (`replay`'s publishing) |
| GET /api/dlq | `dlq.dlq_list`, `dlq.target_dlq_list` per route (`dlq list [--target]`) |
| POST /api/dlq/redrive | `dlq.dlq_redrive` / `dlq.target_dlq_redrive` (`dlq redrive [--target]`) |
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import NotFound, WebhookctlError
from ..workspace import Workspace

CHART_MINUTES = 60
CHART_BUCKET_MINUTES = 5
DLQ_MAX = 100  # messages listed per queue, as `dlq list`'s default --max


@dataclass
class Request:
    """What an endpoint reads: the path's captured id, the query's values, the JSON body."""

    match: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    def one(self, name: str) -> str | None:
        values = [v for v in self.query.get(name, []) if v.strip()]
        if len(values) > 1:
            raise WebhookctlError(f"'{name}' given {len(values)} times: give it once")
        return values[0].strip() if values else None

    def many(self, name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.query.get(name, []) if v.strip())


def _quiet(line: str) -> None:
    """Progress lines the CLI prints on stderr: the console shows results, not progress."""


# --------------------------------------------------------------------------- reads


def meta(ws: Workspace, request: Request) -> dict[str, Any]:
    from ..events import STATUSES

    return {"env": ws.env.name, "stack": ws.stack, "region": ws.env.region, "emulated": ws.env.is_emulated,
            "providers": sorted(ws.config.providers), "statuses": list(STATUSES),
            "routes": [{"name": r.name, "target": r.target} for r in ws.config.routes]}


def overview(ws: Workspace, request: Request, now: dt.datetime | None = None) -> dict[str, Any]:
    """`webhookctl stats --since 1h`, the last hour per provider in buckets, the alarms, and the stages."""
    from ..stats import stats

    now = now or dt.datetime.now(dt.timezone.utc)
    chart = Chart(sorted(ws.config.providers), now)
    doc = stats(ws, since=f"{CHART_MINUTES}m", log=_quiet, now=now, on_record=chart.add)  # one pass for both
    alarms = alarm_states(ws)
    return {**doc, "chart": chart.as_doc(), "alarms": alarms, "stages": stages(ws, doc, alarms)}


class Chart:
    """Deliveries per provider in CHART_BUCKET_MINUTES buckets up to `now`, oldest first."""

    def __init__(self, providers: list[str], now: dt.datetime):
        self.now, self.buckets = now, CHART_MINUTES // CHART_BUCKET_MINUTES
        self.series = {p: [0] * self.buckets for p in providers}

    def add(self, record: dict[str, Any]) -> None:
        moment = dt.datetime.fromisoformat(record["received_at"])
        index = self.buckets - 1 - int((self.now - moment).total_seconds() // (CHART_BUCKET_MINUTES * 60))
        if 0 <= index < self.buckets and record.get("provider") in self.series:
            self.series[record["provider"]][index] += 1

    def as_doc(self) -> dict[str, Any]:
        return {"bucket_minutes": CHART_BUCKET_MINUTES,
                "series": {p: counts for p, counts in self.series.items() if any(counts)}}


def alarm_states(ws: Workspace) -> list[dict[str, Any]]:
    """The stack's CloudWatch alarms: constructs_lib/monitoring.py names each `<stack>-<key>`.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html"""
    from ..operations import env_client

    prefix = f"{ws.stack}-"
    pages = env_client(ws, "cloudwatch").get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"])
    alarms = [{"name": a["AlarmName"], "key": a["AlarmName"][len(prefix):], "state": a["StateValue"],
               "reason": a.get("StateReason"), "description": a.get("AlarmDescription"),
               "updated": _iso(a.get("StateUpdatedTimestamp"))}
              for page in pages for a in page.get("MetricAlarms", [])]
    return sorted(alarms, key=lambda a: (a["state"] != "ALARM", a["key"]))  # firing ones first


def _iso(moment) -> str | None:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


# Which alarms speak for which stage (the alarm keys of constructs_lib/monitoring.py); the rest are ingest's.
STAGE_ALARMS = {"api": ("api-5xx",), "queue": ("queue-age",), "process": ("dlq-not-empty",),
                "routes": ("rule-", "targets-dlq-not-empty")}


def stages(ws: Workspace, doc: dict[str, Any], alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pipeline left to right, each stage with its numbers and its worst state (ok, warn, alarm)."""
    totals = {s: sum(row[s] for row in doc["providers"]) for s in ("processed", "queued", "failed", "received")}
    received = sum(row["total"] for row in doc["providers"])
    queues = doc["queues"]
    delivered = _total(t["delivered"] for t in doc["targets"])
    lost = _total(t["failed"] for t in doc["targets"])
    stage_list = [
        ("api", "API Gateway", {"received": received}),
        ("ingest", "ingest λ", {"stored": received}),
        ("queue", "archive · records · queue", {"waiting": _waiting(queues["queue"]),
                                                 "in flight": _in_flight(queues["queue"])}),
        ("process", "process λ", {"processed": totals["processed"], "failed": totals["failed"],
                                  "DLQ": _waiting(queues["dlq"])}),
        ("bus", "EventBridge bus", {"published": totals["processed"]}),
        ("routes", "routes → targets", {"routes": len(doc["targets"]), "delivered": delivered, "failed": lost,
                                        "DLQ": _waiting(queues["targets_dlq"])}),
    ]
    return [{"key": key, "label": label, "counts": counts, "state": _stage_state(key, counts, alarms)}
            for key, label, counts in stage_list]


def _total(counts) -> int | None:
    """The sum, or None ("n/a") when a count is unknown: the emulator has no metrics for the targets
    moto delivers itself (cli.targets.target_stats), and a partial sum would read as a wrong number."""
    counts = list(counts)
    return None if any(count is None for count in counts) else sum(counts)


def _waiting(depth: dict[str, int] | None) -> int | None:
    return None if depth is None else depth["waiting"]


def _in_flight(depth: dict[str, int] | None) -> int | None:
    return None if depth is None else depth["in_flight"]


def _stage_state(key: str, counts: dict[str, Any], alarms: list[dict[str, Any]]) -> str:
    claimed = tuple(k for keys in STAGE_ALARMS.values() for k in keys)
    mine = [a for a in alarms if (a["key"].startswith(STAGE_ALARMS[key]) if key in STAGE_ALARMS
                                  else key == "ingest" and not a["key"].startswith(claimed))]
    if any(a["state"] == "ALARM" for a in mine):
        return "alarm"
    if counts.get("failed") or counts.get("DLQ"):
        return "warn"
    return "ok"


def deliveries(ws: Workspace, request: Request) -> dict[str, Any]:
    """`webhookctl events list`, same filters and cursor."""
    from ..events import DEFAULT_LIMIT, MAX_LIMIT, STATUSES, list_events

    status = request.one("status")
    if status is not None and status not in STATUSES:
        raise WebhookctlError(f"status '{status}' is none of {', '.join(STATUSES)}")
    limit = _limit(request.one("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    return list_events(ws, providers=request.many("provider"), event_type=request.one("type"), status=status,
                       since=request.one("since"), until=request.one("until"), limit=limit,
                       cursor=request.one("next"), log=_quiet)


def _limit(text: str | None, default: int, most: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise WebhookctlError(f"limit '{text}' is not a whole number from 1 to {most}")
    return int(text)


def delivery(ws: Workspace, request: Request) -> dict[str, Any]:
    """`webhookctl events show ID --verify --json`, with the record's timeline; a signature that does
    not re-verify is part of the answer (`verification.verified` false and why), not an error."""
    from ..events import show_event, verify_event

    webhook_id, clients = request.match["id"], {}
    shown = show_event(ws, webhook_id, clients=clients)
    try:
        check = verify_event(ws, webhook_id, clients=clients)
    except NotFound:
        raise
    except WebhookctlError as exc:
        check = {"verified": False, "error": exc.message}
    return {**shown, "timeline": timeline(shown["record"]), "verification": check}


def timeline(record: dict[str, Any]) -> list[dict[str, Any]]:
    """received → queued → processed or failed, as far as the record got (contract: Records)."""
    status = record.get("status")
    attempts = record.get("attempts")
    steps = [{"step": "received", "at": record.get("received_at"), "done": True},
             {"step": "queued", "at": record.get("received_at"), "done": status != "received"}]
    if status == "failed":
        steps.append({"step": "failed", "at": record.get("processed_at"), "done": True, "attempts": attempts})
    else:
        steps.append({"step": "processed", "at": record.get("processed_at"), "done": status == "processed",
                      "attempts": attempts})
    return steps


def dlq(ws: Workspace, request: Request) -> dict[str, Any]:
    """`webhookctl dlq list`, and `dlq list --target ROUTE` for every route."""
    from ..dlq import dlq_list, target_dlq_list

    targets = []
    for route in ws.config.routes:
        try:
            targets.append({"route": route.name, "target": route.target,
                            "messages": target_dlq_list(ws, route.name, limit=DLQ_MAX, log=_quiet)})
        except NotFound:
            raise
        except WebhookctlError as exc:  # a route not deployed yet: say so, list the others
            targets.append({"route": route.name, "target": route.target, "messages": [], "error": exc.message})
    ingest = dlq_list(ws, limit=DLQ_MAX, log=_quiet)
    reasons = failure_reasons(ws, ingest)
    return {"ingest": [{**m, "why": reasons.get(m["webhook_id"])} for m in ingest], "targets": targets}


def failure_reasons(ws: Workspace, messages: list[dict[str, Any]]) -> dict[str, str]:
    """Why each delivery failed: the processor's last `record failed` line naming it (`webhookctl logs
    process ID`'s reading: the local files on `local`, CloudWatch Logs on AWS); none when the logs
    cannot be read or no longer hold it."""
    from ..logs import read_logs

    ids = [m["webhook_id"] for m in messages if m.get("webhook_id")]
    if not ids:
        return {}
    since = min((m["received_at"] for m in messages if m.get("received_at")), default=None)
    try:
        lines = read_logs(ws, ("process",), since=since, ids=ids)
    except WebhookctlError:
        return {}
    return {line["webhook_id"]: str(line.get("reason")) for line in lines  # oldest first: the last one wins
            if line.get("message") == "record failed" and line.get("webhook_id") in ids}


# --------------------------------------------------------------------------- actions (POST)


def replay(ws: Workspace, request: Request) -> dict[str, Any]:
    """The delivery's event published again, marked `"replayed": true` (`webhookctl replay`'s code)."""
    from ..replay import replay_delivery

    return replay_delivery(ws, request.match["id"], log=_quiet)


def redrive(ws: Workspace, request: Request) -> dict[str, Any]:
    """`webhookctl dlq redrive` (body `{}`), or `--target ROUTE` (body `{"target": "ROUTE"}`)."""
    from ..dlq import dlq_redrive, target_dlq_redrive

    target = request.body.get("target")
    if target is not None and not isinstance(target, str):
        raise WebhookctlError("'target' must be a route's name")
    lines: list[str] = []
    if target:
        moved = target_dlq_redrive(ws, target, limit=DLQ_MAX, dry_run=False, log=lines.append)
    else:
        moved = dlq_redrive(ws, limit=DLQ_MAX, dry_run=False, log=lines.append)
    return {"target": target or None, "moved": moved, "log": lines}


# --------------------------------------------------------------------------- routing and errors


WEBHOOK_ID = r"(?P<id>[A-Za-z0-9_-]{1,128})"
Endpoint = Callable[[Workspace, Request], dict]
ROUTES: list[tuple[str, re.Pattern, Endpoint]] = [
    ("GET", re.compile(r"/api/meta"), meta),
    ("GET", re.compile(r"/api/overview"), overview),
    ("GET", re.compile(r"/api/deliveries"), deliveries),
    ("GET", re.compile(rf"/api/deliveries/{WEBHOOK_ID}"), delivery),
    ("POST", re.compile(rf"/api/deliveries/{WEBHOOK_ID}/replay"), replay),
    ("GET", re.compile(r"/api/dlq"), dlq),
    ("POST", re.compile(r"/api/dlq/redrive"), redrive),
]


def route(method: str, path: str) -> tuple[Endpoint | None, dict[str, str], list[str]]:
    """(the endpoint, its captures, []) or (None, {}, the methods the path takes: [] when unknown)."""
    allowed = []
    for route_method, pattern, endpoint in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return endpoint, match.groupdict(), []
        allowed.append(route_method)
    return None, {}, allowed


def status_for(exc: WebhookctlError) -> int:
    """404 for what does not exist, 400 for every other failure the user can act on."""
    return 404 if isinstance(exc, NotFound) else 400
