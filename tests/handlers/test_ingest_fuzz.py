"""Property-based fuzz of ingest over the API Gateway event (issue 9).

Whatever the request (headers in any case, repeated, unicode; bodies as bytes,
text, JSON of any shape and depth, forms, base64 or not; any path, provider
name and method), the answer is a well-formed proxy response. Unless the
request is validly signed it is 400, 401, 404, 405 or 413, and the table, the
bucket and the queue are exactly as before. A validly signed one is stored
once (202) or is a duplicate or a handshake (200, nothing new stored). Every
scheme of the committed config is fuzzed with and without a valid signature.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_budget import examples
from handler_harness import HOST, SECRETS, api_event, provider_configs
from handlers import ingest
from handlers.schemes import REGISTRY, sign
from handlers.schemes.base import SignatureError

PROVIDERS = provider_configs()
REJECTED = {400, 401, 404, 405, 413}
BODY_LIMIT = 250_000  # MAX_BODY_BYTES here: a 100,000-deep JSON body (200 kB) fits, a 300 kB one does not
FUZZ = settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Every header name a scheme reads, plus what the URL-signed schemes rebuild the URL from.
KNOWN_HEADERS = sorted({h for s in REGISTRY.values() for h in s.headers} | {
    "host", "content-type", "x-forwarded-proto", "x-provider-id", "x-webhook-signature", "x-webhook-id",
    "x-webhook-event"})
HOSTILE_VALUES = ["²", "¹²³", "t=²,v1=00", "v0=zz", "sha256=", "v1,", "[abc", "h:99999", "ts=1;h1=" + "0" * 64,
                  "application/x-www-form-urlencoded", "application/json", "http", "\x00", "é" * 50]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([100, 1_000, 100_000]).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from([3, 2_000]).map(lambda n: b"&".join(b"p%d=v" % i for i in range(n))),
    st.just(b'{"type": "url_verification", "challenge": "ch4llenge"}'),
    st.just(b"x" * 300_000),
)
header_names = st.sampled_from(KNOWN_HEADERS) | st.text(min_size=1, max_size=20)
header_values = st.sampled_from(HOSTILE_VALUES) | st.text(max_size=60)
extra_headers = st.dictionaries(header_names.map(lambda n: n.upper() if len(n) % 2 else n), header_values,
                                max_size=5)


@pytest.fixture
def fuzz_pipeline(pipeline, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", str(BODY_LIMIT))
    return pipeline


def _stored(pipeline) -> tuple[int, int, int]:
    return pipeline.ddb.scan(TableName=pipeline.table)["Count"], len(pipeline.objects()), pipeline.queue_depth()


def _check(pipeline, event: dict[str, Any], valid: bool) -> None:
    before = _stored(pipeline)
    response = ingest.handler(event, None)
    assert set(response) == {"statusCode", "headers", "body"}
    assert isinstance(response["statusCode"], int) and isinstance(response["body"], str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())
    status, after = response["statusCode"], _stored(pipeline)
    if not valid:
        assert status in REJECTED, (status, response["body"])
        assert after == before
    elif status == 202:
        assert tuple(a - b for a, b in zip(after, before)) == (1, 1, 1)
    else:  # a redelivery, or Slack's url_verification
        assert status == 200 and after == before, (status, response["body"])


def _event(provider: str, body: bytes, headers: dict[str, str], query: dict[str, str] | None,
           base64_body: bool) -> dict[str, Any]:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        base64_body = True  # API Gateway passes non-UTF-8 bodies base64-encoded (binary media types)
    return api_event(provider, body, headers, query=query, base64_body=base64_body)


def _signed_headers(provider: str, body: bytes, secret: str) -> tuple[dict[str, str], dict[str, str] | None]:
    """A provider's headers (and query) for body; SignatureError/ValueError when the scheme cannot sign it."""
    config = PROVIDERS[provider]
    scheme = REGISTRY[config["scheme"]]
    url = f"https://{HOST}/prod/webhooks/{provider}"
    query = None
    if scheme.signs_url:
        try:
            body.decode("utf-8")
            form = b"=" in body and not body.lstrip().startswith((b"{", b"["))
        except UnicodeDecodeError:
            form = False
        signed_url = scheme.post_url(url, body, "application/x-www-form-urlencoded" if form else "application/json")
        if "bodySHA256=" in signed_url:
            query = {"bodySHA256": hashlib.sha256(body).hexdigest()}
        return sign(config["scheme"], body, secret, config, url=signed_url), query
    return sign(config["scheme"], body, secret, config, url=url), query


