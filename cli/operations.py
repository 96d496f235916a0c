"""Day-2 operations on a deployed environment: secrets and delivery status."""
from __future__ import annotations

import json
from typing import Callable

from .errors import WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]


def secret_id(ws: Workspace, provider: str) -> str:
    """The Secrets Manager secret the stack created for this provider."""
    from handlers.contract import secret_name

    return secret_name(ws.stack, provider)


def require_provider(ws: Workspace, provider: str):
    try:
        return ws.config.providers[provider]
    except KeyError:
        known = ", ".join(sorted(ws.config.providers))
        raise WebhookctlError(f"unknown provider '{provider}' (configured: {known})") from None


def env_client(ws: Workspace, service: str):
    """A client for this environment, after checking it can be reached."""
    from .aws import client, require_credentials
    from .stack_ops import check_reachable

    if ws.env.is_emulated:
        check_reachable(ws)
    require_credentials(ws)
    return client(ws, service)


def read_secrets(ws: Workspace, provider: str, sm=None) -> list[str]:
    """The provider's active secrets, newest first ([] when none was set yet)."""
    from botocore.exceptions import ClientError

    sm = sm or env_client(ws, "secretsmanager")
    try:
        value = sm.get_secret_value(SecretId=secret_id(ws, provider))["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            message = exc.response.get("Error", {}).get("Message", "")
            if "version" in message.lower() or "AWSCURRENT" in message:
                return []  # the container exists but holds no value yet
            raise WebhookctlError(
                f"no secret container {secret_id(ws, provider)} in environment '{ws.env.name}': "
                f"deploy it first (`webhookctl deploy --env {ws.env.name}`)"
            ) from None
        raise
    try:
        secrets = json.loads(value)["secrets"]
    except (ValueError, KeyError, TypeError):
        raise WebhookctlError(f"secret {secret_id(ws, provider)} is not in webhookctl's format") from None
    return [s for s in secrets if isinstance(s, str) and s]


def secret_line(text: str) -> str:
    """The secret read from stdin: only the line end is stripped (`echo`, a file, `\r\n`).

    Secrets chosen by users (GitHub, the generic HMAC scheme) may start, end or
    be full of spaces: those are part of the value.
    """
    return text.removesuffix("\n").removesuffix("\r")


def validate_secret(scheme: str, value: str) -> None:
    from handlers.schemes import get

    if not value.strip():  # nothing, or only blanks: never a secret anyone chose
        raise WebhookctlError("no secret on stdin (pipe it in, e.g. `pbpaste | webhookctl secrets set stripe`)")
    if "\n" in value or "\r" in value:
        raise WebhookctlError("the secret spans several lines: pass exactly the one-line value the provider shows")
    problem = get(scheme).check_secret(value)
    if problem:
        raise WebhookctlError(problem)


def set_secret(ws: Workspace, provider: str, value: str, *, keep_previous: bool, log: Log) -> dict:
    """Store a new secret; with keep_previous the old one stays active (rotation)."""
    config = require_provider(ws, provider)
    validate_secret(config.scheme, value)
    sm = env_client(ws, "secretsmanager")
    current = read_secrets(ws, provider, sm)
    kept = [s for s in current if s != value][:1] if keep_previous else []
    sm.put_secret_value(SecretId=secret_id(ws, provider), SecretString=json.dumps({"secrets": [value, *kept]}))
    log(f"secrets: {provider} now has {1 + len(kept)} active secret(s) in '{ws.env.name}'"
        + (" (the previous one still verifies until the next `secrets set` without --keep-previous)" if kept else ""))
    return {"provider": provider, "secret_id": secret_id(ws, provider), "active_secrets": 1 + len(kept)}


def delivery_status(ws: Workspace, webhook_id: str, table_name: str) -> dict:
    ddb = env_client(ws, "dynamodb")
    item = ddb.get_item(TableName=table_name, Key={"webhook_id": {"S": webhook_id}}, ConsistentRead=True).get("Item")
    if not item:
        raise WebhookctlError(f"no delivery {webhook_id} in environment '{ws.env.name}'")
    return {key: _plain(value) for key, value in sorted(item.items())}


def _plain(value: dict):
    (kind, inner), = value.items()
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    return inner
