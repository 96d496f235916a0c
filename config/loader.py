"""Load and validate `webhookctl.toml`.

Every problem is collected first and reported together, each naming its
field (`providers.stripe.scheme: ...`), so a user fixes the file in one pass.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from handlers import schemes as _schemes
from handlers.contract import EVENT_SOURCE

from .schema import (
    BACKEND_TYPES,
    COMMON_PROVIDER_KEYS,
    ORDERING_KEYWORDS,
    Backend,
    Config,
    Environment,
    Limits,
    Provider,
    Route,
)

from handlers.contract import AWS_LIMITS, LAMBDA_REQUEST_BYTES

from .cost_settings import parse_archive, parse_tracing, with_environment_tracing
from .schema import Tracing
from .schema import (  # the stack's sections: limits, functions, environments' throttle and alarms
    DEFAULT_FUNCTIONS,
    DEFAULT_RUNTIME,
    DEFAULT_THROTTLE_BURST_LIMIT,
    DEFAULT_THROTTLE_RATE_LIMIT,
    FUNCTION_NAMES,
    AlarmSubscriptions,
    FunctionSettings,
)

DEFAULT_PATH = "webhookctl.toml"

# Names end up in AWS resource names, URL paths and Terraform addresses.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RUNTIME = re.compile(r"^python3\.(1[2-9]|[2-9]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS = re.compile(r"^https://[^\s/]+(/\S*)?$")
# Any partition (aws, aws-cn, aws-us-gov, ...): the stack checks it against the environment's.
_ROUTE_TARGET_ARN = re.compile(r"^arn:aws(-[a-z]+)*:(sqs|logs):")
_TOPIC_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")

# [limits]: (lowest, highest, why) of each whole-number field.
LIMIT_BOUNDS = {
    "max_body_bytes": (1, AWS_LIMITS.api_gateway_payload_bytes, "API Gateway's payload limit"),
    "inline_payload_limit": (0, 1_048_576, "EventBridge's largest event"),
    "put_events_max_bytes": (1024, 1_048_576, "256 KiB everywhere, 1 MB where AWS raised it"),
    "record_ttl_days": (1, 3650, ""),
    "log_retention_in_days": (1, 3653, ""),
    "max_receive_count": (1, 1000, ""),
    "batch_size": (1, 10, "FIFO event source mappings take at most 10"),
}
# Per-function settings that [limits] used to hold.
MOVED_LIMITS = {
    "function_memory_mb": "functions.<name>.memory_mb",
    "function_timeout_seconds": "functions.<name>.timeout_seconds",
    "function_runtime": "functions.<name>.runtime",
}
# The published event's fields besides the payload (ids, provider, type, times, S3 key, plus
# source and detail-type) take well under 2 KiB; 16 KiB keeps an inlined payload clear of the limit.
EVENT_ENVELOPE_BYTES = 16 * 1024
# Around the body, the API Gateway proxy event holds headers (API Gateway caps them at 10 KB)
# and the request context: 64 KiB covers both.
PROXY_EVENT_ENVELOPE_BYTES = 64 * 1024
# API Gateway's default account-level throttle, per region, shared by every API of the account:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
ACCOUNT_THROTTLE_RATE = 10_000
ACCOUNT_THROTTLE_BURST = 5_000
# An alarm takes at most 5 actions; the environment's own topic is always one of them.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
MAX_EXTRA_ALARM_TOPICS = 4
ENVIRONMENT_KEYS = {
    "region", "backend", "protect", "tags", "emulator_endpoint", "throttle_burst_limit",
    "throttle_rate_limit", "archive_expiration_days", "functions", "alarms", "target_urls", "tracing",
}


class ConfigError(Exception):
    """The config file is missing or invalid; the message names every bad field."""

    def __init__(self, message: str, path: str | None = None, problems: list[str] | None = None):
        self.path = path
        self.problems = problems or [message]
        super().__init__(message)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def load(path: str | Path = DEFAULT_PATH) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run from the project folder or pass --config)", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", str(path)) from None
    return parse(raw, str(path))


def parse(raw: dict[str, Any], path: str = DEFAULT_PATH) -> Config:
    p = _Problems()
    _unknown(p, "", raw, {"project", "providers", "routes", "environments", "limits", "functions", "tracing", "archive"})

    project = raw.get("project")
    if not isinstance(project, str) or not _NAME.match(project):
        p.add("project", "required; lowercase letters, digits and '-', starting with a letter, at most 31 characters")
        project = "invalid"

    limits = _limits(p, raw.get("limits", {}))
    functions = _functions(p, raw.get("functions", {}), "functions", DEFAULT_FUNCTIONS)
    providers = _providers(p, raw.get("providers"))
    routes = _routes(p, raw.get("routes", []))
    environments = _environments(p, raw.get("environments"), functions)
    check_routes_per_environment(p, project, routes, environments)
    tracing = parse_tracing(p, "tracing", raw.get("tracing", {}), Tracing())
    environments = with_environment_tracing(p, raw.get("environments"), environments, tracing)
    archive = parse_archive(p, raw.get("archive", {}), environments)

    if p.items:
        listing = "\n".join(f"  - {item}" for item in p.items)
        first = p.items[0] if len(p.items) == 1 else f"{len(p.items)} problems:\n{listing}"
        raise ConfigError(f"{path}: {first}", path, p.items)
    return Config(
        project=project,
        providers=providers,
        routes=tuple(routes),
        environments=environments,
        limits=limits,
        path=path,
        functions=functions,
        tracing=tracing,
        archive=archive,
    )


def _target_urls(p: _Problems, where: str, raw: Any) -> dict[str, str]:
    """`target_urls = { <http route> = "<url>" }`: checked with the routes (check_routes_per_environment)."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        p.add(where, "must be a table of route name = URL")
        return {}
    return dict(raw)


