"""Providers' handshakes end to end through `webhookctl dev` (one `dev` for the module).

GIVEN the committed config plus one provider per scheme with a handshake, deployed to the
emulator by a real `webhookctl dev`, THEN each handshake is answered as its provider
documents it, over HTTP through the local API Gateway, only when its proof holds, the
methods beyond it are 405, and nothing is stored or enqueued.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import boto3
import pytest

from handlers.schemes import sign
from config import load
from dev_harness import committed_config, serve_dev
from test_dev import cli

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

VERIFY_TOKEN = "e2e-verify-token"
HANDSHAKE_PROVIDERS = f'''
[providers.zoom]
scheme = "zoom"

[providers.whatsapp]
scheme = "meta"
verify_token_sha256 = "{hashlib.sha256(VERIFY_TOKEN.encode()).hexdigest()}"

[providers.twitch]
scheme = "twitch"

[providers.dropbox]
scheme = "dropbox"

[providers.asana]
scheme = "asana"

[providers.graph]
scheme = "msgraph"

[providers.xero]
scheme = "xero"

[providers.discord]
scheme = "discord"

[providers.woocommerce]
scheme = "woocommerce"
'''
SETUP = "setup_" + "e2e0" * 10
HOOK_SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_root):
    folder = tmp_path_factory.mktemp("handshakes-project")
    (folder / "webhookctl.toml").write_text(committed_config(project_root, HANDSHAKE_PROVIDERS))
    return folder


@pytest.fixture(scope="module")
def dev(project):
    yield from serve_dev(project)


@pytest.fixture(scope="module")
def runtime(project, dev):
    return json.loads((project / ".webhookctl" / "dev-local.json").read_text())


@pytest.fixture(scope="module")
def aws(runtime):
    def client(service):
        return boto3.client(service, endpoint_url=runtime["emulator"], region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def secret_of(aws, provider: str) -> list[str]:
    value = aws("secretsmanager").get_secret_value(SecretId=f"webhooks-local/providers/{provider}")["SecretString"]
    return json.loads(value)["secrets"]


def http(runtime, provider: str, *, method: str = "POST", body: bytes = b"", headers=None, query: str = ""):
    """(status, headers, body) of one request to `webhookctl dev`."""
    url = f"{runtime['url']}/webhooks/{provider}" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers or {},
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def signed(aws, runtime, provider: str, scheme: str, body: bytes, extra=None, secret=None):
    key = secret or secret_of(aws, provider)[0]
    url = f"{runtime['url']}/webhooks/{provider}"
    return http(runtime, provider, body=body, headers={"Content-Type": "application/json", **sign(
        scheme, body, key, url=url, now=time.time()), **(extra or {})})


def test_zoom_url_validation(aws, runtime):
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}})
    status, _, answer = signed(aws, runtime, "zoom", "zoom", body.encode())
    token = hmac.new(secret_of(aws, "zoom")[0].encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert (status, json.loads(answer)) == (200, {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": token})
    assert signed(aws, runtime, "zoom", "zoom", body.encode(), secret="forged")[0] == 401


def test_meta_get_challenge(runtime):
    query = f"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
    status, headers, answer = http(runtime, "whatsapp", method="GET", query=query)
    assert (status, answer, headers["X-Content-Type-Options"]) == (200, b"1158201444", "nosniff")
    assert http(runtime, "whatsapp", method="GET", query=query.replace(VERIFY_TOKEN, "guess"))[0] == 401


def test_twitch_callback_verification(aws, runtime):
    body = json.dumps({"challenge": "pogchamp-kappa-360noscope", "subscription": {"type": "channel.follow"}})
    status, headers, answer = signed(aws, runtime, "twitch", "twitch", body.encode(),
                                     {"Twitch-Eventsub-Message-Type": "webhook_callback_verification"})
    assert (status, answer) == (200, b"pogchamp-kappa-360noscope")
    assert headers["Content-Type"].startswith("text/plain")


def test_dropbox_get_challenge_is_an_inert_echo(runtime):
    status, headers, answer = http(runtime, "dropbox", method="GET", query="challenge=eMmQ8LKG5PcmQxN0aBJk")
    assert (status, answer) == (200, b"eMmQ8LKG5PcmQxN0aBJk")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Type"].startswith("text/plain")
    assert http(runtime, "dropbox", method="GET", query="challenge=%3Cscript%3E")[0] == 400


def test_graph_validation_token_is_an_inert_echo(runtime):
    token = "Validation: Testing client application reachability"
    status, headers, answer = http(runtime, "graph", query="validationToken=" + urllib.request.quote(token))
    assert (status, answer.decode(), headers["X-Content-Type-Options"]) == (200, token, "nosniff")


def test_xero_intent_to_receive(aws, runtime):
    itr = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "E2E"}).encode()
    assert signed(aws, runtime, "xero", "xero", itr)[:3:2] == (200, b"")
    assert signed(aws, runtime, "xero", "xero", itr, secret="wrong-key")[0] == 401


def test_discord_ping_with_the_dev_test_key(aws, runtime):
    # `webhookctl dev` stored a test key pair for discord: `send` and this test sign with it
    [key] = secret_of(aws, "discord")
    assert key.startswith("ed25519-seed:")
    status, _, answer = signed(aws, runtime, "discord", "discord", b'{"type": 1}', secret=key)
    assert (status, json.loads(answer)) == (200, {"type": 1})


def test_asana_handshake_captures_the_secret_with_the_setup_token(aws, runtime):
    sm = aws("secretsmanager")
    sm.put_secret_value(SecretId="webhooks-local/providers/asana", SecretString=json.dumps({"secrets": [SETUP]}))
    refused = http(runtime, "asana", headers={"X-Hook-Secret": HOOK_SECRET}, query="setup=guess")
    assert refused[0] == 401 and "X-Hook-Secret" not in refused[1]
    status, headers, _ = http(runtime, "asana", headers={"X-Hook-Secret": HOOK_SECRET}, query=f"setup={SETUP}")
    assert (status, headers["X-Hook-Secret"]) == (200, HOOK_SECRET)
    assert secret_of(aws, "asana") == [HOOK_SECRET]


def test_woocommerce_save_ping(runtime):
    status, _, answer = http(runtime, "woocommerce", body=b"webhook_id=7",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, json.loads(answer)) == (200, {"status": "ping"})


def test_methods_beyond_the_handshakes_are_405(runtime):
    for provider, allowed in (("dropbox", "POST, GET"), ("zoom", "POST"), ("stripe", "POST")):
        for method in ("PUT", "DELETE", "PATCH"):
            status, headers, _ = http(runtime, provider, method=method)
            assert (status, headers.get("Allow")) == (405, allowed), (provider, method)
    assert http(runtime, "stripe", method="GET")[0] == 405


def test_slack_url_verification_gets_its_challenge(aws, runtime):
    """Slack connects an app only once its signed url_verification gets the challenge back."""
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"})
    status, headers, answer = signed(aws, runtime, "slack", "slack", body.encode())
    assert status == 200 and json.loads(answer) == {"challenge": challenge}
    tampered = signed(aws, runtime, "slack", "slack", body.encode(), secret="not-the-secret")
    assert tampered[0] == 401 and challenge.encode() not in tampered[2]


def test_handshakes_stored_and_enqueued_nothing(aws, runtime, project):
    # runs after every handshake above (each went through ingest), before the deliveries below
    assert aws("dynamodb").scan(TableName=outputs(project)["table_name"], Select="COUNT")["Count"] == 0
    attributes = aws("sqs").get_queue_attributes(QueueUrl=runtime["queue_url"], AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_latin1_form_body_is_accepted_and_archived_byte_for_byte(aws, runtime, project):
    """Not every provider posts UTF-8: the signature is over the exact bytes, and so is the archive."""
    body = "name=Jos\xe9&city=M\xfcnchen&amount=12%2C50".encode("latin-1")
    acme = load(project / "webhookctl.toml").providers["acme"]
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1",
               **sign("hmac-sha256", body, secret_of(aws, "acme")[0], dict(acme.options), delivery_id="latin1-1")}
    status, _, answer = http(runtime, "acme", body=body, headers=headers)
    assert status == 202, answer
    record = _record(aws, project, json.loads(answer)["webhook_id"])
    archived = aws("s3").get_object(Bucket=outputs(project)["bucket_name"], Key=record["s3_key"]["S"])["Body"].read()
    assert archived == body


def test_a_secret_with_inner_spaces_can_be_set_and_verifies(aws, runtime, project):
    """GitHub lets users choose their secret, spaces included: `secrets set` keeps it exactly."""
    secret = "correct horse  battery staple"
    assert cli(project, "secrets", "set", "github", input=secret + "\n").returncode == 0
    assert secret_of(aws, "github")[0] == secret
    body = b'{"zen": "Keep it logically awesome."}'
    status, _, answer = http(runtime, "github", body=body, headers={
        "Content-Type": "application/json", **sign("github", body, secret, delivery_id="spaces-1")})
    assert status == 202, answer
    wrong = http(runtime, "github", body=body, headers={
        "Content-Type": "application/json", **sign("github", body, "correct horse battery staple", delivery_id="spaces-2")})
    assert wrong[0] == 401  # the spaces are part of the secret, not trimmed or collapsed


def outputs(project) -> dict:
    return json.loads((project / ".webhookctl" / "outputs-local.json").read_text())


def _record(aws, project, webhook_id: str) -> dict:
    table = outputs(project)["table_name"]
    return aws("dynamodb").get_item(TableName=table, Key={"webhook_id": {"S": webhook_id}}, ConsistentRead=True)["Item"]
