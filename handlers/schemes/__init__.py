"""The signature-scheme registry, and the one `verify` / `sign` that run every entry.

Standard library only (ships in the Lambda zip; config and the CLI import it too).
Every verifier works on the RAW body bytes, accepts a list of active secrets
(rotation), compares in constant time (`hmac.compare_digest`) and, where the
scheme signs a timestamp, rejects it outside `tolerance_seconds` in BOTH
directions (stale and future).

    verify(scheme, body, headers, secrets, options, url=None, now=None) -> Verified
    sign(scheme, body, secret, options, url=None, now=None, delivery_id=None,
         event_type=None) -> dict of headers to send

`verify` does the cheap work first: the signature headers' presence and shape
(400), the timestamp window (401), then the body (Twilio's form parameters,
bounded), then at most `MAX_SIGNED_MESSAGES` strings-to-sign, each MACed once
per active secret. `sign` builds its string-to-sign with the same entry's
`message`, so a scheme's signed content is written once.

Delivery ids: the provider's own id when it sends one, otherwise `sha256:<hex>`
of the body (so a byte-identical redelivery deduplicates even when the
provider re-signs it with a fresh timestamp).

Proofs that are not an HMAC set `check` / `signer` on their entry (Discord's Ed25519,
shared tokens); a proof inside the body sets `parse_body` / `embed` (Graph's clientState:
`prepare_body` puts it in place before `sign`). Handshakes: `Scheme.handshake`.

Adding a scheme: one module-level `Scheme(...)` entry, listed in `REGISTRY`
below, plus its test vectors (tests/handlers/scheme_vectors.py).
"""
from __future__ import annotations

import dataclasses
import hmac
import time
import uuid
from typing import Any, Iterable, Mapping

from ..contract import DEFAULT_TOLERANCE_SECONDS
from .base import (  # noqa: F401  (re-exported: what ingest, config and send use)
    MAX_FORM_FIELDS, MAX_SIGNED_MESSAGES, SIGNED_URL_HEADER, Handshake, HandshakeRequest, Headers, InvalidSignature,
    MalformedHeader, Option, Outgoing, Response, Sample, Scheme, Signed, Verified, check_tolerance,
    clean_delivery_id, clean_event_type, json_response, utf8,
)
from .body_hmac import GENERIC, GITHUB, SHOPIFY
from .body_signed import (
    BITBUCKET, INTERCOM, LEMONSQUEEZY, LINEAR, PAGERDUTY, SEGMENT, SENTRY, TYPEFORM, VERCEL, WOOCOMMERCE,
)
from .challenges import ASANA, DROPBOX, META, TWITCH, XERO, ZOOM
from .discord import DISCORD
from .slack import SLACK
from .standard import STANDARD
from .timestamped import CALENDLY, PADDLE, STRIPE
from .tokens import GITLAB, MSGRAPH
from .url_signed import HUBSPOT, SQUARE, TWILIO

REGISTRY: dict[str, Scheme] = {
    s.name: s for s in (
        STRIPE, GITHUB, SHOPIFY, SLACK, STANDARD, TWILIO, PADDLE, SQUARE, GENERIC,
        # issue 11: the providers teams receive, with their handshakes
        ZOOM, HUBSPOT, LINEAR, INTERCOM, TYPEFORM, GITLAB, BITBUCKET, CALENDLY, META, TWITCH, DROPBOX, SENTRY,
        SEGMENT, WOOCOMMERCE, LEMONSQUEEZY, VERCEL, PAGERDUTY, ASANA, MSGRAPH, XERO, DISCORD,
    )
}
SCHEMES = tuple(REGISTRY)


def get(name: str) -> Scheme:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown signature scheme {name!r}") from None


