"""The typed shape of `webhookctl.toml`.

Plain frozen dataclasses (no cdktf import) so the CLI, the stack and the tests
can all read the config in milliseconds.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from handlers import schemes as _schemes

# The constructs' defaults are the config's (constructs_lib.defaults imports no cdktf).
from constructs_lib.defaults import API_THROTTLE_BURST_LIMIT, API_THROTTLE_RATE_LIMIT, FUNCTION_DEFAULTS

# Signature schemes and their options come from the scheme registry (standard library
# only: the same entries ingest verifies with and `send` signs with; the loader reads it).
SCHEMES = _schemes.SCHEMES

# Options each scheme accepts besides the common ones (COMMON_PROVIDER_KEYS).
SCHEME_OPTIONS: dict[str, frozenset[str]] = {name: s.option_names for name, s in _schemes.REGISTRY.items()}

COMMON_PROVIDER_KEYS = frozenset({"scheme", "ordering_key", "tolerance_seconds"})

# An ordering key is "provider" (one FIFO group per provider), "webhook" (no
# ordering: one group per delivery, maximum parallelism), "event_type", or
# "payload:<dotted.path>" (a field of the JSON body, e.g. a customer id).
ORDERING_KEYWORDS = ("provider", "webhook", "event_type")

BACKEND_TYPES = ("local", "s3")


@dataclass(frozen=True)
class Provider:
    name: str
    scheme: str
    ordering_key: str = "provider"
    tolerance_seconds: int = 300
    options: Mapping[str, Any] = field(default_factory=dict)

    def runtime_config(self, secret_id: str) -> dict[str, Any]:
        """What the ingest function needs to know about this provider (no secret values)."""
        return {
            "scheme": self.scheme,
            "ordering_key": self.ordering_key,
            "tolerance_seconds": self.tolerance_seconds,
            "secret_id": secret_id,
            **dict(self.options),
        }


# Route targets (docs/destinations.md). A target's retry policy defaults to EventBridge's own
# (24 h, 185 attempts); every target also has the bus's dead-letter queue.
TARGET_KINDS = ("logs", "sqs", "http")  # or the ARN of an existing SQS queue or log group
AUTH_TYPES = ("none", "api_key", "basic", "oauth")
HTTP_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS")
DEFAULT_RATE_LIMIT_PER_SECOND = 10  # a receiver's comfort, not EventBridge's 300 maximum


@dataclass(frozen=True)
class RetryPolicy:
    maximum_attempts: int = 185
    maximum_event_age_seconds: int = 86_400


@dataclass(frozen=True)
class HttpAuth:
    """How EventBridge authorizes to an HTTP target. Only non-secret settings: the secret (API key
    value, password, OAuth client secret) is set with `webhookctl secrets set --route NAME`."""

    type: str = "none"
    header: str | None = None  # api_key: the header that carries the key
    username: str | None = None  # basic
    authorization_endpoint: str | None = None  # oauth client credentials
    client_id: str | None = None
    scope: str | None = None
    http_method: str = "POST"  # oauth: how the token endpoint is called

    def settings(self) -> dict[str, str]:
        """The non-secret settings, as written (they name the connection: contract.connection_name)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and
                (k != "http_method" or self.type == "oauth")}

    @property
    def has_secret(self) -> bool:
        return self.type != "none"


