"""Schemes that sign the URL the provider posted to.

- twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` of the URL followed by the
  form parameters sorted by name (name+value, values sorted); or, when the URL
  carries `bodySHA256`, of the URL alone, with sha256(body) equal to that value.
  HMAC-SHA256 when `X-Twilio-Webhooks-Signature-Settings` says so. The URL is
  tried as given, without its port and with the default port, as twilio-python's
  RequestValidator does. https://www.twilio.com/docs/usage/webhooks/webhooks-security
- square: `x-square-hmacsha256-signature: <base64>` of `<notification url><body>`.
  https://developer.squareup.com/docs/webhooks/step3validate
- hubspot (v3): `X-HubSpot-Signature-v3: <base64 HMAC-SHA256>` of
  `<method><uri><body><X-HubSpot-Request-Timestamp>` (milliseconds, older than 5 minutes
  refused), the URI with some percent-escapes decoded.
  https://developers.hubspot.com/docs/api/webhooks/validating-requests

Ingest passes the URL as the provider may have spelled it (query with `+` or
`%20`); each scheme's `targets` turns those into the URLs to try, at most
`MAX_SIGNED_MESSAGES` in all.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from ..contract import REPLY_HEADER
from .base import (
    MAX_FORM_FIELDS, Headers, InvalidSignature, MalformedBody, MalformedHeader, Option, Response,
    Sample, Scheme, Signed, b64decode, is_https_url, json_doc, json_response, one_signature, str_field, utf8,
)

_FORM = "application/x-www-form-urlencoded"


def _signs_url(signed: Signed, content: bytes, url: str | None) -> bytes:
    return utf8(url or "") + content


def _bare_and_default_port(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise MalformedHeader("the request URL is malformed") from None
    if "@" in parts.netloc:  # userinfo: sign it exactly as given
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    default = 443 if parts.scheme == "https" else 80
    with_port = f"{host}:{port if port is not None else default}"
    variants = [url, urlunsplit(parts._replace(netloc=host)), urlunsplit(parts._replace(netloc=with_port))]
    return list(dict.fromkeys(variants))


# --------------------------------------------------------------------------- twilio

# Twilio reads a 2xx answer as TwiML and needs text/xml (else error 12300); an empty
# <Response/> does nothing (no reply message, no call instructions):
# https://www.twilio.com/docs/messaging/twiml and
# https://help.twilio.com/articles/43761237850779 . Any 4xx/5xx is "11200 HTTP retrieval
# failure" whatever its body (https://www.twilio.com/docs/api/errors/11200), so error
# answers keep the contract's JSON, which Twilio's request inspector shows as is.
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _twiml(status: int, doc: Mapping[str, Any]) -> Response:
    if 200 <= status < 300:
        reply = json.dumps(doc, separators=(",", ":"))
        return Response(status, TWIML_EMPTY, {"Content-Type": "text/xml", REPLY_HEADER: reply})
    return json_response(status, doc)


def _twilio_digest(h: Headers) -> str:
    for part in (h.get("x-twilio-webhooks-signature-settings") or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm":
            algo = value.strip().upper()
            if algo not in ("HMAC_SHA1", "HMAC_SHA256"):
                raise MalformedHeader("unsupported Twilio signature algorithm")
            return "sha256" if algo == "HMAC_SHA256" else "sha1"
    return "sha1"


def _twilio_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    return one_signature(h, "X-Twilio-Signature", b64decode, "base64 of an HMAC", _twilio_digest(h))


def _rebase(base: str, urls: Sequence[str]) -> list[str]:
    """The configured public URL in place of the request's, with the request's query spellings."""
    if "?" in base or not urls:
        return [base]
    queries = (url.partition("?")[2] for url in urls)
    return list(dict.fromkeys(base + (f"?{query}" if query else "") for query in queries))


def _twilio_targets(urls: Sequence[str], options: Mapping[str, Any]) -> list[str]:
    if options.get("public_url"):  # behind a custom domain or proxy: what Twilio was configured with
        urls = _rebase(options["public_url"], urls)
    return list(dict.fromkeys(v for url in urls for v in _bare_and_default_port(url)))


def form_params(body: bytes) -> list[tuple[str, str]]:
    """A form body's parameters; more than MAX_FORM_FIELDS is refused before any is parsed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("form body is not UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # parse_qsl counts the separators first
        raise MalformedBody(f"form body has more than {MAX_FORM_FIELDS} parameters") from None


