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
3. DynamoDB PutItem `attribute_not_exists(webhook_id)`, status `received`,
   `provider_day` (the records index key). If the item exists: `queued` /
   `processed` / `failed` -> 200 duplicate; `received` (an earlier attempt
   died midway) -> resume with ITS s3_key (`put_record`).
4. S3 PutObject: the exact bytes + the headers needed to re-verify, in the
   object's metadata, or in the record when they do not fit (`archive`).
5. SQS SendMessage: a pointer; MessageDeduplicationId = webhook_id (`enqueue`).
6. UpdateItem status -> `queued` if still `received` (a failed condition means
   the processor or a concurrent attempt got there first) (`mark_queued`).

A failure in 3-5 answers 5xx so the provider retries, and the retry resumes at
step 4. A failure in 6 still answers 202: the payload is stored and enqueued,
and the processor moves the record on from `received` itself. Before each of
steps 3-6 the invocation's remaining time is checked against the worst case of
one AWS call: a step that could not finish answers 503 now, never a Lambda
timeout.

Answers are the scheme's format (`Scheme.respond`): JSON, or Twilio's TwiML.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import time
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
    AWS_LIMITS, METRIC_UNKNOWN_PROVIDER, OUT_OF_TIME, RECORDS_INDEX_HASH_KEY, VERIFY_HEADERS_ATTRIBUTE, VERIFY_HEADERS_IN_RECORD, VERIFY_HEADERS_MARKER,
    Pointer, Settings, archive_key, dynamodb_item_bytes, iso_timestamp, provider_day, providers_file_path,
    s3_user_metadata_bytes,
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
    """One verified request on its way to storage: what steps 3-6 write."""

    name: str
    webhook_id: str
    delivery_id: str
    event_type: str | None
    received_at: str
    s3_key: str
    body: bytes
    content_type: str
    headers: dict[str, str]  # re-verification headers (contract: one home, see VERIFY_HEADERS_ATTRIBUTE)

    @classmethod
    def of(cls, name: str, request: Request, verified: sig.Verified) -> "Delivery":
        now = datetime.now(timezone.utc)
        wid = sig.webhook_id(name, verified.delivery_id)
        return cls(name=name, webhook_id=wid, delivery_id=verified.delivery_id, event_type=verified.event_type,
                   received_at=iso_timestamp(now), s3_key=archive_key(name, now, wid), body=request.body,
                   content_type=request.headers.get("content-type") or "application/octet-stream",
                   headers=reverify_headers(request.headers, verified.signed_headers))

    @property
    def headers_in_metadata(self) -> bool:
        return fits_s3_metadata(self.headers)

    def pointer(self) -> Pointer:
        return Pointer(webhook_id=self.webhook_id, provider=self.name, s3_key=self.s3_key,
                       delivery_id=self.delivery_id, event_type=self.event_type, received_at=self.received_at,
                       size=len(self.body))


