"""Providers that send a shared token instead of a signature: it proves the sender, not the body.

A token is compared in constant time (SHA-256 of both sides, so neither the value nor its
length leaks through timing). The body is NOT covered: a request with the right token and a
changed body verifies. That is the providers' design, said here and in the README; prefer a
signing scheme where the provider offers one.

- gitlab: `X-Gitlab-Token` (the webhook's secret token).
  https://docs.gitlab.com/user/project/integrations/webhooks/#create-a-webhook (secret token)
  https://docs.gitlab.com/user/project/integrations/webhooks/#delivery-headers
  Delivery id: `Idempotency-Key`, the same on every retry of one event (GitLab 17.4+), else
  `X-Gitlab-Event-UUID`; type: `X-Gitlab-Event` (`Push Hook`).
- msgraph: Microsoft Graph change notifications carry the subscription's `clientState` in
  each notification of the body, to compare with the value set when subscribing.
  https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#receive-notifications
  The subscription check is a POST with `?validationToken=...` to echo within 10 s as
  text/plain:
  https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#notificationurl-validation
  It carries no proof; echoing sets nothing, so it is answered as an inert echo: text/plain,
  nosniff, no caching, a sandboxing CSP, at most 1,024 printable ASCII characters.
  Rich notifications' `validationTokens` (JWTs) are not checked. No delivery id: the body's hash.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Mapping

from .base import (
    ECHO_MAX_CHARS, Handshake, HandshakeRequest, Headers, MalformedBody, MalformedHeader, MissingHeader, Response,
    Sample, Scheme, Signed, echo_response, json_doc, str_field, utf8,
)

TOKEN_MAX_CHARS = 1024
CLIENT_STATE_MAX_CHARS = 128  # Graph's own limit on clientState
MAX_NOTIFICATIONS = 1000  # Graph batches at most a few hundred per POST
# The clientState is in the body, so a forged request's JSON is parsed before anything is known;
# an adversarial 1 MB of `{}` or numbers costs json.loads ~20 ms (bench/bench_verify.py). Counted
# first (bytes.count: ~0.2 ms per MB), the values and containers bound the parse to ~2 ms; a real
# collection of 1,000 notifications of ~20 fields stays well under both.
MAX_JSON_VALUES = 50_000  # separators (commas)
MAX_JSON_CONTAINERS = 10_000  # objects and arrays


def same_token(key: bytes, message: bytes, candidate: bytes) -> bool:
    """The `check` of token schemes: the sent token equals the secret (message unused)."""
    return hmac.compare_digest(hashlib.sha256(key).digest(), hashlib.sha256(candidate).digest())


# --------------------------------------------------------------------------- gitlab


def _gitlab_parse(h: Headers, options: Mapping[str, Any]) -> Signed:
    token = h.require("X-Gitlab-Token")
    if len(token) > TOKEN_MAX_CHARS:
        raise MalformedHeader("X-Gitlab-Token is too long")
    return Signed(signatures=(utf8(token),), digest="token")


def _gitlab_sample() -> Sample:
    doc = {"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": uuid.uuid4().hex[:40],
           "project": {"id": 15, "path_with_namespace": "acme/shop"}, "total_commits_count": 1}
    return Sample(json.dumps(doc).encode(), "application/json", "Push Hook")


GITLAB = Scheme(
    name="gitlab",
    headers=("x-gitlab-token", "idempotency-key", "x-gitlab-event-uuid", "x-gitlab-event"),
    parse=_gitlab_parse,
    message=lambda signed, content, url: b"",
    render=lambda signed, options, out: {
        "X-Gitlab-Token": signed.signatures[0].decode("utf-8"),
        "X-Gitlab-Event": out.event_type or "Push Hook",
        "X-Gitlab-Event-UUID": out.delivery_id,
        "Idempotency-Key": out.delivery_id,
    },
    stamp=lambda now, delivery_id, options: Signed(digest="token"),
    identify=lambda body, headers, signed, options: (
        headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid"), headers.get("x-gitlab-event")),
    sample=_gitlab_sample,
    check=same_token,
    signer=lambda secret, message: utf8(secret),
    signs_body=False,
)

# --------------------------------------------------------------------------- microsoft graph


def _notifications(body: bytes) -> list[dict[str, Any]]:
    if body.count(b",") > MAX_JSON_VALUES or body.count(b"{") + body.count(b"[") > MAX_JSON_CONTAINERS:
        raise MalformedBody("too many values for a Graph notification collection")
    doc = json_doc(body)
    value = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(value, list) or not value or len(value) > MAX_NOTIFICATIONS \
            or not all(isinstance(item, dict) for item in value):
        raise MalformedBody("not a Graph notification collection")
    return value


def _graph_parse_body(body: bytes, h: Headers, options: Mapping[str, Any]) -> Signed:
    """The one clientState of every notification (JSON parsed once; a mixed batch is refused)."""
    states = {item.get("clientState") for item in _notifications(body)}
    if None in states or "" in states:
        raise MissingHeader("a notification has no clientState")
    if len(states) != 1:
        raise MalformedBody("notifications with different clientStates")
    state = states.pop()
    if not isinstance(state, str) or len(state) > CLIENT_STATE_MAX_CHARS:
        raise MalformedBody("clientState is not a string of at most 128 characters")
    return Signed(signatures=(utf8(state),), digest="token")


def _graph_embed(body: bytes, secret: str) -> bytes:
    doc = json.loads(body)
    for item in doc["value"]:
        item["clientState"] = secret
    return json.dumps(doc).encode()


def _graph_identify(body: bytes, headers: Headers, signed: Signed, options: Mapping[str, Any]):
    first = _notifications(body)[0]
    return None, str_field(first, "changeType") or str_field(first, "lifecycleEvent")


def _graph_validation(request: HandshakeRequest) -> Response | None:
    if request.method != "POST" or "validationToken" not in request.query:
        return None
    return echo_response(request.query["validationToken"], ECHO_MAX_CHARS)


def _graph_check_secret(value: str) -> str | None:
    if len(value) <= CLIENT_STATE_MAX_CHARS:
        return None
    return "a Graph clientState is at most 128 characters"


def _graph_sample() -> Sample:
    user, message = uuid.uuid4(), uuid.uuid4().hex
    expires = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(time.time() + 3600))
    doc = {"value": [{"subscriptionId": str(uuid.uuid4()), "subscriptionExpirationDateTime": expires,
                      "changeType": "created", "resource": f"Users/{user}/Messages/{message}",
                      "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": message},
                      "clientState": "", "tenantId": str(uuid.uuid4())}]}
    return Sample(json.dumps(doc).encode(), "application/json")


MSGRAPH = Scheme(
    name="msgraph",
    headers=(),
    parse=lambda h, options: Signed(digest="token"),  # unused: the proof is in the body (parse_body)
    parse_body=_graph_parse_body,
    embed=_graph_embed,
    message=lambda signed, content, url: b"",
    render=lambda signed, options, out: {},
    stamp=lambda now, delivery_id, options: Signed(digest="token"),
    identify=_graph_identify,
    sample=_graph_sample,
    check=same_token,
    signer=lambda secret, message: utf8(secret),
    check_secret=_graph_check_secret,
    handshake=Handshake(methods=("POST",), unsigned=_graph_validation),
    signs_body=False,
)
