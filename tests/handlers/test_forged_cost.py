"""A forged request's work is bounded, whatever it carries (issue 9 item 5).

Counted, not timed (bench/bench_forged.py measures the CPU): the form
parameters parsed, the strings-to-sign built and the MACs computed for the
worst forged request of every scheme at the body limit.
"""
from __future__ import annotations

import base64
import dataclasses
import hmac
import time
import types
from urllib.parse import quote

import pytest

import handlers.schemes as schemes_module
from handlers.schemes import MAX_FORM_FIELDS, MAX_SIGNED_MESSAGES, REGISTRY, sign, verify
from handlers.schemes import ed25519, url_signed
from handlers.schemes.base import MalformedBody, SignatureError
from scheme_vectors import VECTORS

BODY_LIMIT = 1_048_576
SECRETS = ["newest-secret", "previous-secret"]  # `secrets set --keep-previous` keeps two active
# Every spelling ingest could hand over, and more: verify must cap them itself.
URLS = [f"https://hooks.example.com:8443/prod/webhooks/x?note={quote('a b', safe=s)}&n={i}"
        for i, s in enumerate(["", "+", "%", "/", "=", "&", ":", "@"])]


@pytest.fixture
def counted(monkeypatch):
    """Counts of form parameters parsed, strings-to-sign built and MACs computed."""
    counts = {"form_fields": 0, "messages": 0, "macs": 0}
    real_parse = url_signed.parse_qsl

    def parse_qsl(*args, **kwargs):
        fields = real_parse(*args, **kwargs)
        counts["form_fields"] += len(fields)
        return fields

    def mac(key, message, digest):
        counts["macs"] += 1
        return hmac.new(key, message, digest)

    monkeypatch.setattr(url_signed, "parse_qsl", parse_qsl)
    monkeypatch.setattr(schemes_module, "hmac", types.SimpleNamespace(new=mac, compare_digest=hmac.compare_digest))
    for name, entry in REGISTRY.items():
        def message(signed, content, url, _build=entry.message):
            counts["messages"] += 1
            return _build(signed, content, url)
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(entry, message=message))
    return counts


def _forged_headers(name: str) -> dict[str, str]:
    """Well-formed signature headers (right shape and length, fresh timestamp) with a wrong MAC."""
    vector = VECTORS[name][0]
    body = b"{}" if name != "twilio" else b"a=1"
    guess = {"standard": "whsec_" + "A" * 43, "discord": "ed25519-seed:" + "11" * 32}.get(name, "attacker-guess")
    headers = sign(name, body, guess, vector.options, url=URLS[0], now=time.time())
    return {"Content-Type": "application/x-www-form-urlencoded" if name == "twilio" else "application/json",
            **{k: v for k, v in headers.items() if k.lower() != "content-type"}}


def _bodies(name: str) -> dict[str, bytes]:
    """The worst bodies at the limit: one big value, the most parameters, the parameter bound exactly."""
    most = b"&".join(b"a=%d" % (i % 10) for i in range(BODY_LIMIT // 4))
    at_bound = b"&".join(b"p%04d=" % i + b"v" * (BODY_LIMIT // MAX_FORM_FIELDS - 8) for i in range(MAX_FORM_FIELDS))
    return {"big value": b'{"v": "' + b"x" * (BODY_LIMIT - 9) + b'"}', "most parameters": most[:BODY_LIMIT],
            "parameters at the bound": at_bound}


def _secrets(name: str) -> list[str]:
    """Two active secrets of the scheme's form (Discord's are public keys: each is a real verification)."""
    if name == "standard":
        return ["whsec_" + base64.b64encode(s.encode()).decode() for s in SECRETS]
    if name == "discord":
        return [ed25519.public_from_seed(bytes([n]) * 32).hex() for n in (1, 2)]
    return SECRETS


@pytest.mark.parametrize("name", REGISTRY)
def test_a_forged_request_builds_few_strings_to_sign(counted, name):
    secrets = _secrets(name)
    options = VECTORS[name][0].options
    for shape, body in _bodies(name).items():
        headers = _forged_headers(name)
        before = dict(counted)
        with pytest.raises(SignatureError):
            verify(name, body, headers, secrets, options, url=URLS)
        messages = counted["messages"] - before["messages"]
        assert messages <= MAX_SIGNED_MESSAGES, shape
        assert counted["macs"] - before["macs"] <= messages * len(secrets), shape
        assert counted["form_fields"] - before["form_fields"] <= MAX_FORM_FIELDS, shape


def test_a_forged_twilio_form_with_262000_parameters_parses_none(counted):
    # GIVEN the forged request: 1 MB, 262,000 parameters, a well-formed X-Twilio-Signature
    body = b"&".join(b"a=%d" % (i % 10) for i in range(262_000))
    assert len(body) <= BODY_LIMIT
    headers = _forged_headers("twilio")
    counted.update(form_fields=0, messages=0, macs=0)
    # THEN it is a 400 before a single parameter is parsed or a string-to-sign is built
    with pytest.raises(MalformedBody) as err:
        verify("twilio", body, headers, SECRETS, url=URLS[0])
    assert err.value.status == 400
    assert counted == {"form_fields": 0, "messages": 0, "macs": 0}


def test_the_cheap_checks_come_before_any_body_work(counted):
    # A missing or malformed signature header, or a stale timestamp, costs no body work at all.
    body = b"&".join(b"a=%d" % (i % 10) for i in range(MAX_FORM_FIELDS))
    stale = sign("stripe", b"{}", "s", now=time.time() - 3600)
    counted.update(form_fields=0, messages=0, macs=0)
    for headers in ({}, {"X-Twilio-Signature": "c2hvcnQ="}, {"X-Twilio-Signature": "%%%"}):
        with pytest.raises(SignatureError):
            verify("twilio", body, headers, SECRETS, url=URLS[0])
    with pytest.raises(SignatureError):
        verify("stripe", b"x" * BODY_LIMIT, stale, SECRETS)
    assert counted == {"form_fields": 0, "messages": 0, "macs": 0}
