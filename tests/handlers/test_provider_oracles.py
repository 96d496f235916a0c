"""Providers' own SDKs as signing oracles (test-only dependencies, pinned in pyproject.toml).

- HubSpot: hubspot-api-client's `Signature` (v3) signs; ingest verifies. Ours signs; it verifies.
- Discord: discord-interactions' `verify_key` (PyNaCl) checks our signatures; PyNaCl and
  `cryptography` sign interactions that ingest verifies.
The other new providers publish no SDK on PyPI that signs or verifies webhooks (GitLab,
Bitbucket, Meta, Twitch, ... verify by hand in their docs); their vectors are in
scheme_vectors.py, and test_providers.py covers them through ingest.
"""
from __future__ import annotations

import json
import time

import discord_interactions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hubspot.utils.signature import Signature
from nacl.signing import SigningKey

from handler_harness import api_event, url_for
from handlers.schemes import sign, verify
from test_providers import answer, call, hooks  # noqa: F401

HUBSPOT_SECRET = "hubspot-client-secret"


def test_hubspot_sdk_signed_requests_verify():
    body = '[{"eventId":7,"subscriptionType":"deal.propertyChange","attemptNumber":1,"objectId":1}]'
    url = "https://hooks.example.com/prod/webhooks/hubspot?a=b%3Ac&d=e%2Ff"
    now = str(int(time.time() * 1000))
    # HubSpot signs the URI with %3A and %2F decoded (its docs' table)
    sdk = Signature.get_signature(HUBSPOT_SECRET, body, "v3", "https://hooks.example.com/prod/webhooks/hubspot"
                                  "?a=b:c&d=e/f", "POST", now)
    headers = {"X-HubSpot-Signature-v3": sdk, "X-HubSpot-Request-Timestamp": now}
    assert verify("hubspot", body, headers, [HUBSPOT_SECRET], url=url).delivery_id == "7"


def test_our_hubspot_signatures_satisfy_the_sdk():
    body = '[{"eventId":8,"subscriptionType":"contact.creation"}]'
    url = "https://hooks.example.com/prod/webhooks/hubspot"
    headers = sign("hubspot", body, HUBSPOT_SECRET, url=url)
    assert Signature.is_valid(headers["X-HubSpot-Signature-v3"], HUBSPOT_SECRET, body, url, "POST", "v3",
                              headers["X-HubSpot-Request-Timestamp"])


def test_hubspot_sdk_signed_request_through_ingest(hooks):
    body = '[{"eventId":9,"subscriptionType":"contact.deletion","attemptNumber":0}]'
    now = str(int(time.time() * 1000))
    signature = Signature.get_signature("hubspot-client-secret", body, "v3", url_for("hubspot"), "POST", now)
    hooks.set_secret("hubspot", ["hubspot-client-secret"])
    event = api_event("hubspot", body, {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": now,
                                        "Content-Type": "application/json"})
    status, doc = answer(call(event))
    assert status == 202 and hooks.item(doc["webhook_id"])["delivery_id"] == "9"


SEED = bytes(range(32))


def test_discord_interactions_verifies_our_signatures():
    body = b'{"id":"42","type":2}'
    headers = sign("discord", body, "ed25519-seed:" + SEED.hex())
    public = SigningKey(SEED).verify_key.encode().hex()
    assert discord_interactions.verify_key(body, headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"],
                                           public)


def test_interactions_signed_by_libsodium_and_openssl_pass_ingest(hooks):
    private = Ed25519PrivateKey.generate()
    openssl_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nacl = SigningKey(SEED)
    # GIVEN two active public keys (rotation), neither of them a test seed
    hooks.set_secret("discord", [nacl.verify_key.encode().hex(), openssl_public.hex()])
    for n, signer in enumerate((lambda m: nacl.sign(m).signature, private.sign)):
        body = json.dumps({"id": f"11798592811175608{n}", "type": 3, "data": {"custom_id": "ok"}}).encode()
        ts = str(int(time.time()))
        event = api_event("discord", body, {"X-Signature-Ed25519": signer(ts.encode() + body).hex(),
                                            "X-Signature-Timestamp": ts, "Content-Type": "application/json"})
        status, doc = answer(call(event))
        assert status == 200 and hooks.item(doc["webhook_id"])["event_type"] == "MESSAGE_COMPONENT"
        # a PING signed the same way is answered PONG
        ping = b'{"type":1}'
        event = api_event("discord", ping, {"X-Signature-Ed25519": signer(ts.encode() + ping).hex(),
                                            "X-Signature-Timestamp": ts})
        assert json.loads(call(event)["body"]) == {"type": 1}