def _s(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value.get("S") if isinstance(value, dict) else None


def _headers_attribute(delivery: Delivery) -> dict[str, Any]:
    return {"M": {k: {"S": v} for k, v in delivery.headers.items()}}


def record_item(delivery: Delivery, settings: Settings) -> dict[str, Any]:
    """The first write of the record (status `received`); Reject when it would exceed DynamoDB's item limit."""
    item = {
        "webhook_id": {"S": delivery.webhook_id},
        "provider": {"S": delivery.name},
        "delivery_id": {"S": delivery.delivery_id},
        "received_at": {"S": delivery.received_at},
        RECORDS_INDEX_HASH_KEY: {"S": provider_day(delivery.name, delivery.received_at)},
        "status": {"S": "received"},
        "s3_key": {"S": delivery.s3_key},
        "size": {"N": str(len(delivery.body))},
        "attempts": {"N": "0"},
        "expires_at": {"N": str(int(time.time()) + settings.record_ttl_days * 86400)},
    }
    if delivery.event_type:
        item["event_type"] = {"S": delivery.event_type}
    if not delivery.headers_in_metadata:
        item[VERIFY_HEADERS_ATTRIBUTE] = _headers_attribute(delivery)
    if dynamodb_item_bytes(item) > AWS_LIMITS.dynamodb_item_bytes:  # only headers can grow it this far
        raise Reject(400, "headers_too_large", "the signature headers are too large to store")
    return item


def _in_time(deadline: aws.Deadline, step: str) -> None:
    """Start a step only if its worst case ends in time: 503 now beats a Lambda timeout (a 502)."""
    if not deadline.allows(1):
        raise StorageFailed(step, OUT_OF_TIME)


def put_record(delivery: Delivery, settings: Settings, deadline: aws.Deadline) -> str:
    """Step 3: "accepted"; "duplicate" when the record is past `received`; "resumed" when an
    earlier attempt died midway (the delivery then takes ITS s3_key and received_at)."""
    old = _put_if_absent(record_item(delivery, settings), settings, deadline)
    if old is None:
        return "accepted"
    if _s(old, "status") != "received":
        return "duplicate"
    delivery.s3_key = _s(old, "s3_key") or delivery.s3_key
    delivery.received_at = _s(old, "received_at") or delivery.received_at
    if not delivery.headers_in_metadata and VERIFY_HEADERS_ATTRIBUTE not in old:
        save_headers_in_record(delivery, settings, deadline)
    return "resumed"


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


def save_headers_in_record(delivery: Delivery, settings: Settings, deadline: aws.Deadline) -> None:
    """A resumed attempt whose headers do not fit the object's metadata, where the first
    attempt's record holds none: the record gets them before the object says they are there."""
    from botocore.exceptions import BotoCoreError, ClientError

    _in_time(deadline, "update_item_headers")
    try:
        aws.client("dynamodb").update_item(
            TableName=settings.table_name, Key={"webhook_id": {"S": delivery.webhook_id}},
            UpdateExpression="SET #h = :h", ExpressionAttributeNames={"#h": VERIFY_HEADERS_ATTRIBUTE},
            ExpressionAttributeValues={":h": _headers_attribute(delivery)})
    except (ClientError, BotoCoreError) as exc:
        raise StorageFailed("update_item_headers", aws.error_code(exc)) from None


def archive(delivery: Delivery, settings: Settings, deadline: aws.Deadline) -> None:
    """Step 4: the exact bytes, with the re-verification headers as metadata when they fit there."""
    from botocore.exceptions import BotoCoreError, ClientError

    if delivery.headers_in_metadata:
        metadata = delivery.headers
    else:
        metadata = {VERIFY_HEADERS_MARKER: VERIFY_HEADERS_IN_RECORD}
    _in_time(deadline, "put_object")
    try:
        aws.client("s3").put_object(Bucket=settings.bucket_name, Key=delivery.s3_key, Body=delivery.body,
                                    ContentType=delivery.content_type, Metadata=metadata)
    except (ClientError, BotoCoreError) as exc:
        raise StorageFailed("put_object", aws.error_code(exc)) from None


def enqueue(delivery: Delivery, ordering_key: str, settings: Settings, deadline: aws.Deadline) -> None:
    """Step 5: the pointer (contract.Pointer); MessageDeduplicationId = webhook_id."""
    from botocore.exceptions import BotoCoreError, ClientError

    group = message_group_id(delivery.name, ordering_key, delivery.webhook_id, delivery.event_type, delivery.body)
    _in_time(deadline, "send_message")
    try:
        aws.client("sqs").send_message(QueueUrl=settings.queue_url, MessageBody=delivery.pointer().to_json(),
                                       MessageGroupId=group, MessageDeduplicationId=delivery.webhook_id)
    except (ClientError, BotoCoreError) as exc:
        raise StorageFailed("send_message", aws.error_code(exc)) from None


def mark_queued(delivery: Delivery, settings: Settings, deadline: aws.Deadline) -> bool:
    """Step 6: `received` -> `queued`. False when that failed: the payload is stored and
    enqueued all the same, and the processor moves the record on from `received` itself."""
    from botocore.exceptions import BotoCoreError, ClientError

    error = OUT_OF_TIME
    if deadline.allows(1):
        try:
            aws.client("dynamodb").update_item(
                TableName=settings.table_name, Key={"webhook_id": {"S": delivery.webhook_id}},
                UpdateExpression="SET #s = :queued", ConditionExpression="#s = :received",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": {"S": "queued"}, ":received": {"S": "received"}})
            return True
        except (ClientError, BotoCoreError) as exc:
            error = aws.error_code(exc)
            if error == "ConditionalCheckFailedException":
                return True  # the processor or a concurrent attempt got there first
    obs.log("WARNING", "status update failed after enqueue", webhook_id=delivery.webhook_id,
            provider=delivery.name, error=error)
    return False


def store(name: str, provider: Mapping[str, Any], request: Request, verified: sig.Verified,
          context: Any = None) -> tuple[int, dict, str]:
    """Steps 3-6. Returns (status, body, outcome); raises StorageFailed (503) or Reject."""
    settings = Settings.from_env()
    deadline = aws.Deadline(context, settings)
    delivery = Delivery.of(name, request, verified)
    outcome = put_record(delivery, settings, deadline)
    if outcome == "duplicate":
        return 200, {"webhook_id": delivery.webhook_id, "duplicate": True}, outcome
    archive(delivery, settings, deadline)
    enqueue(delivery, provider.get("ordering_key") or "provider", settings, deadline)
    if not mark_queued(delivery, settings, deadline):
        outcome = "accepted_unmarked"
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
    if outcome == "accepted_unmarked":
        metrics.add("status_update_failed", name)
    obs.log("INFO", "webhook " + outcome, outcome=outcome, status_code=status, timings=timer.total(), **fields)
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
        metrics.add("received", name)
        check_request(scheme, request)
        return _accept(name, provider, request, fields, timer, metrics, context).proxy()
    except Reject as exc:
        metrics.add("rejected", metric_provider, exc.code)
        obs.log("INFO", "webhook rejected", outcome="rejected", status_code=exc.status, reason=exc.code,
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
