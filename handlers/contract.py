"""The contract between the parts: one home for each fact they share.

The stack writes what the handlers read, the CLI and the local runtime read
what the stack wrote, and all of them name the same events, secrets, records
and AWS limits. Each of those facts lives here once, as code:

- `Settings`: the functions' environment variables (names, defaults, types);
  the stack calls `to_env()`, the handlers `Settings.from_env()`.
- `Pointer`: the SQS message that points at an archived delivery; with it, the payload
  attribute that carries small payloads (`message_fits`) and the record's first-write
  attributes (`record_attributes`), which ingest and process both write.
- `StackOutputs`: the stack's outputs, one naming scheme, with the original
  design's names kept as aliases.
- the published event's source and detail-type, secret names, the records'
  timestamp format, the archive key, the emulator's credentials;
- `AwsLimits`: the AWS limits this pipeline must stay inside, each with its
  source.

Standard library only: this module ships in the Lambda zip.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Iterable, Mapping

SERVICE_NAME = "webhookctl"

# The published event (docs/design.md): consumers route on detail.provider / detail.event_type.
EVENT_SOURCE = "webhook.processor"
EVENT_DETAIL_TYPE = "Webhook Processed"

# Where a scheme signs a timestamp, how far it may be from now, both ways.
DEFAULT_TOLERANCE_SECONDS = 300

# API Gateway hands the function a body as base64 when its Content-Type matches
# one of the API's binaryMediaTypes, and as (possibly mangled) text otherwise.
# "*/*" keeps every body's exact bytes, which signatures are computed over.
BINARY_MEDIA_TYPES: tuple[str, ...] = ("*/*",)

# The emulator (moto) accepts any credentials; these never reach real AWS.
EMULATOR_ACCOUNT_ID = "123456789012"
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def secret_name(stack: str, provider: str) -> str:
    """The Secrets Manager secret holding a provider's signing secrets."""
    return f"{stack}/providers/{provider}"


def iso_timestamp(moment: datetime) -> str:
    """Records' timestamps: ISO-8601 UTC with milliseconds and `Z` (sortable as strings)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def archive_key(provider: str, moment: datetime, webhook_id: str) -> str:
    """The S3 key of a delivery's raw bytes (UTC date of first receipt)."""
    return f"{provider}/{moment:%Y/%m/%d}/{webhook_id}"


# The records table's index for finding deliveries by provider and time (`events list`,
# `replay`): hash key `provider_day` = "<provider>#<yyyy-mm-dd>" (UTC day of receipt), range
# key `received_at`. A day bucket keeps one provider's writes from piling onto one partition
# key forever; only attributes that never change after the first write are projected, so the
# status updates never write the index (docs/capacity.md).
RECORDS_INDEX = "by_provider_day"
RECORDS_INDEX_HASH_KEY = "provider_day"
RECORDS_INDEX_RANGE_KEY = "received_at"
RECORDS_INDEX_PROJECTED = ("provider", "delivery_id", "event_type")


def provider_day(provider: str, moment: datetime | str) -> str:
    """The index hash key of a delivery received at `moment` (a datetime or a records timestamp)."""
    day = moment[:10] if isinstance(moment, str) else f"{moment:%Y-%m-%d}"
    return f"{provider}#{day}"


# The headers that re-verify an archived delivery (signature, timestamp, id headers, the
# signed URL of URL-signing schemes, content-type) live with the archived bytes, in the S3
# object's user metadata, as the public contract says. When they do not fit there (S3 allows
# 2 KB of user metadata, AWS_LIMITS.s3_user_metadata_bytes, and returns only printable ASCII
# values), the whole set moves to the record's VERIFY_HEADERS_ATTRIBUTE (a map; the item
# stays under AWS_LIMITS.dynamodb_item_bytes) and the object's metadata carries only
# VERIFY_HEADERS_MARKER = VERIFY_HEADERS_IN_RECORD. Either way one delivery's headers are
# in one place, never split and never truncated; `reverify_headers` reads them.
VERIFY_HEADERS_ATTRIBUTE = "verify_headers"
VERIFY_HEADERS_MARKER = "webhookctl-verify-headers"
VERIFY_HEADERS_IN_RECORD = "record"


