"""`webhookctl events list` and `events show`: find any delivery, and look inside one.

Finding: the records table's index (`contract.RECORDS_INDEX`: hash key `<provider>#<yyyy-mm-dd>`,
range key `received_at`) is Queried, never Scanned: per provider, one day at a time from the
newest day of the window down (`ScanIndexForward=False`), each provider's stream merged with
the others by `received_at`. The index projects only what never changes (provider, delivery id,
event type), so `--type` filters the Query itself (`FilterExpression` on `event_type`), and the
records a page shows are then read whole (status, size, times) with one consistent BatchGetItem
per 100 (`cli.replay.read_records`: one home for that read). `--status` needs the status of every
entry it examines: those are read whole as their Query pages come. Each stream's Query pages
start at its share of the page and double, so 30 providers do not cost 30 full pages.

Paging: the cursor (`--next`) holds, per provider, the index key of the last record taken from
that provider's stream (read-and-shown or read-and-filtered-out), and the query it belongs to
(window and filters, made absolute on the first page, so "--since 10m" does not slide). The
next page resumes each stream right after that key (`ExclusiveStartKey`), so records sharing
one `received_at` are neither repeated nor skipped. A cursor is given only when at least one
more record matches. It is opaque: zlib-compressed JSON in URL-safe base64.

Looking inside: the record, the headers stored to re-verify (`contract.reverify_headers`: the
object's metadata, or the record's map when they did not fit), and the payload (pretty JSON,
form fields, text, or size and type for binary), read through `cli.archive.read_archived`,
which says so when the lifecycle moved it to Glacier. `verify_event` re-checks the stored
signature against the provider's current secrets, one secret at a time, to say which matched,
and reports the signed timestamp's age without applying the tolerance window.

Every function here returns plain data; the click commands in cli/main.py only print it.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import parse_qsl

from .errors import NotFound, WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

STATUSES = ("queued", "processed", "failed", "received")
DEFAULT_SINCE = "24h"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# One index page is one BatchGetItem (at most 100 keys):
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
PAGE = 100
CURSOR_VERSION = 1

# --------------------------------------------------------------------------- time


_RELATIVE = re.compile(r"^(\d{1,6})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(value: str, now: dt.datetime) -> str:
    """A records timestamp from ISO-8601 (a date alone is its start, UTC) or a duration ago (`30m`, `1h`, `2d`)."""
    from .replay import parse_time

    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        moment = now - dt.timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
        return parse_time(None, moment)
    try:
        return parse_time(text, now)
    except WebhookctlError:
        raise WebhookctlError(f"'{value}' is not a time: give ISO-8601 (2026-11-29, 2026-11-29T08:00Z) "
                              "or a duration ago (45s, 30m, 1h, 2d, 1w)") from None


def window(since: str | None, until: str | None, now: dt.datetime | None = None,
           default_since: str = DEFAULT_SINCE) -> tuple[str, str]:
    """(since, until) as records timestamps; until defaults to now."""
    from .replay import parse_time

    now = now or dt.datetime.now(dt.timezone.utc)
    first = parse_when(since or default_since, now)
    last = parse_when(until, now) if until else parse_time(None, now)
    if first > last:
        raise WebhookctlError(f"--since {first} is after --until {last}")
    return first, last


def days_newest_first(since: str, until: str) -> list[str]:
    from .replay import days

    return list(reversed(days(since, until)))


def age_seconds(timestamp: str, now: dt.datetime | None = None) -> float:
    moment = dt.datetime.fromisoformat(timestamp)
    return round(((now or dt.datetime.now(dt.timezone.utc)) - moment).total_seconds(), 3)


# --------------------------------------------------------------------------- the query and its cursor


@dataclass(frozen=True)
class Query:
    """What a listing asks for; the cursor carries it, so every page answers the same question."""

    providers: tuple[str, ...]
    since: str
    until: str
    event_type: str | None = None
    status: str | None = None

    def as_doc(self) -> dict[str, Any]:
        return {"p": list(self.providers), "since": self.since, "until": self.until, "t": self.event_type,
                "s": self.status}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Query":
        return cls(providers=tuple(doc["p"]), since=doc["since"], until=doc["until"], event_type=doc.get("t"),
                   status=doc.get("s"))


DONE = 0  # a provider's position once its stream is exhausted


def encode_cursor(query: Query, positions: dict[str, Any]) -> str:
    doc = {"v": CURSOR_VERSION, "q": query.as_doc(), "pos": positions}
    packed = zlib.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[Query, dict[str, Any]]:
    """The query and positions of a cursor from `encode_cursor`; one clear error for anything else."""
    try:
        packed = base64.urlsafe_b64decode(cursor.strip() + "=" * (-len(cursor.strip()) % 4))
        doc = json.loads(zlib.decompress(packed))
        if doc.get("v") != CURSOR_VERSION:
            raise ValueError("version")
        query, positions = Query.from_doc(doc["q"]), doc["pos"]
        _check_positions(query, positions)
    except (binascii.Error, ValueError, zlib.error, KeyError, TypeError, AttributeError):
        raise WebhookctlError("--next: not a cursor from `webhookctl events list` (copy the whole value)") from None
    return query, positions


def _check_positions(query: Query, positions: Any) -> None:
    if not isinstance(positions, dict):
        raise ValueError("positions")
    for provider, position in positions.items():
        if provider not in query.providers:
            raise ValueError("provider")
        if position != DONE and not (isinstance(position, list) and len(position) == 2
                                     and all(isinstance(p, str) for p in position)):
            raise ValueError("position")


# --------------------------------------------------------------------------- one provider's records, newest first


@dataclass
class ProviderStream:
    """One provider's index entries in a window, newest first: an index Query per day and page.

    An entry is what the index holds (webhook_id, received_at, provider, delivery_id, event_type);
    `entry["record"]` is the whole record once read (`read_whole`), None when it is gone (TTL).
    Pages start small and double (a listing of 50 over 30 providers needs a few entries of each),
    up to PAGE. `position` is the last entry taken."""

    ddb: Any
    table: str
    provider: str
    query: Query
    page_size: int = PAGE
    days: list[str] = field(default_factory=list)
    start_key: dict | None = None
    buffer: deque = field(default_factory=deque)
    position: Any = None  # None: nothing taken yet; [received_at, webhook_id]; DONE

    @classmethod
    def open(cls, ddb, table: str, provider: str, query: Query, position: Any = None,
             page_size: int = PAGE) -> "ProviderStream":
        stream = cls(ddb=ddb, table=table, provider=provider, query=query, page_size=page_size, position=position)
        if position == DONE:
            return stream
        if position is None:
            stream.days = days_newest_first(query.since, query.until)
        else:
            received_at, webhook_id = position
            stream.days = days_newest_first(query.since, received_at)
            stream.start_key = _index_key(provider, received_at, webhook_id)
        return stream

    @property
    def exhausted(self) -> bool:
        return not self.buffer and not self.days

    def head(self) -> dict | None:
        while not self.buffer and self.days:
            self._read_page()
        return self.buffer[0] if self.buffer else None

    def whole_head(self) -> dict | None:
        """The head entry with its record read (the buffer's records are read together)."""
        head = self.head()
        if head is not None and "record" not in head:
            read_whole(self.ddb, self.table, list(self.buffer))
        return head

    def take(self) -> dict:
        entry = self.buffer.popleft()
        self.position = DONE if self.exhausted else [entry["received_at"], entry["webhook_id"]]
        return entry

    def _read_page(self) -> None:
        page = self.ddb.query(**self._query_args())
        self.buffer.extend({k: next(iter(v.values())) for k, v in item.items()} for item in page.get("Items", []))
        self.start_key = page.get("LastEvaluatedKey")
        if self.start_key is None:
            self.days.pop(0)
        self.page_size = min(PAGE, self.page_size * 2)

    def _query_args(self) -> dict[str, Any]:
        from handlers.contract import RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY, provider_day

        args: dict[str, Any] = {
            "TableName": self.table, "IndexName": RECORDS_INDEX, "Limit": self.page_size,
            "ScanIndexForward": False,  # newest first: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
            "KeyConditionExpression": "#k = :k AND #r BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#k": RECORDS_INDEX_HASH_KEY, "#r": RECORDS_INDEX_RANGE_KEY},
            "ExpressionAttributeValues": {":k": {"S": provider_day(self.provider, self.days[0])},
                                          ":since": {"S": self.query.since}, ":until": {"S": self.query.until}},
        }
        if self.query.event_type is not None:  # projected in the index: filtered before anything is read
            args["FilterExpression"] = "#t = :t"
            args["ExpressionAttributeNames"]["#t"] = "event_type"
            args["ExpressionAttributeValues"][":t"] = {"S": self.query.event_type}
        if self.start_key is not None:
            args["ExclusiveStartKey"] = self.start_key
        return args


