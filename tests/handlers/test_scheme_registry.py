"""The scheme registry is the one list of schemes: every entry has test vectors, config and
`send` read it, and each scheme's sign and verify share one message builder."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from cli.send import sample_payload
from config import ConfigError, parse
from config.schema import COMMON_PROVIDER_KEYS, SCHEME_OPTIONS, SCHEMES
from fuzz_budget import examples
from handlers.schemes import REGISTRY, prepare_body, sign, verify
from handlers.schemes import ed25519
from handlers.schemes.base import DIGEST_SIZES, Headers, InvalidSignature, Outgoing, body_delivery_id
from scheme_vectors import BODY_HASH, VECTORS, signing_secret

ALL_VECTORS = [pytest.param(name, v, id=f"{name}-{i}") for name, vs in VECTORS.items() for i, v in enumerate(vs)]
RESIGNABLE = [p for p in ALL_VECTORS if p.values[1].resign]


def test_every_scheme_has_test_vectors():
    assert sorted(VECTORS) == sorted(REGISTRY)
    assert all(VECTORS[name] for name in REGISTRY)


@pytest.mark.parametrize("name,vector", ALL_VECTORS)
def test_vector_verifies_and_binds_its_body(name, vector):
    v = verify(name, vector.body, vector.headers, vector.secrets, vector.options, url=vector.url, now=vector.now)
    expected_id = body_delivery_id(vector.body) if vector.delivery_id == BODY_HASH else vector.delivery_id
    assert (v.delivery_id, v.event_type, v.secret_index) == (expected_id, vector.event_type, vector.secret_index)
    if not REGISTRY[name].signs_body:  # a shared token proves the sender only (handlers/schemes/tokens.py)
        with pytest.raises(InvalidSignature):
            verify(name, vector.body, vector.headers, ["another-token"], vector.options, url=vector.url,
                   now=vector.now)
        return
    with pytest.raises(InvalidSignature):
        verify(name, vector.body + b"x", vector.headers, vector.secrets, vector.options, url=vector.url,
               now=vector.now)


@pytest.mark.parametrize("name,vector", RESIGNABLE)
def test_signing_the_vector_reproduces_its_headers(name, vector):
    given_headers = {k.lower(): v for k, v in vector.headers.items()}
    ours = sign(name, vector.body, vector.secrets[vector.secret_index], vector.options, url=vector.url,
                now=vector.now, delivery_id=None if vector.delivery_id == BODY_HASH else vector.delivery_id,
                event_type=vector.event_type)
    shared = {k.lower(): v for k, v in ours.items() if k.lower() in given_headers}
    entry = REGISTRY[name]
    signature_header = (entry.option_headers(vector.options) or entry.headers)[0]
    assert signature_header in shared
    assert shared == {k: given_headers[k] for k in shared}


def _sample_request(name: str):
    vector = VECTORS[name][0]
    body, content_type, event_type = sample_payload(name)
    body = prepare_body(name, body, signing_secret(name))  # Graph's clientState rides in the body
    url = REGISTRY[name].post_url(vector.url or "https://hooks.example.com/webhooks/x", body, content_type)
    return body, content_type, event_type, url, vector.options


MESSAGE_SIGNED = [name for name, entry in REGISTRY.items() if entry.signs_body]


def test_token_schemes_sign_no_message():
    # A shared token is compared as is: no string-to-sign to share (handlers/schemes/tokens.py).
    assert sorted(set(REGISTRY) - set(MESSAGE_SIGNED)) == ["gitlab", "msgraph"]
    assert all(REGISTRY[name].message(None, b"body", None) == b"" for name in ("gitlab", "msgraph"))


@pytest.mark.parametrize("name", MESSAGE_SIGNED)
def test_sign_and_verify_share_one_message_builder(monkeypatch, name):
    # GIVEN the scheme's string-to-sign changed in its one place
    entry = REGISTRY[name]
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(
        entry, message=lambda signed, content, url: b"changed:" + entry.message(signed, content, url)))
    # THEN sign and verify still agree with each other...
    body, content_type, event_type, url, options = _sample_request(name)
    secret = signing_secret(name)
    headers = {"Content-Type": content_type, **sign(name, body, secret, options, url=url, event_type=event_type)}
    assert verify(name, body, headers, [secret], options, url=url).delivery_id
    # ...and both left the provider's construction: its own vector no longer verifies
    vector = VECTORS[name][0]
    with pytest.raises(InvalidSignature):
        verify(name, vector.body, vector.headers, vector.secrets, vector.options, url=vector.url, now=vector.now)


@pytest.mark.parametrize("name", REGISTRY)
def test_send_has_a_sample_for_every_scheme_that_verifies(name):
    body, content_type, event_type, url, options = _sample_request(name)
    secret = signing_secret(name)
    headers = {"Content-Type": content_type, **sign(name, body, secret, options, url=url, event_type=event_type)}
    verified = verify(name, body, headers, [secret], options, url=url)
    assert verified.event_type  # every sample says what it is
    assert sample_payload(name)[0] != body  # fresh ids each time: two samples are two deliveries


@settings(max_examples=examples(80), deadline=None)
@given(name=st.sampled_from(list(REGISTRY)), mac=st.binary(min_size=32, max_size=32),
       ts=st.integers(0, 10**12 - 1),
       message_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40))
def test_parse_undoes_render(name, mac, ts, message_id):
    entry, vector = REGISTRY[name], VECTORS[name][0]
    stamped = entry.stamp(ts, message_id, vector.options)
    signed = dataclasses.replace(stamped, signatures=(_shaped(stamped.digest, mac, message_id),))
    headers = entry.render(signed, vector.options, Outgoing("d-1", "t", vector.url or "https://x.example/a"))
    if entry.parse_body:  # the proof rides in the body (Graph's clientState)
        body = entry.embed(entry.sample().body, message_id)
        assert entry.parse_body(body, Headers(headers), vector.options) == signed
        return
    assert entry.parse(Headers(headers), vector.options) == signed


def _shaped(digest: str, mac: bytes, token: str) -> bytes:
    """A signature of the scheme's shape: a MAC's length, a well-formed Ed25519 signature, a token."""
    if digest == "token":
        return token.encode()
    if digest == "ed25519":  # R, then S reduced below the group order (a larger S is malformed)
        s = int.from_bytes(mac * 2, "little") % ed25519.L
        return mac[:31] + b"\x00" + s.to_bytes(32, "little")
    return mac[:DIGEST_SIZES[digest]]


# --------------------------------------------------------------------------- config reads the registry


def _config(scheme, **options):
    return {"project": "p", "providers": {"x": {"scheme": scheme, **options}}, "environments": {"local": {}}}


def test_config_accepts_exactly_the_registry_schemes():
    assert SCHEMES == tuple(REGISTRY)
    with pytest.raises(ConfigError) as err:
        parse(_config("strype"))
    assert err.value.problems == [f"providers.x.scheme: must be one of: {', '.join(REGISTRY)}"]


@pytest.mark.parametrize("name", REGISTRY)
def test_config_takes_each_scheme_options_from_its_entry(name):
    entry = REGISTRY[name]
    examples = {o.name: o.example for o in entry.options}
    assert dict(parse(_config(name, **examples)).providers["x"].options) == examples
    assert SCHEME_OPTIONS[name] == entry.option_names
    with pytest.raises(ConfigError) as err:
        parse(_config(name, **examples, bogus=1))
    expected = ", ".join(sorted(COMMON_PROVIDER_KEYS | entry.option_names))
    assert err.value.problems == [f"providers.x.bogus: unknown field (expected one of: {expected})"]
    for option in entry.options:
        with pytest.raises(ConfigError) as err:
            parse(_config(name, **{**examples, option.name: 12345}))
        assert err.value.problems == [f"providers.x.{option.name}: must be {option.expect}"]
        without = {k: v for k, v in examples.items() if k != option.name}
        if option.required:
            with pytest.raises(ConfigError) as err:
                parse(_config(name, **without))
            assert err.value.problems == [f"providers.x.{option.name}: required for scheme {name}: {option.expect}"]
        else:
            assert parse(_config(name, **without)).providers["x"].options.get(option.name) == option.default


def test_adding_a_scheme_is_one_entry(monkeypatch):
    # GIVEN one new entry in the registry (here: GitHub's construction under another name)
    monkeypatch.setitem(REGISTRY, "toy", dataclasses.replace(REGISTRY["github"], name="toy"))
    # THEN config accepts it, send has its sample, and it signs and verifies
    assert parse(_config("toy")).providers["x"].scheme == "toy"
    body, content_type, event_type = sample_payload("toy")
    headers = sign("toy", body, "s3cret", event_type=event_type)
    assert verify("toy", body, headers, ["s3cret"]).event_type == "push"


@pytest.mark.parametrize("name", REGISTRY)
def test_dev_secrets_are_usable_by_their_scheme(name):
    # `webhookctl dev` stores these for providers without a secret, so `send` works at once
    value = REGISTRY[name].dev_secret()
    assert REGISTRY[name].check_secret(value) is None and value != REGISTRY[name].dev_secret()
    body, content_type, event_type = sample_payload(name)
    body = prepare_body(name, body, value)
    options = VECTORS[name][0].options
    url = REGISTRY[name].post_url("https://hooks.example.com/webhooks/x", body, content_type)
    headers = {"Content-Type": content_type, **sign(name, body, value, options, url=url, event_type=event_type)}
    assert verify(name, body, headers, [value], options, url=url).event_type
