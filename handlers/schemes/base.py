"""What every signature scheme is made of, and the checks the schemes share.

A scheme is one `Scheme` entry (see `handlers/schemes/__init__.py` for the
registry and the one `verify` / `sign` that run every entry). The entry holds
its header names, its config options, a cheap header parser, the message
builder (the string-to-sign, used by both sign and verify), the header
renderer (the parser's inverse), delivery id and event type extraction, an
optional handshake, its response format and a sample payload for `send`.

Standard library only: this package ships in the Lambda zip.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets as secrets_module
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..contract import POINTER_FIELD_MAX_CHARS

# --------------------------------------------------------------------------- bounds on hostile input
# Form parameters parsed from one body. Providers send a few dozen (Twilio's messaging request:
# ~20 plus two per media item, at most 10 media; voice and WhatsApp add ~20 more; Slack's slash
# commands ~15): https://www.twilio.com/docs/messaging/guides/webhook-request . 1,000 leaves
# room for the parameters Twilio adds "without advance notice", and parse_qsl refuses more by
# counting separators before it parses anything (max_num_fields).
MAX_FORM_FIELDS = 1000
# Strings-to-sign built for one request: URL spellings (port as given / without / with the
# default, as twilio-python's RequestValidator tries) x query spellings (`+` or `%20`). Each
# is MACed once per active secret, so this bounds a forged request's work at the body limit.
MAX_SIGNED_MESSAGES = 4
# Ids and event types are copied into the record, the queue message and the published event:
# a longer id is replaced by a hash of it, a longer event type is dropped (contract).
MAX_ID_CHARS = POINTER_FIELD_MAX_CHARS
# Where a URL-signed scheme's stored metadata records the URL that verified.
SIGNED_URL_HEADER = "x-webhookctl-signed-url"


# --------------------------------------------------------------------------- errors


class SignatureError(Exception):
    """A request to reject; `.status` and `.code` are the HTTP answer. Messages never echo values."""

    status = 401
    code = "invalid_signature"


class MissingHeader(SignatureError):
    status = 400
    code = "missing_signature"


class MalformedHeader(SignatureError):
    status = 400
    code = "malformed_signature"


class MalformedBody(SignatureError):
    status = 400
    code = "malformed_body"


class InvalidSignature(SignatureError):
    status = 401
    code = "invalid_signature"


class StaleTimestamp(SignatureError):
    status = 401
    code = "stale_timestamp"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Verified:
    delivery_id: str
    event_type: str | None
    timestamp: int | None = None
    # The header values needed to re-verify (lower-case names).
    signed_headers: Mapping[str, str] = field(default_factory=dict)
    # Index of the secret that matched (0 = newest); useful for rotation metrics.
    secret_index: int = 0


@dataclass(frozen=True)
class Signed:
    """What a request's signature headers say (parsed), or will say (signing)."""

    signatures: tuple[bytes, ...] = ()
    timestamp: int | None = None
    message_id: str | None = None  # signed with the body (Standard Webhooks' webhook-id)
    digest: str = "sha256"  # hashlib name of the HMAC's hash; "token" / "ed25519" for schemes with a `check`
    # The timestamp exactly as sent, where the string-to-sign uses its text (HubSpot's
    # milliseconds, Twitch's RFC 3339); `timestamp` is then its unix seconds, for the tolerance.
    stamp_text: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """What `sign()` puts in the headers besides the signature."""

    delivery_id: str
    event_type: str | None
    url: str | None


@dataclass(frozen=True)
class Sample:
    """A realistic body for `webhookctl send`."""

    body: bytes
    content_type: str
    event_type: str | None = None  # for schemes that carry the type in a header


@dataclass(frozen=True)
class Response:
    """One HTTP answer; `proxy()` is the API Gateway Lambda proxy response."""

    status: int
    body: str
    headers: Mapping[str, str]

    def proxy(self) -> dict[str, Any]:
        return {"statusCode": self.status, "headers": dict(self.headers), "body": self.body}


