"""`webhookctl trigger PROVIDER [EVENT_TYPE]`: a realistic, signed event from the catalog.

The catalog (`cli/catalog/<scheme>.json`, data the CLI ships) holds, per signature scheme, events
in the provider's real shape and with its real headers, each citing the page it follows. Values
that must be fresh on every send (ids, timestamps) are placeholders, filled by `fill`:

    {{uuid}}  {{hex:N}}  {{HEX:N}}  {{alnum:N}}  {{lower:N}}  {{UPPER:N}}  {{digits:N}}  {{int:N}}
    {{unix}}  {{unix_ms}}  {{iso}}  {{iso_ms}}  {{iso_us}}  {{snowflake}}

A time may carry an offset (`{{unix+30d}}`, `{{iso-5m}}`); `@name` gives one value to every
placeholder of that name in one event, its headers included (`"pi_{{alnum:24@pi}}"` twice is one
PaymentIntent). A string that is one numeric placeholder (`{{unix}}`, `{{int:N}}`) becomes a number.

`--set path=value` (dotted, list items by index, the value as JSON or else a string) then changes
the filled event, `--file` replaces it with your own bytes, and `--redeliver ID` sends an earlier
delivery's archived bytes again with its delivery id, freshly signed, as the provider's own retry
would (the answer is ingest's `duplicate`). Signing and posting are `send.deliver`'s.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
import secrets as secrets_module
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from .errors import WebhookctlError
from .workspace import Workspace

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"


@dataclass(frozen=True)
class Fixture:
    """One catalogued event of a scheme."""

    scheme: str
    event_type: str  # as ingest records it (the scheme's `identify`)
    summary: str
    source: str  # the provider's page it follows
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)  # the provider's other headers
    body: Any = None  # a JSON document...
    form: Mapping[str, str] | None = None  # ...or form fields
    header_event_type: str | None = None  # where the scheme carries the type in a header, when it differs
    header_delivery_id: str | None = None  # where it carries the delivery id in a header


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, tuple[Fixture, ...]]:
    """Every scheme's fixtures, the default (first) one first."""
    found: dict[str, tuple[Fixture, ...]] = {}
    for path in sorted(CATALOG_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        found[doc["scheme"]] = tuple(_fixture(doc, entry) for entry in doc["fixtures"])
    return found


def _fixture(doc: dict, entry: dict) -> Fixture:
    return Fixture(scheme=doc["scheme"], event_type=entry["event_type"], summary=entry["summary"],
                   source=entry["source"], content_type=entry.get("content_type") or doc["content_type"],
                   headers={**doc.get("headers", {}), **entry.get("headers", {})}, body=entry.get("body"),
                   form=entry.get("form"), header_event_type=entry.get("header_event_type"),
                   header_delivery_id=entry.get("header_delivery_id"))


def fixtures_for(scheme: str) -> tuple[Fixture, ...]:
    return catalog().get(scheme, ())


def find(scheme: str, event_type: str | None) -> Fixture:
    fixtures = fixtures_for(scheme)
    if not fixtures:
        raise WebhookctlError(f"the catalog has no {scheme} events")
    if event_type is None:
        return fixtures[0]
    for fixture in fixtures:
        if fixture.event_type == event_type:
            return fixture
    known = ", ".join(f.event_type for f in fixtures)
    raise WebhookctlError(f"no {scheme} event '{event_type}' in the catalog (it has: {known}); "
                          "send your own with --file")


def listing(ws: Workspace, provider: str | None = None) -> list[dict[str, Any]]:
    """The catalog for the configured providers (or one of them): rows for `trigger --list`."""
    from .operations import require_provider

    names = [provider] if provider else sorted(ws.config.providers)
    rows = []
    for name in names:
        config = require_provider(ws, name)
        for index, fixture in enumerate(fixtures_for(config.scheme)):
            rows.append({"provider": name, "scheme": config.scheme, "event_type": fixture.event_type,
                         "default": index == 0, "summary": fixture.summary, "source": fixture.source})
    return rows


# --------------------------------------------------------------------------- fresh values

_PLACEHOLDER = re.compile(r"\{\{(?P<kind>[A-Za-z_]+)(?::(?P<size>\d{1,3}))?(?P<offset>[+-]\d{1,4}[smhd])?"
                          r"(?:@(?P<name>[A-Za-z0-9_]+))?\}\}")
_ALPHABETS = {"hex": "0123456789abcdef", "HEX": "0123456789ABCDEF", "digits": "0123456789",
              "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
              "lower": "abcdefghijklmnopqrstuvwxyz0123456789", "UPPER": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}
_NUMERIC = ("int", "unix", "unix_ms")
_OFFSET_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DISCORD_EPOCH_MS = 1_420_070_400_000  # snowflakes count ms from 2015: https://discord.com/developers/docs/reference#snowflakes


class Filler:
    """Fills one event's placeholders: one `now`, and one value per `@name`."""

    def __init__(self, now: dt.datetime | None = None):
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.named: dict[str, str] = {}

    def text(self, template: str) -> Any:
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and whole["kind"] in _NUMERIC:
            return int(self._value(whole))
        return _PLACEHOLDER.sub(self._value, template)

    def doc(self, template: Any) -> Any:
        if isinstance(template, str):
            return self.text(template)
        if isinstance(template, list):
            return [self.doc(v) for v in template]
        if isinstance(template, dict):
            return {k: self.doc(v) for k, v in template.items()}
        return template

    def _value(self, match: re.Match) -> str:
        name = match["name"]
        if name and name in self.named:
            return self.named[name]
        value = self._fresh(match["kind"], int(match["size"] or 0), match["offset"])
        if name:
            self.named[name] = value
        return value

    def _fresh(self, kind: str, size: int, offset: str | None) -> str:
        if kind in _ALPHABETS:
            return _random(_ALPHABETS[kind], size or 16)
        if kind == "int":
            return str(secrets_module.randbelow(9) + 1) + _random(_ALPHABETS["digits"], max(0, (size or 9) - 1))
        if kind == "uuid":
            return str(uuid.uuid4())
        if kind == "snowflake":
            ms = int(self.now.timestamp() * 1000) - _DISCORD_EPOCH_MS
            return str(ms << 22 | secrets_module.randbits(22))
        return self._time(kind, offset)

    def _time(self, kind: str, offset: str | None) -> str:
        moment = self.now
        if offset:
            moment += dt.timedelta(seconds=int(offset[:-1]) * _OFFSET_SECONDS[offset[-1]])
        formats = {"unix": lambda m: str(int(m.timestamp())), "unix_ms": lambda m: str(int(m.timestamp() * 1000)),
                   "iso": lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "iso_ms": lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z",
                   "iso_us": lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if kind not in formats:
            raise ValueError(f"unknown placeholder kind {kind!r}")
        return formats[kind](moment)


def _random(alphabet: str, size: int) -> str:
    return "".join(secrets_module.choice(alphabet) for _ in range(size))


# --------------------------------------------------------------------------- --set path=value


def parse_set(text: str) -> tuple[list[str], Any]:
    """`a.b.0.c=VALUE` -> (["a", "b", "0", "c"], VALUE as JSON, or the text itself when it is not JSON)."""
    path, sep, raw = text.partition("=")
    parts = path.strip().split(".")
    if not sep or not all(parts):
        raise WebhookctlError(f"--set {text}: give path=value, the path dotted (data.object.amount=500)")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return parts, value


def set_path(doc: Any, parts: Sequence[str], value: Any, shown: str) -> None:
    """Set the value at a dotted path: every step but the last must exist; the last may be a new key."""
    node = doc
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the event"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise WebhookctlError(f"--set {shown}: {where} is a list of {len(node)}: '{part}' is not an index in it")
            index: Any = int(part)
        elif isinstance(node, dict):
            if part not in node and not last:
                keys = ", ".join(sorted(node)) or "none"
                raise WebhookctlError(f"--set {shown}: '{part}' is not in {where} (its keys: {keys})")
            index = part
        else:
            raise WebhookctlError(f"--set {shown}: {where} is a {type(node).__name__}, not an object or a list")
        if last:
            node[index] = value
        else:
            node = node[index]


# --------------------------------------------------------------------------- building and sending


@dataclass(frozen=True)
class Prepared:
    """What goes to ingest: the body, its type, the provider's other headers, and the ids `sign()` takes."""

    body: bytes
    content_type: str
    headers: dict[str, str]
    event_type: str | None  # for the scheme's type header
    delivery_id: str | None  # for the scheme's id header (None: the scheme's own fresh one)
    recorded_type: str | None = None  # the event type ingest will record, when known


def build(fixture: Fixture, sets: Sequence[str] = (), now: dt.datetime | None = None) -> Prepared:
    """The fixture with fresh values, then each `--set` applied."""
    filler = Filler(now)
    doc = filler.doc(copy.deepcopy(fixture.form if fixture.form is not None else fixture.body))
    for text in sets:
        parts, value = parse_set(text)
        set_path(doc, parts, value if fixture.form is None else _form_value(value), text)
    body = urlencode(doc).encode() if fixture.form is not None else json.dumps(doc).encode("utf-8")
    headers = {k: str(filler.doc(v)) for k, v in fixture.headers.items()}
    delivery_id = filler.text(fixture.header_delivery_id) if fixture.header_delivery_id else None
    return Prepared(body=body, content_type=fixture.content_type, headers=headers,
                    event_type=fixture.header_event_type or fixture.event_type, delivery_id=delivery_id,
                    recorded_type=fixture.event_type)


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def from_file(scheme: str, path: Path, event_type: str | None) -> Prepared:
    """Your own bytes, with the provider's other headers (its catalogued ones) and EVENT_TYPE for its type header."""
    from .send import guess_content_type

    body = path.read_bytes()
    known = fixtures_for(scheme)
    headers = {k: str(v) for k, v in Filler().doc(dict(known[0].headers)).items()} if known else {}
    return Prepared(body=body, content_type=guess_content_type(body), headers=headers, event_type=event_type,
                    delivery_id=None, recorded_type=event_type)


def trigger(ws: Workspace, provider: str, event_type: str | None = None, *, sets: Sequence[str] = (),
            file: Path | None = None, redeliver: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Send one event as the provider would; ingest's answer plus what was sent."""
    from .operations import require_provider
    from .send import deliver

    config = require_provider(ws, provider)
    if redeliver is not None:
        if sets or file or event_type:
            raise WebhookctlError("--redeliver sends the earlier delivery's own bytes: give it without EVENT_TYPE, "
                                  "--set and --file")
        prepared = redelivery(ws, provider, redeliver)
    elif file is not None:
        if sets:
            raise WebhookctlError("--set changes a catalogued event: with --file, edit the file instead")
        prepared = from_file(config.scheme, file, event_type)
    else:
        prepared = build(find(config.scheme, event_type), sets)
    result = deliver(ws, provider, prepared.body, prepared.content_type, event_type=prepared.event_type,
                     delivery_id=prepared.delivery_id, headers=prepared.headers, url=url,
                     user_agent="webhookctl-trigger/0.1")
    return {**result, "event_type": prepared.recorded_type, "webhook_id": result["response"].get("webhook_id"),
            "duplicate": bool(result["response"].get("duplicate")), "redelivered": redeliver is not None}


# --------------------------------------------------------------------------- --redeliver


TYPE_SENTINEL = "webhookctl-type-sentinel"


def redelivery(ws: Workspace, provider: str, ident: str) -> Prepared:
    """An earlier delivery again: its archived bytes, content type, delivery id and type header."""
    from handlers.contract import is_webhook_id, webhook_id

    from .events import raw_event, read_delivery

    wid = ident if is_webhook_id(ident) else webhook_id(provider, ident)
    clients: dict = {}
    delivery = read_delivery(ws, wid, clients=clients)
    if delivery.record.get("provider") != provider:
        raise WebhookctlError(f"{wid} is a {delivery.record.get('provider')} delivery, not {provider}'s")
    body = raw_event(ws, wid, clients=clients)
    scheme = ws.config.providers[provider].scheme
    type_header = scheme_type_header(scheme, dict(ws.config.providers[provider].options))
    return Prepared(body=body, content_type=delivery.headers.get("content-type") or "application/json",
                    headers={}, event_type=delivery.headers.get(type_header) if type_header else None,
                    delivery_id=str(delivery.record.get("delivery_id") or "") or None,
                    recorded_type=delivery.record.get("event_type"))


def scheme_type_header(scheme: str, options: Mapping[str, Any]) -> str | None:
    """The (lower-case) header a scheme carries the event type in, if any: the one `sign()` fills with it."""
    from handlers.schemes import get, sign

    entry = get(scheme)
    headers = sign(scheme, b"{}", entry.dev_secret(), options, url="https://type.invalid/webhooks/x",
                   event_type=TYPE_SENTINEL)
    return next((name.lower() for name, value in headers.items() if value == TYPE_SENTINEL), None)