def _index_key(provider: str, received_at: str, webhook_id: str) -> dict[str, dict[str, str]]:
    """ExclusiveStartKey of an index Query: the table's key and the index's keys of the last item read
    (what LastEvaluatedKey holds for a global secondary index)."""
    from handlers.contract import RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY, provider_day

    return {"webhook_id": {"S": webhook_id}, RECORDS_INDEX_HASH_KEY: {"S": provider_day(provider, received_at)},
            RECORDS_INDEX_RANGE_KEY: {"S": received_at}}


def read_whole(ddb, table: str, entries: Sequence[dict]) -> None:
    """Read the records of the entries that have none yet, one consistent BatchGetItem per PAGE ids
    (`cli.replay.read_records`), into `entry["record"]` (None for a record that is gone)."""
    from .replay import read_records

    wanted = [e for e in entries if "record" not in e]
    for first in range(0, len(wanted), PAGE):
        chunk = wanted[first:first + PAGE]
        found = {r["webhook_id"]: r for r in read_records(ddb, table, [e["webhook_id"] for e in chunk])}
        for entry in chunk:
            entry["record"] = found.get(entry["webhook_id"])


# --------------------------------------------------------------------------- merging the providers


def _newest(streams: Sequence[ProviderStream]) -> ProviderStream | None:
    """The stream whose next entry is the newest (ties: the first provider by name)."""
    best, best_key = None, None
    for stream in streams:
        head = stream.head()
        if head is not None and (best_key is None or head["received_at"] > best_key):
            best, best_key = stream, head["received_at"]
    return best


