"""Webhook signature schemes: verify() for ingest, sign() for `webhookctl send`.

Standard library only. Every verifier works on the RAW body bytes, accepts a
list of active secrets (rotation), compares in constant time
(`hmac.compare_digest`) and, where the scheme signs a timestamp, rejects it
outside `tolerance_seconds` in BOTH directions (stale and future).

    verify(scheme, body, headers, secrets, options, url=None, now=None) -> Verified
    sign(scheme, body, secret, options, url=None, now=None, delivery_id=None,
         event_type=None) -> dict of headers to send
    webhook_id(provider, delivery_id) -> str

Errors: `MissingHeader` / `MalformedHeader` (HTTP 400), `InvalidSignature` /
`StaleTimestamp` (HTTP 401); all subclass `SignatureError` and carry
`.status` and `.code`. Messages never echo header values or secrets.

Delivery ids (design.md): the provider's own id when it sends one, otherwise
`sha256:<hex>` of the signed content, which for every scheme here is the raw
body (so a byte-identical redelivery deduplicates even when the provider
re-signs it with a fresh timestamp).

Scheme notes:
- stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=...][,v0=...]`, HMAC-SHA256
  of `<ts>.<body>`; v0 (test-mode legacy) is ignored; id/type from the body.
- github: `X-Hub-Signature-256: sha256=<hex>` of the body.
- shopify: `X-Shopify-Hmac-Sha256: <base64>` of the body.
- slack: `X-Slack-Signature: v0=<hex>` of `v0:<ts>:<body>`,
  `X-Slack-Request-Timestamp`.
- standard (Standard Webhooks / Svix): `webhook-id`, `webhook-timestamp`,
  `webhook-signature: v1,<b64> [v1,<b64> ...]` of `<id>.<ts>.<body>`; the
  secret is `whsec_<base64 key>`. The `svix-*` header names are accepted too.
- twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` of the public URL followed
  by the form parameters sorted by name (name+value, values sorted); or, when
  the URL carries `bodySHA256`, of the URL alone, with sha256(body) == that
  value. HMAC-SHA256 when `X-Twilio-Webhooks-Signature-Settings` says so.
  The URL is tried as given, without its port and with the default port, as
  Twilio's own RequestValidator does.
- paddle: `Paddle-Signature: ts=<ts>;h1=<hex>[;h1=...]` of `<ts>:<body>`.
- square: `x-square-hmacsha256-signature: <base64>` of `<notification url><body>`.
- hmac-sha256 (generic): options `header` (required), `encoding` hex|base64,
  `prefix` (e.g. `sha256=`), `id_header`, `event_type_header`, and
  `timestamp_header`: when set, the header carries unix seconds and the
  signed message is `<ts>.<body>` (tolerance applies).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from .contract import DEFAULT_TOLERANCE_SECONDS, webhook_id  # noqa: F401  (re-exported)

# Headers (lower case) each scheme needs to re-verify a stored payload; ingest
# copies them into the S3 object's metadata. Never logged.
SIGNATURE_HEADERS: dict[str, tuple[str, ...]] = {
    "stripe": ("stripe-signature",),
    "github": ("x-hub-signature-256", "x-github-delivery", "x-github-event"),
    "shopify": ("x-shopify-hmac-sha256", "x-shopify-webhook-id", "x-shopify-topic"),
    "slack": ("x-slack-signature", "x-slack-request-timestamp"),
    "standard": (
        "webhook-id", "webhook-timestamp", "webhook-signature",
        "svix-id", "svix-timestamp", "svix-signature",
    ),
    "twilio": (
        "x-twilio-signature", "i-twilio-idempotency-token",
        "x-twilio-webhooks-signature-settings",
    ),
    "paddle": ("paddle-signature",),
    "square": ("x-square-hmacsha256-signature",),
    "hmac-sha256": (),  # from the options: header, id_header, timestamp_header, event_type_header
}


# --------------------------------------------------------------------------- errors


class SignatureError(Exception):
    status = 401
    code = "invalid_signature"


class MissingHeader(SignatureError):
    status = 400
    code = "missing_signature"


class MalformedHeader(SignatureError):
    status = 400
    code = "malformed_signature"


class InvalidSignature(SignatureError):
    status = 401
    code = "invalid_signature"


class StaleTimestamp(SignatureError):
    status = 401
    code = "stale_timestamp"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Verified:
    delivery_id: str
    event_type: str | None
    timestamp: int | None = None
    # The header values needed to re-verify (lower-case names).
    signed_headers: Mapping[str, str] = field(default_factory=dict)
    # Index of the secret that matched (0 = newest); useful for rotation metrics.
    secret_index: int = 0


def body_delivery_id(body: bytes) -> str:
    """The fallback delivery id when a provider sends none."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


