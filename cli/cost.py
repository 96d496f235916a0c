"""`webhookctl cost`: the environment's monthly AWS bill, itemized, from its own configuration.

The model multiplies what the pipeline does per webhook (`Design`: the handlers' calls,
writes, log lines; tests/handlers/test_cost_model_facts.py checks them against the handlers)
by a month of webhooks (`Usage`: `--per-month`, or last month's CloudWatch metrics with
`--measured`), at a dated price table (cli/prices.py). Three kinds of items:

- usage: what a month of webhooks adds (requests, writes, events, log bytes, traces); the
  headline "per million webhooks" is these alone;
- storage: the monthly bill once the configured retention is reached (the archive, the
  records, logs, EventBridge's archive), or after 12 months for what is kept forever;
- fixed: what the stack costs with no traffic (secrets, alarms, dashboard, metrics, pollers).

Work that happens once per batch (process invocations, SQS receives and deletes, the
BatchGetItem, PutEvents) is divided by the records per batch: the config's batch size by
default (webhooks arriving in bursts), `--records-per-batch 1` for a steady trickle (FIFO
event sources have no batching window, so a webhook every few seconds is a batch of one).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .prices import GB, KB, MILLION, Prices

SECONDS_PER_MONTH = 30.4375 * 86400
FOREVER_HORIZON_MONTHS = 12  # storage kept forever is priced as it stands after a year
CHUNK = 64 * KB  # SQS and EventBridge bill each 64 KB of a message or event as one request or event


@dataclass(frozen=True)
class Design:
    """What the pipeline does per webhook and per batch (the handlers' facts the bill follows)."""

    ingest_calls: tuple[str, ...] = ("PutObject", "SendMessage", "PutItem")
    table_writes_per_webhook: int = 2  # ingest's PutItem, process's UpdateItem (one of them creates the record)
    index_writes_per_webhook: int = 1  # the first write only: the index projects what never changes
    carries_payload: bool = True  # payloads that fit ride in the queue message: no GetObject
    api_sampling_rule: bool = True  # False: X-Ray's default rule (1/s + 5%) on API Gateway, Lambda Active
    platform_log_bytes: int = 0  # Lambda's START and REPORT lines per invocation (system_log_level WARN: none)
    eventbridge_archive: bool = False  # when False, the config's eventbridge_archive_days is not priced
    # Log bytes per webhook and per batch (measured from the handlers' output; the facts test checks
    # them): ingest's one line per request (its log fields inside its EMF document); process's one
    # line per batch, plus each published webhook's id in it. Then API Gateway's access log line and
    # a `logs` route's event (ids and times, no payload). CloudWatch adds 26 bytes per log event.
    ingest_log_bytes: int = 620
    ingest_log_events: int = 1
    process_batch_log_bytes: int = 390
    process_batch_log_events: int = 1
    process_record_log_bytes: int = 40
    access_log_bytes: int = 380
    audit_log_bytes: int = 310
    # Billed duration on AWS at 256 MB arm64, estimates (`--measured` reads the real ones): ingest
    # makes three in-region calls in a row (S3 ~20-40 ms, SQS and DynamoDB ~5-15 ms each); process
    # three per batch (BatchGetItem, PutEvents, BatchWriteItem), and a little work per record.
    ingest_ms: float = 60.0
    process_batch_ms: float = 40.0
    process_record_ms: float = 2.0
    pointer_bytes: int = 280  # the queue message's JSON body
    event_envelope_bytes: int = 320  # source, detail-type and the detail besides the payload
    record_bytes: int = 300  # the DynamoDB item as DynamoDB sizes it (names and values)
    index_item_bytes: int = 150
    # Alarms the stack makes (constructs_lib.monitoring): API 5XX, the four handler failure metrics,
    # DLQ not empty, oldest message age, the targets' DLQ not empty; and per route, one for each of
    # its rule's failure metrics (failed, dead-lettered, lost: monitoring.RULE_FAILURES).
    stack_alarms: int = 8
    alarms_per_route: int = 3
    # Metrics every active provider feeds each month (accepted, published), each under the [service]
    # and [service, provider] dimension sets: the [service] ones once for all providers.
    provider_metrics: int = 2


DESIGN = Design()
LOG_EVENT_OVERHEAD = 26  # CloudWatch Logs counts 26 bytes per event on top of the message


@dataclass(frozen=True)
class Usage:
    """A month of traffic: webhooks accepted and what follows from them."""

    webhooks: float
    payload_bytes: int
    records_per_batch: float
    route_matches: dict[str, float] = field(default_factory=dict)  # route name -> events it matched
    ingest_ms: float | None = None  # average billed duration when measured
    process_batch_ms: float | None = None
    requests: float | None = None  # API requests, rejected ones included (None: the webhooks)
    measured: bool = False

    @property
    def batches(self) -> float:
        return self.webhooks / max(1.0, self.records_per_batch)


@dataclass(frozen=True)
class Item:
    kind: str  # usage | storage | fixed
    service: str
    item: str
    quantity: float
    unit: str
    monthly: float


# --------------------------------------------------------------------------- usage from the config


def route_share(route: Any, providers: list[str]) -> float:
    """The share of events a route matches: those of the providers its pattern names under
    detail.provider (an even split across configured providers), else all of them."""
    named = (route.pattern.get("detail") or {}).get("provider") if isinstance(route.pattern, dict) else None
    if not isinstance(named, list) or not providers:
        return 1.0
    return len([p for p in named if p in providers]) / len(providers)


def usage_from_config(config: Any, per_month: float, payload_bytes: int, records_per_batch: float) -> Usage:
    providers = sorted(config.providers)
    matches = {r.name: per_month * route_share(r, providers) for r in config.routes}
    return Usage(webhooks=per_month, payload_bytes=payload_bytes, records_per_batch=records_per_batch,
                 route_matches=matches)


# --------------------------------------------------------------------------- the items


def chunks(size: float) -> int:
    return max(1, math.ceil(size / CHUNK))


def message_bytes(usage: Usage, config: Any, design: Design) -> int:
    """The queue message: the pointer, and the payload when it rides along (contract.message_fits)."""
    from handlers.contract import AWS_LIMITS, PAYLOAD_ATTRIBUTE, PAYLOAD_ATTRIBUTE_TYPE

    carried = len(PAYLOAD_ATTRIBUTE) + len(PAYLOAD_ATTRIBUTE_TYPE) + usage.payload_bytes
    if design.carries_payload and 0 < usage.payload_bytes <= config.limits.inline_payload_limit and \
            design.pointer_bytes + carried <= AWS_LIMITS.sqs_message_bytes:
        return design.pointer_bytes + carried
    return design.pointer_bytes


def event_bytes(usage: Usage, config: Any, design: Design) -> int:
    inline = usage.payload_bytes <= config.limits.inline_payload_limit
    return design.event_envelope_bytes + (usage.payload_bytes if inline else 0)


def request_items(config: Any, env: Any, usage: Usage, prices: Prices, design: Design) -> list[Item]:
    """API Gateway, Lambda, S3 requests, DynamoDB requests, SQS, EventBridge."""
    n, batches = usage.webhooks, usage.batches
    requests = usage.requests if usage.requests is not None else n
    gb_s = prices.lambda_arm64_gb_second
    ingest_ms = usage.ingest_ms or design.ingest_ms
    batch_ms = usage.process_batch_ms or (design.process_batch_ms + design.process_record_ms * usage.records_per_batch)
    message = message_bytes(usage, config, design)
    gets = n if message == design.pointer_bytes and usage.payload_bytes <= config.limits.inline_payload_limit \
        and usage.payload_bytes > 0 else 0
    writes = n * (design.table_writes_per_webhook + design.index_writes_per_webhook)
    receives = batches * chunks(message * usage.records_per_batch)
    sqs = n * chunks(message) + receives + batches
    memory = {name: fn.memory_mb / 1024 for name, fn in env.functions.items()}
    return [
        Item("usage", "API Gateway", "REST requests", requests, "requests",
             requests * prices.api_rest_per_million / MILLION),
        Item("usage", "Lambda", "ingest requests", requests, "requests",
             requests * prices.lambda_request_per_million / MILLION),
        Item("usage", "Lambda", "ingest duration", requests * ingest_ms / 1000 * memory["ingest"], "GB-s",
             requests * ingest_ms / 1000 * memory["ingest"] * gb_s),
        Item("usage", "Lambda", "process requests", batches, "requests",
             batches * prices.lambda_request_per_million / MILLION),
        Item("usage", "Lambda", "process duration", batches * batch_ms / 1000 * memory["process"], "GB-s",
             batches * batch_ms / 1000 * memory["process"] * gb_s),
        Item("usage", "S3", "PUT (the archive)", n, "requests", n * prices.s3_put_per_thousand / 1000),
        Item("usage", "S3", "GET (payloads the message did not carry)", gets, "requests",
             gets * prices.s3_get_per_thousand / 1000),
        Item("usage", "DynamoDB", "writes (record, status, index)", writes, "write units",
             writes * math.ceil(design.record_bytes / KB) * prices.dynamodb_write_per_million / MILLION),
        Item("usage", "DynamoDB", "consistent reads (redelivery guard)", n, "read units",
             n * prices.dynamodb_read_per_million / MILLION),
        Item("usage", "SQS", "FIFO requests (send, receive, delete)", sqs, "requests",
             sqs * prices.sqs_fifo_per_million / MILLION),
        Item("usage", "EventBridge", "events published", n * chunks(event_bytes(usage, config, design)), "events",
             n * chunks(event_bytes(usage, config, design)) * prices.eventbridge_event_per_million / MILLION),
    ]


def observability_items(config: Any, env: Any, usage: Usage, prices: Prices, design: Design) -> list[Item]:
    """CloudWatch Logs ingestion (functions, API access log) and X-Ray traces."""
    n, batches = usage.webhooks, usage.batches
    o = LOG_EVENT_OVERHEAD
    function_bytes = (n * (design.ingest_log_bytes + design.ingest_log_events * o + design.platform_log_bytes)
                      + n * design.process_record_log_bytes
                      + batches * (design.process_batch_log_bytes + design.process_batch_log_events * o
                                   + design.platform_log_bytes))
    access_bytes = n * (design.access_log_bytes + o)
    traces = traced_requests(env.tracing, n, design)
    if env.tracing.trace_process or not design.api_sampling_rule:
        traces += lambda_default_sampled(batches)
    return [
        Item("usage", "CloudWatch Logs", "function logs", function_bytes / GB, "GB",
             function_bytes / GB * prices.logs_ingest_gb),
        Item("usage", "CloudWatch Logs", "API access log", access_bytes / GB, "GB",
             access_bytes / GB * prices.logs_ingest_gb),
        Item("usage", "X-Ray", "traces recorded", traces, "traces", traces * prices.xray_trace_per_million / MILLION),
    ]


def traced_requests(tracing: Any, n: float, design: Design) -> float:
    """Requests API Gateway samples: a reservoir per second, then a fixed rate of the rest (even traffic)."""
    if not design.api_sampling_rule:
        return lambda_default_sampled(n)
    reservoir = min(n, tracing.reservoir_per_second * SECONDS_PER_MONTH)
    return reservoir + tracing.sample_rate * (n - reservoir)


def lambda_default_sampled(invocations: float) -> float:
    """X-Ray's default rule, which Lambda applies and nobody can change: 1 a second, then 5%."""
    reservoir = min(invocations, SECONDS_PER_MONTH)
    return reservoir + 0.05 * (invocations - reservoir)


def route_items(config: Any, usage: Usage, prices: Prices, design: Design) -> list[Item]:
    """Each route's target, by type: what a matched event costs to deliver."""
    items = []
    for route in config.routes:
        price = TARGET_PRICING.get(target_type(route.target))
        if price is None:
            items.append(Item("usage", "EventBridge", f"route {route.name}: target not priced", 0, "events", 0.0))
            continue
        items.append(price(route.name, usage.route_matches.get(route.name, 0.0), usage, config, prices, design))
    return items


def target_type(target: str) -> str:
    """logs, sqs, http, or an ARN's service (an existing queue or log group)."""
    if target.startswith("arn:"):
        return target.split(":")[2]
    return target


def _logs_target(name: str, matched: float, usage: Usage, config: Any, prices: Prices, design: Design) -> Item:
    size = matched * (design.audit_log_bytes + LOG_EVENT_OVERHEAD) / GB
    return Item("usage", "CloudWatch Logs", f"route {name}: events logged (no payload)", size, "GB",
                size * prices.logs_ingest_gb)


def _sqs_target(name: str, matched: float, usage: Usage, config: Any, prices: Prices, design: Design) -> Item:
    sends = matched * chunks(event_bytes(usage, config, design))
    return Item("usage", "SQS", f"route {name}: events sent to its queue", sends, "requests",
                sends * prices.sqs_standard_per_million / MILLION)


def _http_target(name: str, matched: float, usage: Usage, config: Any, prices: Prices, design: Design) -> Item:
    calls = matched * chunks(event_bytes(usage, config, design))
    return Item("usage", "EventBridge", f"route {name}: API destination invocations", calls, "invocations",
                calls * prices.eventbridge_api_destination_per_million / MILLION)


TargetPricing = Callable[[str, float, Usage, Any, Prices, Design], Item]
TARGET_PRICING: dict[str, TargetPricing] = {"logs": _logs_target, "sqs": _sqs_target, "http": _http_target}


# --------------------------------------------------------------------------- storage


def retention_months(days: int | None) -> float:
    return FOREVER_HORIZON_MONTHS if days is None else days / 30.4375


def storage_items(config: Any, env: Any, usage: Usage, prices: Prices, design: Design,
                  logged: list[Item]) -> list[Item]:
    """Each store's monthly bill at its retention: the archive, the records and index, the logs
    (`logged`: the usage items, whose CloudWatch Logs gigabytes are kept log_retention_in_days)."""
    n = usage.webhooks
    archive_gb = n * usage.payload_bytes / GB
    records_gb = n * (design.record_bytes + design.index_item_bytes + 200) / GB  # DynamoDB adds 100 bytes an item
    ttl = config.limits.record_ttl_days / 30.4375
    logs_gb = sum(i.quantity for i in logged if i.service == "CloudWatch Logs" and i.unit == "GB")
    standard_months, glacier = archive_transition(config, env, usage, prices)
    return [
        Item("storage", "S3", f"archive, Standard ({standard_months:.1f} months of webhooks)", archive_gb * standard_months,
             "GB-month", archive_gb * standard_months * prices.s3_standard_gb_month),
        *glacier,
        Item("storage", "DynamoDB", f"records and index ({ttl:.1f} months: the TTL)", records_gb * ttl, "GB-month",
             records_gb * ttl * prices.dynamodb_storage_gb_month),
        Item("storage", "DynamoDB", "point-in-time recovery", records_gb * ttl, "GB-month",
             records_gb * ttl * prices.dynamodb_pitr_gb_month),
        Item("storage", "CloudWatch Logs", f"logs ({config.limits.log_retention_in_days} days)",
             logs_gb * config.limits.log_retention_in_days / 30.4375, "GB-month",
             logs_gb * config.limits.log_retention_in_days / 30.4375 * prices.logs_storage_gb_month),
        *eventbridge_archive_items(config, usage, prices, design),
    ]


GLACIER_OVERHEAD = {"GLACIER": 32 * KB, "DEEP_ARCHIVE": 32 * KB, "GLACIER_IR": 0}  # billed at the class's price
STANDARD_OVERHEAD = {"GLACIER": 8 * KB, "DEEP_ARCHIVE": 8 * KB, "GLACIER_IR": 0}  # billed at Standard's
GLACIER_IR_MINIMUM = 128 * KB  # Glacier Instant Retrieval bills smaller objects as 128 KB


def archive_transition(config: Any, env: Any, usage: Usage, prices: Prices) -> tuple[float, list[Item]]:
    """(months in Standard, the items of the lifecycle transition): nothing below the size threshold."""
    archive = config.archive
    kept = retention_months(env.archive_expiration_days)
    if archive.transition_days is None or usage.payload_bytes < archive.transition_min_bytes:
        return kept, []
    before = min(kept, archive.transition_days / 30.4375)
    after = kept - before
    cls = archive.storage_class
    price = {"GLACIER": prices.s3_glacier_gb_month, "DEEP_ARCHIVE": prices.s3_deep_archive_gb_month,
             "GLACIER_IR": prices.s3_glacier_ir_gb_month}[cls]
    fee = {"GLACIER": prices.s3_transition_glacier_per_thousand,
           "DEEP_ARCHIVE": prices.s3_transition_deep_archive_per_thousand,
           "GLACIER_IR": prices.s3_transition_glacier_ir_per_thousand}[cls] / 1000
    billed = max(usage.payload_bytes, GLACIER_IR_MINIMUM) if cls == "GLACIER_IR" else usage.payload_bytes
    n = usage.webhooks
    return before, [
        Item("usage", "S3", f"lifecycle transitions to {cls}", n, "requests", n * fee),
        Item("storage", "S3", f"archive, {cls} ({after:.1f} months, with its per-object overhead)",
             n * (billed + GLACIER_OVERHEAD[cls]) / GB * after, "GB-month",
             n * ((billed + GLACIER_OVERHEAD[cls]) * price + STANDARD_OVERHEAD[cls] * prices.s3_standard_gb_month)
             / GB * after),
    ]


def eventbridge_archive_items(config: Any, usage: Usage, prices: Prices, design: Design) -> list[Item]:
    days = config.archive.eventbridge_archive_days
    if days is None or not design.eventbridge_archive:
        return []
    gb = usage.webhooks * event_bytes(usage, config, design) / GB
    months = retention_months(days or None)
    return [Item("usage", "EventBridge", "archive: events archived", gb, "GB", gb * prices.eventbridge_archive_gb),
            Item("storage", "EventBridge", f"archive ({months:.1f} months)", gb * months, "GB-month",
                 gb * months * prices.eventbridge_archive_gb_month)]


# --------------------------------------------------------------------------- fixed


# Lambda polls an SQS source with long polls (20 s) even when idle: ~5 pollers, 3 receives a
# minute each. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
IDLE_RECEIVES_PER_MONTH = 5 * 3 * 60 * 24 * 30.4375
# A warm ingest container re-reads its provider's secret at least every 300 s (SECRET_CACHE_TTL_SECONDS).
SECRET_READS_PER_PROVIDER = SECONDS_PER_MONTH / 300


def fixed_items(config: Any, prices: Prices, design: Design) -> list[Item]:
    providers = len(config.providers)
    alarms = design.stack_alarms + design.alarms_per_route * len(config.routes)
    # An http route's connection keeps its credentials in a Secrets Manager secret EventBridge
    # creates and bills: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
    connections = sum(1 for route in config.routes if target_type(route.target) == "http")
    metrics = design.provider_metrics * (providers + 1)
    reads = providers * SECRET_READS_PER_PROVIDER
    return [
        Item("fixed", "Secrets Manager", "one secret per provider", providers, "secrets", providers * prices.secret_month),
        *([Item("fixed", "Secrets Manager", "one secret per http route's connection", connections, "secrets",
                connections * prices.secret_month)] if connections else []),
        Item("fixed", "Secrets Manager", "secret reads (cache refresh)", reads, "calls",
             reads / 10_000 * prices.secrets_api_per_10k),
        Item("fixed", "CloudWatch", "alarms", alarms, "alarms", alarms * prices.alarm_month),
        Item("fixed", "CloudWatch", "dashboard", 1, "dashboard", prices.dashboard_month),
        Item("fixed", "CloudWatch", "EMF metrics (every provider active)", metrics, "metrics",
             metrics * prices.metric_month),
        Item("fixed", "SQS", "idle long polls of the event source", IDLE_RECEIVES_PER_MONTH, "requests",
             IDLE_RECEIVES_PER_MONTH * prices.sqs_fifo_per_million / MILLION),
    ]


# --------------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    environment: str
    usage: Usage
    prices: Prices
    items: list[Item]
    warnings: list[str]

    def total(self, kind: str) -> float:
        return sum(i.monthly for i in self.items if i.kind == kind)

    @property
    def per_million(self) -> float:
        return self.total("usage") / max(self.usage.webhooks, 1) * MILLION

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment, "region_priced": self.prices.region, "prices_date": self.prices.date,
            "usage": asdict(self.usage), "items": [asdict(i) for i in self.items],
            "totals": {"usage": self.total("usage"), "storage": self.total("storage"), "fixed": self.total("fixed"),
                       "monthly": sum(i.monthly for i in self.items), "usage_per_million_webhooks": self.per_million},
            "warnings": self.warnings,
        }