def verify(
    scheme: str,
    body: bytes | str,
    headers: Mapping[str, Any],
    secrets: Iterable[str | bytes],
    options: Mapping[str, Any] | None = None,
    *,
    url: str | Iterable[str] | None = None,
    now: float | None = None,
) -> Verified:
    """Verify one request; raise a SignatureError subclass when it must be rejected.

    `url` is the public URL the provider requested (twilio, square), or a list
    of its possible spellings (tried in turn); `now` overrides the clock (unix
    seconds) for tests.
    """
    entry = get(scheme)
    options = options or {}
    data = utf8(body) if isinstance(body, str) else bytes(body)
    h = Headers(headers)
    # presence and shape only: no body work yet (a body-borne proof is parsed with a bound: its scheme says)
    signed = entry.parse_body(data, h, options) if entry.parse_body else entry.parse(h, options)
    if signed.timestamp is not None:
        check_tolerance(signed.timestamp, int(options.get("tolerance_seconds") or DEFAULT_TOLERANCE_SECONDS), now)
    keys = [k for k in (entry.key(s) for s in secrets if s) if k]
    if not keys:
        raise InvalidSignature("no active secret")
    targets = _targets(entry, url, options)
    content = entry.content(data, h, targets[0])
    messages = [entry.message(signed, content, target) for target in targets]
    key_index, message_index = _match(entry, signed, keys, messages)
    if entry.after is not None:
        entry.after(data, options, now)
    delivery_id, event_type = entry.identify(data, h, signed, options)
    signed_headers = h.subset(entry.headers + entry.option_headers(options))
    if entry.signs_url:
        signed_headers[SIGNED_URL_HEADER] = targets[message_index]
    return Verified(delivery_id=clean_delivery_id(delivery_id, data), event_type=clean_event_type(event_type),
                    timestamp=signed.timestamp, signed_headers=signed_headers, secret_index=key_index)


def _targets(entry: Scheme, url: str | Iterable[str] | None, options: Mapping[str, Any]) -> list[str | None]:
    """The URLs whose string-to-sign to try (`[None]` for schemes that do not sign the URL)."""
    if not entry.signs_url:
        return [None]
    spellings = ([url] if url else []) if isinstance(url, str) else [u for u in (url or ()) if u]
    targets = entry.targets(spellings[:MAX_SIGNED_MESSAGES], options)[:MAX_SIGNED_MESSAGES]
    if not targets:
        raise MalformedHeader("cannot reconstruct the signed URL")
    return targets


def _match(entry: Scheme, signed: Signed, keys: list[Any], messages: list[bytes]) -> tuple[int, int]:
    """(secret index, message index) of the first MAC equal to a sent signature, else raise.

    Every sent signature is compared against every MAC, in constant time per compare; a
    scheme with its own `check` (Ed25519, a shared token) checks each instead.
    """
    for key_index, key in enumerate(keys):
        for message_index, message in enumerate(messages):
            if entry.check is not None:
                if any(entry.check(key, message, candidate) for candidate in signed.signatures):
                    return key_index, message_index
                continue
            expected = hmac.new(key, message, signed.digest).digest()
            for candidate in signed.signatures:
                if hmac.compare_digest(expected, candidate):
                    return key_index, message_index
    raise InvalidSignature("signature does not match")


def prepare_body(scheme: str, body: bytes | str, secret: str) -> bytes:
    """The body as the provider sends it: with the proof in place for a scheme whose proof rides
    in the body (Graph's clientState), else unchanged. Call it before `sign()`."""
    entry = get(scheme)
    data = utf8(body) if isinstance(body, str) else bytes(body)
    return entry.embed(data, secret) if entry.embed else data


def sign(
    scheme: str,
    body: bytes | str,
    secret: str,
    options: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    now: float | None = None,
    delivery_id: str | None = None,
    event_type: str | None = None,
) -> dict[str, str]:
    """Headers a provider using `scheme` would send with `body`, signed with `secret`.

    `url`: the public URL the request goes to (twilio, square; for a Twilio
    JSON body pass `twilio_json_url(url, body)` and POST to that URL).
    `delivery_id` / `event_type` fill the provider's id and type headers where
    the scheme carries them in headers (random uuid / `ping` by default).
    """
    entry = get(scheme)
    options = options or {}
    data = utf8(body) if isinstance(body, str) else bytes(body)
    key = entry.key(secret) if entry.signer is None else secret
    if key is None:
        raise ValueError(entry.check_secret(str(secret)) or f"not a usable {scheme} secret")
    target = None
    if entry.signs_url:
        targets = entry.targets([url] if url else [], options)
        if not targets:
            raise ValueError(f"{scheme} signs the URL the provider posts to: pass url=")
        target = targets[0]
    signed = entry.stamp(int(time.time() if now is None else now), delivery_id, options)
    message = entry.message(signed, entry.content(data, Headers({}), target), target)
    mac = entry.signer(secret, message) if entry.signer else hmac.new(key, message, signed.digest).digest()
    outgoing = Outgoing(delivery_id=delivery_id or str(uuid.uuid4()), event_type=event_type, url=target)
    return entry.render(dataclasses.replace(signed, signatures=(mac,)), options, outgoing)