def _body_sha256(url: str | None) -> str | None:
    try:
        values = parse_qs(urlsplit(url or "").query, max_num_fields=MAX_FORM_FIELDS).get("bodySHA256")
    except ValueError:
        raise MalformedHeader("the request URL is malformed") from None
    return values[0] if values else None


def _is_form(content_type: str | None) -> bool:
    return content_type is None or _FORM in content_type.lower()


def _twilio_content(body: bytes, headers: Headers, url: str | None) -> bytes:
    """What is signed besides the URL: the sorted form parameters (nothing for bodySHA256)."""
    expected = _body_sha256(url)
    if expected is not None:  # JSON (and other non-form) bodies: the URL binds the body's hash
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), utf8(expected.lower())):
            raise InvalidSignature("bodySHA256 does not match the body")
        return b""
    if not _is_form(headers.get("content-type")):
        if body.strip():  # without bodySHA256 only form parameters are signed
            raise InvalidSignature("body is not covered by the signature")
        return b""
    grouped: dict[str, set[str]] = {}
    for name, value in form_params(body):
        grouped.setdefault(name, set()).add(value)
    return utf8("".join(name + value for name in sorted(grouped) for value in sorted(grouped[name])))


def _twilio_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    if _is_form(headers.get("content-type")):
        try:
            doc: Any = dict(form_params(body))
        except MalformedBody:
            doc = {}
    else:
        doc = json_doc(body)
    names = ("EventType", "MessageStatus", "SmsStatus", "CallStatus", "type")
    event_type = next((value for value in (str_field(doc, n) for n in names) if value), None)
    return headers.get("i-twilio-idempotency-token"), event_type


def twilio_json_url(url: str, body: bytes | str) -> str:
    """The URL Twilio requests for a JSON body: `bodySHA256` appended to the query."""
    digest = hashlib.sha256(utf8(body)).hexdigest()
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode({'bodySHA256': digest})}"


def _twilio_sample() -> Sample:
    hexid = uuid.uuid4().hex
    form = (f"AccountSid=AC{hexid}&MessageSid=SM{hexid}&From=%2B15005550006&To=%2B15005550001"
            f"&Body=Hello+from+webhookctl&SmsStatus=received")
    return Sample(form.encode(), _FORM)


TWILIO = Scheme(
    name="twilio",
    headers=("x-twilio-signature", "i-twilio-idempotency-token", "x-twilio-webhooks-signature-settings"),
    parse=_twilio_parse,
    message=_signs_url,
    render=lambda signed, options, out: {
        "X-Twilio-Signature": base64.b64encode(signed.signatures[0]).decode(),
        "I-Twilio-Idempotency-Token": out.delivery_id,
        "Content-Type": "application/json" if _body_sha256(out.url) is not None else _FORM,
    },
    stamp=lambda now, delivery_id, options: Signed(digest="sha1"),
    identify=_twilio_identify,
    sample=_twilio_sample,
    content=_twilio_content,
    targets=_twilio_targets,
    post_url=lambda url, body, content_type: url if _is_form(content_type) else twilio_json_url(url, body),
    respond=_twiml,
    options=(Option("public_url", "the https:// URL the provider signs", is_https_url,
                    "https://hooks.example.com/webhooks/twilio"),),
)


# --------------------------------------------------------------------------- square


def _square_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    return str_field(doc, "event_id"), str_field(doc, "type")


