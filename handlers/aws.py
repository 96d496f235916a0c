"""Lazily created, cached boto3 clients.

Nothing is created at import time: a cold start pays only for `import boto3`;
each client is built on first use and reused while the container is warm.
The endpoint comes from `AWS_ENDPOINT_URL` (boto3 reads it itself), so the
same code runs on AWS and on the emulator. Retries use botocore's `standard`
mode; `AWS_MAX_ATTEMPTS` overrides the attempt count.
"""
from __future__ import annotations

import os
import threading

import boto3
from botocore.config import Config

_clients: dict[str, object] = {}
_lock = threading.Lock()


def _config() -> Config:
    return Config(
        retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard")},
        connect_timeout=float(os.environ.get("AWS_CONNECT_TIMEOUT", "2")),
        read_timeout=float(os.environ.get("AWS_READ_TIMEOUT", "10")),
    )


def client(service: str):
    """The cached client for `service` ("dynamodb", "s3", "sqs", "events", "secretsmanager")."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            found = boto3.session.Session().client(service, config=_config())
            _clients[service] = found
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
