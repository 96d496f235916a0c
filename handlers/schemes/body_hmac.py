"""Schemes that sign the raw body alone (or `<ts>.<body>`), the signature in one header.

- github: `X-Hub-Signature-256: sha256=<hex>`; id `X-GitHub-Delivery`, type `X-GitHub-Event`.
  https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
- shopify: `X-Shopify-Hmac-Sha256: <base64>`; id `X-Shopify-Webhook-Id`, type `X-Shopify-Topic`.
  https://shopify.dev/docs/apps/build/webhooks/subscribe/https
- hmac-sha256 (generic): options `header` (required), `encoding` hex|base64,
  `prefix` (e.g. `sha256=`), `id_header`, `event_type_header`, and
  `timestamp_header`: when set, the header carries unix seconds and the signed
  message is `<ts>.<body>` (tolerance applies).
"""
from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from typing import Any, Mapping

from .base import (
    Headers, Option, Outgoing, Sample, Scheme, Signed, b64decode, hexdecode, is_header_name, one_signature,
    prefixed, unix_timestamp,
)


def _no_stamp(now: int, delivery_id: str | None, options: Mapping[str, Any]) -> Signed:
    return Signed()


def _body_only(signed: Signed, content: bytes, url: str | None) -> bytes:
    return content


def _header_ids(id_header: str | None, type_header: str | None):
    def identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
        return (headers.get(id_header) if id_header else None), (headers.get(type_header) if type_header else None)
    return identify


# --------------------------------------------------------------------------- github


def _github_sample() -> Sample:
    hexid = uuid.uuid4().hex
    doc = {"ref": "refs/heads/main", "after": hexid[:40], "repository": {"full_name": "acme/shop"},
           "head_commit": {"id": hexid[:40], "message": "Hello from webhookctl"}}
    return Sample(json.dumps(doc).encode(), "application/json", "push")


GITHUB = Scheme(
    name="github",
    headers=("x-hub-signature-256", "x-github-delivery", "x-github-event"),
    parse=lambda h, options: one_signature(h, "X-Hub-Signature-256", prefixed("sha256=", hexdecode), "sha256=<hex>"),
    message=_body_only,
    render=lambda signed, options, out: {
        "X-Hub-Signature-256": "sha256=" + signed.signatures[0].hex(),
        "X-GitHub-Delivery": out.delivery_id,
        "X-GitHub-Event": out.event_type or "ping",
    },
    stamp=_no_stamp,
    identify=_header_ids("x-github-delivery", "x-github-event"),
    sample=_github_sample,
)


# --------------------------------------------------------------------------- shopify


def _shopify_sample() -> Sample:
    doc = {"id": uuid.uuid4().int % 10**13, "email": "demo@example.com", "total_price": "10.00", "currency": "USD"}
    return Sample(json.dumps(doc).encode(), "application/json", "orders/create")


SHOPIFY = Scheme(
    name="shopify",
    headers=("x-shopify-hmac-sha256", "x-shopify-webhook-id", "x-shopify-topic"),
    parse=lambda h, options: one_signature(h, "X-Shopify-Hmac-Sha256", b64decode, "base64 of 32 bytes"),
    message=_body_only,
    render=lambda signed, options, out: {
        "X-Shopify-Hmac-Sha256": base64.b64encode(signed.signatures[0]).decode(),
        "X-Shopify-Webhook-Id": out.delivery_id,
        "X-Shopify-Topic": out.event_type or "app/ping",
    },
    stamp=_no_stamp,
    identify=_header_ids("x-shopify-webhook-id", "x-shopify-topic"),
    sample=_shopify_sample,
)


# --------------------------------------------------------------------------- generic hmac-sha256

_DEFAULT_HEADER = "X-Webhook-Signature"  # what the original POST /webhook route sends
_HEADER = "a header name (letters, digits and '-')"


def _generic_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    encoding = "base64" if options.get("encoding") == "base64" else "hex"
    prefix = options.get("prefix") or ""
    decode = prefixed(prefix, b64decode if encoding == "base64" else hexdecode)
    signed = one_signature(h, options.get("header") or _DEFAULT_HEADER, decode, f"{prefix}<{encoding} of 32 bytes>")
    ts_header = options.get("timestamp_header")
    return dataclasses.replace(signed, timestamp=unix_timestamp(h.require(ts_header)) if ts_header else None)


def _generic_message(signed: Signed, content: bytes, url: str | None) -> bytes:
    return content if signed.timestamp is None else b"%d." % signed.timestamp + content


def _generic_render(signed: Signed, options: Mapping[str, Any], out: Outgoing) -> dict[str, str]:
    raw = signed.signatures[0]
    encoded = base64.b64encode(raw).decode() if options.get("encoding") == "base64" else raw.hex()
    headers = {(options.get("header") or _DEFAULT_HEADER): (options.get("prefix") or "") + encoded}
    for option, value in (("timestamp_header", signed.timestamp), ("id_header", out.delivery_id),
                          ("event_type_header", out.event_type or "ping")):
        if options.get(option):
            headers[options[option]] = str(value)
    return headers


def _generic_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    return _header_ids(options.get("id_header"), options.get("event_type_header"))(body, headers, signed, options)


def _generic_sample() -> Sample:
    hexid = uuid.uuid4().hex
    doc = {"id": hexid, "type": "order.created", "data": {"order_id": hexid[:8], "total": 42}}
    return Sample(json.dumps(doc).encode(), "application/json", "order.created")


GENERIC = Scheme(
    name="hmac-sha256",
    headers=(),  # from the options: header, id_header, timestamp_header, event_type_header
    option_headers=lambda options: tuple(
        options[k].lower() for k in ("header", "id_header", "timestamp_header", "event_type_header")
        if isinstance(options.get(k), str) and options[k]),
    parse=_generic_parse,
    message=_generic_message,
    render=_generic_render,
    stamp=lambda now, delivery_id, options: Signed(timestamp=now if options.get("timestamp_header") else None),
    identify=_generic_identify,
    sample=_generic_sample,
    options=(
        Option("header", "the header carrying the signature (letters, digits and '-')", is_header_name,
               "X-Webhook-Signature", required=True),
        Option("encoding", "hex or base64", lambda v: v in ("hex", "base64"), "base64", default="hex"),
        Option("prefix", "a string", lambda v: isinstance(v, str), "sha256="),
        Option("id_header", _HEADER, is_header_name, "X-Webhook-Id"),
        Option("event_type_header", _HEADER, is_header_name, "X-Webhook-Event"),
        Option("timestamp_header", _HEADER, is_header_name, "X-Webhook-Timestamp"),
    ),
)