def _square_sample() -> Sample:
    hexid = uuid.uuid4().hex
    doc = {"merchant_id": "MDEMO", "type": "payment.updated", "event_id": str(uuid.uuid4()),
           "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "data": {"type": "payment", "id": hexid[:12], "object": {"payment": {"status": "COMPLETED"}}}}
    return Sample(json.dumps(doc).encode(), "application/json")


SQUARE = Scheme(
    name="square",
    headers=("x-square-hmacsha256-signature",),
    parse=lambda h, options: one_signature(
        h, "x-square-hmacsha256-signature", b64decode, "base64 of 32 bytes"),
    message=_signs_url,
    render=lambda signed, options, out: {
        "x-square-hmacsha256-signature": base64.b64encode(signed.signatures[0]).decode()},
    stamp=lambda now, delivery_id, options: Signed(),
    identify=_square_identify,
    sample=_square_sample,
    targets=lambda urls, options: [options["notification_url"]] if options.get("notification_url") else list(urls),
    options=(Option("notification_url", "the https:// URL the provider signs", is_https_url,
                    "https://hooks.example.com/webhooks/square"),),
)


# --------------------------------------------------------------------------- hubspot (v3)

# HubSpot signs the URI with these escapes decoded (the table in its docs, above).
_HUBSPOT_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
                    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_HUBSPOT_ESCAPE = re.compile("|".join(_HUBSPOT_DECODED), re.IGNORECASE)


def hubspot_uri(url: str) -> str:
    return _HUBSPOT_ESCAPE.sub(lambda m: _HUBSPOT_DECODED[m.group(0).upper()], url)


def _hubspot_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    signed = one_signature(h, "X-HubSpot-Signature-v3", b64decode, "base64 of 32 bytes")
    text = h.require("X-HubSpot-Request-Timestamp")
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise MalformedHeader("X-HubSpot-Request-Timestamp is not unix milliseconds")
    return Signed(signatures=signed.signatures, timestamp=int(text) // 1000, stamp_text=text)


def _hubspot_targets(urls: Sequence[str], options: Mapping[str, Any]) -> list[str]:
    if options.get("public_url"):  # the target URL set in the HubSpot app, when behind a proxy
        urls = _rebase(options["public_url"], urls)
    return list(dict.fromkeys(hubspot_uri(url) for url in urls))


def _hubspot_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    """A batch of events; each keeps its `eventId` on retries (its `attemptNumber` grows), so the
    sorted event ids are the delivery id."""
    doc = json_doc(body)
    events = [e for e in doc if isinstance(e, dict)] if isinstance(doc, list) else []
    ids = sorted(str(e["eventId"]) for e in events if isinstance(e.get("eventId"), (int, str)))
    return (",".join(ids) or None), str_field(events[0], "subscriptionType") if events else None


def _hubspot_sample() -> Sample:
    now = int(time.time() * 1000)
    doc = [{"eventId": uuid.uuid4().int % 10**10, "subscriptionId": 2100, "portalId": 62515, "appId": 1160452,
            "occurredAt": now, "subscriptionType": "contact.creation", "attemptNumber": 0,
            "objectId": uuid.uuid4().int % 10**9, "changeFlag": "CREATED", "changeSource": "CRM"}]
    return Sample(json.dumps(doc).encode(), "application/json")


HUBSPOT = Scheme(
    name="hubspot",
    headers=("x-hubspot-signature-v3", "x-hubspot-request-timestamp"),
    parse=_hubspot_parse,
    message=lambda signed, content, url: b"POST" + utf8(url or "") + content + utf8(signed.stamp_text or ""),
    render=lambda signed, options, out: {
        "X-HubSpot-Signature-v3": base64.b64encode(signed.signatures[0]).decode(),
        "X-HubSpot-Request-Timestamp": signed.stamp_text},
    stamp=lambda now, delivery_id, options: Signed(timestamp=now, stamp_text=str(now * 1000)),
    identify=_hubspot_identify,
    sample=_hubspot_sample,
    targets=_hubspot_targets,
    options=(Option("public_url", "the https:// URL the provider signs", is_https_url,
                    "https://hooks.example.com/webhooks/hubspot"),),
)