def _try_sign(provider: str, body: bytes, secret: str) -> tuple[dict[str, str], dict[str, str] | None, bool]:
    try:
        return (*_signed_headers(provider, body, secret), True)
    except (SignatureError, ValueError):  # e.g. a form over the parameter bound: Twilio cannot sign it
        return {}, None, False


def _signature_header(provider: str) -> str:
    scheme = REGISTRY[PROVIDERS[provider]["scheme"]]
    return (scheme.option_headers(PROVIDERS[provider]) or scheme.headers)[0]


BREAKS = ["append_byte", "wrong_secret", "drop_signature", "hostile_signature"]
WRONG_SECRETS = {"svix": "whsec_" + base64.b64encode(b"wrong-secret-of-32-bytes-long!!!").decode()}


@FUZZ
@given(body=bodies, extra=extra_headers, base64_body=st.booleans(),
       breaks=st.sampled_from([None, None] + BREAKS), hostile=header_values)
def test_signed_requests_for_every_scheme(fuzz_pipeline, body, extra, base64_body, breaks, hostile):
    for provider in sorted(PROVIDERS):
        secret = WRONG_SECRETS.get(provider, "wrong-secret") if breaks == "wrong_secret" else SECRETS[provider]
        headers, query, signable = _try_sign(provider, body, secret)
        names = {n.lower() for n in headers} | {"host", "content-type", "x-forwarded-proto"}
        others = {k: v for k, v in extra.items() if k.lower() not in names}
        signature_header = _signature_header(provider)
        if breaks in ("drop_signature", "hostile_signature"):
            headers = {k: v for k, v in headers.items() if k.lower() != signature_header}
        if breaks == "hostile_signature":
            headers[signature_header] = hostile
        event = _event(provider, body + (b"\x00" if breaks == "append_byte" else b""), {**others, **headers}, query,
                       base64_body)
        _check(fuzz_pipeline, event, valid=signable and breaks is None and len(body) <= BODY_LIMIT)


@FUZZ
@given(body=bodies, headers=extra_headers, repeated=extra_headers, base64_body=st.booleans(),
       query=st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3))
def test_unsigned_requests_for_every_scheme(fuzz_pipeline, body, headers, repeated, base64_body, query):
    for provider in sorted(PROVIDERS):
        event = _event(provider, body, headers, query, base64_body)
        for name, value in repeated.items():  # the same header again, in another case, with other values
            event["multiValueHeaders"].setdefault(name.swapcase(), []).extend([value, value[::-1]])
        _check(fuzz_pipeline, event, valid=False)


@settings(FUZZ, max_examples=examples(40))
@given(provider=st.sampled_from(sorted(PROVIDERS)) | st.text(max_size=40),
       route=st.sampled_from(["provider", "seed", "other"]), path=st.text(max_size=40),
       method=st.sampled_from(["POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "post", ""]),
       body=bodies, signed=st.booleans(), raw_body=st.none() | st.text(max_size=40))
def test_any_route_method_and_provider_name(fuzz_pipeline, provider, route, path, method, body, signed, raw_body):
    known = provider in PROVIDERS
    headers, query, signable = _try_sign(provider, body, SECRETS[provider]) if known and signed else ({}, None, False)
    event = _event(provider if known else "stripe", body, headers, query, base64_body=False)
    if raw_body is not None:  # what API Gateway would never send: the base64 flag on any text, or text as is
        event["body"], event["isBase64Encoded"] = raw_body, bool(len(raw_body) % 2)
    event["httpMethod"] = method
    if route == "seed":
        event.update(resource="/webhook", path="/webhook", pathParameters=None)
        event["headers"]["X-Provider-ID"] = provider
        event["requestContext"]["path"] = "/prod/webhook"
    elif route == "other":
        event.update(resource="/" + path, path="/" + path, pathParameters=None)
    else:
        event["pathParameters"] = {"provider": provider}
    # The original route carries the provider in a header; a URL-signed scheme signed the other path.
    routed = route == "provider" or (route == "seed" and not REGISTRY[PROVIDERS[provider]["scheme"]].signs_url) \
        if known else False
    valid = signable and routed and method.upper() in ("POST", "") and raw_body is None and len(body) <= BODY_LIMIT
    _check(fuzz_pipeline, event, valid=valid)
