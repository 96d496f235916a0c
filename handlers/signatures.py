"""Webhook signatures: a thin facade over the scheme registry (`handlers.schemes`).

    verify(scheme, body, headers, secrets, options, url=None, now=None) -> Verified
    sign(scheme, body, secret, options, url=None, now=None, delivery_id=None,
         event_type=None) -> dict of headers to send
    webhook_id(provider, delivery_id) -> str

Errors: `MissingHeader` / `MalformedHeader` / `MalformedBody` (HTTP 400),
`InvalidSignature` / `StaleTimestamp` (HTTP 401); all subclass `SignatureError`
and carry `.status` and `.code`. Messages never echo header values or secrets.
Each scheme's details are in its module under `handlers/schemes/`.
"""
from __future__ import annotations

from .contract import DEFAULT_TOLERANCE_SECONDS, webhook_id  # noqa: F401  (re-exported)
from .schemes import REGISTRY, SCHEMES, get, sign, verify  # noqa: F401
from .schemes.base import (  # noqa: F401
    InvalidSignature, MalformedBody, MalformedHeader, MissingHeader, SignatureError, StaleTimestamp, Verified,
    body_delivery_id,
)
from .schemes.standard import standard_key  # noqa: F401
from .schemes.url_signed import twilio_json_url  # noqa: F401

# Headers (lower case) each scheme needs to re-verify a stored payload (the generic
# scheme's come from its options).
SIGNATURE_HEADERS: dict[str, tuple[str, ...]] = {name: scheme.headers for name, scheme in REGISTRY.items()}