def estimate(config: Any, env: Any, usage: Usage, prices: Prices, design: Design = DESIGN,
             free_tier: bool = False) -> Estimate:
    """Every item; with `free_tier`, AWS's always-free allowances as credits (an account running nothing else)."""
    used = [*request_items(config, env, usage, prices, design), *route_items(config, usage, prices, design),
            *observability_items(config, env, usage, prices, design)]
    items = [*used, *storage_items(config, env, usage, prices, design, used), *fixed_items(config, prices, design)]
    if free_tier:
        items += free_tier_items(items)
    return Estimate(env.name, usage, prices, items, warnings(config, env, usage))


def warnings(config: Any, env: Any, usage: Usage) -> list[str]:
    found = []
    admitted = env.throttle_rate_limit * SECONDS_PER_MONTH
    if usage.webhooks > admitted:
        found.append(f"{usage.webhooks:,.0f} a month is over what the stage throttle admits "
                     f"({env.throttle_rate_limit:g}/s, {admitted:,.0f} a month): the rest is answered 429")
    if env.is_emulated:
        found.append(f"'{env.name}' runs on the local emulator: this is what the same stack would cost on AWS")
    return found


# --------------------------------------------------------------------------- output


def render(est: Estimate) -> str:
    """The estimate as a table: usage (and per million webhooks), storage, fixed, then any warning."""
    u, p = est.usage, est.prices
    lines = [f"{est.environment}: {u.webhooks:,.0f} webhooks a month{' (measured)' if u.measured else ''}, "
             f"{u.payload_bytes / KB:g} KB payloads, {u.records_per_batch:g} records per batch; "
             f"{p.region} list prices of {p.date}", ""]
    heads = {"usage": "what the month's webhooks use", "storage": "storage at the configured retention",
             "fixed": "fixed, with no traffic"}
    for kind in ("usage", "storage", "fixed"):
        lines.append(f"{heads[kind]}:")
        for i in (i for i in est.items if i.kind == kind):
            lines.append(f"  {i.service:<16} {i.item:<58} {i.quantity:>16,.2f} {i.unit:<12} ${i.monthly:>9,.2f}")
        lines.append(f"  {'':<16} {'total':<58} {'':>16} {'':<12} ${est.total(kind):>9,.2f}")
    lines += ["", f"per million webhooks (usage): ${est.per_million:,.2f}",
              f"monthly total: ${sum(i.monthly for i in est.items):,.2f}"]
    return "\n".join(lines + [f"note: {w}" for w in est.warnings])