def _unknown(p: _Problems, prefix: str, table: dict, allowed: set | frozenset) -> None:
    for key in table:
        if key not in allowed:
            p.add(f"{prefix}{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _int(p: _Problems, where: str, value: Any, low: int, high: int, why: str = "") -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        p.add(where, f"must be a whole number from {low} to {high}" + (f" ({why})" if why else ""))
        return None
    return value


def _limits(p: _Problems, raw: Any) -> Limits:
    if not isinstance(raw, dict):
        p.add("limits", "must be a table")
        return Limits()
    for key in sorted(set(raw) & set(MOVED_LIMITS)):
        p.add(f"limits.{key}", f"moved: set {MOVED_LIMITS[key]} (per function, see [functions.ingest])")
    _unknown(p, "limits.", {k: v for k, v in raw.items() if k not in MOVED_LIMITS}, set(LIMIT_BOUNDS))
    values: dict[str, Any] = {}
    for key, (low, high, why) in LIMIT_BOUNDS.items():
        if key in raw:
            checked = _int(p, f"limits.{key}", raw[key], low, high, why)
            if checked is not None:
                values[key] = checked
    limits = Limits(**values)
    _payload_limits(p, limits)
    return limits


def _payload_limits(p: _Problems, limits: Limits) -> None:
    """Sizes that only fail in AWS (moto enforces none of them): the body and the inline payload."""
    event_bytes = 4 * -(-limits.max_body_bytes // 3) + PROXY_EVENT_ENVELOPE_BYTES
    if event_bytes > LAMBDA_REQUEST_BYTES:
        most = (LAMBDA_REQUEST_BYTES - PROXY_EVENT_ENVELOPE_BYTES) // 4 * 3
        p.add("limits.max_body_bytes", f"{limits.max_body_bytes} bytes reach the ingest function base64-encoded, "
              f"a {event_bytes}-byte event over Lambda's {LAMBDA_REQUEST_BYTES}-byte request payload: at most {most}")
    room = limits.put_events_max_bytes - EVENT_ENVELOPE_BYTES
    if limits.inline_payload_limit > room:
        p.add("limits.inline_payload_limit", f"{limits.inline_payload_limit} leaves the published event's other fields "
              f"no room under put_events_max_bytes ({limits.put_events_max_bytes}): at most {room}")


def _functions(p: _Problems, raw: Any, where: str, base: Mapping[str, FunctionSettings]) -> dict[str, FunctionSettings]:
    """`[functions.<name>]` tables over `base` (the defaults, or the config-wide ones for an environment)."""
    if not isinstance(raw, dict):
        p.add(where, "must be a table of functions (ingest, process)")
        return dict(base)
    _unknown(p, f"{where}.", raw, set(FUNCTION_NAMES))
    merged = dict(base)
    for name in FUNCTION_NAMES:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            p.add(f"{where}.{name}", "must be a table")
            continue
        _unknown(p, f"{where}.{name}.", table, {"timeout_seconds", "memory_mb", "runtime", "reserved_concurrency"})
        merged[name] = _function(p, f"{where}.{name}", name, table, base[name])
    return merged


def _function(p: _Problems, where: str, name: str, table: dict, base: FunctionSettings) -> FunctionSettings:
    limit = AWS_LIMITS.api_gateway_integration_timeout_seconds
    longest = (limit - 1, f"under API Gateway's {limit} s integration timeout") if name == "ingest" else (900, "")
    values: dict[str, Any] = {}
    for key, (low, high, why) in {
        "timeout_seconds": (1, *longest),
        "memory_mb": (128, 10_240, ""),
        # An SQS event source's maximum concurrency is 2 to 1000; process's is set to its reserve.
        "reserved_concurrency": (2 if name == "process" else 1, 1000, ""),
    }.items():
        if key in table:
            checked = _int(p, f"{where}.{key}", table[key], low, high, why)
            if checked is not None:
                values[key] = checked
    if "runtime" in table:
        runtime = table["runtime"]
        if isinstance(runtime, str) and _RUNTIME.match(runtime):
            values["runtime"] = runtime
        else:
            p.add(f"{where}.runtime", "must be a Lambda Python runtime on Amazon Linux 2023: python3.12 or newer "
                  f"(default {DEFAULT_RUNTIME}; python3.11 runs on Amazon Linux 2, past its end of life)")
    return dataclasses.replace(base, **values)


def _alarms(p: _Problems, where: str, raw: Any, region: Any) -> AlarmSubscriptions:
    """`alarms = { email = [...], https = [...], topic_arns = [...] }` of one environment."""
    if not isinstance(raw, dict):
        p.add(where, "must be a table: { email = [...], https = [...], topic_arns = [...] }")
        return AlarmSubscriptions()
    _unknown(p, f"{where}.", raw, {"email", "https", "topic_arns"})
    checks = {
        "email": (_EMAIL, "email addresses"),
        "https": (_HTTPS, "https:// URLs"),
        "topic_arns": (_TOPIC_ARN, "SNS topic ARNs (arn:<partition>:sns:<region>:<account>:<name>)"),
    }
    values: dict[str, tuple[str, ...]] = {}
    for key, (pattern, what) in checks.items():
        items = raw.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) and pattern.match(i) for i in items):
            p.add(f"{where}.{key}", f"must be a list of {what}")
            continue
        values[key] = tuple(items)
    for arn in values.get("topic_arns", ()):
        if arn.split(":")[3] != region:
            p.add(f"{where}.topic_arns", f"{arn} is not in the environment's region {region}: alarms notify topics in their own region")
    if len(values.get("topic_arns", ())) > MAX_EXTRA_ALARM_TOPICS:
        p.add(f"{where}.topic_arns", f"at most {MAX_EXTRA_ALARM_TOPICS}: an alarm has 5 actions and the environment's own topic is one")
    return AlarmSubscriptions(**values)