def json_response(status: int, doc: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    """The default format: the contract's JSON documents."""
    return Response(status, json.dumps(doc, separators=(",", ":")),
                    {"Content-Type": "application/json", **(headers or {})})


@dataclass(frozen=True)
class Option:
    """A scheme's config option (besides scheme, ordering_key, tolerance_seconds)."""

    name: str
    expect: str  # what a valid value is: the config error names it
    check: Callable[[Any], bool]
    example: Any
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class HandshakeRequest:
    method: str
    headers: "Headers"
    query: Mapping[str, str]
    body: bytes
    options: Mapping[str, Any]
    secrets: tuple[str, ...]  # the provider's active secrets (a proof may be an HMAC of them)
    verified: Verified | None  # a POST handshake runs once the signature held; GET/HEAD ones before
    # Asana's handshake only: replace the active setup token `old` with the captured secret `new`
    # (ingest's Secrets Manager write; None where nothing may be written).
    store_secret: Callable[[str, str], None] | None = None


@dataclass(frozen=True)
class Handshake:
    """A provider's endpoint check, answered as it documents; it stores and enqueues nothing.

    `methods`: POST handshakes (Slack `url_verification`) are answered after the
    signature checks, from a signed body; GET / HEAD ones carry their own proof
    and make those methods allowed for the scheme. `answer` returns None when
    the request is not the handshake (a POST then goes on to be stored).
    `unsigned`: asked BEFORE any signature check, for the handshakes that carry
    no signature (GET / HEAD, Asana's X-Hook-Secret POST, Graph's validationToken
    POST); each must check its own proof or limits, and returns None when the
    request is not that handshake (a POST then goes on to be verified).
    """

    methods: tuple[str, ...]
    answer: Callable[[HandshakeRequest], Response | None] | None = None
    unsigned: Callable[[HandshakeRequest], Response | None] | None = None


# An echo of an unauthenticated value (Dropbox's `challenge`, Graph's `validationToken`) must not
# become reflected content: plain text, never sniffed as HTML, never cached, bounded, printable.
ECHO_MAX_CHARS = 1024
ECHO_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; sandbox"}


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def echo_response(value: Any, max_chars: int = ECHO_MAX_CHARS, *, token: bool = False) -> Response:
    """200 text/plain with `value` exactly; 400 when it is not 1..max_chars of printable ASCII
    (with `token`: of letters, digits and `-._~` only, for providers whose challenges are tokens)."""
    if not (isinstance(value, str) and 0 < len(value) <= max_chars and value.isascii() and value.isprintable()
            and (not token or _TOKEN_CHARS.issuperset(value))):
        raise MalformedBody("the handshake value is not 1-%d printable ASCII characters" % max_chars)
    return Response(200, value, dict(ECHO_HEADERS))


# --------------------------------------------------------------------------- the entry


def _no_ids(body: bytes, headers: "Headers", signed: Signed, options: Mapping[str, Any]):
    return None, None


@dataclass(frozen=True)
class Scheme:
    """One signature scheme: everything config, ingest and `send` need to know about it."""

    name: str
    # Lower-case header names a stored delivery needs to be re-verified.
    headers: tuple[str, ...]
    # Cheap: presence and shape of the signature headers, no body work. Raises 400s.
    parse: Callable[["Headers", Mapping[str, Any]], Signed]
    # The string-to-sign from the parsed (or signing) fields, the signed content and URL.
    message: Callable[[Signed, bytes, str | None], bytes]
    # The headers a provider sends: the parser's inverse (plus id and type headers).
    render: Callable[[Signed, Mapping[str, Any], Outgoing], dict[str, str]]
    # The fields `sign()` stamps: (unix now, delivery id or None, options) -> Signed.
    stamp: Callable[[int, str | None, Mapping[str, Any]], Signed]
    sample: Callable[[], Sample]
    # (body, headers, parsed, options) -> (delivery id, event type); after the signature held.
    identify: Callable[[bytes, "Headers", Signed, Mapping[str, Any]], tuple[Any, Any]] = _no_ids
    options: tuple[Option, ...] = ()
    # Header names that depend on the options (the generic scheme's), also kept to re-verify.
    option_headers: Callable[[Mapping[str, Any]], tuple[str, ...]] = lambda options: ()
    # The part of the body that is signed (Twilio: the sorted form parameters), given one URL.
    content: Callable[[bytes, "Headers", str | None], bytes] = lambda body, headers, url: body
    # URL-signed schemes: (URL spellings of the request, options) -> the URLs to try, in order
    # (a configured public URL replaces the request's here).
    targets: Callable[[Sequence[str], Mapping[str, Any]], list[str]] | None = None
    # The URL a provider posts a body to (Twilio adds `bodySHA256` for non-form bodies): `send`.
    post_url: Callable[[str, bytes, str], str] = lambda url, body, content_type: url
    # A secret as configured -> the HMAC key, or None when it cannot be one.
    key: Callable[[str | bytes], bytes | None] = lambda secret: utf8(secret)
    # What `webhookctl secrets set` says about a value it refuses (None: any non-empty line).
    check_secret: Callable[[str], str | None] = lambda value: None
    handshake: Handshake | None = None
    # (status, the contract's JSON document) -> the answer in the provider's format.
    respond: Callable[[int, Mapping[str, Any]], Response] = json_response
    # Schemes whose proof is not an HMAC (Ed25519, a shared token): (key, message, one sent
    # signature) -> whether it holds, and (secret, message) -> the signature `sign()` sends.
    check: Callable[[Any, bytes, bytes], bool] | None = None
    signer: Callable[[str, bytes], bytes] | None = None
    # Schemes whose proof rides in the body (Graph's clientState): parse it from there instead of
    # `parse` (bounded work: see the scheme), and put it there when `sign()`ing a sample (`embed`).
    parse_body: Callable[[bytes, "Headers", Mapping[str, Any]], Signed] | None = None
    embed: Callable[[bytes, str], bytes] | None = None
    # Checks of the signed body once the signature held (Linear's webhookTimestamp): (body, options, now).
    after: Callable[[bytes, Mapping[str, Any], float | None], None] | None = None
    # False where the provider's proof does not cover the body (a shared token: GitLab, Graph).
    signs_body: bool = True
    # True where the handshake delivers the secret (Asana): ingest may then write this provider's
    # secret (PutSecretValue, granted by the stack for these providers only), once per setup token.
    captures_secret: bool = False
    # An emulator-only secret for `webhookctl dev` (a provider with none gets one).
    dev_secret: Callable[[], str] = lambda: secrets_module.token_hex(24)

    @property
    def signs_url(self) -> bool:
        return self.targets is not None

    @property
    def option_names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options)

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods ingest accepts for this scheme (anything else: 405)."""
        extra = self.handshake.methods if self.handshake else ()
        return ("POST",) + tuple(m for m in extra if m != "POST")


# --------------------------------------------------------------------------- shared checks


class Headers:
    """Case-insensitive, read-only view of request headers."""

    def __init__(self, headers: Mapping[str, Any] | None):
        self._h = {str(k).lower(): ("" if v is None else str(v)) for k, v in (headers or {}).items()}

    def get(self, name: str) -> str | None:
        value = self._h.get(name.lower())
        return value.strip() if value is not None else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise MissingHeader(f"missing header {name}")
        return value

    def subset(self, names: Iterable[str]) -> dict[str, str]:
        return {n.lower(): self._h[n.lower()] for n in names if n and n.lower() in self._h}


def utf8(value: str | bytes) -> bytes:
    """Text as UTF-8; a lone surrogate (from a JSON `\\ud800` escape) never raises."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def unix_timestamp(value: str) -> int:
    """Unix seconds: ASCII digits only (`²` and `¹²³` pass str.isdigit() but not int())."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise MalformedHeader("timestamp is not unix seconds")
    return int(value)


def check_tolerance(ts: int, tolerance: int, now: float | None) -> None:
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise StaleTimestamp("timestamp outside the tolerance window")


def b64decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def hexdecode(value: str) -> bytes | None:
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        return None


DIGEST_SIZES = {"sha1": 20, "sha256": 32, "ed25519": 64}


def sized(decoded: bytes | None, digest: str = "sha256") -> bytes | None:
    """The decoded signature when it has the digest's length: anything else can never match."""
    if decoded is not None and len(decoded) == DIGEST_SIZES[digest]:
        return decoded
    return None


