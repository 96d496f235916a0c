"""Handshakes and response formats over HTTP, through the local API Gateway stand-in `webhookctl dev`
serves (the handler in-process, moto for AWS): what a provider's server sees on the wire."""
from __future__ import annotations

import http.client
import json

import pytest

from handler_harness import SECRETS
from handlers import ingest
from handlers.contract import BINARY_MEDIA_TYPES, REPLY_HEADER
from handlers.signatures import sign
from local_runtime.api_gateway import ApiGatewayServer
from local_runtime.function_env import LambdaContext

INGEST_TIMEOUT_SECONDS = 10  # the deployed ingest's: each storage step checks the time it has left


@pytest.fixture
def api(pipeline):
    with ApiGatewayServer(ingest.handler, binary_media_types=BINARY_MEDIA_TYPES,
                          providers=sorted(pipeline.providers),
                          context_factory=lambda rid: LambdaContext.local("ingest", timeout_s=INGEST_TIMEOUT_SECONDS,
                                                                          request_id=rid)) as server:
        yield server


def _post(api, path: str, body: bytes, headers: dict[str, str], host: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        conn.putrequest("POST", path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _nothing_stored(pipeline):
    assert pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0
    assert pipeline.objects() == [] and pipeline.queue_depth() == 0


def test_slack_url_verification_gets_its_challenge_on_the_wire(pipeline, api):
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    headers = {"Content-Type": "application/json", **sign("slack", body, SECRETS["slack"])}
    status, response_headers, answer = _post(api, "/local/webhooks/slack", body, headers)
    assert (status, response_headers["Content-Type"]) == (200, "application/json")
    assert json.loads(answer) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    _nothing_stored(pipeline)


def test_twilio_gets_twiml_on_the_wire(pipeline, api):
    body = b"MessageSid=SM42&SmsStatus=received&Body=hello+there"
    url = f"http://127.0.0.1:{api.port}/local/webhooks/twilio"
    signed = sign("twilio", body, SECRETS["twilio"], url=url)
    status, headers, answer = _post(api, "/local/webhooks/twilio", body, signed)
    assert (status, headers["Content-Type"]) == (202, "text/xml")
    assert answer == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert pipeline.item(json.loads(headers[REPLY_HEADER])["webhook_id"])["status"] == "queued"


@pytest.mark.parametrize("host", ["[abc", "127.0.0.1:abc", "127.0.0.1:99999"])
def test_a_malformed_host_on_the_wire_is_400(pipeline, api, host):
    body = b"MessageSid=SM43"
    url = f"http://127.0.0.1:{api.port}/local/webhooks/twilio"
    signed = sign("twilio", body, SECRETS["twilio"], url=url)
    status, headers, answer = _post(api, "/local/webhooks/twilio", body, signed, host=host)
    assert (status, json.loads(answer)["error"]) == (400, "malformed_host")
    _nothing_stored(pipeline)