def merged(streams: Sequence[ProviderStream], query: Query, *, whole: bool = False) -> Iterator[ProviderStream]:
    """The streams in the order of their matching entries, newest first: each yielded stream's head is
    the next match (the caller takes it). A `--status` filter (or `whole`) reads the records first;
    an entry that does not match, or whose record is gone, is taken and passed over."""
    while True:
        stream = _newest(streams)
        if stream is None:
            return
        if query.status is None and not whole:
            yield stream
            continue
        record = stream.whole_head()["record"]
        if record is None or (query.status is not None and record.get("status") != query.status):
            stream.take()
            continue
        yield stream


def page_of(streams: Sequence[ProviderStream], query: Query, limit: int) -> tuple[list[dict], bool]:
    """Up to `limit` matching records, newest first (read whole), and whether at least one more matches."""
    entries: list[dict] = []
    more = False
    for stream in merged(streams, query):
        if len(entries) == limit:
            more = True
            break
        entries.append(stream.take())
    if streams:
        read_whole(streams[0].ddb, streams[0].table, entries)
    return [e["record"] for e in entries if e["record"] is not None], more


# --------------------------------------------------------------------------- events list


MIN_PAGE = 4


def first_page_size(limit: int, providers: int) -> int:
    """A stream's first Query: its share of the page and one more (then pages double)."""
    return min(PAGE, max(MIN_PAGE, -(-(limit + 1) // max(1, providers)) + 1))


def list_events(ws: Workspace, *, providers: Sequence[str] = (), event_type: str | None = None,
                status: str | None = None, since: str | None = None, until: str | None = None,
                limit: int = DEFAULT_LIMIT, cursor: str | None = None, ddb=None, log: Log | None = None,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """`{"events": [record, ...] newest first, "next": cursor or None, "since", "until"}`."""
    from .operations import env_client, require_provider
    from .stack_ops import known_outputs

    if not 1 <= limit <= MAX_LIMIT:
        raise WebhookctlError(f"--limit must be 1-{MAX_LIMIT}")
    if cursor is not None:
        if providers or event_type or status or since or until:
            raise WebhookctlError("--next continues the listing it came from, with its filters: give it alone "
                                  "(with --limit if you like)")
        query, positions = decode_cursor(cursor)
    else:
        for provider in providers:
            require_provider(ws, provider)
        if status is not None and status not in STATUSES:
            raise WebhookctlError(f"--status must be one of {', '.join(STATUSES)}")
        first, last = window(since, until, now)
        query = Query(tuple(sorted(set(providers) or ws.config.providers)), first, last, event_type, status)
        positions = {}
    table = known_outputs(ws, log or (lambda line: None)).table_name
    ddb = ddb or env_client(ws, "dynamodb")
    size = first_page_size(limit, len(query.providers))
    streams = [ProviderStream.open(ddb, table, p, query, positions.get(p), page_size=size) for p in query.providers]
    rows, more = page_of(streams, query, limit)
    next_cursor = encode_cursor(query, positions_of(streams)) if more else None
    return {"events": [event_row(r) for r in rows], "next": next_cursor, "since": query.since,
            "until": query.until}


def positions_of(streams: Sequence[ProviderStream]) -> dict[str, Any]:
    """Where each stream stands: DONE once read to the end, the last record taken, or absent (from the top)."""
    return {s.provider: (DONE if s.exhausted else s.position) for s in streams
            if s.exhausted or s.position is not None}


def event_row(record: dict) -> dict[str, Any]:
    """A record as plain data, in a stable order."""
    size = record.get("size")
    return {"webhook_id": record["webhook_id"], "received_at": record.get("received_at"),
            "provider": record.get("provider"), "event_type": record.get("event_type"),
            "status": record.get("status"), "delivery_id": record.get("delivery_id"),
            "size": int(size) if size is not None else None, "processed_at": record.get("processed_at"),
            "s3_key": record.get("s3_key")}


def iter_records(ws: Workspace, query: Query, *, ddb=None, log: Log | None = None) -> Iterator[dict]:
    """Every record matching `query`, newest first, read whole (for `stats` and `listen --replay-since`)."""
    from .operations import env_client
    from .stack_ops import known_outputs

    table = known_outputs(ws, log or (lambda line: None)).table_name
    ddb = ddb or env_client(ws, "dynamodb")
    streams = [ProviderStream.open(ddb, table, p, query) for p in query.providers]
    for stream in merged(streams, query, whole=True):
        yield stream.take()["record"]


# --------------------------------------------------------------------------- events show


# Schemes whose "signature" is the shared token itself (handlers/schemes/tokens.py): showing it
# would show the secret. GitLab sends it in a header; Graph in each notification's clientState.
TOKEN_HEADERS = {"gitlab": ("x-gitlab-token",)}
TOKEN_BODY_FIELDS = {"msgraph": "clientState"}
REDACTED = "<shared secret: not shown>"


@dataclass(frozen=True)
class Delivery:
    """One delivery as stored: its record, its archive object's head and the re-verification headers."""

    record: dict[str, Any]
    item: dict[str, Any]  # the low-level item (its verify_headers map)
    head: dict[str, Any] | None  # S3 HeadObject, None when the object is gone
    headers: dict[str, str]


def read_delivery(ws: Workspace, webhook_id: str, *, clients: dict | None = None, log: Log | None = None) -> Delivery:
    from botocore.exceptions import ClientError
    from handlers.contract import reverify_headers

    from .operations import _plain
    from .stack_ops import known_outputs

    outputs = known_outputs(ws, log or (lambda line: None))
    ddb, s3 = _client(ws, clients, "dynamodb"), _client(ws, clients, "s3")
    item = _get_item(ws, ddb, outputs.table_name, webhook_id)
    record = {key: _plain(value) for key, value in sorted(item.items())}
    try:
        head = s3.head_object(Bucket=outputs.bucket_name, Key=record["s3_key"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        head = None
    headers = reverify_headers((head or {}).get("Metadata") or {}, item)
    return Delivery(record=record, item=item, head=head, headers=headers)


def _get_item(ws: Workspace, ddb, table: str, webhook_id: str) -> dict:
    from handlers.contract import is_webhook_id

    item = None
    if is_webhook_id(webhook_id):
        item = ddb.get_item(TableName=table, Key={"webhook_id": {"S": webhook_id}}, ConsistentRead=True).get("Item")
    if not item:
        raise NotFound(f"no delivery {webhook_id} in environment '{ws.env.name}' "
                              "(`webhookctl events list` shows the webhook ids)")
    return item


def _client(ws: Workspace, clients: dict | None, service: str):
    from .operations import env_client

    if clients is not None and service in clients:
        return clients[service]
    client = env_client(ws, service)
    if clients is not None:
        clients[service] = client
    return client


def raw_event(ws: Workspace, webhook_id: str, *, clients: dict | None = None) -> bytes:
    """The exact archived bytes (InGlacier, a WebhookctlError, when they must be restored first)."""
    from .archive import read_archived
    from .stack_ops import known_outputs

    delivery = read_delivery(ws, webhook_id, clients=clients)
    if delivery.head is None:
        raise WebhookctlError(_gone(delivery))
    return read_archived(_client(ws, clients, "s3"), known_outputs(ws).bucket_name, delivery.record["s3_key"])


def _gone(delivery: Delivery) -> str:
    return (f"the archived payload of {delivery.record['webhook_id']} ({delivery.record['s3_key']}) is gone: "
            "the archive's lifecycle expired it")


def show_event(ws: Workspace, webhook_id: str, *, clients: dict | None = None) -> dict[str, Any]:
    """`{"record", "headers", "archive", "payload"}`: the payload's view, or where it is when it cannot be read."""
    from .archive import InGlacier, read_archived
    from .stack_ops import known_outputs

    delivery = read_delivery(ws, webhook_id, clients=clients)
    scheme = _scheme_of(ws, delivery.record.get("provider"))
    head = delivery.head or {}
    archive = {"s3_key": delivery.record.get("s3_key"), "exists": delivery.head is not None,
               "storage_class": head.get("StorageClass") or ("STANDARD" if delivery.head else None),
               "size": head.get("ContentLength")}
    shown = {"record": _shown_record(delivery.record), "headers": redact_headers(scheme, delivery.headers),
             "archive": archive, "payload": None}
    if delivery.head is None:
        archive["note"] = _gone(delivery)
        return shown
    content_type = delivery.headers.get("content-type") or head.get("ContentType") or "application/octet-stream"
    try:
        body = read_archived(_client(ws, clients, "s3"), known_outputs(ws).bucket_name, delivery.record["s3_key"])
    except InGlacier as exc:
        archive.update(in_glacier=True, restore=exc.archived.restore_command(), note=str(exc.message))
        return shown
    shown["payload"] = describe_payload(redact_body(scheme, body), content_type)
    return shown


def _shown_record(record: dict) -> dict:
    """The record without the re-verification map (shown as `headers`)."""
    from handlers.contract import VERIFY_HEADERS_ATTRIBUTE

    return {k: v for k, v in record.items() if k != VERIFY_HEADERS_ATTRIBUTE}


def _scheme_of(ws: Workspace, provider: str | None) -> str | None:
    config = ws.config.providers.get(provider or "")
    return config.scheme if config else None


def redact_headers(scheme: str | None, headers: dict[str, str]) -> dict[str, str]:
    hidden = TOKEN_HEADERS.get(scheme or "", ())
    return {k: (REDACTED if k.lower() in hidden else v) for k, v in sorted(headers.items())}


def redact_body(scheme: str | None, body: bytes) -> bytes:
    """Graph's clientState (the secret itself) replaced in the shown view; `--raw` keeps the exact bytes."""
    name = TOKEN_BODY_FIELDS.get(scheme or "")
    if name is None:
        return body
    try:
        doc = json.loads(body)
        for item in doc.get("value") or []:
            if isinstance(item, dict) and name in item:
                item[name] = REDACTED
    except (ValueError, AttributeError, TypeError, RecursionError):
        return body
    return json.dumps(doc).encode("utf-8")


def describe_payload(body: bytes, content_type: str) -> dict[str, Any]:
    """How to show a payload: parsed JSON, form fields, text, or only its size and type (binary)."""
    view: dict[str, Any] = {"content_type": content_type, "size": len(body)}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {**view, "kind": "binary"}
    try:
        return {**view, "kind": "json", "json": json.loads(text)}
    except (ValueError, RecursionError):
        pass
    if "x-www-form-urlencoded" in content_type.lower():
        try:
            return {**view, "kind": "form", "form": parse_qsl(text, keep_blank_values=True, max_num_fields=1000,
                                                              strict_parsing=True)}
        except ValueError:
            pass
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return {**view, "kind": "text", "text": text}
    return {**view, "kind": "binary"}


# --------------------------------------------------------------------------- events show --verify

NO_TOLERANCE = 10 ** 12  # seconds: "without applying the tolerance window"


def verify_event(ws: Workspace, webhook_id: str, *, clients: dict | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Which of the provider's active secrets the stored signature matches, and its timestamp's age.

    Raises a WebhookctlError naming why when none matches (or the delivery cannot be re-verified)."""
    from .archive import read_archived
    from .operations import read_secrets
    from .stack_ops import known_outputs

    delivery = read_delivery(ws, webhook_id, clients=clients)
    provider = delivery.record.get("provider")
    config = ws.config.providers.get(provider or "")
    if config is None:
        raise WebhookctlError(f"{webhook_id} came from provider '{provider}', which the config no longer has")
    if delivery.head is None:
        raise WebhookctlError(_gone(delivery))
    body = read_archived(_client(ws, clients, "s3"), known_outputs(ws).bucket_name, delivery.record["s3_key"])
    secrets = read_secrets(ws, provider, _client(ws, clients, "secretsmanager"))
    if not secrets:
        raise WebhookctlError(f"{provider} has no secret in '{ws.env.name}' to verify with")
    matched, verified = _first_match(config, body, delivery.headers, secrets)
    if verified is None:
        raise WebhookctlError(
            f"{webhook_id}: the stored signature matches none of {provider}'s {len(secrets)} active secret(s): "
            "it was signed with a secret that is no longer active (replaced without --keep-previous?)")
    return _verification(webhook_id, config, matched, len(secrets), verified, now)


def _first_match(config, body: bytes, headers: dict[str, str], secrets: list[str]):
    """(index, Verified) of the first secret the stored signature holds for, else (None, None)."""
    from handlers.schemes import SIGNED_URL_HEADER, InvalidSignature, get, verify
    from handlers.schemes.base import SignatureError

    options = {**dict(config.options), "tolerance_seconds": NO_TOLERANCE}
    url = headers.get(SIGNED_URL_HEADER) if get(config.scheme).signs_url else None
    for index, secret in enumerate(secrets):
        try:
            return index, verify(config.scheme, body, headers, [secret], options, url=url)
        except InvalidSignature:
            continue
        except SignatureError as exc:  # the stored headers cannot be parsed at all
            raise WebhookctlError(f"the stored headers cannot be re-verified: {exc}") from None
    return None, None


def _verification(webhook_id: str, config, matched: int, active: int, verified, now: dt.datetime | None) -> dict:
    result: dict[str, Any] = {
        "webhook_id": webhook_id, "provider": config.name, "scheme": config.scheme, "verified": True,
        "secret_index": matched, "active_secrets": active,
        "secret": "the newest" if matched == 0 else f"an older one still active (#{matched + 1}, kept by --keep-previous)",
        "tolerance_seconds": config.tolerance_seconds, "timestamp": None, "age_seconds": None,
        "within_tolerance": None,
    }
    if verified.timestamp is not None:
        moment = dt.datetime.fromtimestamp(verified.timestamp, dt.timezone.utc)
        age = round(((now or dt.datetime.now(dt.timezone.utc)) - moment).total_seconds())
        result.update(timestamp=moment.strftime("%Y-%m-%dT%H:%M:%SZ"), age_seconds=age,
                      within_tolerance=abs(age) <= config.tolerance_seconds)
    return result


# --------------------------------------------------------------------------- for people


def list_columns():
    from .output import Column, status_color

    return [Column("received", "received", min_width=19), Column("provider", min_width=6),
            Column("event_type", "event type", min_width=8), Column("status", min_width=6, color=status_color),
            Column("webhook_id", "webhook id", min_width=32)]


def table_rows(events: Sequence[dict]) -> list[dict]:
    return [{**e, "received": (e.get("received_at") or "")[:19].replace("T", " ")} for e in events]


def render_show(shown: dict[str, Any]) -> str:
    """The record, the stored headers and the payload, as sections a person reads top to bottom."""
    from .output import key_values

    parts = ["delivery", key_values(shown["record"]), "", "stored headers (to re-verify)",
             key_values(shown["headers"]) or "  (none stored)", ""]
    archive, payload = shown["archive"], shown["payload"]
    if payload is None:
        parts += ["payload", f"  {archive.get('note') or 'not readable'}"]
        return "\n".join(parts)
    parts.append(f"payload ({payload['content_type']}, {payload['size']} bytes, {payload['kind']})")
    if payload["kind"] == "json":
        parts.append(json.dumps(payload["json"], indent=2, ensure_ascii=False))
    elif payload["kind"] == "form":
        parts.append(key_values(dict(payload["form"])) if payload["form"] else "  (no fields)")
    elif payload["kind"] == "text":
        parts.append(payload["text"])
    else:
        parts.append("  binary: `webhookctl events show ID --raw > file` writes its exact bytes")
    return "\n".join(parts)


def render_verification(check: dict[str, Any]) -> str:
    line = (f"verified: the stored signature matches {check['secret']} of {check['provider']}'s "
            f"{check['active_secrets']} active secret(s)")
    if check["timestamp"] is None:
        return line + f"; the {check['scheme']} scheme signs no timestamp header"
    verdict = "inside" if check["within_tolerance"] else "outside"
    return (line + f"; signed at {check['timestamp']}, {_duration(check['age_seconds'])} ago "
            f"({verdict} the {check['tolerance_seconds']} s tolerance a new request would get; not applied here)")


def _duration(seconds: float) -> str:
    days, rest = divmod(int(abs(seconds)), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