def _providers(p: _Problems, raw: Any) -> dict[str, Provider]:
    if not isinstance(raw, dict) or not raw:
        p.add("providers", "at least one provider is required, e.g. [providers.stripe] scheme = \"stripe\"")
        return {}
    providers: dict[str, Provider] = {}
    for name, table in raw.items():
        where = f"providers.{name}"
        if not _NAME.match(name):
            p.add(where, "provider names are lowercase letters, digits and '-' (they appear in URLs)")
            continue
        if not isinstance(table, dict):
            p.add(where, "must be a table")
            continue
        scheme = table.get("scheme")
        if not isinstance(scheme, str) or scheme not in _schemes.REGISTRY:
            p.add(f"{where}.scheme", f"must be one of: {', '.join(_schemes.REGISTRY)}")
            continue
        _unknown(p, f"{where}.", table, COMMON_PROVIDER_KEYS | _schemes.get(scheme).option_names)
        ordering = table.get("ordering_key", "provider")
        if not isinstance(ordering, str) or not (
            ordering in ORDERING_KEYWORDS or re.match(r"^payload:[A-Za-z0-9_.-]+$", ordering)
        ):
            p.add(f"{where}.ordering_key", "must be provider, webhook, event_type or payload:<dotted.path>")
        tolerance = _int(p, f"{where}.tolerance_seconds", table.get("tolerance_seconds", 300), 1, 86_400)
        options = _scheme_options(p, where, scheme, table)
        providers[name] = Provider(
            name=name,
            scheme=scheme,
            ordering_key=ordering if isinstance(ordering, str) else "provider",
            tolerance_seconds=tolerance or 300,
            options=options,
        )
    return providers


