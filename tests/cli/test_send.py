"""`webhookctl send`: every scheme's sample is signed so that our own verifier accepts it."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from config import load
from handlers.contract import REPLY_HEADER
from handlers.schemes.url_signed import TWIML_EMPTY
from handlers.signatures import InvalidSignature, verify

pytestmark = pytest.mark.emulator

SECRETS = {"svix": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


class Capture(BaseHTTPRequestHandler):
    received: list = []
    twiml = False  # answer as ingest answers Twilio: TwiML, the JSON document in a header

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.received.append((self.path, dict(self.headers.items()), body))
        document = json.dumps({"webhook_id": "x", "status": "queued"})
        reply = (TWIML_EMPTY if Capture.twiml else document).encode()
        self.send_response(202)
        self.send_header("Content-Type", "text/xml" if Capture.twiml else "application/json")
        if Capture.twiml:
            self.send_header(REPLY_HEADER, document)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    Capture.received = []
    Capture.twiml = False
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_with_secrets(project, emulator):
    path = project / "webhookctl.toml"
    path.write_text(path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint))
    sm = boto3.client("secretsmanager", endpoint_url=emulator.endpoint, region_name="us-east-1")
    for provider in load(path).providers:
        name = f"webhooks-local/providers/{provider}"
        value = json.dumps({"secrets": [SECRETS.get(provider, f"{provider}-secret-value")]})
        try:
            sm.create_secret(Name=name, SecretString=value)
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=name, SecretString=value)
    return load(path)


@pytest.mark.parametrize("provider", ["stripe", "github", "shopify", "slack", "svix", "twilio", "paddle", "square", "acme"])
def test_sample_is_signed_as_the_provider_would(run_cli, local_with_secrets, receiver, provider):
    result = run_cli("send", provider, "--url", receiver, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == 202 and doc["url"] == f"{receiver}/webhooks/{provider}"
    path, headers, body = Capture.received[-1]
    config = local_with_secrets.providers[provider]
    secret = SECRETS.get(provider, f"{provider}-secret-value")
    verified = verify(config.scheme, body, headers, [secret], dict(config.options), url=receiver + path)
    assert verified.delivery_id
    with pytest.raises(InvalidSignature):
        verify(config.scheme, body + b" ", headers, [secret], dict(config.options), url=receiver + path)


def test_two_samples_are_two_deliveries(run_cli, local_with_secrets, receiver):
    for _ in range(2):
        assert run_cli("send", "stripe", "--url", receiver).exit_code == 0
    ids = {json.loads(body)["id"] for _, _, body in Capture.received}
    assert len(ids) == 2


def test_send_file(run_cli, local_with_secrets, receiver, tmp_path):
    payload = tmp_path / "event.json"
    payload.write_bytes(b'{"id": "evt_fixed", "type": "charge.refunded"}')
    assert run_cli("send", "stripe", "--file", str(payload), "--url", receiver).exit_code == 0
    assert Capture.received[-1][2] == payload.read_bytes()


def test_send_without_a_dev_server_says_how_to_start_one(run_cli, local_with_secrets):
    result = run_cli("send", "stripe")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: `webhookctl dev` is not serving environment 'local': start it in another terminal, or pass --url"
    )


def test_send_before_deploy_says_deploy_first(run_cli, project, emulator, receiver):
    path = project / "webhookctl.toml"
    text = path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint)
    path.write_text(text.replace('project = "webhooks"', 'project = "undeployed"'))
    result = run_cli("send", "stripe", "--url", receiver)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: no secret container undeployed-local/providers/stripe in environment 'local': "
        "deploy it first (`webhookctl deploy --env local`)"
    )
    assert Capture.received == []


def test_a_twiml_answer_shows_ingest_document_from_the_reply_header(run_cli, local_with_secrets, receiver):
    Capture.twiml = True
    result = run_cli("send", "twilio", "--url", receiver, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["response"] == {"webhook_id": "x", "status": "queued", "raw": TWIML_EMPTY}


def test_send_file_as_json_to_twilio_posts_to_the_body_hash_url(run_cli, local_with_secrets, receiver, tmp_path):
    payload = tmp_path / "event.json"
    payload.write_bytes(b'{"type": "com.twilio.messaging.inbound-message.received"}')
    assert run_cli("send", "twilio", "--file", str(payload), "--url", receiver).exit_code == 0
    path, headers, body = Capture.received[-1]
    assert "bodySHA256=" in path and headers["Content-Type"] == "application/json"
    config = local_with_secrets.providers["twilio"]
    verified = verify("twilio", body, headers, ["twilio-secret-value"], dict(config.options), url=receiver + path)
    assert verified.event_type == "com.twilio.messaging.inbound-message.received"