def reverify_headers(metadata: Mapping[str, str], item: Mapping[str, Any]) -> dict[str, str]:
    """The headers that re-verify a delivery, from its object's metadata and its record.

    `item` may be low-level (`{"verify_headers": {"M": {...}}}`) or plain (`{"verify_headers": {...}}`).
    """
    if metadata.get(VERIFY_HEADERS_MARKER) != VERIFY_HEADERS_IN_RECORD:
        return {k: v for k, v in metadata.items() if k != VERIFY_HEADERS_MARKER}
    stored = item.get(VERIFY_HEADERS_ATTRIBUTE) or {}
    stored = stored.get("M", stored) if isinstance(stored, Mapping) else {}
    return {k: (v.get("S", "") if isinstance(v, Mapping) else str(v)) for k, v in stored.items()}


# The handlers' CloudWatch EMF metrics, in Settings.metrics_namespace. Each document carries
# the dimension set [service] besides [service, provider] (and [service, provider, reason]),
# so an alarm reads one total across providers.
METRIC_DIMENSION_SERVICE = "service"
METRIC_DIMENSION_PROVIDER = "provider"
METRIC_DIMENSION_REASON = "reason"
# The provider dimension of a request or message that names no configured provider: one value,
# so names nobody configured cannot multiply the metrics.
METRIC_UNKNOWN_PROVIDER = "_unknown"
# The reason a step was not started: the invocation's remaining time could not cover its worst case.
OUT_OF_TIME = "out_of_time"


class Metric:
    """Metric names the handlers emit and the alarms read."""

    # ingest
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    STORAGE_ERROR = "storage_error"  # ingest answered 503: durable storage failed
    INTERNAL_ERROR = "internal_error"  # ingest answered 500: a bug
    STATUS_UPDATE_FAILED = "status_update_failed"
    # process
    PUBLISHED = "published"
    ALREADY_PROCESSED = "already_processed"
    FAILED = "failed"  # a record reported failed (it will be retried, then dead-lettered)
    PUBLISH_FAILED = "publish_failed"  # EventBridge refused an entry or the call
    MARK_PROCESSED_FAILED = "mark_processed_failed"  # published but not marked processed


def webhook_id(provider: str, delivery_id: str) -> str:
    """The deterministic id of a delivery: the same provider delivery id, the same webhook_id."""
    return hashlib.sha256(f"{provider}\n{delivery_id}".encode("utf-8")).hexdigest()[:32]


_WEBHOOK_ID = re.compile(r"[0-9a-f]{32}")  # what webhook_id() returns


def is_webhook_id(value: Any) -> bool:
    """Whether `value` has the form of `webhook_id()`: a message naming anything else is not ours
    (and could not even be a DynamoDB key: 1-2048 bytes of UTF-8)."""
    return isinstance(value, str) and _WEBHOOK_ID.fullmatch(value) is not None


# --------------------------------------------------------------------------- AWS limits


@dataclass(frozen=True)
class AwsLimits:
    """The AWS limits the pipeline must stay inside (bytes unless named otherwise).

    moto enforces none of these; the stack checks the static ones at synth, the
    handlers size their requests by them, and the local runtime enforces them
    where it stands in for AWS, so a local test fails the way AWS would.
    """

    # EventBridge PutEvents: entry size = Time (14 bytes if set) + Source + DetailType
    # + Detail + Resources, UTF-8; "the total entry size must be less than 256KB".
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
    # AWS raised this to 1 MB in 2026, not yet in every region and account: configurable.
    put_events_request_bytes: int = 256 * 1024
    put_events_entry_bytes: int = 256 * 1024
    # "Each PutEvents request can support a limited number of entries" (10):
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
    put_events_max_entries: int = 10
    # SQS: a message up to the queue's MaximumMessageSize; provider 5.100.0 allows at most
    # 262,144. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
    sqs_message_bytes: int = 262_144
    # API Gateway REST: 10 MB payload, 29 s integration timeout (Regional APIs may raise it).
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html
    api_gateway_payload_bytes: int = 10 * 1024 * 1024
    api_gateway_integration_timeout_seconds: int = 29
    # Lambda: 6 MB synchronous response; 4 KB for all environment variables together.
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    lambda_response_bytes: int = 6 * 1024 * 1024
    lambda_environment_bytes: int = 4 * 1024
    # S3: "user-defined metadata is limited to 2 KB" (keys + values, UTF-8) per PUT.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
    s3_user_metadata_bytes: int = 2 * 1024
    # DynamoDB: 400 KB per item, attribute names included.
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html
    dynamodb_item_bytes: int = 400 * 1024


