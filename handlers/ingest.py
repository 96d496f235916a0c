"""Ingest: API Gateway REST proxy event -> verified, durably stored, enqueued.

Order of work (design: exactly one record, one message, no loss):

1. Resolve the provider (`/webhooks/{provider}`, or `/webhook` + `X-Provider-ID`):
   unknown -> 404, before any secret is read. A method other than POST (and
   the scheme's GET / HEAD handshake, if it declares one) -> 405. Body over
   `MAX_BODY_BYTES` -> 413.
2. Verify the signature over the raw bytes with the cached secrets; on a bad
   signature re-read the secret (rate-limited per provider) and retry once.
   400 / 401 store nothing. A verified handshake (Slack's `url_verification`)
   is answered as its scheme says (200) and stores nothing.
3. S3 PutObject `If-None-Match: *`: the exact bytes + the headers needed to
   re-verify, in the object's metadata, or in the record when they do not fit
   (`archive`). An object already under the key (an earlier attempt, same UTC
   day) is kept as it is.
4. SQS SendMessage: the pointer, which carries what the record holds, and the
   payload as a message attribute when it fits; MessageDeduplicationId =
   webhook_id (`enqueue`).
5. DynamoDB PutItem `attribute_not_exists(webhook_id)`, status `queued`
   (`put_record`). If the record exists: this attempt's own (the processor
   wrote it from our message first) or `received` (a record of the previous
   version, whose attempt died midway) -> 202; anything else -> 200 duplicate.

Three AWS calls per accepted webhook. Why nothing accepted is lost, step by step
(every failure of steps 3-5 answers 503, and the provider retries):

- Fails at 3: nothing, or only the object, is stored; no message, no record.
  The retry writes them (the object is kept, 412, if it is there).
- Fails at 4: the object is stored; no message, no record. Same as above.
- The function dies after 4: the message is in the queue, no record. The
  processor may handle it before the retry comes: it publishes and writes the
  record from the pointer (status `processed`). The retry stores nothing new
  (412; SQS drops the same deduplication id within 5 minutes, and a later
  second message finds the record `processed` and publishes nothing) and its
  PutItem finds the record: 200 duplicate. Nothing was answered 202 before
  this point, so even a provider that never retries loses nothing it was told
  was accepted.
- Fails at 5 (or dies after it): object and message are there; the record is
  written by this PutItem, the retry's, or the processor, whichever comes
  first; all write the same attributes.
- The race: the processor handles the message between 4 and 5. It finds no
  record, publishes, and writes the record; our PutItem then finds a record
  with our own `received_at` and answers 202.

A 202 therefore means the object, the message and the record all exist; a
record exists only after its message was sent, so a redelivery that finds one
(200 duplicate) is a delivery already enqueued. Status `received` no longer
occurs (records go straight to `queued`); `put_record` still reads it on
records written before. Before each of steps 3-5 the invocation's remaining
time is checked against the worst case of one AWS call: a step that could not
finish answers 503 now, never a Lambda timeout.

Answers are the scheme's format (`Scheme.respond`): JSON, or Twilio's TwiML.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from . import aws
from . import observability as obs
from . import schemes
from . import secrets as secret_store
from . import signatures as sig
from .contract import (
    AWS_LIMITS, METRIC_UNKNOWN_PROVIDER, OUT_OF_TIME, POINTER_MAX_BYTES, VERIFY_HEADERS_IN_RECORD, VERIFY_HEADERS_MARKER,
    Pointer, Settings, archive_key, iso_timestamp, message_fits, payload_attributes, providers_file_path,
    record_attributes, s3_user_metadata_bytes,
)

_UNKNOWN = METRIC_UNKNOWN_PROVIDER  # metric dimension for names that are not providers
# SQS MessageGroupId: 1-128 of alphanumerics and punctuation.
_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


class Reject(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class StorageFailed(Exception):
    def __init__(self, step: str, code: str):
        super().__init__(f"{step}: {code}")
        self.step, self.code = step, code


# --------------------------------------------------------------------------- configuration


class ProvidersUnavailable(Exception):
    """The provider table file is missing or unreadable: a deploy bug, answered 500 (`internal_error`)."""


_providers_cache: dict[str, dict[str, dict[str, Any]]] = {}  # file path -> table


def providers(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """The provider table (`config.Provider.runtime_config` per name), read once per file path.

    It ships inside the Lambda zip as `contract.PROVIDERS_FILE_NAME` (Lambda's 4 KB of
    environment would not hold it); `Settings.providers_file` may point elsewhere
    (`contract.providers_file_path`). The file of a deployed zip never changes, so it is
    read once; a missing file is not cached, so a fixed deploy needs no cold start.
    """
    path = providers_file_path((settings or Settings.from_env()).providers_file)
    table = _providers_cache.get(path)
    if table is None:
        table = _providers_cache[path] = _read_providers(path)
    return table


def _read_providers(path: str) -> dict[str, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            table = json.load(f)
    except (OSError, ValueError, RecursionError) as exc:
        problem = type(exc).__name__
    else:
        if isinstance(table, dict) and all(isinstance(p, dict) and isinstance(p.get("scheme"), str)
                                           for p in table.values()):
            return table
        problem = "not a provider table"
    obs.log("ERROR", "provider table unreadable", path=path, error=problem)
    raise ProvidersUnavailable(f"{path}: {problem}")


# --------------------------------------------------------------------------- request adaptation


class Request:
    __slots__ = ("headers", "body", "path_provider", "resource", "event", "method")

    def __init__(self, headers, body, path_provider, resource, event, method="POST"):
        self.headers: dict[str, str] = headers
        self.body: bytes = body
        self.path_provider: str | None = path_provider
        self.resource: str = resource
        self.event: Mapping[str, Any] = event
        self.method: str = method


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if values:
            merged[str(name).lower()] = str(values[0])
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            merged[str(name).lower()] = str(value)
    return merged


def _queries(event: Mapping[str, Any]) -> list[str]:
    """The query string as the provider may have spelled it.

    API Gateway hands over decoded parameters (in order), not the raw string:
    re-encode them with `+` and with `%20` for spaces, and try both.
    """
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        pairs = [(k, v) for k, vs in multi.items() for v in (vs or [])]
    else:
        pairs = list((event.get("queryStringParameters") or {}).items())
    if not pairs:
        return [""]
    spellings = [urlencode(pairs), urlencode(pairs, quote_via=quote)]
    return list(dict.fromkeys(spellings))


# A Host header as RFC 9110 / 3986 allow it: a reg-name or IPv4 address, or an [IPv6]
# literal, then an optional port. Anything else would break the URL a signature covers.
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::(\d{1,5}))?$")


def _host(headers: Mapping[str, str], context: Mapping[str, Any]) -> str:
    host = headers.get("host") or str(context.get("domainName") or "")
    match = _HOST.match(host)
    if not match or (match.group(1) and int(match.group(1)) > 65535):
        raise Reject(400, "malformed_host", "the Host header is not host[:port]")
    return host


def public_urls(event: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
    """The URL the provider requested: https:// + Host + requestContext.path (stage included) + query.

    `X-Forwarded-Proto` (set by API Gateway, or by a local runtime serving
    plain http) picks the scheme; one URL per query spelling (`_queries`). A
    Host that is not `host[:port]` is a 400 (`Reject`). A provider's configured
    public URL replaces this one in its scheme (`targets`).
    """
    context = event.get("requestContext") or {}
    proto = (headers.get("x-forwarded-proto") or "https").split(",")[0].strip().lower()
    host = _host(headers, context)
    path = context.get("path") or event.get("path") or "/"
    base = f"{proto if proto in ('http', 'https') else 'https'}://{host}{path}"
    return [base + (f"?{q}" if q else "") for q in _queries(event)]


def parse_request(event: Mapping[str, Any]) -> Request:
    headers = _headers(event)
    raw = event.get("body")
    if raw is None:
        body = b""
    elif event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise Reject(400, "malformed_body", "body is not valid base64") from None
    elif isinstance(raw, (bytes, bytearray)):
        body = bytes(raw)
    else:
        try:
            body = raw.encode("utf-8")
        except (AttributeError, UnicodeEncodeError):  # not text, or a lone surrogate
            raise Reject(400, "malformed_body", "body is not valid UTF-8") from None
    path_provider = (event.get("pathParameters") or {}).get("provider")
    path_provider = path_provider if isinstance(path_provider, str) else None
    resource = event.get("resource") or event.get("path") or ""
    method = str(event.get("httpMethod") or "POST").upper()
    return Request(headers, body, path_provider, resource, event, method)


def resolve_provider(request: Request) -> tuple[str, dict[str, Any]]:
    name = request.path_provider
    if not name:
        if request.resource.rstrip("/").endswith("/webhook"):
            name = request.headers.get("x-provider-id", "").strip()
            if not name:
                raise Reject(400, "missing_provider", "POST /webhook needs an X-Provider-ID header")
        else:
            raise Reject(404, "unknown_route", "no such route")
    config = providers().get(name)
    if config is None:
        raise Reject(404, "unknown_provider", f"unknown provider '{name[:64]}'")
    return name, config


def check_request(scheme: schemes.Scheme, request: Request) -> None:
    """405 for a method the scheme does not take (POST, plus its GET/HEAD handshake); 413 for size."""
    if request.method not in scheme.methods:
        allowed = ", ".join(scheme.methods)
        raise Reject(405, "method_not_allowed", f"this endpoint accepts {allowed}", {"Allow": allowed})
    if len(request.body) > Settings.from_env().max_body_bytes:
        raise Reject(413, "body_too_large", "request body is over the limit")


# --------------------------------------------------------------------------- verification


def _secrets(provider: Mapping[str, Any], name: str) -> tuple[str, ...]:
    try:
        return secret_store.get(provider.get("secret_id") or name)
    except secret_store.SecretUnavailable as exc:
        raise StorageFailed("secrets", str(exc)) from None


def verify_request(name: str, provider: Mapping[str, Any], request: Request) -> sig.Verified:
    """Verify with the cached secrets; after a bad signature re-read them (rate-limited) and retry once."""
    scheme = provider["scheme"]
    current = _secrets(provider, name)
    # Only URL-signed schemes look at Host: a malformed one must not cost the others a 400.
    url = public_urls(request.event, request.headers) if schemes.get(scheme).signs_url else None
    options = {**provider, "tolerance_seconds": provider.get("tolerance_seconds") or sig.DEFAULT_TOLERANCE_SECONDS}
    try:
        return sig.verify(scheme, request.body, request.headers, current, options, url=url)
    except sig.InvalidSignature:
        try:
            fresh = secret_store.refresh(name, provider.get("secret_id") or name)
        except secret_store.SecretUnavailable:
            fresh = None
        if fresh is None:
            raise
        return sig.verify(scheme, request.body, request.headers, fresh, options, url=url)


def answer_handshake(name: str, provider: Mapping[str, Any], request: Request,
                     verified: sig.Verified | None, *, unsigned: bool = False) -> schemes.Response | None:
    """The scheme's handshake answer for this request, or None when it is not one.

    `unsigned`: the handshakes asked before any signature check (GET / HEAD, and POSTs that
    carry no signature: Asana's X-Hook-Secret, Graph's validationToken), each checking its own
    proof; otherwise the one asked once the signature held (`verified`). Nothing is stored.
    """
    handshake = schemes.get(provider["scheme"]).handshake
    if handshake is None or request.method not in handshake.methods:
        return None
    if unsigned:
        answer = handshake.unsigned or (handshake.answer if request.method != "POST" else None)
    else:
        answer = handshake.answer
    if answer is None:
        return None
    query = request.event.get("queryStringParameters") or {}
    return answer(schemes.HandshakeRequest(
        method=request.method, headers=schemes.Headers(request.headers), query=dict(query), body=request.body,
        options=provider, secrets=_secrets(provider, name), verified=verified,
        store_secret=_secret_writer(name, provider)))


def _secret_writer(name: str, provider: Mapping[str, Any]):
    """What a handshake that delivers the secret (Asana) calls to replace its spent setup token."""
    if not schemes.get(provider["scheme"]).captures_secret:
        return None

    def store(old: str, new: str) -> None:
        try:
            replaced = secret_store.replace(provider.get("secret_id") or name, old, new)
        except secret_store.SecretUnavailable as exc:
            raise StorageFailed("capture_secret", str(exc)) from None
        if not replaced:
            raise sig.InvalidSignature("the setup token was spent already")
    return store


# --------------------------------------------------------------------------- storage


def _dotted(doc: Any, path: str) -> str | None:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    if isinstance(doc, bool) or not isinstance(doc, (str, int)):
        return None
    return str(doc) or None


def _json_or_none(body: bytes) -> Any:
    """The body as JSON, or None: not JSON, or nested too deep to parse (then it is opaque bytes)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def message_group_id(name: str, ordering_key: str, wid: str, event_type: str | None, body: bytes) -> str:
    """The FIFO group: provider | webhook | event_type | payload:<dotted.path>, else the provider.

    A body that cannot be parsed (not JSON, or too deep) orders by provider: the group
    depends only on the body, so every attempt of one webhook lands in the same group.
    """
    value = name
    if ordering_key == "webhook":
        value = wid
    elif ordering_key == "event_type" and event_type:
        value = f"{name}:{event_type}"
    elif ordering_key.startswith("payload:"):
        found = _dotted(_json_or_none(body), ordering_key[len("payload:"):])
        if found is not None:
            value = f"{name}:{found}"
    if _GROUP_ID.match(value):
        return value
    return f"{name[:60]}:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def reverify_headers(headers: Mapping[str, str], signed: Mapping[str, str]) -> dict[str, str]:
    """The headers that re-verify the archived bytes: the scheme's signed headers and content-type."""
    wanted = dict(signed)
    if headers.get("content-type"):
        wanted["content-type"] = headers["content-type"]
    return wanted