# --------------------------------------------------------------------------- the command


def cost(ws: Any, *, per_month: int, payload_kb: float, records_per_batch: float | None, measured: bool,
         prices_path: str | None, log: Callable[[str], None], free_tier: bool = False) -> Estimate:
    from .errors import WebhookctlError
    from .prices import load_prices

    prices = load_prices(prices_path)
    payload = int(payload_kb * KB)
    if payload > ws.config.limits.max_body_bytes:
        raise WebhookctlError(f"--payload-kb {payload_kb:g} is over the body limit ({ws.config.limits.max_body_bytes} "
                              f"bytes, [limits] max_body_bytes): such webhooks are refused with 413")
    batch = records_per_batch or ws.config.limits.batch_size
    if measured:
        usage = measured_usage(ws, payload, log)
    else:
        usage = usage_from_config(ws.config, per_month, payload, batch)
    return estimate(ws.config, ws.env, usage, prices, free_tier=free_tier)


# --------------------------------------------------------------------------- --measured


def last_month(now: Any = None) -> tuple[Any, Any]:
    """The previous calendar month, UTC: [first day 00:00, first day of this month 00:00)."""
    import datetime as dt

    now = now or dt.datetime.now(dt.timezone.utc)
    end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - dt.timedelta(days=1)).replace(day=1)
    return start, end


