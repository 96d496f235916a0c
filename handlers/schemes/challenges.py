"""Providers that check the endpoint before (and while) they deliver: their handshakes.

Each handshake is answered in the form the provider documents and stores and enqueues
nothing. Who may trigger it:

- zoom, twitch, xero: the handshake request is signed like any delivery; it is answered
  only after the signature held (`Handshake.answer`).
- meta (GET `hub.challenge`): answered only when `hub.verify_token` hashes to the
  provider's `verify_token_sha256` option (the token itself is never in the config).
- dropbox (GET `challenge`): Dropbox's check carries no proof at all. Answering it sets
  nothing and reveals nothing, so it is answered, as an inert echo: text/plain, nosniff,
  no caching, a sandboxing CSP, at most 256 letters, digits and `-._~` (`echo_response`).
- asana (POST with `X-Hook-Secret`): the secret Asana will sign with arrives in the
  handshake itself, unauthenticated. An unauthenticated request must never set or replace
  a secret, so the handshake must prove itself with a ONE-TIME SETUP TOKEN: the operator
  stores `setup_<random>` as the provider's secret (`webhookctl secrets set asana`) and
  creates the Asana webhook with `?setup=<that token>` in its target URL (Asana gets it
  over the operator's authenticated API call). Ingest echoes `X-Hook-Secret` and replaces
  that token with it in the secret list only when the token matches; the token is then
  spent, so a replayed handshake (the URL stays in every delivery) is refused. Without a
  matching token: 401, nothing written, nothing echoed.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
import uuid
from typing import Any, Mapping

from .base import (
    Handshake, HandshakeRequest, Headers, InvalidSignature, MalformedBody, MalformedHeader, Option, Response,
    Scheme, Signed, echo_response, hexdecode, json_doc, json_response, one_signature, prefixed, str_field, utf8,
    v0_signature,
)
from .body_signed import _iso, _json, body_scheme, from_body

# --------------------------------------------------------------------------- zoom
# https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
# x-zm-signature: v0=<hex of HMAC-SHA256(secret token, "v0:<x-zm-request-timestamp>:<body>")>.
# https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint
# `endpoint.url_validation` (signed like any event, and sent again every 72 hours) is answered
# 200 {"plainToken", "encryptedToken": hex HMAC-SHA256(secret token, plainToken)}.
# No delivery id: Zoom re-signs a retried event with a new timestamp but the same body (its
# `event_ts` included), so the body's hash makes a retry a duplicate.

TOKEN_MAX_CHARS = 256


def _zoom_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    return v0_signature(h, "x-zm-signature", "x-zm-request-timestamp")


def _zoom_validation(request: HandshakeRequest) -> Response | None:
    doc = json_doc(request.body)
    if str_field(doc, "event") != "endpoint.url_validation":
        return None
    plain = str_field(doc, "payload", "plainToken")
    if plain is None or len(plain) > TOKEN_MAX_CHARS:
        raise MalformedBody("endpoint.url_validation without a plainToken")
    secret = request.secrets[request.verified.secret_index if request.verified else 0]
    encrypted = hmac.new(utf8(secret), utf8(plain), hashlib.sha256).hexdigest()
    return json_response(200, {"plainToken": plain, "encryptedToken": encrypted})


ZOOM = Scheme(
    name="zoom",
    headers=("x-zm-signature", "x-zm-request-timestamp"),
    parse=_zoom_parse,
    message=lambda signed, content, url: b"v0:%d:" % signed.timestamp + content,
    render=lambda signed, options, out: {"x-zm-signature": "v0=" + signed.signatures[0].hex(),
                                         "x-zm-request-timestamp": str(signed.timestamp)},
    stamp=lambda now, delivery_id, options: Signed(timestamp=now),
    identify=from_body(None, ("event",)),
    sample=lambda: _json({"event": "meeting.started", "event_ts": int(time.time() * 1000),
                          "payload": {"account_id": "AcC0uNt1d", "object": {
                              "id": str(uuid.uuid4().int % 10**11), "uuid": str(uuid.uuid4()),
                              "topic": "webhookctl demo"}}}),
    handshake=Handshake(methods=("POST",), answer=_zoom_validation),
)

# --------------------------------------------------------------------------- twitch
# https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
# Twitch-Eventsub-Message-Signature: sha256=<hex of HMAC-SHA256(secret, id + timestamp + body)>,
# with Twitch-Eventsub-Message-Id and -Timestamp (RFC 3339, nanoseconds) exactly as sent. The id
# is the same on a redelivery ("if you receive a message with the same id, ignore it"); Twitch
# suggests refusing timestamps older than 10 minutes (the tolerance window applies).
# https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#responding-to-a-challenge-request
# `webhook_callback_verification` (signed) is answered 200 text/plain with the raw `challenge`.
# `revocation` messages are stored (type `revocation`): the consumer learns a subscription ended.

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
TWITCH_TYPE = "Twitch-Eventsub-Message-Type"


def rfc3339_seconds(text: str) -> int:
    """Unix seconds of an RFC 3339 timestamp (fraction dropped); 400 for anything else."""
    match = _RFC3339.match(text)
    if not match:
        raise MalformedHeader("timestamp is not RFC 3339")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(7)
    offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    try:
        return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    except (ValueError, OverflowError):
        raise MalformedHeader("timestamp is not RFC 3339") from None


def _twitch_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    signed = one_signature(h, "Twitch-Eventsub-Message-Signature", prefixed("sha256=", hexdecode), "sha256=<hex>")
    message_id, text = h.require("Twitch-Eventsub-Message-Id"), h.require("Twitch-Eventsub-Message-Timestamp")
    return Signed(signatures=signed.signatures, timestamp=rfc3339_seconds(text), message_id=message_id,
                  stamp_text=text)


def _twitch_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    kind = headers.get(TWITCH_TYPE)
    return signed.message_id, headers.get("twitch-eventsub-subscription-type") if kind == "notification" else kind


def _twitch_challenge(request: HandshakeRequest) -> Response | None:
    if request.headers.get(TWITCH_TYPE) != "webhook_callback_verification":
        return None
    return echo_response(str_field(json_doc(request.body), "challenge"), TOKEN_MAX_CHARS, token=True)


def _twitch_stamp(now: int, delivery_id: str | None, options: Mapping[str, Any]) -> Signed:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".000000000Z"
    return Signed(timestamp=now, message_id=delivery_id or str(uuid.uuid4()), stamp_text=text)


TWITCH = Scheme(
    name="twitch",
    headers=("twitch-eventsub-message-signature", "twitch-eventsub-message-id", "twitch-eventsub-message-timestamp",
             "twitch-eventsub-message-type", "twitch-eventsub-subscription-type"),
    parse=_twitch_parse,
    message=lambda signed, content, url: utf8(signed.message_id) + utf8(signed.stamp_text) + content,
    render=lambda signed, options, out: {
        "Twitch-Eventsub-Message-Signature": "sha256=" + signed.signatures[0].hex(),
        "Twitch-Eventsub-Message-Id": signed.message_id,
        "Twitch-Eventsub-Message-Timestamp": signed.stamp_text,
        TWITCH_TYPE: "notification",
        "Twitch-Eventsub-Subscription-Type": out.event_type or "channel.follow",
        "Twitch-Eventsub-Subscription-Version": "2",
    },
    stamp=_twitch_stamp,
    identify=_twitch_identify,
    sample=lambda: _json({"subscription": {"id": str(uuid.uuid4()), "type": "channel.follow", "version": "2",
                                           "status": "enabled", "created_at": _iso()},
                          "event": {"user_id": str(uuid.uuid4().int % 10**8), "user_login": "demo",
                                    "broadcaster_user_id": "1337", "followed_at": _iso()}}, "channel.follow"),
    handshake=Handshake(methods=("POST",), answer=_twitch_challenge),
)

# --------------------------------------------------------------------------- dropbox
# https://www.dropbox.com/developers/reference/webhooks
# X-Dropbox-Signature: <hex of HMAC-SHA256(app secret, body)>. The verification request is
# GET ?challenge=..., answered with the challenge as text/plain and X-Content-Type-Options:
# nosniff, as Dropbox asks (unauthenticated: see the module docstring). Notifications carry no
# id (`list_folder.accounts`): the body's hash.


def _dropbox_challenge(request: HandshakeRequest) -> Response | None:
    if request.method not in ("GET", "HEAD") or "challenge" not in request.query:
        return None
    return echo_response(request.query["challenge"], TOKEN_MAX_CHARS, token=True)


def _dropbox_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    return None, "list_folder" if isinstance(doc, dict) and "list_folder" in doc else None


DROPBOX = body_scheme(
    "dropbox", "X-Dropbox-Signature", "hex",
    identify=_dropbox_identify,
    sample=lambda: _json({"list_folder": {"accounts": [f"dbid:AA{uuid.uuid4().hex[:30]}"]},
                          "delta": {"users": [uuid.uuid4().int % 10**8]}}),
    handshake=Handshake(methods=("GET",), unsigned=_dropbox_challenge),
)

# --------------------------------------------------------------------------- meta
# https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
# X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(app secret, body)> (WhatsApp, Messenger,
# Instagram: one scheme). https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests
# GET ?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...: answer the challenge only when
# the verify token is the one set in the App Dashboard. The config holds its SHA-256
# (`verify_token_sha256`), never the token. No delivery id: the body's hash.


def _is_sha256_hex(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and hexdecode(value) is not None


def _meta_challenge(request: HandshakeRequest) -> Response | None:
    if request.method not in ("GET", "HEAD") or "hub.challenge" not in request.query:
        return None
    expected = request.options.get("verify_token_sha256")
    token = request.query.get("hub.verify_token") or ""
    if request.query.get("hub.mode") != "subscribe" or not _is_sha256_hex(expected):
        raise InvalidSignature("not a subscribe request, or no verify token configured")
    if not hmac.compare_digest(hashlib.sha256(utf8(token)).hexdigest(), expected.lower()):
        raise InvalidSignature("hub.verify_token does not match")
    return echo_response(request.query["hub.challenge"], TOKEN_MAX_CHARS, token=True)


META = body_scheme(
    "meta", "X-Hub-Signature-256", "hex", prefix="sha256=",
    identify=from_body(None, ("object",)),
    sample=lambda: _json({"object": "whatsapp_business_account", "entry": [{
        "id": str(uuid.uuid4().int % 10**15), "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "messages": [{"id": f"wamid.{uuid.uuid4().hex}", "type": "text",
                                                          "timestamp": str(int(time.time())),
                                                          "text": {"body": "hello"}}]}}]}]}),
    handshake=Handshake(methods=("GET",), unsigned=_meta_challenge),
    options=(Option("verify_token_sha256", "the SHA-256 (64 hex characters) of the Verify Token set in the App "
                    "Dashboard", _is_sha256_hex, hashlib.sha256(b"example verify token").hexdigest()),),
)

# --------------------------------------------------------------------------- asana
# https://developers.asana.com/docs/webhooks-guide#security and
# https://developers.asana.com/reference/createwebhook
# X-Hook-Signature: <hex of HMAC-SHA256(X-Hook-Secret of the handshake, body)>. Heartbeats (a
# signed `{"events": []}`) are answered 200 and not stored. No delivery id: the body's hash.

SETUP_PREFIX = "setup_"
SETUP_MIN_CHARS = 32  # a random setup token: at least 128 bits as hex
_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")


def _asana_key(secret: str | bytes) -> bytes | None:
    value = utf8(secret)
    return None if value.startswith(SETUP_PREFIX.encode()) else value  # a setup token never signs


def _asana_check_secret(value: str) -> str | None:
    if not value.startswith(SETUP_PREFIX) or (len(value) - len(SETUP_PREFIX) >= SETUP_MIN_CHARS
                                              and _TOKEN.match(value)):
        return None
    return f"an Asana setup token is {SETUP_PREFIX} followed by at least {SETUP_MIN_CHARS} random characters"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(utf8(a)).digest(), hashlib.sha256(utf8(b)).digest())


def _asana_handshake(request: HandshakeRequest) -> Response | None:
    secret = request.headers.get("x-hook-secret")
    if request.method != "POST" or secret is None:
        return None
    if not _TOKEN.match(secret):
        raise MalformedHeader("X-Hook-Secret is not 1-256 token characters")
    offered = request.query.get("setup") or ""
    spent = next((s for s in request.secrets if s.startswith(SETUP_PREFIX) and _same(s, offered)), None)
    if spent is None or request.store_secret is None:
        raise InvalidSignature("an Asana handshake needs ?setup=<a setup token stored with `secrets set`>")
    request.store_secret(spent, secret)
    return json_response(200, {"handshake": "accepted"}, {"X-Hook-Secret": secret})


def _asana_heartbeat(request: HandshakeRequest) -> Response | None:
    doc = json_doc(request.body)
    if isinstance(doc, dict) and doc.get("events") == []:
        return json_response(200, {"status": "heartbeat"})
    return None


def _asana_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    events = doc.get("events") if isinstance(doc, dict) else None
    first = events[0] if isinstance(events, list) and events and isinstance(events[0], dict) else {}
    kind, action = str_field(first, "resource", "resource_type"), str_field(first, "action")
    return None, f"{kind}.{action}" if kind and action else None


ASANA = body_scheme(
    "asana", "X-Hook-Signature", "hex",
    identify=_asana_identify,
    sample=lambda: _json({"events": [{"action": "changed", "created_at": _iso(),
                                      "resource": {"gid": str(uuid.uuid4().int % 10**16), "resource_type": "task"},
                                      "user": {"gid": "12345", "resource_type": "user"}}]}),
    key=_asana_key,
    check_secret=_asana_check_secret,
    captures_secret=True,
    handshake=Handshake(methods=("POST",), unsigned=_asana_handshake, answer=_asana_heartbeat),
)

# --------------------------------------------------------------------------- xero
# https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/
# x-xero-signature: <base64 of HMAC-SHA256(webhook key, body)>. "Intent to receive": Xero sends
# correctly and incorrectly signed requests and expects exactly 200 for the former and 401 for
# the latter, with no body, within 5 s; an ITR payload has `"events": []` and is not stored.
# Deliveries are answered 200 too (Xero reads any other status as a failure). No delivery id:
# the body's hash (a retry resends the same batch).


def _xero_itr(request: HandshakeRequest) -> Response | None:
    doc = json_doc(request.body)
    if isinstance(doc, dict) and doc.get("events") == []:
        return Response(200, "", {"Content-Type": "text/plain"})
    return None


def _xero_respond(status: int, doc: Mapping[str, Any]) -> Response:
    return json_response(200 if 200 <= status < 300 else status, doc)


def _xero_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    events = doc.get("events") if isinstance(doc, dict) else None
    first = events[0] if isinstance(events, list) and events and isinstance(events[0], dict) else {}
    category, kind = str_field(first, "eventCategory"), str_field(first, "eventType")
    return None, f"{category}.{kind}" if category and kind else None


XERO = body_scheme(
    "xero", "x-xero-signature", "base64",
    identify=_xero_identify,
    sample=lambda: _json({"events": [{"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/x",
                                      "resourceId": str(uuid.uuid4()), "eventDateUtc": _iso(),
                                      "eventType": "UPDATE", "eventCategory": "INVOICE",
                                      "tenantId": str(uuid.uuid4()), "tenantType": "ORGANISATION"}],
                          "firstEventSequence": 1, "lastEventSequence": 1, "entropy": uuid.uuid4().hex.upper()}),
    handshake=Handshake(methods=("POST",), answer=_xero_itr),
    respond=_xero_respond,
)