def one_signature(h: Headers, name: str, decode: Callable[[str], bytes | None], shape: str,
                  digest: str = "sha256") -> Signed:
    """A scheme's one signature header: present (else 400 missing), decoding to a MAC of the digest's size."""
    decoded = sized(decode(h.require(name)), digest)
    if decoded is None:
        raise MalformedHeader(f"{name} is {shape}")
    return Signed(signatures=(decoded,), digest=digest)


def v0_signature(h: Headers, header: str, timestamp_header: str, shown: str | None = None) -> Signed:
    """Slack's header pair, which Zoom copies: `<header>: v0=<hex>` and unix seconds in `timestamp_header`
    (each required first; then the signature's shape, named `shown` in the error)."""
    value = h.require(header)
    ts = unix_timestamp(h.require(timestamp_header))
    decoded = sized(prefixed("v0=", hexdecode)(value))
    if decoded is None:
        raise MalformedHeader(f"{shown or header} is v0=<hex>")
    return Signed(signatures=(decoded,), timestamp=ts)


def prefixed(prefix: str, decode: Callable[[str], bytes | None]) -> Callable[[str], bytes | None]:
    """A decoder for `<prefix><encoded>` values (GitHub's `sha256=<hex>`)."""
    return lambda value: decode(value[len(prefix):]) if value.startswith(prefix) else None


def json_doc(body: bytes) -> Any:
    """The parsed body, or None: not JSON, or nested too deep to parse (then opaque bytes)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def str_field(obj: Any, *path: str) -> str | None:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    if isinstance(obj, (str, int)) and not isinstance(obj, bool) and str(obj):
        return str(obj)
    return None


def body_delivery_id(body: bytes) -> str:
    """The fallback delivery id when a provider sends none."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def clean_delivery_id(value: Any, body: bytes) -> str:
    """The provider's id; a hash of it when too long; the body's hash when there is none or it is not text."""
    if not isinstance(value, str) or not value or not _encodable(value):
        return body_delivery_id(body)
    if len(value) > MAX_ID_CHARS:
        return body_delivery_id(value.encode("utf-8"))
    return value


def clean_event_type(value: Any) -> str | None:
    if isinstance(value, str) and value and len(value) <= MAX_ID_CHARS and _encodable(value):
        return value
    return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- option checks


def is_header_name(value: Any) -> bool:
    # RFC 9110 field names are tokens; these are the characters providers use.
    return isinstance(value, str) and 0 < len(value) <= 64 and all(c.isascii() and (c.isalnum() or c == "-")
                                                                    for c in value)


def is_https_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) > len("https://")