def metric_queries(ws: Any, outputs: Any) -> dict[str, tuple[str, str, dict[str, str]]]:
    """id -> (namespace, metric, dimensions) of what the bill follows, named as the stack names them."""
    from handlers.contract import METRIC_DIMENSION_SERVICE, SERVICE_NAME, Metric

    stack = ws.stack
    queries = {
        "requests": ("AWS/ApiGateway", "Count", {"ApiName": f"{stack}-api", "Stage": ws.env.name}),
        "ingest_invocations": ("AWS/Lambda", "Invocations", {"FunctionName": outputs.ingest_function_name}),
        "ingest_duration": ("AWS/Lambda", "Duration", {"FunctionName": outputs.ingest_function_name}),
        "process_invocations": ("AWS/Lambda", "Invocations", {"FunctionName": outputs.process_function_name}),
        "process_duration": ("AWS/Lambda", "Duration", {"FunctionName": outputs.process_function_name}),
        "published": (f"Webhookctl/{stack}", Metric.PUBLISHED, {METRIC_DIMENSION_SERVICE: SERVICE_NAME}),
    }
    for i, route in enumerate(ws.config.routes):
        rule = f"{outputs.event_bus_name}-{route.name}"  # as constructs_lib.bus names it
        queries[f"route{i}"] = ("AWS/Events", "MatchedEvents", {"EventBusName": outputs.event_bus_name, "RuleName": rule})
    return queries


