"""Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`.

`webhook-signature: v1,<base64> [v1,<base64> ...]` of `<id>.<ts>.<body>`, keyed
by the base64 part of a `whsec_<base64>` secret; the `svix-*` header names are
accepted too. https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from typing import Any, Mapping

from .base import (
    Headers, MalformedHeader, Sample, Scheme, Signed, b64decode, json_doc, sized, str_field, unix_timestamp, utf8,
)

SECRET_PREFIX = "whsec_"


def standard_key(secret: str | bytes) -> bytes | None:
    """The HMAC key of a Standard Webhooks secret (`whsec_<base64>`), None if invalid."""
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8", "replace")
    secret = secret.removeprefix(SECRET_PREFIX)
    try:  # the reference SDK tolerates missing padding
        key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _check_secret(value: str) -> str | None:
    if value.startswith(SECRET_PREFIX) and standard_key(value):
        return None
    return "Standard Webhooks secrets look like whsec_<base64>: copy the whole value"


def _parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    prefix = "webhook" if h.get("webhook-signature") or not h.get("svix-signature") else "svix"
    msg_id = h.require(f"{prefix}-id")
    ts = unix_timestamp(h.require(f"{prefix}-timestamp"))
    signatures: dict[bytes, None] = {}
    for item in h.require(f"{prefix}-signature").split(" "):
        version, sep, value = item.partition(",")
        decoded = sized(b64decode(value)) if sep and version == "v1" else None
        if decoded is not None:
            signatures[decoded] = None
    if not signatures:
        raise MalformedHeader("webhook-signature has no v1,<base64 of 32 bytes> entry")
    return Signed(signatures=tuple(signatures), timestamp=ts, message_id=msg_id)


def _sample() -> Sample:
    now = int(time.time())
    doc = {"type": "invoice.paid", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
           "data": {"invoice_id": f"in_{uuid.uuid4().hex[:12]}", "amount": 4200}}
    return Sample(json.dumps(doc).encode(), "application/json")


STANDARD = Scheme(
    name="standard",
    headers=("webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"),
    parse=_parse,
    message=lambda signed, content, url: utf8(signed.message_id) + b".%d." % signed.timestamp + content,
    render=lambda signed, options, out: {
        "webhook-id": signed.message_id,
        "webhook-timestamp": str(signed.timestamp),
        "webhook-signature": " ".join("v1," + base64.b64encode(s).decode() for s in signed.signatures),
    },
    stamp=lambda now, delivery_id, options: Signed(
        timestamp=now, message_id=delivery_id or "msg_" + uuid.uuid4().hex),
    identify=lambda body, headers, signed, options: (signed.message_id, str_field(json_doc(body), "type")),
    sample=_sample,
    key=standard_key,
    check_secret=_check_secret,
    dev_secret=lambda: SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode(),
)
