"""`webhookctl send PROVIDER`: sign a sample (or your own) payload as the provider would, and POST it."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from .errors import WebhookctlError
from .operations import read_secrets, require_provider
from .workspace import Workspace


def sample_payload(scheme: str) -> tuple[bytes, str, str | None]:
    """A realistic body for the scheme with fresh ids: (body, content type, event type for headers)."""
    now = int(time.time())
    hexid = uuid.uuid4().hex
    if scheme == "twilio":
        form = (f"AccountSid=AC{hexid}&MessageSid=SM{hexid}&From=%2B15005550006&To=%2B15005550001"
                f"&Body=Hello+from+webhookctl&SmsStatus=received")
        return form.encode(), "application/x-www-form-urlencoded", None
    bodies = {
        "stripe": {"id": f"evt_{hexid}", "object": "event", "type": "payment_intent.succeeded", "created": now,
                   "data": {"object": {"id": f"pi_{hexid[:16]}", "object": "payment_intent", "amount": 2000,
                                       "currency": "usd", "customer": "cus_demo"}}},
        "github": {"ref": "refs/heads/main", "after": hexid[:40], "repository": {"full_name": "acme/shop"},
                   "head_commit": {"id": hexid[:40], "message": "Hello from webhookctl"}},
        "shopify": {"id": now, "email": "demo@example.com", "total_price": "10.00", "currency": "USD"},
        "slack": {"token": "demo", "team_id": "T0DEMO", "type": "event_callback", "event_id": f"Ev{hexid[:10].upper()}",
                  "event_time": now, "event": {"type": "app_mention", "text": "hello from webhookctl"}},
        "standard": {"type": "invoice.paid", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                     "data": {"invoice_id": f"in_{hexid[:12]}", "amount": 4200}},
        "paddle": {"event_id": f"evt_{hexid}", "event_type": "transaction.completed",
                   "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                   "data": {"id": f"txn_{hexid[:12]}", "status": "completed"}},
        "square": {"merchant_id": "MDEMO", "type": "payment.updated", "event_id": str(uuid.uuid4()),
                   "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                   "data": {"type": "payment", "id": hexid[:12], "object": {"payment": {"status": "COMPLETED"}}}},
        "hmac-sha256": {"id": hexid, "type": "order.created", "data": {"order_id": hexid[:8], "total": 42}},
    }
    event_types = {"github": "push", "shopify": "orders/create", "hmac-sha256": "order.created"}
    return json.dumps(bodies[scheme]).encode(), "application/json", event_types.get(scheme)


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


def send(ws: Workspace, provider: str, *, file: Path | None, url: str | None, secret: str | None,
         timeout: float = 30.0) -> dict:
    from handlers.signatures import sign, twilio_json_url

    config = require_provider(ws, provider)
    if file is not None:
        body = file.read_bytes()
        content_type = "application/json" if body.lstrip()[:1] in (b"{", b"[") else "application/x-www-form-urlencoded"
        event_type = None
    else:
        body, content_type, event_type = sample_payload(config.scheme)
    if secret is None:
        active = read_secrets(ws, provider)
        if not active:
            raise WebhookctlError(
                f"no secret set for {provider} in '{ws.env.name}': `webhookctl secrets set {provider} --env {ws.env.name}`"
            )
        secret = active[0]
    target = f"{base_url(ws, url)}/webhooks/{provider}"
    signed_url = config.options.get("public_url") or config.options.get("notification_url") or target
    if config.scheme == "twilio" and content_type == "application/json":
        signed_url = twilio_json_url(signed_url, body)
        target = twilio_json_url(target, body)
    headers = {"Content-Type": content_type, "User-Agent": "webhookctl-send/0.1"}
    headers.update(sign(config.scheme, body, secret, dict(config.options), url=signed_url, event_type=event_type))
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookctlError(f"could not reach {target}: {getattr(exc, 'reason', exc)}") from None
    try:
        response = json.loads(text)
    except ValueError:
        response = {"raw": text}
    return {"provider": provider, "url": target, "status": status, "response": response,
            "milliseconds": round((time.perf_counter() - started) * 1000, 1)}