def fits_s3_metadata(headers: Mapping[str, str]) -> bool:
    """Whether S3 user metadata keeps these exactly: 2 KB in all, printable ASCII, no edge spaces.

    S3 does not return values that are not printable ASCII, and header values lose their
    edge whitespace: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
    """
    if s3_user_metadata_bytes(headers) > AWS_LIMITS.s3_user_metadata_bytes:
        return False
    return all(text.isascii() and text.isprintable() and text == text.strip()
               for pair in headers.items() for text in pair)


@dataclass
class Delivery:
    """One verified request on its way to storage: what steps 3-5 write."""

    name: str
    webhook_id: str
    delivery_id: str
    event_type: str | None
    received_at: str
    s3_key: str
    body: bytes
    content_type: str
    headers: dict[str, str]  # re-verification headers (contract: one home, see VERIFY_HEADERS_ATTRIBUTE)
    expires_at: int  # the record's TTL
    # The archive held this key already (an earlier attempt wrote it): its metadata may say the
    # headers are "in the record", so this attempt's record carries them whatever they are.
    archived_before: bool = False
    headers_in_metadata: bool = True  # fits_s3_metadata(headers), computed once

    @classmethod
    def of(cls, name: str, request: Request, verified: sig.Verified, settings: Settings) -> "Delivery":
        now = datetime.now(timezone.utc)
        wid = sig.webhook_id(name, verified.delivery_id)
        headers = reverify_headers(request.headers, verified.signed_headers)
        return cls(name=name, webhook_id=wid, delivery_id=verified.delivery_id, event_type=verified.event_type,
                   received_at=iso_timestamp(now), s3_key=archive_key(name, now, wid), body=request.body,
                   content_type=request.headers.get("content-type") or "application/octet-stream",
                   headers=headers, expires_at=int(now.timestamp()) + settings.record_ttl_days * 86400,
                   headers_in_metadata=fits_s3_metadata(headers))

    @property
    def headers_in_record(self) -> bool:
        return self.archived_before or not self.headers_in_metadata

    def pointer(self, *, with_headers: bool | None = None) -> Pointer:
        """The queue message's pointer; it carries the headers when the record must hold them."""
        carry = self.headers_in_record if with_headers is None else with_headers
        return Pointer(webhook_id=self.webhook_id, provider=self.name, s3_key=self.s3_key,
                       delivery_id=self.delivery_id, event_type=self.event_type, received_at=self.received_at,
                       size=len(self.body), expires_at=self.expires_at, verify_headers=self.headers if carry else None)