def _scheme_options(p: _Problems, where: str, scheme: str, table: dict[str, Any]) -> dict[str, Any]:
    """The scheme's options, checked by its registry entry; defaults filled in."""
    options = {k: v for k, v in table.items() if k not in COMMON_PROVIDER_KEYS}
    for option in _schemes.get(scheme).options:
        if option.name not in options:
            if option.required:
                p.add(f"{where}.{option.name}", f"required for scheme {scheme}: {option.expect}")
            elif option.default is not None:
                options[option.name] = option.default
        elif not option.check(options[option.name]):
            p.add(f"{where}.{option.name}", f"must be {option.expect}")
    return options


# Routes and their targets (config/routes.py reads _NAME and _int above).
from .routes import check_routes_per_environment, parse_routes as _routes  # noqa: E402


def _environments(p: _Problems, raw: Any, functions: Mapping[str, FunctionSettings]) -> dict[str, Environment]:
    if not isinstance(raw, dict) or not raw:
        p.add("environments", "at least one environment is required ([environments.local])")
        return {}
    envs: dict[str, Environment] = {}
    for name, table in raw.items():
        where = f"environments.{name}"
        if not _NAME.match(name):
            p.add(where, "environment names are lowercase letters, digits and '-'")
        elif not isinstance(table, dict):
            p.add(where, "must be a table")
        else:
            envs[name] = _environment(p, name, table, functions)
    if raw and "local" not in raw:
        p.add("environments.local", "required: the default environment that targets the embedded emulator")
    return envs


