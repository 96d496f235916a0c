"""Load and validate `webhookctl.toml`.

Every problem is collected first and reported together, each naming its
field (`providers.stripe.scheme: ...`), so a user fixes the file in one pass.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

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

DEFAULT_PATH = "webhookctl.toml"

# Names end up in AWS resource names, URL paths and Terraform addresses.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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
    _unknown(p, "", raw, {"project", "providers", "routes", "environments", "limits"})

    project = raw.get("project")
    if not isinstance(project, str) or not _NAME.match(project):
        p.add("project", "required; lowercase letters, digits and '-', starting with a letter, at most 31 characters")
        project = "invalid"

    limits = _limits(p, raw.get("limits", {}))
    providers = _providers(p, raw.get("providers"))
    routes = _routes(p, raw.get("routes", []))
    environments = _environments(p, raw.get("environments"))

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
    )


def _unknown(p: _Problems, prefix: str, table: dict, allowed: set | frozenset) -> None:
    for key in table:
        if key not in allowed:
            p.add(f"{prefix}{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _int(p: _Problems, where: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        p.add(where, f"must be a whole number from {low} to {high}")
        return None
    return value


def _limits(p: _Problems, raw: Any) -> Limits:
    if not isinstance(raw, dict):
        p.add("limits", "must be a table")
        return Limits()
    bounds = {
        "max_body_bytes": (1, 10 * 1024 * 1024),  # API Gateway's own cap is 10 MB
        "inline_payload_limit": (0, 262_144),  # provider 5.100.0 / EventBridge entry size
        "record_ttl_days": (1, 3650),
        "log_retention_in_days": (1, 3653),
        "function_memory_mb": (128, 10240),
        "function_timeout_seconds": (1, 900),
        "max_receive_count": (1, 1000),
        "batch_size": (1, 10),  # FIFO event source mappings take at most 10
    }
    _unknown(p, "limits.", raw, set(bounds) | {"function_runtime"})
    values: dict[str, Any] = {}
    for key, (low, high) in bounds.items():
        if key in raw:
            checked = _int(p, f"limits.{key}", raw[key], low, high)
            if checked is not None:
                values[key] = checked
    if "function_runtime" in raw:
        runtime = raw["function_runtime"]
        if not isinstance(runtime, str) or not re.match(r"^python3\.(1[1-9])$", runtime):
            p.add("limits.function_runtime", "must be a Lambda Python runtime such as 'python3.11'")
        else:
            values["function_runtime"] = runtime
    return Limits(**values)


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


def _routes(p: _Problems, raw: Any) -> list[Route]:
    if not isinstance(raw, list):
        p.add("routes", "must be an array of tables ([[routes]])")
        return []
    routes: list[Route] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        where = f"routes[{index}]"
        if not isinstance(table, dict):
            p.add(where, "must be a table")
            continue
        _unknown(p, f"{where}.", table, {"name", "pattern", "target"})
        name = table.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            p.add(f"{where}.name", "required; lowercase letters, digits and '-'")
            continue
        if name in seen:
            p.add(f"{where}.name", f"duplicate route name '{name}'")
        seen.add(name)
        pattern = table.get("pattern")
        if not isinstance(pattern, dict) or not pattern:
            p.add(f"{where}.pattern", "required: an EventBridge event pattern, e.g. { detail = { provider = [\"stripe\"] } }")
            continue
        target = table.get("target")
        if not isinstance(target, str) or not (
            target in ("logs", "sqs") or re.match(r"^arn:aws[a-z-]*:(sqs|logs):", target)
        ):
            p.add(f"{where}.target", "must be logs, sqs, or the ARN of an SQS queue or log group")
            continue
        # Published events all come from one source; a route matches only ours.
        pattern = {"source": [EVENT_SOURCE], **pattern}
        routes.append(Route(name=name, pattern=pattern, target=target))
    return routes


def _environments(p: _Problems, raw: Any) -> dict[str, Environment]:
    if not isinstance(raw, dict) or not raw:
        p.add("environments", "at least one environment is required ([environments.local])")
        return {}
    envs: dict[str, Environment] = {}
    allowed = {
        "region", "backend", "protect", "tags", "emulator_endpoint",
        "throttle_burst_limit", "throttle_rate_limit", "archive_expiration_days",
    }
    for name, table in raw.items():
        where = f"environments.{name}"
        if not _NAME.match(name):
            p.add(where, "environment names are lowercase letters, digits and '-'")
            continue
        if not isinstance(table, dict):
            p.add(where, "must be a table")
            continue
        _unknown(p, f"{where}.", table, allowed)
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
        endpoint = table.get("emulator_endpoint")
        if endpoint is not None and not (
            isinstance(endpoint, str) and re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost):\d+$", endpoint)
        ):
            p.add(f"{where}.emulator_endpoint", "must be a loopback URL such as http://127.0.0.1:4566")
            endpoint = None
        if name == "local" and endpoint is None and "emulator_endpoint" not in table:
            endpoint = "http://127.0.0.1:4566"
        burst = _int(p, f"{where}.throttle_burst_limit", table.get("throttle_burst_limit", 5000), 1, 1_000_000)
        rate = table.get("throttle_rate_limit", 10000.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            p.add(f"{where}.throttle_rate_limit", "must be a positive number (requests per second)")
            rate = 10000.0
        expiry = table.get("archive_expiration_days")
        if expiry is not None:
            expiry = _int(p, f"{where}.archive_expiration_days", expiry, 31, 36_500)
        backend = _backend(p, where, table.get("backend", {"type": "local"}), region)
        envs[name] = Environment(
            name=name,
            region=region if isinstance(region, str) else "us-east-1",
            backend=backend,
            protect=protect,
            tags=dict(tags),
            emulator_endpoint=endpoint,
            throttle_burst_limit=burst or 5000,
            throttle_rate_limit=float(rate),
            archive_expiration_days=expiry,
        )
    if raw and "local" not in raw:
        p.add("environments.local", "required: the default environment that targets the embedded emulator")
    return envs


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