@dataclass(frozen=True)
class HttpTarget:
    url: str
    method: str = "POST"
    auth: HttpAuth = field(default_factory=HttpAuth)
    rate_limit_per_second: int = DEFAULT_RATE_LIMIT_PER_SECOND
    # Output field -> JSON path into the event (an input transformer); None sends the whole detail.
    transform: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Route:
    """An EventBridge rule: published events matching `pattern` go to `target`.

    target is "logs" (a log group the stack creates), "sqs" (a queue the stack
    creates), "http" (an API destination: `http` holds its settings) or the ARN of
    an existing SQS queue or log group.
    """

    name: str
    pattern: Mapping[str, Any]
    target: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    http: HttpTarget | None = None
    message_group_id: str | None = None  # a FIFO queue ARN target's MessageGroupId

    @property
    def pattern_json(self) -> str:
        return json.dumps(self.pattern, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Backend:
    type: str  # "local" | "s3"
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    use_lockfile: bool = True


# The pipeline's two Lambda functions, by the name config and the stack use for them.
FUNCTION_NAMES = ("ingest", "process")
# python3.12 and newer run on Amazon Linux 2023; python3.11 runs on Amazon Linux 2, past its
# end of life (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
DEFAULT_RUNTIME: str = FUNCTION_DEFAULTS["runtime"]


@dataclass(frozen=True)
class FunctionSettings:
    """One function's time, size, runtime and concurrency: `[functions.<name>]`."""

    timeout_seconds: int
    memory_mb: int = FUNCTION_DEFAULTS["memory_size"]
    runtime: str = DEFAULT_RUNTIME
    # None shares the account's unreserved pool; a number both guarantees and caps the
    # function's concurrency (docs/capacity.md).
    reserved_concurrency: int | None = None


# Ingest answers API Gateway, which gives up after 29 s: ~10 s leaves the provider a fast 503
# instead of a gateway timeout. Process's timeout sets the queue's visibility timeout (6x).
DEFAULT_FUNCTIONS: Mapping[str, FunctionSettings] = {
    "ingest": FunctionSettings(timeout_seconds=10),
    "process": FunctionSettings(timeout_seconds=30),
}


@dataclass(frozen=True)
class AlarmSubscriptions:
    """Who hears an environment's alarms: subscribers of its SNS topic, and existing topics."""

    email: tuple[str, ...] = ()
    https: tuple[str, ...] = ()
    topic_arns: tuple[str, ...] = ()


# The API Gateway stage throttle of an environment that sets none: the `dev` row of the
# capacity model (docs/capacity.md), far below what production takes.
DEFAULT_THROTTLE_RATE_LIMIT: float = API_THROTTLE_RATE_LIMIT
DEFAULT_THROTTLE_BURST_LIMIT: int = API_THROTTLE_BURST_LIMIT


# --------------------------------------------------------------------------- cost-related settings (docs/cost.md)


@dataclass(frozen=True)
class Tracing:
    """X-Ray: `[tracing]`, and an environment's `tracing = { ... }` over it.

    API Gateway samples requests by an X-Ray sampling rule (a reservoir of traces per second,
    then a fixed rate); ingest follows API Gateway's decision (Lambda PassThrough). Lambda's
    own sampling cannot be configured (1 request per second and 5% of the rest), so process,
    which nothing upstream samples, is traced only with `trace_process` (Lambda Active).
    """

    sample_rate: float = 0.01
    reservoir_per_second: int = 0
    trace_process: bool = False

    @property
    def enabled(self) -> bool:
        return self.sample_rate > 0 or self.reservoir_per_second > 0


# Storage classes the archive may move to, and their minimum storage duration in days (an object
# deleted sooner is billed for the rest): https://aws.amazon.com/s3/pricing/
ARCHIVE_STORAGE_CLASSES = {"GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}


@dataclass(frozen=True)
class Archive:
    """The S3 archive's lifecycle and EventBridge's own archive: `[archive]`.

    Objects of at least `transition_min_bytes` move to `storage_class` after `transition_days`
    (None: never); smaller ones stay in S3 Standard, where they cost less than Glacier's
    per-object overhead and transition fee would (docs/cost.md). Each environment's
    `archive_expiration_days` deletes them; a deleted object's previous version is kept
    `noncurrent_days` more (the bucket is versioned), then deleted too.
    """

    transition_days: int | None = 30
    transition_min_bytes: int = 262_144
    storage_class: str = "GLACIER"
    noncurrent_days: int = 7
    # EventBridge's archive of every published event (None: none). The S3 archive is the durable
    # copy and `webhookctl replay` republishes from it; this would be a second copy, billed per GB.
    eventbridge_archive_days: int | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    region: str
    backend: Backend
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    # Only for the emulator environment: where moto listens.
    emulator_endpoint: str | None = None
    # API Gateway stage throttling: steady requests per second, and the burst bucket.
    throttle_burst_limit: int = DEFAULT_THROTTLE_BURST_LIMIT
    throttle_rate_limit: float = DEFAULT_THROTTLE_RATE_LIMIT
    # Optional expiry of archived raw payloads (days); None keeps them forever.
    archive_expiration_days: int | None = None
    # [functions.*] with this environment's own overrides applied.
    functions: Mapping[str, FunctionSettings] = field(default_factory=lambda: dict(DEFAULT_FUNCTIONS))
    alarms: AlarmSubscriptions = field(default_factory=AlarmSubscriptions)
    # An http route's URL in this environment, when it is not the route's own (route name -> URL).
    target_urls: Mapping[str, str] = field(default_factory=dict)
    tracing: Tracing = field(default_factory=Tracing)  # [tracing] with this environment's overrides

    def target_url(self, route: "Route") -> str | None:
        return self.target_urls.get(route.name, route.http.url if route.http else None)

    @property
    def is_emulated(self) -> bool:
        return self.emulator_endpoint is not None


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1_048_576
    # Payloads up to this size are inlined in the published event; larger ones are a claim
    # check (`payload_in_s3`). It leaves the event's other fields room under
    # put_events_max_bytes (config.loader.EVENT_ENVELOPE_BYTES).
    inline_payload_limit: int = 245_760
    # The total entry size of one PutEvents request: 256 KiB everywhere, 1 MB where AWS raised it.
    put_events_max_bytes: int = 262_144
    record_ttl_days: int = 90
    log_retention_in_days: int = 7
    # Lambda throttling on the event source burns receives: AWS recommends at least 5
    # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
    max_receive_count: int = 5
    batch_size: int = 10


@dataclass(frozen=True)
class Config:
    project: str
    providers: Mapping[str, Provider]
    routes: tuple[Route, ...]
    environments: Mapping[str, Environment]
    limits: Limits = field(default_factory=Limits)
    path: str = "webhookctl.toml"
    # [functions.*] as written; each environment's resolved copy is Environment.functions.
    functions: Mapping[str, FunctionSettings] = field(default_factory=lambda: dict(DEFAULT_FUNCTIONS))
    # [tracing] as written (each environment's resolved copy is Environment.tracing), and [archive].
    tracing: Tracing = field(default_factory=Tracing)
    archive: Archive = field(default_factory=Archive)

    def stack_name(self, env: str) -> str:
        return f"{self.project}-{env}"

    def environment(self, name: str) -> Environment:
        from .loader import ConfigError

        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none"
            raise ConfigError(
                f"unknown environment '{name}' (known: {known})", path=self.path
            ) from None
