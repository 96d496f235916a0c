"""Schemes with one header of `name=value` items: a timestamp and hex HMACs of `<ts><sep><body>`.

- stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=...][,v0=...]`, HMAC-SHA256 of
  `<ts>.<body>`; v0 (test-mode legacy) and unknown items are ignored; id and
  type from the body. https://docs.stripe.com/webhooks#verify-manually
- paddle: `Paddle-Signature: ts=<ts>;h1=<hex>[;h1=...]`, HMAC-SHA256 of
  `<ts>:<body>`. https://developer.paddle.com/webhooks/signature-verification
- calendly: `Calendly-Webhook-Signature: t=<ts>,v1=<hex>`, HMAC-SHA256 of `<ts>.<body>`.
  https://developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Mapping

from .base import (
    Headers, MalformedHeader, Outgoing, Sample, Scheme, Signed, hexdecode, json_doc, sized, str_field,
    unix_timestamp,
)


def parse_items(header: str, separator: str, ts_name: str, sig_name: str, label: str) -> Signed:
    """`t=<ts>,v1=<hex>,...`: the timestamp and every well-formed signature (duplicates once)."""
    ts: int | None = None
    signatures: dict[bytes, None] = {}
    for item in header.split(separator):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise MalformedHeader(f"{label} items are name=value")
        if name == ts_name:
            ts = unix_timestamp(value)
        elif name == sig_name:
            decoded = sized(hexdecode(value))
            if decoded is not None:
                signatures[decoded] = None
    if ts is None or not signatures:
        raise MalformedHeader(f"{label} needs {ts_name}= and at least one {sig_name}=<hex of 32 bytes>")
    return Signed(signatures=tuple(signatures), timestamp=ts)


def items_scheme(name: str, header: str, separator: str, ts_name: str, sig_name: str, signed_separator: bytes,
                 identify, sample) -> Scheme:
    """A scheme of this family: `<header>: <ts_name>=<ts><separator><sig_name>=<hex>...` over
    `<ts><signed_separator><body>`."""
    def render(signed: Signed, options: Mapping[str, Any], out: Outgoing) -> dict[str, str]:
        sigs = separator.join(f"{sig_name}={s.hex()}" for s in signed.signatures)
        return {header: f"{ts_name}={signed.timestamp}{separator}{sigs}"}

    return Scheme(
        name=name,
        headers=(header.lower(),),
        parse=lambda h, options: parse_items(h.require(header), separator, ts_name, sig_name, header),
        message=lambda signed, content, url: b"%d" % signed.timestamp + signed_separator + content,
        render=render,
        stamp=lambda now, delivery_id, options: Signed(timestamp=now),
        identify=identify,
        sample=sample,
    )


def _iso(now: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


# --------------------------------------------------------------------------- stripe


def _stripe_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    return str_field(doc, "id"), str_field(doc, "type")


def _stripe_sample() -> Sample:
    hexid = uuid.uuid4().hex
    doc = {"id": f"evt_{hexid}", "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
           "data": {"object": {"id": f"pi_{hexid[:16]}", "object": "payment_intent", "amount": 2000,
                               "currency": "usd", "customer": "cus_demo"}}}
    return Sample(json.dumps(doc).encode(), "application/json")


STRIPE = items_scheme("stripe", "Stripe-Signature", ",", "t", "v1", b".", _stripe_identify, _stripe_sample)


# --------------------------------------------------------------------------- paddle


def _paddle_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    return str_field(doc, "event_id") or str_field(doc, "notification_id"), str_field(doc, "event_type")


def _paddle_sample() -> Sample:
    hexid, now = uuid.uuid4().hex, int(time.time())
    doc = {"event_id": f"evt_{hexid}", "event_type": "transaction.completed", "occurred_at": _iso(now),
           "data": {"id": f"txn_{hexid[:12]}", "status": "completed"}}
    return Sample(json.dumps(doc).encode(), "application/json")


PADDLE = items_scheme("paddle", "Paddle-Signature", ";", "ts", "h1", b":", _paddle_identify, _paddle_sample)


# --------------------------------------------------------------------------- calendly


def _calendly_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    """No delivery id: the event name and the resource's URI (an invitee is created once, canceled once)."""
    doc = json_doc(body)
    event, uri = str_field(doc, "event"), str_field(doc, "payload", "uri")
    return (f"{event}:{uri}" if event and uri else None), event


def _calendly_sample() -> Sample:
    event = f"https://api.calendly.com/scheduled_events/{uuid.uuid4()}"
    doc = {"created_at": _iso(int(time.time())), "created_by": "https://api.calendly.com/users/DEMO",
           "event": "invitee.created",
           "payload": {"uri": f"{event}/invitees/{uuid.uuid4()}", "event": event, "email": "demo@example.com",
                       "status": "active"}}
    return Sample(json.dumps(doc).encode(), "application/json")


CALENDLY = items_scheme("calendly", "Calendly-Webhook-Signature", ",", "t", "v1", b".", _calendly_identify,
                        _calendly_sample)