# Headers up to this many bytes cannot take a pointer past POINTER_MAX_BYTES, however escaped (6
# bytes a byte, and the other fields at their bound): most requests need no JSON built to know it.
_HEADERS_SURELY_FIT = (POINTER_MAX_BYTES - 8 * 1024) // 6


def check_size(delivery: Delivery) -> None:
    """Before anything is written: 400 when the pointer (so the record) could not hold the headers."""
    if s3_user_metadata_bytes(delivery.headers) <= _HEADERS_SURELY_FIT:
        return
    if len(delivery.pointer(with_headers=True).to_json().encode("utf-8")) > POINTER_MAX_BYTES:
        raise Reject(400, "headers_too_large", "the signature headers are too large to store")


def _s(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value.get("S") if isinstance(value, dict) else None


def _in_time(deadline: aws.Deadline, step: str) -> None:
    """Start a step only if its worst case ends in time: 503 now beats a Lambda timeout (a 502)."""
    if not deadline.allows(1):
        raise StorageFailed(step, OUT_OF_TIME)


def archive(delivery: Delivery, settings: Settings, deadline: aws.Deadline) -> None:
    """Step 3: the exact bytes, with the re-verification headers as metadata when they fit there.

    `If-None-Match: *`: an object already under this key (an earlier attempt of the same
    delivery, the same UTC day) is kept as it is, the first receipt's bytes and headers, and
    gets no second version. S3 answers 412 then, and 409 to a concurrent conditional write
    (retried by the provider). https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if delivery.headers_in_metadata:
        metadata = delivery.headers
    else:
        metadata = {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    _in_time(deadline, "put_object")
    try:
        aws.client("s3").put_object(Bucket=settings.bucket_name, Key=delivery.s3_key, Body=delivery.body,
                                    ContentType=delivery.content_type, Metadata=metadata, IfNoneMatch="*")
    except ClientError as exc:
        if aws.error_code(exc) != "PreconditionFailed":
            raise StorageFailed("put_object", aws.error_code(exc)) from None
        delivery.archived_before = True
    except BotoCoreError as exc:
        raise StorageFailed("put_object", aws.error_code(exc)) from None


def enqueue(delivery: Delivery, pointer: Pointer, ordering_key: str, settings: Settings,
            deadline: aws.Deadline) -> None:
    """Step 4: the pointer, and the payload when it fits (contract.message_fits);
    MessageDeduplicationId = webhook_id."""
    from botocore.exceptions import BotoCoreError, ClientError

    group = message_group_id(delivery.name, ordering_key, delivery.webhook_id, delivery.event_type, delivery.body)
    body = pointer.to_json()
    carried = message_fits(body, delivery.body, settings.inline_payload_limit)
    attributes = {"MessageAttributes": payload_attributes(delivery.body)} if carried else {}
    _in_time(deadline, "send_message")
    try:
        aws.client("sqs").send_message(QueueUrl=settings.queue_url, MessageBody=body, MessageGroupId=group,
                                       MessageDeduplicationId=delivery.webhook_id, **attributes)
    except (ClientError, BotoCoreError) as exc:
        raise StorageFailed("send_message", aws.error_code(exc)) from None


def put_record(delivery: Delivery, pointer: Pointer, settings: Settings, deadline: aws.Deadline) -> str:
    """Step 5: the record, `queued`, unless the webhook has one already.

    "accepted" when this write made it, or when the record is this attempt's own (the
    processor met our message first and wrote it: same `received_at`); "resumed" when it is
    at `received` (written by a version that wrote the record first, whose attempt died
    midway: this attempt stored and enqueued the delivery); "duplicate" otherwise.
    """
    item = {**record_attributes(pointer), "status": {"S": "queued"}, "attempts": {"N": "0"}}
    old = _put_if_absent(item, settings, deadline)
    if old is None or _s(old, "received_at") == delivery.received_at:
        return "accepted"
    return "resumed" if _s(old, "status") == "received" else "duplicate"


def _put_if_absent(item: dict[str, Any], settings: Settings, deadline: aws.Deadline) -> dict[str, Any] | None:
    """PutItem unless the webhook has a record already; then that record (ALL_OLD)."""
    from botocore.exceptions import BotoCoreError, ClientError

    _in_time(deadline, "put_item")
    try:
        aws.client("dynamodb").put_item(
            TableName=settings.table_name, Item=item, ConditionExpression="attribute_not_exists(webhook_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return None
    except ClientError as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise StorageFailed("put_item", aws.error_code(exc)) from None
        return exc.response.get("Item") or {}
    except BotoCoreError as exc:
        raise StorageFailed("put_item", type(exc).__name__) from None


def store(name: str, provider: Mapping[str, Any], request: Request, verified: sig.Verified,
          context: Any = None) -> tuple[int, dict, str]:
    """Steps 3-5. Returns (status, body, outcome); raises StorageFailed (503) or Reject."""
    settings = Settings.from_env()
    deadline = aws.Deadline(context, settings)
    delivery = Delivery.of(name, request, verified, settings)
    check_size(delivery)
    archive(delivery, settings, deadline)
    pointer = delivery.pointer()  # after the archive: whether the record must hold the headers is known
    enqueue(delivery, pointer, provider.get("ordering_key") or "provider", settings, deadline)
    outcome = put_record(delivery, pointer, settings, deadline)
    if outcome == "duplicate":
        return 200, {"webhook_id": delivery.webhook_id, "duplicate": True}, outcome
    return 202, {"webhook_id": delivery.webhook_id, "status": "queued"}, outcome


# --------------------------------------------------------------------------- entry point


def _accept(name: str, provider: Mapping[str, Any], request: Request, fields: dict[str, Any],
            timer: obs.Timer, metrics: obs.Metrics, context: Any = None) -> schemes.Response:
    """Verify, then answer a handshake or store. Raises Reject / StorageFailed."""
    scheme = schemes.get(provider["scheme"])
    try:
        # GET / HEAD (check_request let only declared ones in) and unsigned POST handshakes first
        if request.method != "POST" or (scheme.handshake and scheme.handshake.unsigned):
            answer = answer_handshake(name, provider, request, None, unsigned=True)
            if answer is not None:
                return _handshake_answered(answer, fields, timer)
            if request.method != "POST":
                raise Reject(400, "not_a_handshake", "this endpoint answers only the provider's endpoint check")
        verified = verify_request(name, provider, request)
        timer.lap("verify_ms")
        fields.update(delivery_id=verified.delivery_id, event_type=verified.event_type,
                      secret_index=verified.secret_index)
        answer = answer_handshake(name, provider, request, verified)
    except sig.SignatureError as exc:
        raise Reject(exc.status, exc.code, str(exc)) from None
    if answer is not None:
        return _handshake_answered(answer, fields, timer)
    status, body, outcome = store(name, provider, request, verified, context=context)
    timer.lap("store_ms")
    fields["webhook_id"] = body["webhook_id"]
    metrics.add("duplicate" if outcome == "duplicate" else "accepted", name)
    metrics.log("INFO", "webhook " + outcome, outcome=outcome, status_code=status, timings=timer.total(), **fields)
    return scheme.respond(status, body)


def _handshake_answered(answer: schemes.Response, fields: dict[str, Any], timer: obs.Timer) -> schemes.Response:
    obs.log("INFO", "handshake answered", outcome="handshake", status_code=answer.status,
            timings=timer.total(), **fields)
    return answer


def _error(scheme: schemes.Scheme | None, status: int, code: str, message: str,
           headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An error answer in the provider's format (JSON unless its scheme says otherwise)."""
    answer = (scheme.respond if scheme else schemes.json_response)(status, {"error": code, "message": message})
    return dataclasses.replace(answer, headers={**answer.headers, **(headers or {})}).proxy()


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    timer = obs.Timer()
    metrics = obs.Metrics()
    fields: dict[str, Any] = {"request_id": getattr(context, "aws_request_id", None)}
    metric_provider = _UNKNOWN
    scheme: schemes.Scheme | None = None
    try:
        request = parse_request(event)
        name, provider = resolve_provider(request)
        scheme = schemes.get(provider["scheme"])
        metric_provider = fields["provider"] = name
        check_request(scheme, request)
        return _accept(name, provider, request, fields, timer, metrics, context).proxy()
    except Reject as exc:
        metrics.add("rejected", metric_provider, exc.code)
        metrics.log("INFO", "webhook rejected", outcome="rejected", status_code=exc.status, reason=exc.code,
                    timings=timer.total(), **fields)
        return _error(scheme, exc.status, exc.code, exc.message, exc.headers)
    except StorageFailed as exc:
        metrics.add("storage_error", metric_provider, exc.step)
        obs.log("ERROR", "durable storage failed", outcome="error", status_code=503, step=exc.step,
                error=exc.code, timings=timer.total(), **fields)
        return _error(scheme, 503, "storage_unavailable", "storage failed; retry later")
    except Exception as exc:  # a bug: still a JSON 5xx so the provider retries
        metrics.add("internal_error", metric_provider)
        obs.log("ERROR", "internal error", outcome="error", status_code=500, error=type(exc).__name__,
                timings=timer.total(), **fields)
        return _error(scheme, 500, "internal_error", "internal error; retry later")
    finally:
        metrics.flush()
