"""Provider secrets from Secrets Manager, cached per warm container.

The secret's `SecretString` is `{"secrets": ["<newest>", "<older>", ...]}`
(design.md). `get()` serves the cache (re-read after `SECRET_CACHE_TTL_SECONDS`,
default 300, so a secret dropped from the list stops verifying within minutes
even on a container that never sees a failure). `refresh()` is what ingest
calls after a signature failed against the cached secrets: it re-reads at most
once every `SECRET_REFRESH_SECONDS` (default 5) per provider, so a flood of
forged requests costs at most one Secrets Manager call per provider per window.
"""
from __future__ import annotations

import json
import threading
import time

from . import aws
from .contract import Settings

# secret_id -> (secrets, monotonic time read)
_cache: dict[str, tuple[tuple[str, ...], float]] = {}
# provider -> monotonic time of the last failure-driven re-read
_last_refresh: dict[str, float] = {}
_lock = threading.Lock()
clock = time.monotonic  # tests replace it


class SecretUnavailable(Exception):
    """Secrets Manager could not be read (not: the secret is empty)."""


def _read(secret_id: str) -> tuple[str, ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        if aws.error_code(exc) == "ResourceNotFoundException":  # created empty: no version yet
            return ()
        raise SecretUnavailable(aws.error_code(exc)) from None
    except BotoCoreError as exc:
        raise SecretUnavailable(type(exc).__name__) from None
    return parse(response.get("SecretString") or "")


def parse(secret_string: str) -> tuple[str, ...]:
    """The active secrets of a SecretString; a bare string counts as one secret."""
    try:
        doc = json.loads(secret_string)
    except ValueError:
        return (secret_string,) if secret_string.strip() else ()
    if isinstance(doc, dict) and isinstance(doc.get("secrets"), list):
        return tuple(s for s in doc["secrets"] if isinstance(s, str) and s)
    return ()


def _ttl() -> float:
    return Settings.from_env().secret_cache_ttl_seconds


def _refresh_interval() -> float:
    return Settings.from_env().secret_refresh_seconds


def get(secret_id: str) -> tuple[str, ...]:
    """The cached secrets (read on first use and after the cache TTL)."""
    now = clock()
    cached = _cache.get(secret_id)
    if cached is not None and now - cached[1] < _ttl():
        return cached[0]
    try:
        values = _read(secret_id)
    except SecretUnavailable:
        if cached is not None:  # serve the stale list rather than fail every request
            return cached[0]
        raise
    with _lock:
        _cache[secret_id] = (values, now)
    return values


def refresh(provider: str, secret_id: str) -> tuple[str, ...] | None:
    """Re-read after a failed signature; None when rate-limited or unchanged."""
    now = clock()
    with _lock:
        last = _last_refresh.get(provider)
        if last is not None and now - last < _refresh_interval():
            return None
        _last_refresh[provider] = now
    values = _read(secret_id)
    with _lock:
        previous = _cache.get(secret_id)
        _cache[secret_id] = (values, now)
    if previous is not None and previous[0] == values:
        return None
    return values


def replace(secret_id: str, old: str, new: str) -> bool:
    """Asana's handshake: the spent setup token `old` replaced by the secret `new` in the stored
    list (handlers/schemes/challenges.py). False when `old` is no longer active (spent already):
    read fresh, not from the cache, so a token is spent once. Raises SecretUnavailable."""
    from botocore.exceptions import BotoCoreError, ClientError

    current = _read(secret_id)
    if old not in current:
        return False
    values = tuple(dict.fromkeys(new if s == old else s for s in current))
    try:
        aws.client("secretsmanager").put_secret_value(
            SecretId=secret_id, SecretString=json.dumps({"secrets": list(values)}))
    except ClientError as exc:
        raise SecretUnavailable(aws.error_code(exc)) from None
    except BotoCoreError as exc:
        raise SecretUnavailable(type(exc).__name__) from None
    with _lock:
        _cache[secret_id] = (values, clock())
    return True


def reset() -> None:
    with _lock:
        _cache.clear()
        _last_refresh.clear()
