"""`webhookctl send PROVIDER`: sign a sample (or your own) payload as the provider would, and POST it.

`deliver` is the one place a payload is signed and posted as a provider would: `send` (the
registry's sample, or --file) and `trigger` (the catalog's realistic fixtures, cli/trigger.py)
both go through it.
"""
from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

from handlers.contract import REPLY_HEADER

from .errors import WebhookctlError
from .operations import read_secrets, require_provider
from .workspace import Workspace


def sample_payload(scheme: str) -> tuple[bytes, str, str | None]:
    """A realistic body for the scheme with fresh ids: (body, content type, event type for headers)."""
    from handlers.schemes import get

    sample = get(scheme).sample()
    return sample.body, sample.content_type, sample.event_type


def dev_server_file(ws: Workspace) -> Path:
    """Written by `webhookctl dev` while it serves the ingest API."""
    return ws.work_dir / f"dev-{ws.env.name}.json"


def base_url(ws: Workspace, override: str | None) -> str:
    if override:
        return override.rstrip("/")
    if ws.env.is_emulated:
        try:
            return json.loads(dev_server_file(ws).read_text())["url"].rstrip("/")
        except (OSError, ValueError, KeyError):
            raise WebhookctlError(
                f"`webhookctl dev` is not serving environment '{ws.env.name}': start it in another terminal, "
                "or pass --url"
            ) from None
    from .stack_ops import known_outputs

    return known_outputs(ws).api_url.rstrip("/")


def guess_content_type(body: bytes) -> str:
    return "application/json" if body.lstrip()[:1] in (b"{", b"[") else "application/x-www-form-urlencoded"


def send(ws: Workspace, provider: str, *, file: Path | None, url: str | None, secret: str | None,
         timeout: float = 30.0) -> dict:
    config = require_provider(ws, provider)
    if file is not None:
        body, content_type, event_type = file.read_bytes(), None, None
        content_type = guess_content_type(body)
    else:
        body, content_type, event_type = sample_payload(config.scheme)
    return deliver(ws, provider, body, content_type, event_type=event_type, url=url, secret=secret, timeout=timeout)


def deliver(ws: Workspace, provider: str, body: bytes, content_type: str, *, event_type: str | None = None,
            delivery_id: str | None = None, headers: Mapping[str, str] | None = None, url: str | None = None,
            secret: str | None = None, timeout: float = 30.0, user_agent: str = "webhookctl-send/0.1") -> dict:
    """Sign `body` with the provider's scheme and active secret (or `secret`), POST it to the ingest API.

    `headers` are the provider's other headers (User-Agent and the like); the signature's own
    headers and the content type win over them. The answer is ingest's JSON document.
    """
    from handlers.schemes import get, prepare_body, sign

    config = require_provider(ws, provider)
    scheme = get(config.scheme)
    key = secret or _active_secret(ws, provider)
    body = prepare_body(config.scheme, body, key)  # a proof that rides in the body (Graph's clientState)
    target = scheme.post_url(f"{base_url(ws, url)}/webhooks/{provider}", body, content_type)
    sent = {"User-Agent": user_agent, **(headers or {}), "Content-Type": content_type}
    try:
        sent.update(sign(config.scheme, body, key, dict(config.options), url=target, event_type=event_type,
                         delivery_id=delivery_id))
    except ValueError as exc:  # a secret that cannot sign (Discord's public key): say how to send
        raise WebhookctlError(f"cannot sign a {config.scheme} request for {provider}: {exc}") from None
    started = time.perf_counter()
    status, response = _post(target, body, sent, timeout)
    return {"provider": provider, "url": target, "status": status, "response": response,
            "milliseconds": round((time.perf_counter() - started) * 1000, 1), "size": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest()}


def _active_secret(ws: Workspace, provider: str) -> str:
    active = read_secrets(ws, provider)
    if not active:
        raise WebhookctlError(
            f"no secret set for {provider} in '{ws.env.name}': `webhookctl secrets set {provider} --env {ws.env.name}`"
        )
    return active[0]


def _post(target: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict]:
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, text, reply = resp.status, resp.read().decode("utf-8", "replace"), resp.headers.get(REPLY_HEADER)
    except urllib.error.HTTPError as exc:
        status, text, reply = exc.code, exc.read().decode("utf-8", "replace"), exc.headers.get(REPLY_HEADER)
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookctlError(f"could not reach {target}: {getattr(exc, 'reason', exc)}") from None
    return status, _document(text, reply)


def _document(text: str, reply_header: str | None) -> dict:
    """Ingest's JSON answer: the reply header where the provider dictates the body (Twilio's TwiML,
    Discord's interaction response, kept as `raw`), else the body."""
    reply = _json_object(reply_header)
    if reply is not None:
        return {**reply, "raw": text}
    body = _json_object(text)
    return body if body is not None else {"raw": text}


def _json_object(text: str | None) -> dict | None:
    try:
        doc = json.loads(text or "")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
