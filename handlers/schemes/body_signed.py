"""Providers that sign the raw body alone with HMAC, the signature in one header (no timestamp signed).

Each entry cites the provider's documentation for the header, the encoding and the ids.
Where a provider sends no delivery id, the body's hash is the id (`body_delivery_id`): a
redelivery of the same bytes is then a duplicate. `body_scheme` builds one entry.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, Callable, Mapping

from ..contract import DEFAULT_TOLERANCE_SECONDS
from .base import (
    Handshake, Headers, MalformedHeader, Outgoing, Response, Sample, Scheme, Signed, StaleTimestamp, b64decode,
    hexdecode, json_doc, json_response, one_signature, prefixed, sized, str_field,
)

Identify = Callable[[bytes, Headers, Signed, Mapping[str, Any]], tuple[Any, Any]]
ENCODINGS: dict[str, tuple[Callable[[str], bytes | None], Callable[[bytes], str]]] = {
    "hex": (hexdecode, lambda raw: raw.hex()),
    "base64": (b64decode, lambda raw: base64.b64encode(raw).decode()),
}


def body_scheme(name: str, header: str, encoding: str, sample: Callable[[], Sample], identify: Identify, *,
                prefix: str = "", digest: str = "sha256", id_header: str | None = None,
                type_header: str | None = None, **extra: Any) -> Scheme:
    """`<header>: <prefix><hex|base64 of HMAC(secret, body)>`, with optional id and type headers
    (rendered by `sign()` from the delivery id and event type)."""
    decode, encode = ENCODINGS[encoding]
    shape = f"{prefix}<{encoding} of a {digest} HMAC>"

    def render(signed: Signed, options: Mapping[str, Any], out: Outgoing) -> dict[str, str]:
        headers = {header: prefix + encode(signed.signatures[0])}
        if id_header:
            headers[id_header] = out.delivery_id
        if type_header:
            headers[type_header] = out.event_type or "ping"
        return headers

    return Scheme(
        name=name,
        headers=tuple(h.lower() for h in (header, id_header, type_header) if h),
        parse=lambda h, options: one_signature(h, header, prefixed(prefix, decode), shape, digest),
        message=lambda signed, content, url: content,
        render=render,
        stamp=lambda now, delivery_id, options: Signed(digest=digest),
        identify=identify,
        sample=sample,
        **extra,
    )


def from_body(id_path: tuple[str, ...] | None, type_path: tuple[str, ...]) -> Identify:
    """Ids from JSON fields of the body (parsed only after the signature held)."""
    def identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
        doc = json_doc(body)
        return (str_field(doc, *id_path) if id_path else None), str_field(doc, *type_path)
    return identify


def from_headers(id_header: str | None, type_header: str | None) -> Identify:
    def identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
        return (headers.get(id_header) if id_header else None), (headers.get(type_header) if type_header else None)
    return identify


def _json(doc: Any, event_type: str | None = None) -> Sample:
    return Sample(json.dumps(doc).encode(), "application/json", event_type)


def _iso(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


# --------------------------------------------------------------------------- intercom
# https://developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications
# X-Hub-Signature: sha1=<hex of HMAC-SHA1(client secret, body)>. The notification's `id`
# stays the same across redeliveries (its `delivery_attempts` grows), its `topic` is the type.

INTERCOM = body_scheme(
    "intercom", "X-Hub-Signature", "hex", prefix="sha1=", digest="sha1",
    identify=from_body(("id",), ("topic",)),
    sample=lambda: _json({"type": "notification_event", "app_id": "demo", "id": f"notif_{uuid.uuid4()}",
                          "topic": "conversation.user.created", "delivery_attempts": 1,
                          "created_at": int(time.time()), "data": {"item": {"type": "conversation"}}}),
)

# --------------------------------------------------------------------------- typeform
# https://www.typeform.com/developers/webhooks/secure-your-webhooks/
# Typeform-Signature: sha256=<base64 of HMAC-SHA256(secret, body)>; `event_id`, `event_type`.

TYPEFORM = body_scheme(
    "typeform", "Typeform-Signature", "base64", prefix="sha256=",
    identify=from_body(("event_id",), ("event_type",)),
    sample=lambda: _json({"event_id": uuid.uuid4().hex[:26].upper(), "event_type": "form_response",
                          "form_response": {"form_id": "lT4Z3j", "token": uuid.uuid4().hex,
                                            "submitted_at": _iso(), "answers": []}}),
)

# --------------------------------------------------------------------------- bitbucket
# https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks and
# https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#HTTP-headers
# X-Hub-Signature: sha256=<hex>. X-Request-UUID identifies the request (X-Hook-UUID is the
# webhook's, the same for every event), X-Event-Key the type (`repo:push`).

BITBUCKET = body_scheme(
    "bitbucket", "X-Hub-Signature", "hex", prefix="sha256=", id_header="X-Request-UUID",
    type_header="X-Event-Key", identify=from_headers("x-request-uuid", "x-event-key"),
    sample=lambda: _json({"repository": {"full_name": "acme/shop", "uuid": f"{{{uuid.uuid4()}}}"},
                          "push": {"changes": [{"new": {"name": "main", "target": {"hash": uuid.uuid4().hex}}}]}},
                         "repo:push"),
)

# --------------------------------------------------------------------------- sentry
# https://docs.sentry.io/organization/integrations/integration-platform/webhooks/#verifying-the-signature
# Sentry-Hook-Signature: <hex of HMAC-SHA256(client secret, body)>; Request-ID; the resource
# (`issue`, `error`, ...) in Sentry-Hook-Resource and the action in the body: `issue.created`.
# Sentry-Hook-Timestamp is not signed, so it proves nothing and is not checked.


def _sentry_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    resource, action = headers.get("sentry-hook-resource"), str_field(json_doc(body), "action")
    return headers.get("request-id"), f"{resource}.{action}" if resource and action else resource


SENTRY = body_scheme(
    "sentry", "Sentry-Hook-Signature", "hex", id_header="Request-ID", type_header="Sentry-Hook-Resource",
    identify=_sentry_identify,
    sample=lambda: _json({"action": "created", "installation": {"uuid": str(uuid.uuid4())},
                          "data": {"issue": {"id": str(uuid.uuid4().int % 10**10), "title": "ZeroDivisionError"}},
                          "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}, "issue"),
)

# --------------------------------------------------------------------------- segment
# https://segment.com/docs/connections/destinations/catalog/actions-webhook/ (shared secret):
# X-Signature: <hex of HMAC-SHA1(shared secret, body)>; the event's `messageId` and `type`.

SEGMENT = body_scheme(
    "segment", "X-Signature", "hex", digest="sha1",
    identify=from_body(("messageId",), ("type",)),
    sample=lambda: _json({"type": "track", "event": "Order Completed", "messageId": f"ajs-{uuid.uuid4().hex}",
                          "userId": "user-42", "timestamp": _iso(), "properties": {"total": 42}}),
)

# --------------------------------------------------------------------------- woocommerce
# https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks (Delivery headers):
# X-WC-Webhook-Signature: <base64 of HMAC-SHA256(secret, body)>, X-WC-Webhook-Delivery-ID,
# X-WC-Webhook-Topic (`order.created`).
# When a webhook is saved, WooCommerce POSTs an UNSIGNED ping, `webhook_id=<n>` as a form, and
# treats a non-2xx answer as a failed save (WC_Webhook::deliver_ping). It carries no proof, so it
# is answered 200 with a fixed body and nothing else happens: nothing stored, nothing echoed.


def _woocommerce_ping(request) -> Response | None:
    body = request.body
    is_ping = (request.headers.get("x-wc-webhook-signature") is None and body.startswith(b"webhook_id=")
               and 0 < len(body) - len(b"webhook_id=") <= 20 and body[len(b"webhook_id="):].isdigit())
    return json_response(200, {"status": "ping"}) if is_ping else None


WOOCOMMERCE = body_scheme(
    "woocommerce", "X-WC-Webhook-Signature", "base64", id_header="X-WC-Webhook-Delivery-ID",
    type_header="X-WC-Webhook-Topic", identify=from_headers("x-wc-webhook-delivery-id", "x-wc-webhook-topic"),
    sample=lambda: _json({"id": uuid.uuid4().int % 10**6, "status": "processing", "currency": "USD",
                          "total": "42.00", "date_created_gmt": _iso()}, "order.created"),
    handshake=Handshake(methods=("POST",), unsigned=_woocommerce_ping),
)

# --------------------------------------------------------------------------- lemon squeezy
# https://docs.lemonsqueezy.com/help/webhooks/signing-requests
# X-Signature: <hex of HMAC-SHA256(signing secret, body)>; X-Event-Name is the type. No
# delivery id (meta.webhook_id is the webhook's): the body's hash; a resend is the same bytes.

LEMONSQUEEZY = body_scheme(
    "lemonsqueezy", "X-Signature", "hex", type_header="X-Event-Name",
    identify=from_headers(None, "x-event-name"),
    sample=lambda: _json({"meta": {"event_name": "order_created", "webhook_id": str(uuid.uuid4())},
                          "data": {"type": "orders", "id": str(uuid.uuid4().int % 10**7),
                                   "attributes": {"status": "paid", "total": 4200, "created_at": _iso()}}},
                         "order_created"),
)

# --------------------------------------------------------------------------- vercel
# https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks
# x-vercel-signature: <hex of HMAC-SHA1(client secret, body)>; the event's `id` and `type`.

VERCEL = body_scheme(
    "vercel", "x-vercel-signature", "hex", digest="sha1",
    identify=from_body(("id",), ("type",)),
    sample=lambda: _json({"id": f"evt_{uuid.uuid4().hex[:24]}", "type": "deployment.succeeded",
                          "createdAt": int(time.time() * 1000),
                          "payload": {"deployment": {"id": f"dpl_{uuid.uuid4().hex[:24]}"}}}),
)

# --------------------------------------------------------------------------- pagerduty
# https://developer.pagerduty.com/docs/28e906a0a5c5c-verifying-signatures
# X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...] (several while a secret rotates), each an
# HMAC-SHA256 of the body; the event's `event.id` and `event.event_type`.


def _pagerduty_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    signatures: dict[bytes, None] = {}
    for item in h.require("X-PagerDuty-Signature").split(","):
        version, sep, value = item.strip().partition("=")
        decoded = sized(hexdecode(value)) if sep and version == "v1" else None
        if decoded is not None:
            signatures[decoded] = None
    if not signatures:
        raise MalformedHeader("X-PagerDuty-Signature has no v1=<hex of 32 bytes>")
    return Signed(signatures=tuple(signatures))


PAGERDUTY = Scheme(
    name="pagerduty",
    headers=("x-pagerduty-signature",),
    parse=_pagerduty_parse,
    message=lambda signed, content, url: content,
    render=lambda signed, options, out: {
        "X-PagerDuty-Signature": ",".join("v1=" + s.hex() for s in signed.signatures)},
    stamp=lambda now, delivery_id, options: Signed(),
    identify=from_body(("event", "id"), ("event", "event_type")),
    sample=lambda: _json({"event": {"id": uuid.uuid4().hex[:26].upper(), "event_type": "incident.triggered",
                                    "resource_type": "incident", "occurred_at": _iso(),
                                    "data": {"id": "Q" + uuid.uuid4().hex[:13].upper(), "type": "incident"}}}),
)

# --------------------------------------------------------------------------- linear
# https://linear.app/developers/webhooks#securing-webhooks
# Linear-Signature: <hex of HMAC-SHA256(signing secret, body)>; Linear-Delivery (uuid, the same
# on a retry) and Linear-Event (the entity). The body's `webhookTimestamp` (unix ms) is signed
# with it: once the signature held it must be within `tolerance_seconds` (Linear suggests a minute).


def _linear_fresh(body: bytes, options: Mapping[str, Any], now: float | None) -> None:
    doc = json_doc(body)
    stamp = doc.get("webhookTimestamp") if isinstance(doc, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise StaleTimestamp("webhookTimestamp is missing")
    tolerance = int(options.get("tolerance_seconds") or DEFAULT_TOLERANCE_SECONDS)
    if abs((time.time() if now is None else now) - stamp / 1000) > tolerance:
        raise StaleTimestamp("timestamp outside the tolerance window")


def _linear_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    entity, action = str_field(doc, "type") or headers.get("linear-event"), str_field(doc, "action")
    return headers.get("linear-delivery"), f"{entity}.{action}" if entity and action else entity


LINEAR = body_scheme(
    "linear", "Linear-Signature", "hex", id_header="Linear-Delivery", type_header="Linear-Event",
    identify=_linear_identify, after=_linear_fresh,
    sample=lambda: _json({"action": "create", "type": "Issue", "createdAt": _iso(),
                          "webhookTimestamp": int(time.time() * 1000),
                          "data": {"id": str(uuid.uuid4()), "title": "Hello from webhookctl"}}, "Issue"),
)
