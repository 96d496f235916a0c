"""Handshakes through ingest (moto): answered in the provider's form only when its proof holds,
storing and enqueuing nothing; and, where a handshake carries no proof, nothing to gain from it.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from handler_harness import api_event
from handlers import ingest
from handlers.schemes.base import ECHO_HEADERS
from test_providers import answer, call, hooks, request, stored_nothing, with_header, without  # noqa: F401
from scheme_vectors import signing_secret


def get(scheme: str, query: dict[str, str] | None, method: str = "GET") -> dict:
    event = api_event(scheme, b"", {}, query=query)
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    if query is None:
        event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    return call(event)


def assert_inert_echo(response: dict, value: str) -> None:
    assert (response["statusCode"], response["body"]) == (200, value)
    assert response["headers"] == ECHO_HEADERS  # text/plain, nosniff, no-store, sandboxing CSP


# --------------------------------------------------------------------------- signed POST handshakes


def test_zoom_url_validation_answers_the_encrypted_token_once_signed(hooks):
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
                       "event_ts": 1654503849680}).encode()
    response = call(request("zoom", body))
    expected = hmac.new(signing_secret("zoom").encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert answer(call(request("zoom", body, secret="forged")))[0] == 401
    stored_nothing(hooks)


def test_twitch_callback_verification_echoes_the_challenge_once_signed(hooks):
    body = json.dumps({"challenge": "pogchamp-kappa-360noscope-vohiyo",
                       "subscription": {"id": "f1c2a387", "type": "channel.follow"}}).encode()
    kind = {"Twitch-Eventsub-Message-Type": "webhook_callback_verification"}
    assert_inert_echo(call(request("twitch", body, headers=kind)), "pogchamp-kappa-360noscope-vohiyo")
    assert answer(call(request("twitch", body, headers=kind, secret="forged")))[0] == 401
    hostile = json.dumps({"challenge": "<script>alert(1)</script>"}).encode()
    assert answer(call(request("twitch", hostile, headers=kind)))[1]["error"] == "malformed_body"
    stored_nothing(hooks)


def test_twitch_revocations_are_stored_as_revocation(hooks):
    kind = {"Twitch-Eventsub-Message-Type": "revocation"}
    status, doc = answer(call(request("twitch", headers=kind)))
    assert status == 202 and hooks.item(doc["webhook_id"])["event_type"] == "revocation"


def test_discord_ping_is_answered_pong_once_signed(hooks):
    response = call(request("discord", b'{"id": "1", "type": 1}'))
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"type": 1})
    assert answer(call(request("discord", b'{"id": "1", "type": 1}', secret="ed25519-seed:" + "42" * 32)))[0] == 401
    stored_nothing(hooks)


def test_discord_interactions_are_deferred_with_our_answer_in_a_header(hooks):
    response = call(request("discord"))
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"type": 5})
    assert json.loads(response["headers"]["X-Webhookctl-Reply"])["status"] == "queued"


def test_xero_intent_to_receive_is_200_when_signed_and_401_when_not(hooks):
    itr = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "XKSPDDHKOE"})
    good = call(request("xero", itr.encode()))
    assert (good["statusCode"], good["body"]) == (200, "")
    assert call(request("xero", itr.encode(), secret="wrong-key"))["statusCode"] == 401
    stored_nothing(hooks)


def test_asana_heartbeat_is_answered_and_not_stored(hooks):
    assert answer(call(request("asana", b'{"events": []}'))) == (200, {"status": "heartbeat"})
    stored_nothing(hooks)


# --------------------------------------------------------------------------- GET handshakes


def test_meta_challenge_needs_the_verify_token(hooks):
    good = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "example verify token"}
    assert_inert_echo(get("meta", good), "1158201444")
    for bad in ({**good, "hub.verify_token": "guess"}, {**good, "hub.mode": "unsubscribe"},
                {k: v for k, v in good.items() if k != "hub.verify_token"}):
        response = get("meta", bad)
        assert response["statusCode"] == 401 and "1158201444" not in response["body"]
    stored_nothing(hooks)


def test_meta_challenge_is_refused_without_a_configured_token(hooks, monkeypatch):
    table = dict(hooks.providers)
    table["meta"] = {k: v for k, v in table["meta"].items() if k != "verify_token_sha256"}
    monkeypatch.setenv("PROVIDERS_FILE", str(hooks.write_providers(table)))
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ""}
    assert get("meta", query)["statusCode"] == 401


def test_dropbox_challenge_is_an_inert_echo(hooks):
    assert_inert_echo(get("dropbox", {"challenge": "eMmQ8LKG5PcmQxN0aBJk"}), "eMmQ8LKG5PcmQxN0aBJk")
    for hostile in ("<html><script>alert(1)</script>", "a" * 257, "line\r\nSet-Cookie: x=1", ""):
        response = get("dropbox", {"challenge": hostile})
        assert response["statusCode"] == 400 and (not hostile or hostile not in response["body"])
    status, doc = answer(get("dropbox", None))
    assert (status, doc["error"]) == (400, "not_a_handshake")
    stored_nothing(hooks)


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_methods_beyond_the_handshake_are_405(hooks, method):
    response = get("dropbox", {"challenge": "abc"}, method=method)
    assert (response["statusCode"], response["headers"]["Allow"]) == (405, "POST, GET")
    assert get("zoom", {"challenge": "abc"}, method="GET")["headers"]["Allow"] == "POST"


# --------------------------------------------------------------------------- unsigned POST handshakes


def test_graph_validation_token_is_an_inert_echo(hooks):
    token = "Validation: Testing client application reachability for subscription Request-Id: 3d1e2b1c"
    assert_inert_echo(call(api_event("msgraph", b"", {"Content-Type": "text/plain"},
                                     query={"validationToken": token})), token)
    for hostile in ("x" * 1025, "a\nb", "\u00e9t\u00e9"):
        response = call(api_event("msgraph", b"", {}, query={"validationToken": hostile}))
        assert response["statusCode"] == 400 and hostile not in response["body"]
    stored_nothing(hooks)


def test_woocommerce_unsigned_ping_is_answered_and_nothing_else(hooks):
    ping = api_event("woocommerce", b"webhook_id=42", {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer(call(ping)) == (200, {"status": "ping"})
    for other in (b"webhook_id=42&x=1", b"webhook_id=", b"order=1"):
        event = api_event("woocommerce", other, {"Content-Type": "application/x-www-form-urlencoded"})
        assert answer(call(event))[1]["error"] == "missing_signature"
    stored_nothing(hooks)


SETUP = "setup_" + "5f0c1e7a" * 5
HOOK_SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"


def asana_handshake(secret: str = HOOK_SECRET, setup: str | None = SETUP) -> dict:
    return call(api_event("asana", b"", {"X-Hook-Secret": secret}, query={"setup": setup} if setup else None))


def test_asana_handshake_with_the_setup_token_captures_the_secret_once(hooks):
    # GIVEN the operator stored a one-time setup token (and still has an older secret active)
    hooks.set_secret("asana", [SETUP, "older-secret"])
    # WHEN Asana's handshake arrives at the target URL that carries it
    response = asana_handshake()
    # THEN X-Hook-Secret is echoed and replaces the token; deliveries signed with it verify
    assert response["statusCode"] == 200 and response["headers"]["X-Hook-Secret"] == HOOK_SECRET
    assert hooks.sm.get_secret_value(SecretId="webhooks-test/providers/asana")["SecretString"] == json.dumps(
        {"secrets": [HOOK_SECRET, "older-secret"]})
    assert answer(call(request("asana", secret=HOOK_SECRET)))[0] == 202
    # AND the token is spent: a replayed handshake (another secret) is refused and changes nothing
    replay = asana_handshake(secret="attacker-chosen-secret")
    assert replay["statusCode"] == 401 and "X-Hook-Secret" not in replay["headers"]
    assert json.loads(hooks.sm.get_secret_value(SecretId="webhooks-test/providers/asana")["SecretString"])[
        "secrets"] == [HOOK_SECRET, "older-secret"]


@pytest.mark.parametrize("setup", [None, "setup_" + "0" * 40, "older-secret"], ids=["none", "wrong", "a-secret"])
def test_asana_handshake_without_the_setup_token_sets_nothing(hooks, setup):
    hooks.set_secret("asana", [SETUP, "older-secret"])
    response = asana_handshake(setup=setup)
    assert response["statusCode"] == 401 and "X-Hook-Secret" not in response["headers"]
    assert json.loads(hooks.sm.get_secret_value(SecretId="webhooks-test/providers/asana")["SecretString"])[
        "secrets"] == [SETUP, "older-secret"]
    stored_nothing(hooks)


def test_asana_setup_token_never_verifies_a_signature(hooks):
    # GIVEN a delivery signed with the setup token as if it were the key
    hooks.set_secret("asana", [SETUP])
    body = b'{"events": [{"action": "added"}]}'
    mac = hmac.new(SETUP.encode(), body, hashlib.sha256).hexdigest()
    # THEN it does not verify: a setup token only ever proves a handshake
    response = call(api_event("asana", body, {"X-Hook-Signature": mac}))
    assert answer(response) == (401, {"error": "invalid_signature", "message": "no active secret"})


def test_asana_hook_secret_with_a_header_break_is_400(hooks):
    hooks.set_secret("asana", [SETUP])
    assert asana_handshake(secret="abc\r\nSet-Cookie: x=1")["statusCode"] == 400
    assert json.loads(hooks.sm.get_secret_value(SecretId="webhooks-test/providers/asana")["SecretString"])[
        "secrets"] == [SETUP]


def test_capture_failure_is_503_so_asana_retries(hooks, faults):
    from handler_harness import client_error

    hooks.set_secret("asana", [SETUP])
    faults.fail("PutSecretValue", client_error("PutSecretValue"))
    response = asana_handshake()
    assert response["statusCode"] == 503 and "X-Hook-Secret" not in response["headers"]


def test_handshakes_are_logged_as_handshakes(hooks, capsys):
    get("dropbox", {"challenge": "abc"})
    assert '"outcome":"handshake"' in capsys.readouterr().out
    _ = ingest, without, with_header
