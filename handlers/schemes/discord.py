"""Discord interactions: Ed25519 over `<X-Signature-Timestamp><body>`, verified with the app's public key.

https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers

- `X-Signature-Ed25519: <hex of 64 bytes>`, `X-Signature-Timestamp: <unix seconds>`; the
  message is the timestamp's text followed by the raw body. Discord checks that an endpoint
  answers 401 to a bad signature before it saves it: the contract's 401 does.
- The "secret" is the application's PUBLIC KEY (hex, from the Developer Portal): verifying
  needs no secret, and rotation (`secrets set --keep-previous`) works as for HMAC keys. For
  local testing a value `ed25519-seed:<hex of 32 bytes>` is a test key pair: ingest verifies
  with its public half and `webhookctl send` signs with it (`webhookctl dev` generates one).
- PING (`"type": 1`) is answered `{"type": 1}` (PONG) once the signature held; nothing is
  stored. https://discord.com/developers/docs/interactions/receiving-and-responding#receiving-an-interaction
- Every other interaction is stored and answered 200 `{"type": 5}`
  (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: Discord shows "thinking..." and the consumer of the
  published event follows up with the interaction token in the payload, within 15 minutes).
  Discord needs an answer within 3 s and reads it as an interaction response, so the contract's
  JSON rides in the `X-Webhookctl-Reply` header as for Twilio. Known limit: autocomplete
  interactions (type 4) expect type 8 and get no suggestions this way.
  https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction
- Delivery id: the interaction's `id` (a snowflake; Discord does not redeliver interactions).
"""
from __future__ import annotations

import functools
import json
import secrets
import time
from typing import Any, Mapping

from ..contract import REPLY_HEADER
from . import ed25519
from .base import (
    Handshake, HandshakeRequest, Headers, MalformedHeader, Response, Sample, Scheme, Signed, hexdecode,
    json_doc, json_response, str_field, unix_timestamp, utf8,
)

SEED_PREFIX = "ed25519-seed:"
SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
INTERACTION_TYPES = {1: "PING", 2: "APPLICATION_COMMAND", 3: "MESSAGE_COMPONENT",
                     4: "APPLICATION_COMMAND_AUTOCOMPLETE", 5: "MODAL_SUBMIT"}
PONG = {"type": 1}
DEFERRED = {"type": 5}


def _seed(secret: str) -> bytes | None:
    if not secret.startswith(SEED_PREFIX):
        return None
    seed = hexdecode(secret[len(SEED_PREFIX):])
    return seed if seed is not None and len(seed) == 32 else None


def _public_key(secret: str | bytes) -> ed25519.PublicKey | None:
    """The key ingest verifies with: the public key as configured, or a test seed's public half."""
    return _key_of(secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret)


@functools.lru_cache(maxsize=16)  # per request otherwise: a test seed costs a scalar multiplication
def _key_of(text: str) -> ed25519.PublicKey | None:
    seed = _seed(text)
    encoded = ed25519.public_from_seed(seed) if seed is not None else hexdecode(text)
    if encoded is None or len(encoded) != ed25519.KEY_BYTES:
        return None
    return ed25519.public_key(encoded)  # cached per key: the table is built once per container


def _signer(secret: str, message: bytes) -> bytes:
    seed = _seed(secret)
    if seed is None:
        raise ValueError("signing a discord request needs a test key (ed25519-seed:<hex of 32 bytes>); "
                         "Discord's own requests are signed with Discord's private key")
    return ed25519.sign(seed, message)


def _check_secret(value: str) -> str | None:
    if _public_key(value) is not None:
        return None
    return ("Discord's public key is 64 hex characters (Developer Portal > General Information), "
            "or a test key ed25519-seed:<64 hex characters>")


def _parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    raw = hexdecode(h.require(SIGNATURE_HEADER))
    text = h.require(TIMESTAMP_HEADER)
    ts = unix_timestamp(text)
    # Length, S < L and a canonical R: all before any curve arithmetic (ed25519.parse_signature).
    if raw is None or ed25519.parse_signature(raw) is None:
        raise MalformedHeader(f"{SIGNATURE_HEADER} is the hex of a 64-byte Ed25519 signature")
    return Signed(signatures=(raw,), timestamp=ts, digest="ed25519", stamp_text=text)


def _identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    kind = doc.get("type") if isinstance(doc, dict) else None
    return str_field(doc, "id"), INTERACTION_TYPES.get(kind) if isinstance(kind, int) else None


def _ping(request: HandshakeRequest) -> Response | None:
    doc = json_doc(request.body)
    if isinstance(doc, dict) and doc.get("type") == 1:
        return json_response(200, PONG)
    return None


def _respond(status: int, doc: Mapping[str, Any]) -> Response:
    if 200 <= status < 300:
        reply = json.dumps(doc, separators=(",", ":"))
        return json_response(200, DEFERRED, {REPLY_HEADER: reply})
    return json_response(status, doc)


def _sample() -> Sample:
    snowflake = str(int(time.time() * 1000 - 1420070400000) << 22)
    doc = {"id": snowflake, "application_id": "1100000000000000000", "type": 2, "token": secrets.token_hex(16),
           "version": 1, "data": {"id": "1100000000000000001", "name": "status", "type": 1},
           "channel_id": "1100000000000000002", "member": {"user": {"id": "1100000000000000003"}}}
    return Sample(json.dumps(doc).encode(), "application/json")


DISCORD = Scheme(
    name="discord",
    headers=(SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()),
    parse=_parse,
    message=lambda signed, content, url: utf8(signed.stamp_text or str(signed.timestamp)) + content,
    render=lambda signed, options, out: {
        SIGNATURE_HEADER: signed.signatures[0].hex(),
        TIMESTAMP_HEADER: signed.stamp_text or str(signed.timestamp),
    },
    stamp=lambda now, delivery_id, options: Signed(timestamp=now, digest="ed25519", stamp_text=str(now)),
    identify=_identify,
    sample=_sample,
    key=_public_key,
    check=lambda key, message, signature: ed25519.verify(key, message, signature),
    signer=_signer,
    check_secret=_check_secret,
    handshake=Handshake(methods=("POST",), answer=_ping),
    respond=_respond,
    dev_secret=lambda: SEED_PREFIX + secrets.token_hex(32),
)
