"""Lazily created, cached boto3 clients, and the invocation's time budget.

Nothing is created at import time: a cold start pays only for `import boto3`;
each client is built on first use and reused while the container is warm.
The endpoint comes from `AWS_ENDPOINT_URL` (boto3 reads it itself), so the
same code runs on AWS and on the emulator.

Timeouts and attempts come from `Settings` (`AWS_CONNECT_TIMEOUT`,
`AWS_READ_TIMEOUT`, `AWS_MAX_ATTEMPTS`), which the stack derives from each
function's timeout (`contract.sdk_settings`); retries use botocore's `standard`
mode. `Deadline` checks the Lambda context's remaining time against the worst
case of one call before a step starts, so a slow AWS call ends in the handler's
own error handling, never in a Lambda timeout.
"""
from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from .contract import SDK_RESERVE_SECONDS, Settings, sdk_call_seconds

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


def _config(settings: Settings) -> Config:
    # Settings count attempts with the first included, as AWS_MAX_ATTEMPTS does
    # (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); botocore's
    # Config calls that `total_max_attempts` (its `max_attempts` counts retries only).
    return Config(
        retries={"mode": "standard", "total_max_attempts": max(1, settings.sdk_max_attempts)},
        connect_timeout=settings.sdk_connect_timeout_seconds,
        read_timeout=settings.sdk_read_timeout_seconds,
    )


def client(service: str):
    """The cached client for `service` ("dynamodb", "s3", "sqs", "events", "secretsmanager").

    Keyed by the function's SDK settings too: on Lambda there is one set per process, while
    `webhookctl dev` runs two functions (two budgets) in one process.
    """
    settings = Settings.from_env()
    key = (service, settings.sdk_connect_timeout_seconds, settings.sdk_read_timeout_seconds,
           settings.sdk_max_attempts)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = boto3.session.Session().client(service, config=_config(settings))
            _clients[key] = found
        return found


def reset() -> None:
    """Forget every client (tests; a changed endpoint or credentials)."""
    with _lock:
        _clients.clear()


def error_code(exc: BaseException) -> str:
    """A short, log-safe name for an AWS failure: the error code or exception class."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


class Deadline:
    """The invocation's remaining time, against the worst case of the calls a step will make.

    Without a Lambda context (tests, scripts) every step is allowed.
    """

    def __init__(self, context: Any, settings: Settings) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining_ms = remaining if callable(remaining) else None
        self.call_seconds = sdk_call_seconds(
            settings.sdk_connect_timeout_seconds, settings.sdk_read_timeout_seconds, settings.sdk_max_attempts)

    def allows(self, calls: int = 1) -> bool:
        """True when `calls` more AWS calls, each at its worst, still end before the reserve."""
        if self._remaining_ms is None:
            return True
        return self._remaining_ms() / 1000 >= calls * self.call_seconds + SDK_RESERVE_SECONDS
