"""The pure-Python Ed25519 verifier (handlers/schemes/ed25519.py) against RFC 8032 and two
independent implementations (libsodium through PyNaCl, OpenSSL through `cryptography`), and
its refusals: malformed, non-canonical and small-order input rejected before any curve arithmetic.
"""
from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings, strategies as st
from nacl.signing import SigningKey

from fuzz_budget import examples
from handlers.schemes import ed25519, verify
from handlers.schemes.base import InvalidSignature, SignatureError

# RFC 8032 section 7.1, TEST 1, 2 and 3: (secret key, public key, message, signature).
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.mark.parametrize("seed,public,message,signature", RFC8032, ids=["TEST1", "TEST2", "TEST3"])
def test_rfc8032_vectors(seed, public, message, signature):
    seed, public, message, signature = (bytes.fromhex(v) for v in (seed, public, message, signature))
    assert ed25519.public_from_seed(seed) == public
    assert ed25519.sign(seed, message) == signature
    key = ed25519.public_key(public)
    assert ed25519.verify(key, message, signature)
    assert not ed25519.verify(key, message + b"x", signature)
    assert not ed25519.verify(key, message, signature[:-1] + bytes([signature[-1] ^ 1]))


@settings(max_examples=examples(40), deadline=None)
@given(message=st.binary(max_size=300), seed=st.binary(min_size=32, max_size=32))
def test_signatures_made_by_libsodium_verify(message, seed):
    signing = SigningKey(seed)
    signature = signing.sign(message).signature
    key = ed25519.public_key(signing.verify_key.encode())
    assert ed25519.verify(key, message, signature)
    assert ed25519.sign(seed, message) == signature  # deterministic: the same bytes
    assert not ed25519.verify(key, message + b"\0", signature)


def test_signatures_made_by_openssl_verify():
    for size in (0, 1, 64, 1000, 70_000):
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        message = bytes(range(256)) * (size // 256) + b"m" * (size % 256)
        assert ed25519.verify(ed25519.public_key(public), message, private.sign(message))


def test_a_malleable_signature_is_refused():
    # S + L verifies the same equation; RFC 8032 5.1.7 requires S < L (libsodium refuses it too)
    seed, public, message, signature = (bytes.fromhex(v) for v in RFC8032[0])
    s = int.from_bytes(signature[32:], "little") + ed25519.L
    assert ed25519.parse_signature(signature[:32] + s.to_bytes(32, "little")) is None
    assert not ed25519.verify(ed25519.public_key(public), message, signature[:32] + s.to_bytes(32, "little"))


def test_non_canonical_and_small_order_keys_never_verify():
    identity = (1).to_bytes(32, "little")  # the neutral point: small order
    non_canonical = (ed25519.P + 1).to_bytes(32, "little")  # y >= p
    not_on_curve = (2).to_bytes(32, "little")  # no x with y = 2
    for encoded in (identity, non_canonical, not_on_curve, b"\x01" * 31):
        assert ed25519.public_key(encoded) is None
    assert ed25519.parse_signature((ed25519.P + 1).to_bytes(32, "little") + bytes(32)) is None  # R's y >= p


DISCORD_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


@pytest.fixture
def curve_calls(monkeypatch):
    """Counts the curve operations the verifier performs."""
    counts = {"ops": 0}
    for name in ("add", "double"):
        real = getattr(ed25519, name)

        def counted(*args, _real=real):
            counts["ops"] += 1
            return _real(*args)
        monkeypatch.setattr(ed25519, name, counted)
    ed25519.public_key(bytes.fromhex(DISCORD_KEY))  # the key's table exists already in a warm container
    counts["ops"] = 0
    return counts


@pytest.mark.parametrize("headers,error", [
    ({"X-Signature-Timestamp": "1700000000"}, "missing_signature"),
    ({"X-Signature-Ed25519": "ab" * 64}, "missing_signature"),
    ({"X-Signature-Ed25519": "ab" * 63, "X-Signature-Timestamp": "1700000000"}, "malformed_signature"),
    ({"X-Signature-Ed25519": "zz" * 64, "X-Signature-Timestamp": "1700000000"}, "malformed_signature"),
    ({"X-Signature-Ed25519": "00" * 32 + "ff" * 32, "X-Signature-Timestamp": "1700000000"}, "malformed_signature"),
    ({"X-Signature-Ed25519": "ff" * 32 + "00" * 32, "X-Signature-Timestamp": "1700000000"}, "malformed_signature"),
    ({"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "17000000O0"}, "malformed_signature"),
    ({"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "1600000000"}, "stale_timestamp"),
], ids=["no signature", "no timestamp", "short", "not hex", "S >= L", "R not canonical", "timestamp not digits",
        "stale"])
def test_refusals_come_before_any_curve_arithmetic(curve_calls, headers, error):
    with pytest.raises(SignatureError) as err:
        verify("discord", b"{}" * 1000, headers, [DISCORD_KEY], now=1700000000)
    assert err.value.code == error
    assert curve_calls["ops"] == 0


def test_a_well_formed_forgery_costs_two_table_walks_and_no_doubling(curve_calls):
    signature = "00" * 32 + "01" + "00" * 31  # R = 0 (canonical), S = 1
    with pytest.raises(InvalidSignature):
        verify("discord", b"x", {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(int(time.time()))},
               [DISCORD_KEY])
    assert 0 < curve_calls["ops"] <= 2 * 64 + 1  # [S]B and [k]A', one addition per non-zero nibble