def _environment(p: _Problems, name: str, table: dict, functions: Mapping[str, FunctionSettings]) -> Environment:
    where = f"environments.{name}"
    _unknown(p, f"{where}.", table, ENVIRONMENT_KEYS)
    region = table.get("region", "us-east-1")
    if not isinstance(region, str) or not _REGION.match(region):
        p.add(f"{where}.region", "must be an AWS region such as eu-west-1")
    tags = table.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        p.add(f"{where}.tags", "must be a table of string values")
        tags = {}
    protect = table.get("protect", False)
    if not isinstance(protect, bool):
        p.add(f"{where}.protect", "must be true or false")
        protect = False
    expiry = table.get("archive_expiration_days")
    if expiry is not None:
        expiry = _int(p, f"{where}.archive_expiration_days", expiry, 31, 36_500)
    burst, rate = _throttle(p, where, table)
    return Environment(
        name=name,
        region=region if isinstance(region, str) else "us-east-1",
        backend=_backend(p, where, table.get("backend", {"type": "local"}), region),
        protect=protect,
        tags=dict(tags),
        emulator_endpoint=_emulator_endpoint(p, name, table),
        throttle_burst_limit=burst,
        throttle_rate_limit=rate,
        archive_expiration_days=expiry,
        functions=_functions(p, table.get("functions", {}), f"{where}.functions", functions),
        alarms=_alarms(p, f"{where}.alarms", table.get("alarms", {}), region),
        target_urls=_target_urls(p, f"{where}.target_urls", table.get("target_urls", {})),
    )


def _emulator_endpoint(p: _Problems, name: str, table: dict) -> str | None:
    endpoint = table.get("emulator_endpoint")
    if endpoint is not None and not (
        isinstance(endpoint, str) and re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost):\d+$", endpoint)
    ):
        p.add(f"environments.{name}.emulator_endpoint", "must be a loopback URL such as http://127.0.0.1:4566")
        return None
    if name == "local" and endpoint is None and "emulator_endpoint" not in table:
        return "http://127.0.0.1:4566"
    return endpoint


def _throttle(p: _Problems, where: str, table: dict) -> tuple[int, float]:
    """The stage throttle: from the capacity model (docs/capacity.md), within the account's quota."""
    burst = _int(p, f"{where}.throttle_burst_limit", table.get("throttle_burst_limit", DEFAULT_THROTTLE_BURST_LIMIT),
                 1, ACCOUNT_THROTTLE_BURST, "API Gateway's default account burst, shared by every API in the region")
    rate = table.get("throttle_rate_limit", DEFAULT_THROTTLE_RATE_LIMIT)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= ACCOUNT_THROTTLE_RATE:
        p.add(f"{where}.throttle_rate_limit", f"must be a positive number of requests per second, at most "
              f"{ACCOUNT_THROTTLE_RATE} (API Gateway's default account rate, shared by every API in the region)")
        rate = DEFAULT_THROTTLE_RATE_LIMIT
    return burst or DEFAULT_THROTTLE_BURST_LIMIT, float(rate)


def _backend(p: _Problems, where: str, raw: Any, region: Any) -> Backend:
    where = f"{where}.backend"
    if not isinstance(raw, dict):
        p.add(where, "must be a table, e.g. { type = \"s3\", bucket = \"...\", key = \"...\" }")
        return Backend(type="local")
    kind = raw.get("type", "local")
    if kind not in BACKEND_TYPES:
        p.add(f"{where}.type", "must be local or s3")
        return Backend(type="local")
    if kind == "local":
        _unknown(p, f"{where}.", raw, {"type"})
        return Backend(type="local")
    _unknown(p, f"{where}.", raw, {"type", "bucket", "key", "region", "use_lockfile"})
    bucket, key = raw.get("bucket"), raw.get("key")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        p.add(f"{where}.bucket", "required for an s3 backend: a valid S3 bucket name")
    if not isinstance(key, str) or not key or key.startswith("/"):
        p.add(f"{where}.key", "required for an s3 backend: the state object key, e.g. webhookctl/prod.tfstate")
    backend_region = raw.get("region", region)
    if not isinstance(backend_region, str) or not _REGION.match(backend_region):
        p.add(f"{where}.region", "must be an AWS region")
    lock = raw.get("use_lockfile", True)
    if not isinstance(lock, bool):
        p.add(f"{where}.use_lockfile", "must be true or false")
        lock = True
    return Backend(type="s3", bucket=bucket, key=key, region=backend_region, use_lockfile=lock)
