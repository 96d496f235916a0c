"""The typed shape of `webhookctl.toml`.

Plain frozen dataclasses (no cdktf import) so the CLI, the stack and the tests
can all read the config in milliseconds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from handlers import schemes as _schemes

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


@dataclass(frozen=True)
class Route:
    """An EventBridge rule: published events matching `pattern` go to `target`.

    target is "logs" (a log group the stack creates), "sqs" (a queue the stack
    creates) or the ARN of an existing SQS queue or log group.
    """

    name: str
    pattern: Mapping[str, Any]
    target: str

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


@dataclass(frozen=True)
class Environment:
    name: str
    region: str
    backend: Backend
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    # Only for the emulator environment: where moto listens.
    emulator_endpoint: str | None = None
    # API Gateway stage throttling.
    throttle_burst_limit: int = 5000
    throttle_rate_limit: float = 10000.0
    # Optional expiry of archived raw payloads (days); None keeps them forever.
    archive_expiration_days: int | None = None

    @property
    def is_emulated(self) -> bool:
        return self.emulator_endpoint is not None


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1_048_576
    # Payloads up to this size are inlined in the published event; larger ones
    # are a claim check (`payload_in_s3`). EventBridge entries max out at 256 KiB.
    inline_payload_limit: int = 262_144
    record_ttl_days: int = 90
    log_retention_in_days: int = 7
    function_memory_mb: int = 256
    function_timeout_seconds: int = 30
    function_runtime: str = "python3.11"
    max_receive_count: int = 3
    batch_size: int = 10


@dataclass(frozen=True)
class Config:
    project: str
    providers: Mapping[str, Provider]
    routes: tuple[Route, ...]
    environments: Mapping[str, Environment]
    limits: Limits = field(default_factory=Limits)
    path: str = "webhookctl.toml"

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