# --------------------------------------------------------------------------- helpers


class _Headers:
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


def _mac(key: bytes, message: bytes, digest=hashlib.sha256) -> bytes:
    return hmac.new(key, message, digest).digest()


def _key(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def _check_tolerance(ts: int, tolerance: int, now: float | None) -> None:
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise StaleTimestamp("timestamp outside the tolerance window")


def _int_timestamp(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or len(value) > 12:
        raise MalformedHeader("timestamp is not unix seconds")
    return int(value)


def _b64decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _hexdecode(value: str) -> bytes | None:
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        return None


def _match(candidates: list[bytes], secrets: list[bytes], compute: Callable[[bytes], Iterable[bytes]]) -> int:
    """Index of the first secret whose computed MAC equals a candidate, else raise.

    Every candidate is compared against every secret (constant time per compare).
    """
    if not secrets:
        raise InvalidSignature("no active secret")
    for index, secret in enumerate(secrets):
        for expected in compute(secret):
            for candidate in candidates:
                if hmac.compare_digest(expected, candidate):
                    return index
    raise InvalidSignature("signature does not match")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _str_field(obj: Any, *path: str) -> str | None:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    if isinstance(obj, (str, int)) and not isinstance(obj, bool) and str(obj):
        return str(obj)
    return None


# --------------------------------------------------------------------------- verifiers
# Each verifier: (body, headers, secrets as bytes, options, url, now, tolerance) -> Verified


def _timestamped_hex(header: str, separator: str, ts_name: str, sig_name: str, label: str) -> tuple[int, list[bytes]]:
    """Parse `t=<ts>,v1=<hex>,v1=...` (Stripe) or `ts=<ts>;h1=<hex>` (Paddle); unknown items are ignored."""
    ts: int | None = None
    signatures: list[bytes] = []
    for item in header.split(separator):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise MalformedHeader(f"{label} items are name=value")
        if name == ts_name:
            ts = _int_timestamp(value)
        elif name == sig_name:
            decoded = _hexdecode(value)
            if decoded is not None:
                signatures.append(decoded)
    if ts is None or not signatures:
        raise MalformedHeader(f"{label} needs {ts_name}= and at least one {sig_name}=")
    return ts, signatures


def _verify_stripe(body, h, secrets, options, url, now, tolerance):
    ts, v1 = _timestamped_hex(h.require("stripe-signature"), ",", "t", "v1", "Stripe-Signature")
    _check_tolerance(ts, tolerance, now)
    message = str(ts).encode() + b"." + body
    index = _match(v1, secrets, lambda k: [_mac(k, message)])
    doc = _json(body)
    return Verified(
        delivery_id=_str_field(doc, "id") or body_delivery_id(body),
        event_type=_str_field(doc, "type"),
        timestamp=ts,
        signed_headers=h.subset(SIGNATURE_HEADERS["stripe"]),
        secret_index=index,
    )


def _verify_github(body, h, secrets, options, url, now, tolerance):
    header = h.require("x-hub-signature-256")
    algo, sep, hexsig = header.partition("=")
    decoded = _hexdecode(hexsig) if sep and algo == "sha256" else None
    if decoded is None or len(decoded) != 32:
        raise MalformedHeader("X-Hub-Signature-256 is sha256=<hex>")
    index = _match([decoded], secrets, lambda k: [_mac(k, body)])
    return Verified(
        delivery_id=h.get("x-github-delivery") or body_delivery_id(body),
        event_type=h.get("x-github-event") or None,
        signed_headers=h.subset(SIGNATURE_HEADERS["github"]),
        secret_index=index,
    )


def _verify_shopify(body, h, secrets, options, url, now, tolerance):
    decoded = _b64decode(h.require("x-shopify-hmac-sha256"))
    if decoded is None or len(decoded) != 32:
        raise MalformedHeader("X-Shopify-Hmac-Sha256 is base64 of 32 bytes")
    index = _match([decoded], secrets, lambda k: [_mac(k, body)])
    return Verified(
        delivery_id=h.get("x-shopify-webhook-id") or body_delivery_id(body),
        event_type=h.get("x-shopify-topic") or None,
        signed_headers=h.subset(SIGNATURE_HEADERS["shopify"]),
        secret_index=index,
    )


def _slack_ids(body: bytes) -> tuple[str | None, str | None]:
    doc = _json(body)
    if isinstance(doc, dict):  # Events API
        return _str_field(doc, "event_id"), _str_field(doc, "event", "type") or _str_field(doc, "type")
    try:  # slash commands and interactivity are form-encoded
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None, None
    if "payload" in form:
        return None, _str_field(_json(form["payload"].encode()), "type")
    return None, form.get("command") or None


def _verify_slack(body, h, secrets, options, url, now, tolerance):
    header = h.require("x-slack-signature")
    ts = _int_timestamp(h.require("x-slack-request-timestamp"))
    version, sep, hexsig = header.partition("=")
    decoded = _hexdecode(hexsig) if sep and version == "v0" else None
    if decoded is None:
        raise MalformedHeader("X-Slack-Signature is v0=<hex>")
    _check_tolerance(ts, tolerance, now)
    message = b"v0:" + str(ts).encode() + b":" + body
    index = _match([decoded], secrets, lambda k: [_mac(k, message)])
    event_id, event_type = _slack_ids(body)
    return Verified(
        delivery_id=event_id or body_delivery_id(body),
        event_type=event_type,
        timestamp=ts,
        signed_headers=h.subset(SIGNATURE_HEADERS["slack"]),
        secret_index=index,
    )


def standard_key(secret: str | bytes) -> bytes | None:
    """The HMAC key of a Standard Webhooks secret (`whsec_<base64>`), None if invalid."""
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8", "replace")
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    try:  # the reference SDK tolerates missing padding
        key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _verify_standard(body, h, secrets, options, url, now, tolerance):
    prefix = "webhook" if h.get("webhook-signature") or not h.get("svix-signature") else "svix"
    msg_id = h.require(f"{prefix}-id")
    ts = _int_timestamp(h.require(f"{prefix}-timestamp"))
    signatures: list[bytes] = []
    for item in h.require(f"{prefix}-signature").split(" "):
        version, sep, value = item.partition(",")
        if sep and version == "v1":
            decoded = _b64decode(value)
            if decoded is not None:
                signatures.append(decoded)
    if not signatures:
        raise MalformedHeader("webhook-signature has no v1,<base64> entry")
    _check_tolerance(ts, tolerance, now)
    keys = [k for k in (standard_key(s) for s in secrets) if k]
    message = f"{msg_id}.{ts}.".encode() + body
    index = _match(signatures, keys, lambda k: [_mac(k, message)])
    return Verified(
        delivery_id=msg_id,
        event_type=_str_field(_json(body), "type"),
        timestamp=ts,
        signed_headers=h.subset(SIGNATURE_HEADERS["standard"]),
        secret_index=index,
    )


def _candidates(url: str | Iterable[str] | None) -> list[str]:
    """`url` may be one URL or several spellings of it (e.g. query encodings)."""
    if not url:
        return []
    return [url] if isinstance(url, str) else [u for u in url if u]


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port, and with the scheme's default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password:
        return [url]
    bare = urlunsplit(parts._replace(netloc=host))
    default = 443 if parts.scheme == "https" else 80
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    out: list[str] = []
    for u in (url, bare, with_port):
        if u not in out:
            out.append(u)
    return out


def _twilio_params(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    if content_type is not None and "application/x-www-form-urlencoded" not in content_type.lower():
        if body.strip():  # without bodySHA256 only form parameters are signed
            raise InvalidSignature("body is not covered by the signature")
        return []
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise MalformedHeader("form body is not UTF-8") from None


def _twilio_string_to_sign(url: str, params: list[tuple[str, str]]) -> bytes:
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    s = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    return s.encode("utf-8")


def _twilio_digest(h: _Headers):
    settings = h.get("x-twilio-webhooks-signature-settings") or ""
    for part in settings.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm":
            algo = value.strip().upper()
            if algo == "HMAC_SHA256":
                return hashlib.sha256
            if algo != "HMAC_SHA1":
                raise MalformedHeader("unsupported Twilio signature algorithm")
    return hashlib.sha1


def _verify_twilio(body, h, secrets, options, url, now, tolerance):
    decoded = _b64decode(h.require("x-twilio-signature"))
    digest = _twilio_digest(h)
    if decoded is None or len(decoded) != digest().digest_size:
        raise MalformedHeader("X-Twilio-Signature is base64 of an HMAC")
    urls = _candidates(url)
    if not urls:
        raise MalformedHeader("cannot reconstruct the signed URL")
    url = urls[0]
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:  # JSON (and other non-form) bodies
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), query["bodySHA256"][0].lower()):
            raise InvalidSignature("bodySHA256 does not match the body")
        params: list[tuple[str, str]] = []
        doc = _json(body)
    else:
        params = _twilio_params(body, h.get("content-type"))
        doc = dict(params)
    messages = [_twilio_string_to_sign(v, params) for u in urls for v in _url_variants(u)]
    index = _match([decoded], secrets, lambda k: [_mac(k, m, digest) for m in messages])
    event_type = None
    for name in ("EventType", "MessageStatus", "SmsStatus", "CallStatus", "type"):
        event_type = _str_field(doc, name)
        if event_type:
            break
    return Verified(
        delivery_id=h.get("i-twilio-idempotency-token") or body_delivery_id(body),
        event_type=event_type,
        signed_headers={**h.subset(SIGNATURE_HEADERS["twilio"]), "x-webhookctl-signed-url": url},
        secret_index=index,
    )


def _verify_paddle(body, h, secrets, options, url, now, tolerance):
    ts, h1 = _timestamped_hex(h.require("paddle-signature"), ";", "ts", "h1", "Paddle-Signature")
    _check_tolerance(ts, tolerance, now)
    message = str(ts).encode() + b":" + body
    index = _match(h1, secrets, lambda k: [_mac(k, message)])
    doc = _json(body)
    return Verified(
        delivery_id=_str_field(doc, "event_id") or _str_field(doc, "notification_id") or body_delivery_id(body),
        event_type=_str_field(doc, "event_type"),
        timestamp=ts,
        signed_headers=h.subset(SIGNATURE_HEADERS["paddle"]),
        secret_index=index,
    )


def _verify_square(body, h, secrets, options, url, now, tolerance):
    decoded = _b64decode(h.require("x-square-hmacsha256-signature"))
    if decoded is None or len(decoded) != 32:
        raise MalformedHeader("x-square-hmacsha256-signature is base64 of 32 bytes")
    targets = _candidates(options.get("notification_url") or url)
    if not targets:
        raise MalformedHeader("cannot reconstruct the notification URL")
    target = targets[0]
    messages = [t.encode("utf-8") + body for t in targets]
    index = _match([decoded], secrets, lambda k: [_mac(k, m) for m in messages])
    doc = _json(body)
    return Verified(
        delivery_id=_str_field(doc, "event_id") or body_delivery_id(body),
        event_type=_str_field(doc, "type"),
        signed_headers={**h.subset(SIGNATURE_HEADERS["square"]), "x-webhookctl-signed-url": target},
        secret_index=index,
    )


def _generic_headers(options: Mapping[str, Any]) -> tuple[str, ...]:
    names = [options.get(k) for k in ("header", "id_header", "timestamp_header", "event_type_header")]
    return tuple(n.lower() for n in names if isinstance(n, str) and n)


def _verify_generic(body, h, secrets, options, url, now, tolerance):
    header_name = options.get("header") or "X-Webhook-Signature"
    value = h.require(header_name)
    prefix = options.get("prefix") or ""
    if prefix:
        if not value.startswith(prefix):
            raise MalformedHeader(f"{header_name} must start with its prefix")
        value = value[len(prefix):]
    decoded = _b64decode(value) if options.get("encoding") == "base64" else _hexdecode(value)
    if decoded is None or len(decoded) != 32:
        raise MalformedHeader(f"{header_name} is not an encoded HMAC-SHA256")
    ts = None
    message = body
    if options.get("timestamp_header"):
        ts = _int_timestamp(h.require(options["timestamp_header"]))
        _check_tolerance(ts, tolerance, now)
        message = str(ts).encode() + b"." + body
    index = _match([decoded], secrets, lambda k: [_mac(k, message)])
    id_header = options.get("id_header")
    type_header = options.get("event_type_header")
    return Verified(
        delivery_id=(h.get(id_header) if id_header else None) or body_delivery_id(body),
        event_type=(h.get(type_header) if type_header else None) or None,
        timestamp=ts,
        signed_headers=h.subset(_generic_headers(options)),
        secret_index=index,
    )


_VERIFIERS = {
    "stripe": _verify_stripe,
    "github": _verify_github,
    "shopify": _verify_shopify,
    "slack": _verify_slack,
    "standard": _verify_standard,
    "twilio": _verify_twilio,
    "paddle": _verify_paddle,
    "square": _verify_square,
    "hmac-sha256": _verify_generic,
}
SCHEMES = tuple(_VERIFIERS)


def verify(
    scheme: str,
    body: bytes,
    headers: Mapping[str, Any],
    secrets: Iterable[str | bytes],
    options: Mapping[str, Any] | None = None,
    *,
    url: str | Iterable[str] | None = None,
    now: float | None = None,
) -> Verified:
    """Verify one request; raise a SignatureError subclass when it must be rejected.

    `url` is the public URL the provider requested (twilio, square), or a list
    of its possible spellings (tried in turn); `now` overrides the clock (unix
    seconds) for tests.
    """
    try:
        verifier = _VERIFIERS[scheme]
    except KeyError:
        raise ValueError(f"unknown signature scheme {scheme!r}") from None
    options = options or {}
    tolerance = int(options.get("tolerance_seconds") or DEFAULT_TOLERANCE_SECONDS)
    if isinstance(body, str):
        body = body.encode("utf-8")
    keys = [_key(s) for s in secrets if s]
    return verifier(bytes(body), _Headers(headers), keys, options, url, now, tolerance)


# --------------------------------------------------------------------------- signing


def twilio_json_url(url: str, body: bytes | str) -> str:
    """The URL Twilio requests for a JSON body: `bodySHA256` appended to the query."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode({'bodySHA256': hashlib.sha256(body).hexdigest()})}"


def sign(
    scheme: str,
    body: bytes | str,
    secret: str,
    options: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    now: float | None = None,
    delivery_id: str | None = None,
    event_type: str | None = None,
) -> dict[str, str]:
    """Headers a provider using `scheme` would send with `body`, signed with `secret`.

    `url`: the public URL the request goes to (twilio, square; for a Twilio
    JSON body pass `twilio_json_url(url, body)` and POST to that URL).
    `delivery_id` / `event_type` fill the provider's id and type headers where
    the scheme carries them in headers (random uuid / `ping` by default).
    """
    options = options or {}
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    key = _key(secret)
    ts = int(time.time() if now is None else now)
    did = delivery_id or str(uuid.uuid4())
    etype = event_type or "ping"

    if scheme == "stripe":
        mac = _mac(key, str(ts).encode() + b"." + data).hex()
        return {"Stripe-Signature": f"t={ts},v1={mac}"}
    if scheme == "github":
        return {
            "X-Hub-Signature-256": "sha256=" + _mac(key, data).hex(),
            "X-GitHub-Delivery": did,
            "X-GitHub-Event": etype,
        }
    if scheme == "shopify":
        return {
            "X-Shopify-Hmac-Sha256": base64.b64encode(_mac(key, data)).decode(),
            "X-Shopify-Webhook-Id": did,
            "X-Shopify-Topic": event_type or "app/ping",
        }
    if scheme == "slack":
        mac = _mac(key, b"v0:" + str(ts).encode() + b":" + data).hex()
        return {"X-Slack-Signature": "v0=" + mac, "X-Slack-Request-Timestamp": str(ts)}
    if scheme == "standard":
        skey = standard_key(secret)
        if skey is None:
            raise ValueError("a Standard Webhooks secret is whsec_<base64>")
        msg_id = delivery_id or "msg_" + uuid.uuid4().hex
        mac = _mac(skey, f"{msg_id}.{ts}.".encode() + data)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        }
    if scheme == "twilio":
        if not url:
            raise ValueError("twilio signs the public URL: pass url=")
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            params: list[tuple[str, str]] = []
            content_type = "application/json"
        else:
            params = parse_qsl(data.decode("utf-8"), keep_blank_values=True)
            content_type = "application/x-www-form-urlencoded"
        mac = _mac(key, _twilio_string_to_sign(url, params), hashlib.sha1)
        return {
            "X-Twilio-Signature": base64.b64encode(mac).decode(),
            "I-Twilio-Idempotency-Token": did,
            "Content-Type": content_type,
        }
    if scheme == "paddle":
        mac = _mac(key, str(ts).encode() + b":" + data).hex()
        return {"Paddle-Signature": f"ts={ts};h1={mac}"}
    if scheme == "square":
        target = options.get("notification_url") or url
        if not target:
            raise ValueError("square signs the notification URL: pass url= or set notification_url")
        mac = _mac(key, target.encode("utf-8") + data)
        return {"x-square-hmacsha256-signature": base64.b64encode(mac).decode()}
    if scheme == "hmac-sha256":
        message = data
        headers: dict[str, str] = {}
        if options.get("timestamp_header"):
            headers[options["timestamp_header"]] = str(ts)
            message = str(ts).encode() + b"." + data
        raw = _mac(key, message)
        encoded = base64.b64encode(raw).decode() if options.get("encoding") == "base64" else raw.hex()
        headers[options.get("header") or "X-Webhook-Signature"] = (options.get("prefix") or "") + encoded
        if options.get("id_header"):
            headers[options["id_header"]] = did
        if options.get("event_type_header"):
            headers[options["event_type_header"]] = etype
        return headers
    raise ValueError(f"unknown signature scheme {scheme!r}")