AWS_LIMITS = AwsLimits()


# How AWS counts the limits above, so every part measures a request the way AWS will.


def put_events_entry_bytes(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size: Time 14 bytes if set, Source, DetailType, Detail and each Resources entry in UTF-8.

    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
    (EventBusName and TraceHeader do not count.)
    """
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode("utf-8"))
    return size + sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or ())


def lambda_environment_bytes(variables: Mapping[str, str] | None) -> int:
    """What Lambda measures against its 4 KB: the variables as one JSON object, UTF-8 (its error
    for an oversized environment quotes that "String measured").

    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    """
    return len(json.dumps(dict(variables or {}), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def s3_user_metadata_bytes(metadata: Mapping[str, str]) -> int:
    """S3 user metadata's size: "the sum of the number of bytes in the UTF-8 encoding of each key and value".

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
    """
    return sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in metadata.items())


def dynamodb_item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """A DynamoDB item's size (low-level attribute values): names plus values, UTF-8.

    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    strings and binaries their bytes, numbers ~1 byte per 2 significant digits + 1, null and
    booleans 1, lists and maps 3 bytes plus 1 per element plus the elements (with their names).
    """
    return sum(len(name.encode("utf-8")) + _dynamodb_value_bytes(value) for name, value in item.items())


def _dynamodb_value_bytes(value: Mapping[str, Any]) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _dynamodb_value_bytes(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_dynamodb_value_bytes(v) + 1 for v in data)
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in data)
    if kind == "NS":
        return sum(_dynamodb_value_bytes({"N": v}) for v in data)
    return sum(len(v) for v in data)  # BS


# --------------------------------------------------------------------------- the function's environment

# On Lambda each function has a process of its own, so `os.environ` is its environment.
# `webhookctl dev` runs both handlers in one process, and their settings differ by design (each
# function has its own timeout, so its own SDK budget): it runs each invocation inside
# `invocation_environment(that function's variables)`, and Settings.from_env() reads those.
_INVOCATION_ENVIRONMENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "webhookctl_invocation_environment", default=None)


def function_environment() -> Mapping[str, str]:
    """The running function's variables: the invocation's own in `dev`, else the process's."""
    return _INVOCATION_ENVIRONMENT.get() or os.environ


@contextlib.contextmanager
def invocation_environment(variables: Mapping[str, str]):
    """Within this block (this thread or task), the function's variables are `variables` over os.environ."""
    token = _INVOCATION_ENVIRONMENT.set(collections.ChainMap(dict(variables), os.environ))
    try:
        yield
    finally:
        _INVOCATION_ENVIRONMENT.reset(token)


# --------------------------------------------------------------------------- settings


def _env(name: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": name, "help": help})


@dataclass(frozen=True)
class Settings:
    """The functions' configuration, as environment variables.

    The stack builds one and writes `to_env(INGEST_SETTINGS)` /
    `to_env(PROCESS_SETTINGS)` into each function; the handlers read
    `Settings.from_env()`. A value that does not parse falls back to its
    default, so a typo never crashes a handler.
    """

    environment: str = _env("WEBHOOKCTL_ENV", "local", "environment name")
    table_name: str = _env("TABLE_NAME", "", "DynamoDB table of delivery records")
    bucket_name: str = _env("BUCKET_NAME", "", "S3 archive of raw payloads")
    service_name: str = _env("POWERTOOLS_SERVICE_NAME", SERVICE_NAME, "service name in logs and metrics")
    metrics_namespace: str = _env("METRICS_NAMESPACE", "Webhookctl", "CloudWatch EMF namespace")
    # ingest
    queue_url: str = _env("QUEUE_URL", "", "the FIFO ingest queue")
    providers_file: str = _env(
        "PROVIDERS_FILE", "", "the provider table file (providers_file_path): absolute, or relative to "
        "LAMBDA_TASK_ROOT (else the current directory); empty means PROVIDERS_FILE_NAME")
    max_body_bytes: int = _env("MAX_BODY_BYTES", 1_048_576, "larger bodies get 413")
    record_ttl_days: int = _env("RECORD_TTL_DAYS", 90, "days until a record's TTL")
    secret_refresh_seconds: float = _env(
        "SECRET_REFRESH_SECONDS", 5.0, "minimum seconds between failure-driven secret re-reads per provider")
    secret_cache_ttl_seconds: float = _env(
        "SECRET_CACHE_TTL_SECONDS", 300.0, "a warm function re-reads secrets at least this often")
    # process
    event_bus_name: str = _env("EVENT_BUS_NAME", "default", "the custom bus events are published on")
    inline_payload_limit: int = _env(
        "INLINE_PAYLOAD_LIMIT", 262_144, "bytes; larger payloads are published as a claim check")
    max_receive_count: int = _env(
        "MAX_RECEIVE_COUNT", 3, "the queue's maxReceiveCount: on that receive a failure marks the record failed")
    put_events_max_bytes: int = _env(
        "PUT_EVENTS_MAX_BYTES", AWS_LIMITS.put_events_request_bytes,
        "the total entry size of one PutEvents request (and of one entry)")
    # AWS SDK: timeouts and attempts that fit inside the function's own timeout (sdk_settings).
    # The defaults are sdk_settings(10, INGEST_SDK_CALLS): the tightest function, ingest at its
    # default timeout; the stack writes each function's own values.
    sdk_connect_timeout_seconds: float = _env("AWS_CONNECT_TIMEOUT", 0.56, "botocore connect timeout")
    sdk_read_timeout_seconds: float = _env("AWS_READ_TIMEOUT", 1.69, "botocore read timeout")
    sdk_max_attempts: int = _env("AWS_MAX_ATTEMPTS", 1, "botocore attempts per call, the first included")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = function_environment() if environ is None else environ
        specs = _field_specs(cls)
        raws = tuple(environ.get(variable) for _, variable, _ in specs)
        # Handlers read their settings several times per request; the variables rarely change,
        # so one parse per distinct set of values (the object is frozen, so sharing it is safe).
        known = _SETTINGS_BY_VALUES.get((cls, raws))
        if known is not None:
            return known
        values: dict[str, Any] = {}
        for (name, _, kind), raw in zip(specs, raws):
            if raw is None:
                continue
            try:
                values[name] = _parse(kind, raw)
            except ValueError:
                pass  # keep the default
        settings = cls(**values)
        if len(_SETTINGS_BY_VALUES) >= 64:  # bounded: tests and dev switch environments
            _SETTINGS_BY_VALUES.clear()
        _SETTINGS_BY_VALUES[(cls, raws)] = settings
        return settings

    def to_env(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """`{VARIABLE: value}` for the named fields (all of them by default)."""
        wanted = set(names) if names is not None else None
        return {
            f.metadata["env"]: _format(getattr(self, f.name))
            for f in fields(self)
            if wanted is None or f.name in wanted
        }

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of a field."""
        return {f.name: f.metadata["env"] for f in fields(cls)}[name]

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


COMMON_SETTINGS = (
    "environment", "table_name", "bucket_name", "service_name", "metrics_namespace",
    "sdk_connect_timeout_seconds", "sdk_read_timeout_seconds", "sdk_max_attempts",
)
INGEST_SETTINGS = COMMON_SETTINGS + (
    "queue_url", "providers_file", "max_body_bytes", "record_ttl_days", "secret_refresh_seconds",
    "inline_payload_limit",  # which payloads ride in the queue message (message_fits)
)
PROCESS_SETTINGS = COMMON_SETTINGS + (
    "event_bus_name", "inline_payload_limit", "max_receive_count", "put_events_max_bytes",
)


def sdk_settings(function_timeout_seconds: float, sequential_calls: int) -> dict[str, Any]:
    """SDK timeouts and attempts for a function making `sequential_calls` AWS calls in a row.

    `SDK_RESERVE_SECONDS` stay free for the answer; the rest is shared equally by the calls.
    Each call gets the most attempts (3, 2, then 1) that still leave every attempt
    `SDK_MIN_ATTEMPT_SECONDS` after botocore's worst backoff (`sdk_backoff_seconds`); a
    quarter of an attempt, at most 1 s, is for connecting (a TCP connect in-region takes
    milliseconds), the rest for the answer. So every call, all attempts and backoffs
    included, ends within its share (`sdk_call_seconds`), and the handlers check the
    context's remaining time against that worst case before each step (`aws.Deadline`):
    a slow call ends in our own error handling (ingest answers 503, which the provider
    retries), never in a Lambda timeout.

    botocore's read timeout bounds each wait for a socket read, not a whole response; a
    server trickling bytes can outlast it, which the remaining-time check also covers.
    """
    budget = max(0.5, function_timeout_seconds - SDK_RESERVE_SECONDS) / max(1, sequential_calls)
    attempts = next(a for a in (3, 2, 1)
                    if a == 1 or (budget - sdk_backoff_seconds(a)) / a >= SDK_MIN_ATTEMPT_SECONDS)
    per_attempt = (budget - sdk_backoff_seconds(attempts)) / attempts
    connect = math.floor(min(1.0, per_attempt / 4) * 100) / 100
    read = math.floor((per_attempt - connect) * 100) / 100
    return {"sdk_connect_timeout_seconds": connect, "sdk_read_timeout_seconds": read, "sdk_max_attempts": attempts}


# How the SDK budget is counted (sdk_settings; aws.Deadline checks it before each step).
SDK_RESERVE_SECONDS = 1.0  # left after the last call: the answer, the log line, the EMF flush
# The least time one attempt gets. DynamoDB, SQS and Secrets Manager answer in tens of ms;
# for small S3 requests AWS advises retrying only after about 2 s
# (https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html):
# below 1 s, a retry would more often cut off a slow success than save a failure.
SDK_MIN_ATTEMPT_SECONDS = 1.0
# The AWS calls each function makes in a row on its longest ordinary path (the stack passes
# these to sdk_settings with the function's timeout).
INGEST_SDK_CALLS = 4  # a Secrets Manager read (cold cache or rotation), PutObject, SendMessage, PutItem
PROCESS_SDK_CALLS = 4  # one record's chain: BatchGetItem, GetObject, PutEvents, BatchWriteItem


def sdk_backoff_seconds(attempts: int) -> float:
    """botocore `standard` retries' longest total wait between `attempts` tries.

    Before retry i (1-based) it sleeps at most rand(0, 1) * min(2 ** (i - 1), 20) s: the
    default backoff, and the throttling backoff of the 2026 retry behaviour (other errors
    scale by 0.05 there); botocore/retries/standard.py, ExponentialBackoff;
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html. A service's
    `x-amz-retry-after` may add up to 5 s more: the remaining-time check covers that.
    """
    return float(sum(min(2 ** i, 20) for i in range(max(0, attempts - 1))))


def sdk_call_seconds(connect: float, read: float, attempts: int) -> float:
    """The longest one call can take: every attempt times out connecting and reading, plus the backoffs."""
    return max(1, attempts) * (connect + read) + sdk_backoff_seconds(attempts)


_SETTINGS_BY_VALUES: dict[tuple, Any] = {}


@functools.lru_cache(maxsize=None)
def _field_specs(cls: type) -> tuple[tuple[str, str, Any], ...]:
    """(field name, environment variable, type) of each of a settings class's fields."""
    return tuple((f.name, f.metadata["env"], f.type) for f in fields(cls))


def _parse(kind: Any, raw: str) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw


def _format(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# The provider table ships inside the Lambda zip, at its root, under this name: Lambda
# allows 4 KB of environment for all variables together, and each provider takes ~140
# bytes of JSON, so an inline table would break deploys at about 25 providers.
PROVIDERS_FILE_NAME = "providers.json"


def providers_file_path(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the handlers read the provider table (`Settings.providers_file`).

    Empty means `PROVIDERS_FILE_NAME`. An absolute path is used as is; a relative one is
    resolved against `LAMBDA_TASK_ROOT` (the zip's root on Lambda), or the current
    directory where that is not set (the local runtime sets an absolute path instead).
    """
    environ = os.environ if environ is None else environ
    name = value or PROVIDERS_FILE_NAME
    if os.path.isabs(name):
        return name
    return os.path.join(environ.get("LAMBDA_TASK_ROOT") or os.getcwd(), name)


# --------------------------------------------------------------------------- the queue message


@dataclass(frozen=True)
class Pointer:
    """The SQS message body: a pointer to the record and archive, never the only copy.

    It also carries what the record holds (`expires_at`, and `verify_headers` when they are
    not in the object's metadata), because ingest writes the record last: the processor may
    meet a message whose record does not exist yet, and then writes the record itself
    (`record_attributes`; handlers/ingest.py says why that order loses nothing).
    """

    webhook_id: str
    provider: str
    s3_key: str
    delivery_id: str | None = None
    event_type: str | None = None
    received_at: str | None = None
    size: int | None = None
    expires_at: int | None = None  # the record's TTL (epoch seconds)
    verify_headers: Mapping[str, str] | None = None  # only when the object's metadata does not hold them

    def to_json(self) -> str:
        doc = {f.name: getattr(self, f.name) for f in _POINTER_FIELDS}
        for key in ("expires_at", "verify_headers"):  # absent rather than null: pointers stay small
            if doc[key] is None:
                del doc[key]
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> "Pointer | None":
        """The pointer in a message body, or None when it is not one."""
        try:
            doc = json.loads(text or "")
        except (ValueError, RecursionError):
            return None
        if not isinstance(doc, dict):
            return None
        if not all(isinstance(doc.get(k), str) and doc.get(k) for k in ("webhook_id", "provider", "s3_key")):
            return None
        headers = doc.get("verify_headers")
        return cls(
            webhook_id=doc["webhook_id"],
            provider=doc["provider"],
            s3_key=doc["s3_key"],
            delivery_id=_optional_str(doc.get("delivery_id")),
            event_type=_optional_str(doc.get("event_type")),
            received_at=_optional_str(doc.get("received_at")),
            size=_optional_count(doc.get("size")),
            expires_at=_optional_count(doc.get("expires_at")),
            verify_headers=headers if isinstance(headers, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()) else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def creates_record(self) -> bool:
        """Whether it carries everything the record holds (pointers from before ingest wrote last do not)."""
        return self.expires_at is not None and self.delivery_id is not None and self.received_at is not None


_POINTER_FIELDS = fields(Pointer)


def _optional_count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- stack outputs


@dataclass(frozen=True)
class StackOutputs:
    """The stack's outputs. Names follow `<thing>_name` / `_arn` / `_url`.

    `ALIASES` keeps the original design's names (and `emulator_endpoint`)
    working: the stack emits both, and `from_dict` accepts either.
    """

    api_url: str
    table_name: str
    bucket_name: str
    queue_url: str
    dlq_url: str
    event_bus_name: str
    event_bus_arn: str
    ingest_function_name: str
    process_function_name: str
    emulator_url: str | None = None

    ALIASES = {
        "api_endpoint": "api_url",
        "dynamodb_table_name": "table_name",
        "s3_bucket_name": "bucket_name",
        "sqs_queue_url": "queue_url",
        "eventbridge_bus_arn": "event_bus_arn",
        "ingestion_function_name": "ingest_function_name",
        "processing_function_name": "process_function_name",
        "emulator_endpoint": "emulator_url",
    }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "StackOutputs":
        """From `terraform output` values (canonical names win over aliases); KeyError names what is missing."""
        known = {f.name for f in fields(cls)}
        merged: dict[str, Any] = {}
        for alias, name in cls.ALIASES.items():
            if alias in values:
                merged[name] = values[alias]
        merged.update({k: v for k, v in values.items() if k in known})
        missing = [f.name for f in fields(cls) if f.default is dataclasses.MISSING and f.name not in merged]
        if missing:
            raise KeyError(f"stack outputs lack {', '.join(missing)}")
        return cls(**{k: v for k, v in merged.items() if k in known})

    def to_dict(self, *, aliases: bool = True) -> dict[str, str]:
        """Every output by name; with aliases, the original design's names too."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if aliases:
            out.update({alias: out[name] for alias, name in self.ALIASES.items() if name in out})
        return out


# --------------------------------------------------------------------------- ingest's answers

# Where a provider dictates the response body (Twilio: TwiML), ingest's JSON document
# (`{"webhook_id", "status"}` or `{"webhook_id", "duplicate"}`) travels in this response
# header instead, so `webhookctl send` and a provider's request log still show it.
REPLY_HEADER = "X-Webhookctl-Reply"


# --------------------------------------------------------------------------- static limits the stack checks


# Lambda: a synchronous invocation's request payload is limited like its response, 6 MB.
# API Gateway's proxy event carries the body base64-encoded (every type is binary:
# BINARY_MEDIA_TYPES) next to the headers and request context, so the body limit the
# config accepts is well below API Gateway's own 10 MB.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_REQUEST_BYTES = 6 * 1024 * 1024

# The longest delivery_id or event_type a queue message (Pointer) carries, in characters.
# Providers' ids are < 100 characters (Stripe `evt_...` ~30, GitHub GUIDs 36): the schemes
# replace a longer id by a hash of it (still deterministic) and drop a longer event type;
# the stack checks at synth that the queue's MaximumMessageSize holds the largest pointer
# (pointer_max_bytes()).
POINTER_FIELD_MAX_CHARS = 256


def pointer_max_bytes() -> int:
    """The size of the largest queue message ingest can send: its pointer plus a carried payload.

    Ingest fills a message up to SQS's limit (`message_fits`), so every queue that holds its
    messages (and the DLQ) must take AWS_LIMITS.sqs_message_bytes; the pointer alone stays
    under POINTER_MAX_BYTES (ingest refuses a delivery whose pointer would not).
    """
    return AWS_LIMITS.sqs_message_bytes


# --------------------------------------------------------------------------- route targets (issue 13)

# What the stack, `webhookctl secrets set --route`, `dlq --target` and the local deliverer of
# HTTP targets agree on: the names of a route's rule, redrive rule and connection, the bus's
# target DLQ, the redrive event's source, and what EventBridge writes on a dead-lettered event.

# A redriven event (`webhookctl dlq redrive --target NAME`) is put back on the bus with this
# source and the failed rule's ARN as its only `resources` entry. No route matches it (every
# route's pattern requires `source` = EVENT_SOURCE); only that route's redrive rule does.
REDRIVE_SOURCE = "webhookctl.redrive"
# EventBridge names: rules, connections and API destinations take 1-64 of [.-_A-Za-z0-9].
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateConnection.html
EVENTBRIDGE_NAME_MAX = 64
# API destinations invoke at most 300 times a second (InvocationRateLimitPerSecond 1-300).
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateApiDestination.html
API_DESTINATION_MAX_RATE = 300
# A target's retry policy: MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds 60-86400; the
# defaults are EventBridge's own (24 h, 185 attempts).
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html
RETRY_ATTEMPTS_MAX = 185
RETRY_EVENT_AGE_RANGE = (60, 86_400)
# The custom attributes of a message EventBridge puts in a target's DLQ; the body is the event.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
DLQ_ATTRIBUTES = ("RULE_ARN", "TARGET_ARN", "ERROR_CODE", "ERROR_MESSAGE", "EXHAUSTED_RETRY_CONDITION",
                  "RETRY_ATTEMPTS")


def bus_name(stack: str) -> str:
    """The stack's custom event bus."""
    return f"{stack}-bus"


def route_rule_name(bus: str, route: str) -> str:
    return f"{bus}-{route}"


def redrive_rule_name(bus: str, route: str) -> str:
    """The rule that takes only this route's redriven events to the same target."""
    return f"{bus}-{route}-redrive"


def targets_dlq_name(bus: str) -> str:
    """The bus's one standard SQS dead-letter queue for every route's target."""
    return f"{bus}-targets-dlq"


def api_destination_name(bus: str, route: str) -> str:
    return f"{bus}-{route}"


def connection_name(bus: str, route: str, auth: Mapping[str, Any]) -> str:
    """An HTTP target's connection: named after its non-secret auth settings.

    Terraform never updates a connection in place (an update would send the placeholder
    credentials back over the real ones `secrets set --route` put there): a change of auth
    type, header, username or OAuth settings makes a new connection under a new name.
    """
    digest = hashlib.sha256(json.dumps(dict(auth), sort_keys=True).encode("utf-8")).hexdigest()[:8]
    return f"{bus}-{route}-{digest}"


def route_resource_names(bus: str, route: str) -> dict[str, str]:
    """Every EventBridge name a route may take (to check them against EVENTBRIDGE_NAME_MAX)."""
    return {"rule": route_rule_name(bus, route), "redrive rule": redrive_rule_name(bus, route),
            "connection": connection_name(bus, route, {})}


# --------------------------------------------------------------------------- API routes' method (issue 11)
# The method of the API's two routes, in the stack (constructs_lib/api.py) and in the local API
# Gateway: ANY, so GET / HEAD handshakes (Meta's hub.challenge, Dropbox's challenge) reach ingest,
# and ingest answers every method its scheme does not take with 405 and `Allow`. With POST only,
# API Gateway answers other methods itself (403 "Missing Authentication Token").
API_ROUTE_METHOD = "ANY"


# --------------------------------------------------------------------------- the queue message carries the record and the payload
#
# Ingest writes the archive, then the message, then the record (handlers/ingest.py says why
# that loses nothing), so the processor may meet a message whose record is not written yet:
# the pointer carries what the record holds, and the processor writes the record from it
# (`record_attributes`). A payload that fits rides in the message as a Binary message
# attribute, so the processor reads S3 only for payloads that do not; the S3 object stays
# the durable copy.

# The message attribute holding the payload's exact bytes (DataType Binary). Lambda hands it to
# the function base64-encoded, as messageAttributes.payload.binaryValue.
# https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
PAYLOAD_ATTRIBUTE = "payload"
PAYLOAD_ATTRIBUTE_TYPE = "Binary"

# The largest pointer (message body) ingest sends. The fields are bounded (POINTER_FIELD_MAX_CHARS:
# ~6.5 KB at worst) and so are re-verification headers: API Gateway REST passes at most 10 KB of
# request line and headers, ~60 KB as JSON escaped at worst (6 bytes a byte). Only a request that
# never came through API Gateway could exceed this; ingest answers it 400 before writing anything.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html
POINTER_MAX_BYTES = 96 * 1024


def sqs_message_bytes(body: str, attributes: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """A message's size as SQS counts it: the body plus each attribute's name, type and value, UTF-8.

    "All parts of the message attribute, including Name, Type, and Value, are part of the
    message size restriction":
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html
    """
    size = len(body.encode("utf-8"))
    for name, value in (attributes or {}).items():
        size += len(name.encode("utf-8")) + len(str(value.get("DataType", "")).encode("utf-8"))
        for key in ("StringValue", "BinaryValue"):
            data = value.get(key)
            if data is not None:
                size += len(data) if isinstance(data, (bytes, bytearray)) else len(str(data).encode("utf-8"))
    return size


def payload_attributes(body: bytes) -> dict[str, dict[str, Any]]:
    """SendMessage's MessageAttributes carrying `body` (SQS refuses an empty value: never for b"")."""
    return {PAYLOAD_ATTRIBUTE: {"DataType": PAYLOAD_ATTRIBUTE_TYPE, "BinaryValue": body}}


def message_fits(pointer_json: str, body: bytes, inline_limit: int) -> bool:
    """Whether the payload rides in the message: not empty, one the event may inline, and the
    whole message within SQS's limit."""
    if not 0 < len(body) <= inline_limit:
        return False
    return sqs_message_bytes(pointer_json, payload_attributes(body)) <= AWS_LIMITS.sqs_message_bytes


def record_attributes(pointer: Pointer) -> dict[str, dict[str, Any]]:
    """The record's attributes that never change after the first write (low-level DynamoDB values).

    Ingest's PutItem writes them with status `queued` and attempts 0; a processor that meets
    the message first writes the same ones (`if_not_exists`), so the record is the same
    whichever write comes first.
    """
    if not pointer.creates_record:
        raise ValueError("a pointer without expires_at, delivery_id and received_at cannot create its record")
    item: dict[str, dict[str, Any]] = {
        "webhook_id": {"S": pointer.webhook_id},
        "provider": {"S": pointer.provider},
        "delivery_id": {"S": pointer.delivery_id},
        "received_at": {"S": pointer.received_at},
        RECORDS_INDEX_HASH_KEY: {"S": provider_day(pointer.provider, pointer.received_at)},
        "s3_key": {"S": pointer.s3_key},
        "size": {"N": str(pointer.size or 0)},
        "expires_at": {"N": str(pointer.expires_at)},
    }
    if pointer.event_type:
        item["event_type"] = {"S": pointer.event_type}
    if pointer.verify_headers is not None:
        item[VERIFY_HEADERS_ATTRIBUTE] = {"M": {k: {"S": v} for k, v in pointer.verify_headers.items()}}
    return item
