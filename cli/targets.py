"""Route targets of a deployed environment: their names, their credentials, and their delivery counts.

`target_stats(ws)` is the library call `webhookctl stats` shows (issue 12): per route, what its
target took, failed and dead-lettered, from EventBridge's CloudWatch metrics. On AWS EventBridge
sends them; on the emulator the local deliverer of http targets (local_runtime/http_targets.py)
puts the same metrics, with the same names and dimensions, for the routes it delivers.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from handlers.contract import bus_name, connection_name, redrive_rule_name, route_rule_name, targets_dlq_name

from .errors import WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

# AWS/Events metrics per rule (dimensions EventBusName, RuleName) and what they count:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
STAT_METRICS = {
    "delivered": "SuccessfulInvocationAttempts",  # attempts the target took
    "retried": "RetryInvocationAttempts",
    "failed": "FailedInvocations",  # failed for good (then dead-lettered, or lost)
    "dead_lettered": "InvocationsSentToDlq",
    "lost": "InvocationsFailedToBeSentToDlq",
}


def require_route(ws: Workspace, name: str, *, http: bool = False):
    routes = {r.name: r for r in ws.config.routes}
    route = routes.get(name)
    if route is None:
        raise WebhookctlError(f"unknown route '{name}' (configured: {', '.join(sorted(routes)) or 'none'})")
    if http and route.http is None:
        raise WebhookctlError(f"route '{name}' delivers to {route.target}, not http: it has no credentials to set")
    return route


def names(ws: Workspace, route: str) -> dict[str, str]:
    """The deployed names of a route's rule, redrive rule and the bus's target DLQ."""
    bus = bus_name(ws.stack)
    return {"bus": bus, "rule": route_rule_name(bus, route), "redrive_rule": redrive_rule_name(bus, route),
            "dlq": targets_dlq_name(bus)}


# --------------------------------------------------------------------------- credentials


def connection_update(route: str, auth: Mapping[str, str], secret: str) -> dict[str, Any]:
    """UpdateConnection's AuthorizationType and AuthParameters for an http route, with its secret.

    The same settings the stack creates the connection with (constructs_lib.destinations.auth_parameters,
    in Terraform's shape there), here in the API's shape:
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_UpdateConnection.html
    """
    kind = auth["type"]
    if kind == "api_key":
        return {"AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": auth["header"], "ApiKeyValue": secret}}}
    if kind == "basic":
        return {"AuthorizationType": "BASIC",
                "AuthParameters": {"BasicAuthParameters": {"Username": auth["username"], "Password": secret}}}
    if kind == "oauth":
        body = [{"Key": "grant_type", "Value": "client_credentials", "IsValueSecret": False}]
        if auth.get("scope"):
            body.append({"Key": "scope", "Value": auth["scope"], "IsValueSecret": False})
        return {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {"OAuthParameters": {
            "AuthorizationEndpoint": auth["authorization_endpoint"], "HttpMethod": auth.get("http_method", "POST"),
            "ClientParameters": {"ClientID": auth["client_id"], "ClientSecret": secret},
            "OAuthHttpParameters": {"BodyParameters": body}}}}
    raise WebhookctlError(f"route '{route}' has auth none: there is no secret to set")


def set_route_secret(ws: Workspace, name: str, value: str, *, log: Log) -> dict[str, Any]:
    """Put an http route's secret into its connection (EventBridge keeps it in its own secret)."""
    from botocore.exceptions import ClientError

    from .operations import env_client

    route = require_route(ws, name, http=True)
    settings = route.http.auth.settings()
    _check_route_secret(value)
    update = connection_update(name, settings, value)
    connection = connection_name(bus_name(ws.stack), name, settings)
    events = env_client(ws, "events")
    try:
        events.update_connection(Name=connection, **update)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise WebhookctlError(f"no connection {connection} in environment '{ws.env.name}': deploy it first "
                                  f"(`webhookctl deploy --env {ws.env.name}`)") from None
        raise
    log(f"secrets: route {name}'s {route.http.auth.type} credentials are set in '{ws.env.name}' "
        f"(connection {connection}); events now go out with them")
    return {"route": name, "connection": connection, "auth": route.http.auth.type}


def _check_route_secret(value: str) -> None:
    if not value.strip():
        raise WebhookctlError("no secret on stdin (pipe it in, e.g. `webhookctl secrets set --route orders < key.txt`)")
    if "\n" in value or "\r" in value:
        raise WebhookctlError("the secret spans several lines: pass exactly the one-line value")
    if len(value) > 512:  # EventBridge's connection parameters take 1-512 characters
        raise WebhookctlError(f"the secret is {len(value)} characters: an EventBridge connection takes at most 512")


# --------------------------------------------------------------------------- stats


def target_stats(ws: Workspace, *, hours: int = 24, now: datetime | None = None, cloudwatch=None) -> list[dict[str, Any]]:
    """Per route: delivered, retried, failed, dead-lettered and lost counts over the last `hours` whole
    hours and the current one (hourly sums: a few points per query, and the current hour counts too).

    `[{"route", "target", "destination", "rule", "delivered", "retried", "failed", "dead_lettered",
    "lost", "period_hours"}]`; a count is 0 when the metric has no data (EventBridge sends some of
    them only when they are not zero), and None on the emulator for the targets moto delivers itself.
    """
    from .operations import env_client

    cloudwatch = cloudwatch or env_client(ws, "cloudwatch")
    end = now or datetime.now(timezone.utc)
    bus = bus_name(ws.stack)
    queries, rows = [], []
    for index, route in enumerate(ws.config.routes):
        rule = route_rule_name(bus, route.name)
        rows.append({"route": route.name, "target": route.target, "destination": ws.env.target_url(route) or route.target,
                     "rule": rule, "period_hours": hours})
        for key, metric in STAT_METRICS.items():
            queries.append(_metric_query(f"m{index}_{key}", metric, bus, rule))
    hour = end.replace(minute=0, second=0, microsecond=0)
    values = _metric_sums(cloudwatch, queries, hour - timedelta(hours=hours), hour + timedelta(hours=1))
    for index, row in enumerate(rows):
        if ws.env.is_emulated and row["target"] != "http":
            # moto delivers sqs, logs and arn targets itself and puts no AWS/Events metrics: a 0 would
            # be a wrong number, so these are unknown (None); the local http deliverer puts them.
            row.update({key: None for key in STAT_METRICS})
            continue
        row.update({key: int(values.get(f"m{index}_{key}", 0)) for key in STAT_METRICS})
    return rows


def _metric_query(query_id: str, metric: str, bus: str, rule: str) -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/Events", "MetricName": metric,
                   "Dimensions": [{"Name": "EventBusName", "Value": bus}, {"Name": "RuleName", "Value": rule}]},
        "Period": 3600, "Stat": "Sum"}}


def _metric_sums(cloudwatch, queries: list[dict], start: datetime, end: datetime) -> dict[str, float]:
    sums: dict[str, float] = {}
    for first in range(0, len(queries), 500):  # GetMetricData takes at most 500 queries
        kwargs = {"MetricDataQueries": queries[first:first + 500], "StartTime": start, "EndTime": end}
        while True:
            page = cloudwatch.get_metric_data(**kwargs)
            for result in page["MetricDataResults"]:
                sums[result["Id"]] = sums.get(result["Id"], 0.0) + sum(result.get("Values", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return sums
