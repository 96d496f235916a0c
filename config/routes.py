"""`[[routes]]`: an EventBridge pattern and the target its events go to (docs/destinations.md).

Targets: `logs` and `sqs` (created by the stack), `http` (an EventBridge API destination with
its connection), or the ARN of an existing SQS queue or log group. Every target has a retry
policy (`retry`) and the bus's dead-letter queue. Each check names its field, like the rest of
the loader; the checks that depend on an environment (HTTPS, name lengths) run once both are read.
"""
from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlparse

from handlers.contract import (
    API_DESTINATION_MAX_RATE,
    EVENT_SOURCE,
    EVENTBRIDGE_NAME_MAX,
    RETRY_ATTEMPTS_MAX,
    RETRY_EVENT_AGE_RANGE,
    bus_name,
    route_resource_names,
)

from .loader import _NAME, _int
from .schema import AUTH_TYPES, DEFAULT_RATE_LIMIT_PER_SECOND, HTTP_METHODS, TARGET_KINDS, HttpAuth, HttpTarget, RetryPolicy, Route

# Any partition (aws, aws-cn, aws-us-gov, ...): the stack checks it against the environment's.
ROUTE_TARGET_ARN = re.compile(r"^arn:aws(-[a-z]+)*:(sqs|logs):([a-z0-9-]+):(\d{12}):(.+)$")
COMMON_KEYS = {"name", "pattern", "target", "retry"}
KEYS_BY_KIND = {
    "logs": COMMON_KEYS,
    "sqs": COMMON_KEYS,
    "http": COMMON_KEYS | {"url", "method", "auth", "rate_limit_per_second", "transform"},
    "sqs-arn": COMMON_KEYS | {"message_group_id", "queue_policy"},
    "logs-arn": COMMON_KEYS,
}
# An input transformer's variables: "[A-Za-z0-9_-]+", at most 100, not starting with AWS; paths
# in dot notation. https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
# We take plain dotted paths only, which the local deliverer evaluates exactly as EventBridge does.
_TRANSFORM_KEY = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TRANSFORM_PATH = re.compile(r"^\$(\.[A-Za-z0-9_-]+)*$")
TRANSFORM_MAX_FIELDS = 100
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,512}$")  # an HTTP token (RFC 9110)
_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,./:;<=>?@\[\\\]^_`{|}~-]{1,128}$")  # SQS MessageGroupId


def parse_routes(p: Any, raw: Any) -> list[Route]:
    if not isinstance(raw, list):
        p.add("routes", "must be an array of tables ([[routes]])")
        return []
    routes: list[Route] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        route = _route(p, f"routes[{index}]", table, seen)
        if route is not None:
            routes.append(route)
    return routes


def _route(p: Any, where: str, table: Any, seen: set[str]) -> Route | None:
    if not isinstance(table, dict):
        p.add(where, "must be a table")
        return None
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        p.add(f"{where}.name", "required; lowercase letters, digits and '-'")
        return None
    if name in seen:
        p.add(f"{where}.name", f"duplicate route name '{name}'")
    seen.add(name)
    pattern = table.get("pattern")
    if not isinstance(pattern, dict) or not pattern:
        p.add(f"{where}.pattern", "required: an EventBridge event pattern, e.g. { detail = { provider = [\"stripe\"] } }")
        return None
    kind = _kind(table.get("target"))
    if kind is None:
        p.add(f"{where}.target", "must be logs, sqs, http, or the ARN of an SQS queue or log group")
        return None
    _unknown_for(p, where, table, kind)
    # Published events all come from one source; a route matches only ours.
    route = Route(name=name, pattern={"source": [EVENT_SOURCE], **pattern}, target=table["target"],
                  retry=_retry(p, f"{where}.retry", table.get("retry", {})))
    if kind == "http":
        return _with(route, http=_http(p, where, table))
    if kind == "sqs-arn":
        return _with(route, message_group_id=_queue_arn_settings(p, where, name, table))
    return route


def _kind(target: Any) -> str | None:
    if not isinstance(target, str):
        return None
    if target in TARGET_KINDS:
        return target
    match = ROUTE_TARGET_ARN.match(target)
    return f"{match.group(2)}-arn" if match else None


def _unknown_for(p: Any, where: str, table: dict, kind: str) -> None:
    allowed = KEYS_BY_KIND[kind]
    everything = set().union(*KEYS_BY_KIND.values())
    for key in table:
        if key in allowed:
            continue
        if key in everything:
            owners = sorted(k for k, keys in KEYS_BY_KIND.items() if key in keys)
            p.add(f"{where}.{key}", f"only for {' or '.join(o.replace('-arn', ' ARN') for o in owners)} targets")
        else:
            p.add(f"{where}.{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _with(route: Route, **changes: Any) -> Route:
    import dataclasses

    return dataclasses.replace(route, **changes)


def _retry(p: Any, where: str, raw: Any) -> RetryPolicy:
    if not isinstance(raw, dict):
        p.add(where, "must be a table: { maximum_attempts = 8, maximum_event_age_seconds = 3600 }")
        return RetryPolicy()
    for key in raw:
        if key not in ("maximum_attempts", "maximum_event_age_seconds"):
            p.add(f"{where}.{key}", "unknown field (expected one of: maximum_attempts, maximum_event_age_seconds)")
    default = RetryPolicy()
    low, high = RETRY_EVENT_AGE_RANGE
    attempts = _int(p, f"{where}.maximum_attempts", raw.get("maximum_attempts", default.maximum_attempts),
                    0, RETRY_ATTEMPTS_MAX, "retries after the first attempt: EventBridge's range")
    age = _int(p, f"{where}.maximum_event_age_seconds",
               raw.get("maximum_event_age_seconds", default.maximum_event_age_seconds), low, high,
               "EventBridge's range")
    return RetryPolicy(maximum_attempts=default.maximum_attempts if attempts is None else attempts,
                       maximum_event_age_seconds=age or default.maximum_event_age_seconds)


def _http(p: Any, where: str, table: dict) -> HttpTarget:
    url = table.get("url")
    if not isinstance(url, str) or not _is_http_url(url):
        p.add(f"{where}.url", "required for an http target: the endpoint's https:// URL")
        url = "https://invalid.example"
    method = table.get("method", "POST")
    if method not in HTTP_METHODS:
        p.add(f"{where}.method", f"must be one of: {', '.join(HTTP_METHODS)}")
        method = "POST"
    rate = _int(p, f"{where}.rate_limit_per_second", table.get("rate_limit_per_second", DEFAULT_RATE_LIMIT_PER_SECOND), 1,
                API_DESTINATION_MAX_RATE, "invocations per second an API destination allows")
    return HttpTarget(url=url, method=method, auth=_auth(p, f"{where}.auth", table.get("auth", "none")),
                      rate_limit_per_second=rate or DEFAULT_RATE_LIMIT_PER_SECOND,
                      transform=_transform(p, f"{where}.transform", table.get("transform")))


def _is_http_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname) and not re.search(r"\s", url)


# Per auth type: its required settings and its optional ones.
AUTH_SETTINGS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "api_key": (("header",), ()),
    "basic": (("username",), ()),
    "oauth": (("authorization_endpoint", "client_id"), ("scope", "http_method")),
}


def _auth(p: Any, where: str, raw: Any) -> HttpAuth:
    table = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(table, dict):
        p.add(where, "must be none, or a table such as { type = \"api_key\", header = \"X-Api-Key\" }")
        return HttpAuth()
    kind = table.get("type")
    if kind not in AUTH_TYPES:
        p.add(f"{where}.type", f"must be one of: {', '.join(AUTH_TYPES)}")
        return HttpAuth()
    required, optional = AUTH_SETTINGS[kind]
    for key in table:
        if key != "type" and key not in required + optional:
            p.add(f"{where}.{key}", f"not a setting of {kind} auth (secrets are set with `webhookctl secrets set --route`)"
                  if key in ("value", "password", "client_secret", "key") else f"not a setting of {kind} auth")
    values = {key: table[key] for key in required + optional if key in table}
    for key in required:
        if not isinstance(table.get(key), str) or not table[key]:
            p.add(f"{where}.{key}", f"required for {kind} auth")
    _check_auth_values(p, where, values)
    return HttpAuth(type=kind, **{k: v for k, v in values.items() if isinstance(v, str)})


def _check_auth_values(p: Any, where: str, values: dict[str, Any]) -> None:
    if isinstance(values.get("header"), str) and not _HEADER.match(values["header"]):
        p.add(f"{where}.header", "must be an HTTP header name such as X-Api-Key")
    endpoint = values.get("authorization_endpoint")
    if isinstance(endpoint, str) and not (endpoint.startswith("https://") and _is_http_url(endpoint)):
        p.add(f"{where}.authorization_endpoint", "must be the token endpoint's https:// URL")
    if values.get("http_method", "POST") not in ("GET", "POST", "PUT"):
        p.add(f"{where}.http_method", "must be GET, POST or PUT (how EventBridge calls the token endpoint)")


def _transform(p: Any, where: str, raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw or len(raw) > TRANSFORM_MAX_FIELDS:
        p.add(where, f"must be a table of 1 to {TRANSFORM_MAX_FIELDS} fields, each a path into the event, "
              "e.g. { id = \"$.detail.webhook_id\", data = \"$.detail.payload.data\" }")
        return None
    for key, path in raw.items():
        if not _TRANSFORM_KEY.match(key) or key.upper().startswith("AWS"):
            p.add(f"{where}.{key}", "field names are letters, digits, '_' and '-', not starting with AWS")
        if not isinstance(path, str) or not _TRANSFORM_PATH.match(path):
            p.add(f"{where}.{key}", "must be a JSON path in dot notation, such as $.detail.payload.id")
    return dict(raw)


def _queue_arn_settings(p: Any, where: str, name: str, table: dict) -> str | None:
    """An existing queue: its policy must let this route's rule send (we cannot edit a policy we do not own)."""
    arn = table["target"]
    _, _, _, region, account, queue = arn.split(":", 5)
    if table.get("queue_policy") != "granted":
        source = f"arn:aws:events:{region}:{account}:rule/*-bus/*-bus-{name}"
        p.add(f"{where}.queue_policy", f"webhookctl cannot edit the policy of a queue it does not own: allow "
              f"events.amazonaws.com sqs:SendMessage on {arn} where aws:SourceArn is like {source} or "
              f"{source}-redrive in that queue's policy, then set queue_policy = \"granted\"")
    group = table.get("message_group_id")
    if queue.endswith(".fifo"):
        group = name if group is None else group
        if not isinstance(group, str) or not _GROUP_ID.match(group):
            p.add(f"{where}.message_group_id", "must be 1-128 letters, digits or punctuation (the FIFO queue's group)")
        return group if isinstance(group, str) else name
    if group is not None:
        p.add(f"{where}.message_group_id", "only for a FIFO queue (an ARN ending in .fifo)")
    return None


def check_routes_per_environment(p: Any, project: str, routes: list[Route], environments: Mapping[str, Any]) -> None:
    """What depends on an environment: HTTPS for API destinations, the URL overrides, name lengths."""
    by_name = {r.name: (i, r) for i, r in enumerate(routes)}
    for env in environments.values():
        for key in env.target_urls:
            route = by_name.get(key, (None, None))[1]
            if route is None or route.http is None:
                p.add(f"environments.{env.name}.target_urls.{key}", "not an http route")
    for index, route in enumerate(routes):
        _check_names(p, f"routes[{index}].name", project, route, environments)
        if route.http is not None:
            _check_urls(p, f"routes[{index}].url", route, environments)


def _check_names(p: Any, where: str, project: str, route: Route, environments: Mapping[str, Any]) -> None:
    for env in environments:
        for what, name in route_resource_names(bus_name(f"{project}-{env}"), route.name).items():
            if len(name) > EVENTBRIDGE_NAME_MAX:
                p.add(where, f"'{route.name}' makes the {what} name {name} ({len(name)} characters) in environment "
                      f"{env}, over EventBridge's {EVENTBRIDGE_NAME_MAX}: shorten the route, project or environment name")
                return


def _check_urls(p: Any, where: str, route: Route, environments: Mapping[str, Any]) -> None:
    """API destinations call only https:// endpoints; an emulated environment may use http:// (a local receiver)."""
    plain: dict[str, list[str]] = {}  # field -> environments where it is plain HTTP
    for env in environments.values():
        url = env.target_url(route)
        field = where if route.name not in env.target_urls else f"environments.{env.name}.target_urls.{route.name}"
        if not _is_http_url(url):
            p.add(field, f"{url!r} is not an http(s) URL")
        elif url.startswith("http://") and not env.is_emulated:
            plain.setdefault(field, []).append(env.name)
    for field, names in plain.items():
        url = route.http.url if field == where else environments[names[0]].target_urls[route.name]
        p.add(field, f"{url} is plain HTTP: an API destination needs https:// (environment {', '.join(names)}); "
              f"only an emulated environment may use http:// (or set environments.<name>.target_urls.{route.name})")
