"""The loopback API Gateway: exact REST proxy events, API Gateway's own answers."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid

import pytest

from handlers.contract import BINARY_MEDIA_TYPES
from local_runtime.api_gateway import MAX_PAYLOAD_BYTES, ApiGatewayServer, Route, media_type_matches
from local_runtime.emulator import port_open
from local_runtime_helpers import Recorder, assert_same_shape, failing_handler, live_threads, load_fixture

ACCEPTED = {"statusCode": 202, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"webhook_id": "w1", "status": "queued"})}
HEADER_MAPS = {"$.headers", "$.multiValueHeaders", "$.pathParameters",
               "$.queryStringParameters", "$.multiValueQueryStringParameters"}


def request(server, method, path, body=None, headers=(), timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


@pytest.fixture
def stub():
    return Recorder(ACCEPTED)


@pytest.fixture
def server(stub):
    """An API without binary media types: bodies reach the handler as text."""
    with ApiGatewayServer(stub, providers=["stripe", "github"], binary_media_types=()) as srv:
        yield srv


def test_post_becomes_the_rest_proxy_event_aws_sends(server, stub):
    # GIVEN a signed-looking Stripe delivery
    body = b'{"id": "evt_1", "type": "invoice.paid"}'
    before = time.time()
    # WHEN it is POSTed to the provider route
    status, headers, resp = request(server, "POST", "/webhooks/stripe", body, [
        ("Content-Type", "application/json"), ("Stripe-Signature", "t=1,v1=ab"), ("User-Agent", "Stripe/1.0")])
    # THEN the handler saw one event with exactly the reference shape
    assert status == 202 and json.loads(resp) == {"webhook_id": "w1", "status": "queued"}
    (event, context), = stub.calls
    assert_same_shape(event, load_fixture("apigw_rest_proxy_event.json"), HEADER_MAPS | {"$.queryStringParameters"})
    assert event["resource"] == "/webhooks/{provider}"
    assert event["path"] == "/webhooks/stripe"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"provider": "stripe"}
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] == body.decode() and event["isBase64Encoded"] is False
    # headers as received, case preserved, plus what API Gateway adds
    assert event["headers"]["Stripe-Signature"] == "t=1,v1=ab"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Forwarded-Port"] == str(server.port)
    rc = event["requestContext"]
    # requested without the stage prefix: like a custom domain, the path as requested
    assert rc["path"] == "/webhooks/stripe" and rc["stage"] == "local"
    assert rc["resourcePath"] == "/webhooks/{provider}" and rc["httpMethod"] == "POST"
    assert rc["accountId"] == "123456789012" and rc["protocol"] == "HTTP/1.1"
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["userAgent"] == "Stripe/1.0"
    assert rc["domainName"] == f"{rc['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert rc["domainPrefix"] == rc["apiId"]
    assert before * 1000 - 1 <= rc["requestTimeEpoch"] <= time.time() * 1000 + 1
    time.strptime(rc["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    uuid.UUID(rc["requestId"])
    # the same request id in the response and in the Lambda context
    assert dict(headers)["x-amzn-RequestId"] == rc["requestId"] == context.aws_request_id
    assert context.function_name == "ingest"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    assert 0 < context.get_remaining_time_in_millis() <= 3000
    assert context.memory_limit_in_mb == "128"


def test_multi_value_headers_and_query_strings(server, stub):
    request(server, "POST", "/webhooks/github?a=1&a=2&b=&c=x%20y", b"{}", [
        ("X-Dup", "one"), ("x-dup", "two"), ("X-GitHub-Event", "push")])
    event = stub.events[0]
    assert event["multiValueHeaders"]["X-Dup"] == ["one", "two"]
    assert event["headers"]["X-Dup"] == "two"  # the last value, as API Gateway
    assert event["headers"]["X-GitHub-Event"] == "push"
    assert event["queryStringParameters"] == {"a": "2", "b": "", "c": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""], "c": ["x y"]}


def test_seed_route_and_stage_prefixed_url(server, stub):
    request(server, "POST", "/webhook", b"{}", [("X-Provider-ID", "acme")])
    request(server, "POST", "/local/webhooks/stripe", b"{}")
    seed, prefixed = stub.events
    assert seed["resource"] == "/webhook" and seed["pathParameters"] is None
    assert seed["requestContext"]["path"] == "/webhook"
    assert prefixed["path"] == "/webhooks/stripe" and prefixed["pathParameters"] == {"provider": "stripe"}
    assert prefixed["requestContext"]["path"] == "/local/webhooks/stripe"


def test_binary_media_types_decide_base64_and_other_bytes_are_mangled_as_on_aws(stub):
    raw = "café".encode("latin-1")  # a Latin-1 form post: not UTF-8
    with ApiGatewayServer(stub, binary_media_types=["application/octet-stream", "image/*"]) as srv:
        request(srv, "POST", "/webhooks/x", raw, [("Content-Type", "application/json")])  # invalid UTF-8
        request(srv, "POST", "/webhooks/x", b"hello", [("Content-Type", "application/octet-stream")])
        request(srv, "POST", "/webhooks/x", b"hello", [("Content-Type", "image/png; q=1")])
        request(srv, "POST", "/webhooks/x", "héllo".encode(), [("Content-Type", "text/plain; charset=utf-8")])
        request(srv, "POST", "/webhooks/x", b"")
    invalid, octet, image, text, empty = stub.events
    # Not a binary media type: passed as text, the invalid byte replaced, as AWS does.
    assert invalid["isBase64Encoded"] is False and invalid["body"] == "caf\ufffd"
    assert octet["isBase64Encoded"] is True and base64.b64decode(octet["body"]) == b"hello"
    assert image["isBase64Encoded"] is True
    assert text["isBase64Encoded"] is False and text["body"] == "héllo"
    assert empty["body"] is None and empty["isBase64Encoded"] is False


def test_media_type_matching_follows_binary_media_types():
    assert media_type_matches("application/octet-stream", ["*/*"])
    assert media_type_matches("Image/PNG", ["image/*"])
    assert not media_type_matches("application/json", ["application/octet-stream"])
    assert not media_type_matches(None, ["*/*"])


def test_chunked_request_body(server, stub):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/webhooks/stripe", body=iter([b'{"a":', b' 1}']), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 202
    conn.close()
    assert stub.events[0]["body"] == '{"a": 1}'


@pytest.mark.parametrize("method,path", [
    ("POST", "/nope"), ("POST", "/webhooks"), ("POST", "/webhooks/a/b"), ("GET", "/nope"),
    ("PUT", "/webhooks/a/b"), ("POST", "/prod/webhooks/stripe"),
])
def test_unknown_route_is_missing_authentication_token(server, stub, method, path):
    status, headers, body = request(server, method, path, b"{}")
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert dict(headers)["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert stub.calls == []


def test_payload_over_the_cap_is_413_without_reading_it(stub):
    assert MAX_PAYLOAD_BYTES == 10 * 1024 * 1024
    with ApiGatewayServer(stub, max_payload_bytes=1024, binary_media_types=()) as srv:
        # Declared too long: answered before the body is read.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):  # the server closes after answering
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 413") and b'{"message":"Request Too Long"}' in reply
        # Chunked: cut off once it passes the cap.
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("POST", "/webhooks/stripe", body=iter([b"x" * 800, b"x" * 800]), encode_chunked=True)
        assert conn.getresponse().status == 413
        conn.close()
        # At the cap exactly: accepted.
        assert request(srv, "POST", "/webhooks/stripe", b"x" * 1024)[0] == 202
    assert len(stub.calls) == 1


def test_handler_exception_is_502_and_the_traceback_goes_to_stderr(capfd):
    with ApiGatewayServer(failing_handler) as srv:
        status, headers, body = request(srv, "POST", "/webhooks/stripe", b"{}")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert b"boom" not in body and b"Traceback" not in body
    err = capfd.readouterr().err
    assert "Traceback" in err and "boom: the stub handler failed on purpose" in err


@pytest.mark.parametrize("bad", [None, "ok", {"statusCode": "abc"}, {"statusCode": 200, "body": {"a": 1}},
                                 {"statusCode": 200, "bogus": 1}])
def test_malformed_proxy_response_is_502(bad):
    with ApiGatewayServer(Recorder(bad)) as srv:
        assert request(srv, "POST", "/webhooks/stripe", b"{}")[0] == 502


def test_proxy_response_maps_back_to_http():
    response = {"statusCode": 200, "headers": {"X-One": "1", "Set-Cookie": "ignored"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": '{"duplicate": true}'}
    with ApiGatewayServer(Recorder(response)) as srv:
        status, headers, body = request(srv, "POST", "/webhooks/stripe", b"{}")
        assert status == 200 and body == b'{"duplicate": true}'
        assert ("X-One", "1") in headers
        assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
        assert dict(headers)["Content-Type"] == "application/json"  # API Gateway's default
    binary = {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
              "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    with ApiGatewayServer(Recorder(binary), binary_media_types=["application/octet-stream"]) as srv:
        assert request(srv, "POST", "/webhooks/stripe", b"{}")[2] == b"\x00\x01"
    with ApiGatewayServer(Recorder(binary), binary_media_types=()) as srv:  # none: base64 text passes through
        assert request(srv, "POST", "/webhooks/stripe", b"{}")[2] == base64.b64encode(b"\x00\x01")


def test_root_gives_the_provider_urls(server):
    status, _, body = request(server, "GET", "/")
    assert status == 200
    assert json.loads(body)["providers"] == {
        "stripe": f"{server.url}/webhooks/stripe", "github": f"{server.url}/webhooks/github"}


def test_keep_alive_connection_serves_several_requests(server, stub):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(3):
        conn.request("POST", "/webhooks/stripe", body=b"{}")
        assert conn.getresponse().read()
    conn.request("POST", "/nope", body=b"{}")  # a rejected request keeps the connection usable
    resp = conn.getresponse()
    assert resp.status == 403 and resp.read()
    conn.request("POST", "/webhooks/stripe", body=b"{}")
    assert conn.getresponse().status == 202
    conn.close()
    assert len(stub.calls) == 4


def test_default_binary_media_types_are_the_contract_s(stub):
    assert BINARY_MEDIA_TYPES == ("*/*",)
    with ApiGatewayServer(stub) as srv:
        assert srv.binary_media_types == BINARY_MEDIA_TYPES
        request(srv, "POST", "/webhooks/x", "café".encode("latin-1"),
                [("Content-Type", "application/x-www-form-urlencoded")])
    event = stub.events[0]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == "café".encode("latin-1")


def test_custom_routes_and_any_method():
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub, routes=[Route("/hooks/{proxy+}", ("ANY",))], stage="dev") as srv:
        request(srv, "PUT", "/hooks/a/b", b"{}")
    event = stub.events[0]
    assert event["resource"] == "/hooks/{proxy+}" and event["pathParameters"] == {"proxy": "a/b"}
    assert event["requestContext"]["path"] == "/hooks/a/b"


def test_stop_leaves_no_thread_and_no_port(stub):
    srv = ApiGatewayServer(stub).start()
    port = srv.port
    assert port_open("127.0.0.1", port)
    srv.stop()
    assert not port_open("127.0.0.1", port)
    assert live_threads(f"api-gateway:{port}") == []
    srv.stop()  # idempotent


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "OPTIONS", "DELETE"])
def test_every_method_reaches_the_handler_as_on_the_stacks_any_routes(server, stub, method):
    """The stack's routes take ANY method (contract.API_ROUTE_METHOD): ingest answers a GET / HEAD
    handshake or 405 itself, so the stand-in must not answer for it."""
    status, _, _ = request(server, method, "/webhooks/stripe", b"" if method in ("GET", "HEAD") else b"{}")
    assert status == 202 and stub.calls[-1][0]["httpMethod"] == method


@pytest.mark.parametrize("method", ["GET", "PUT", "OPTIONS"])
def test_a_method_the_route_lacks_is_missing_authentication_token(stub, method):
    with ApiGatewayServer(stub, routes=[("/webhooks/{provider}", ("POST",))], binary_media_types=()) as srv:
        status, headers, body = request(srv, method, "/webhooks/stripe", b"{}")
    assert status == 403 and not stub.calls
