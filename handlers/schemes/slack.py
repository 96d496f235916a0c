"""Slack: `X-Slack-Signature: v0=<hex>` of `v0:<ts>:<body>`, `X-Slack-Request-Timestamp`.

https://docs.slack.dev/authentication/verifying-requests-from-slack/

The Events API checks a Request URL with a signed `url_verification` request
whose answer must echo its `challenge`: 200 with `{"challenge": ...}` as JSON,
one of the three forms Slack documents
(https://docs.slack.dev/reference/events/url_verification). Nothing is stored.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Mapping
from urllib.parse import parse_qsl

from .base import (
    MAX_FORM_FIELDS, Handshake, HandshakeRequest, Headers, MalformedBody, Response, Sample,
    Scheme, Signed, json_doc, json_response, str_field, v0_signature,
)


def _parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    return v0_signature(h, "x-slack-signature", "x-slack-request-timestamp", shown="X-Slack-Signature")


def _form(body: bytes) -> dict[str, str]:
    """Slash commands and interactivity post forms; an unparsable one is opaque (no ids)."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return {}


def _identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    doc = json_doc(body)
    if isinstance(doc, dict):  # Events API
        return str_field(doc, "event_id"), str_field(doc, "event", "type") or str_field(doc, "type")
    form = _form(body)
    if "payload" in form:
        return None, str_field(json_doc(form["payload"].encode("utf-8", "surrogatepass")), "type")
    return None, form.get("command") or None


def _url_verification(request: HandshakeRequest) -> Response | None:
    doc = json_doc(request.body)
    if str_field(doc, "type") != "url_verification":
        return None
    challenge = doc.get("challenge")
    if not isinstance(challenge, str) or not challenge:
        raise MalformedBody("url_verification without a challenge")
    return json_response(200, {"challenge": challenge})


def _sample() -> Sample:
    doc = {"token": "demo", "team_id": "T0DEMO", "type": "event_callback",
           "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
           "event": {"type": "app_mention", "text": "hello from webhookctl"}}
    return Sample(json.dumps(doc).encode(), "application/json")


SLACK = Scheme(
    name="slack",
    headers=("x-slack-signature", "x-slack-request-timestamp"),
    parse=_parse,
    message=lambda signed, content, url: b"v0:%d:" % signed.timestamp + content,
    render=lambda signed, options, out: {
        "X-Slack-Signature": "v0=" + signed.signatures[0].hex(),
        "X-Slack-Request-Timestamp": str(signed.timestamp),
    },
    stamp=lambda now, delivery_id, options: Signed(timestamp=now),
    identify=_identify,
    sample=_sample,
    handshake=Handshake(methods=("POST",), answer=_url_verification),
)