def read_sums(cloudwatch: Any, queries: dict[str, tuple[str, str, dict[str, str]]], start: Any,
              end: Any) -> dict[str, float]:
    """The Sum of each query over [start, end), one GetMetricData (paged), daily periods added up."""
    request = [{"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
        "Period": 86400, "Stat": "Sum"}} for qid, (ns, name, dims) in queries.items()]
    sums = {qid: 0.0 for qid in queries}
    token = None
    while True:
        page = cloudwatch.get_metric_data(MetricDataQueries=request, StartTime=start, EndTime=end,
                                          **({"NextToken": token} if token else {}))
        for result in page.get("MetricDataResults", []):
            sums[result["Id"]] += sum(result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            return sums


def measured_usage(ws: Any, payload_bytes: int, log: Callable[[str], None], cloudwatch: Any = None,
                   now: Any = None) -> Usage:
    """Last month's traffic from CloudWatch: requests, invocations, durations, events, route matches."""
    from .errors import WebhookctlError
    from .operations import env_client
    from .stack_ops import known_outputs

    cloudwatch = cloudwatch or env_client(ws, "cloudwatch")  # credentials and reachability first: one line, no synth
    outputs = known_outputs(ws, log)
    start, end = last_month(now)
    sums = read_sums(cloudwatch, metric_queries(ws, outputs), start, end)
    if sums["requests"] <= 0 or sums["published"] <= 0:
        raise WebhookctlError(f"no webhooks recorded for {ws.stack} from {start:%Y-%m-%d} to {end:%Y-%m-%d}: "
                              f"nothing to measure (estimate with --per-month N instead)")
    batches = max(sums["process_invocations"], 1.0)
    return Usage(
        webhooks=sums["published"], payload_bytes=payload_bytes, records_per_batch=max(1.0, sums["published"] / batches),
        route_matches={r.name: sums[f"route{i}"] for i, r in enumerate(ws.config.routes)},
        ingest_ms=sums["ingest_duration"] / max(sums["ingest_invocations"], 1.0),
        process_batch_ms=sums["process_duration"] / batches, requests=sums["requests"], measured=True,
    )


def free_tier_items(items: list[Item]) -> list[Item]:
    """Credits for AWS's always-free allowances, each at most what the items of its kind use."""
    from .prices import ALWAYS_FREE

    credits = []
    for (service, unit), allowance in ALWAYS_FREE.items():
        matching = [i for i in items if i.service == service and i.unit == unit and i.quantity > 0]
        used = sum(i.quantity for i in matching)
        if not used:
            continue
        unit_price = sum(i.monthly for i in matching) / used
        free = min(used, allowance)
        kind = "fixed" if all(i.kind == "fixed" for i in matching) else "usage"
        credits.append(Item(kind, service, f"always-free tier ({allowance:,} {unit})", -free, unit, -free * unit_price))
    return credits
