"""API Gateway's proxy events and responses, without a socket (local_runtime.apigw_events)."""
from __future__ import annotations

import base64
import json

import pytest

from handlers.contract import AWS_LIMITS, BINARY_MEDIA_TYPES
from local_runtime import apigw_events as ev
from local_runtime_helpers import assert_same_shape, load_fixture

ROUTES = [ev.Route("/webhooks/{provider}", ("POST",)), ev.Route("/webhook", ("POST",))]
MAPS = {"$.headers", "$.multiValueHeaders", "$.pathParameters", "$.queryStringParameters",
        "$.multiValueQueryStringParameters"}


def event_for(raw_path: str, body: bytes = b"{}", headers=(("Content-Type", "application/json"),),
              api: ev.Api = ev.Api(binary_media_types=())) -> dict:
    resolution = ev.resolve(ROUTES, api.stage, raw_path.split("?")[0], "POST")
    request = ev.HttpRequest("POST", raw_path, list(headers), body, source_ip="10.0.0.9", server_port=3000,
                             request_id="req-1", received=1_700_000_000.5)
    return ev.build_event(api, resolution.route, resolution.params, request)


def test_the_event_has_the_shape_and_values_aws_sends():
    event = event_for("/local/webhooks/stripe?a=1&a=2", b'{"id": "evt_1"}',
                      [("Content-Type", "application/json"), ("X-Dup", "one"), ("x-dup", "two")])
    assert_same_shape(event_for("/webhooks/stripe", headers=[("User-Agent", "Stripe/1.0")]), load_fixture("apigw_rest_proxy_event.json"), MAPS)
    assert event["resource"] == "/webhooks/{provider}" and event["path"] == "/webhooks/stripe"
    assert event["pathParameters"] == {"provider": "stripe"}
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["headers"]["X-Dup"] == "two" and event["multiValueHeaders"]["X-Dup"] == ["one", "two"]
    assert event["headers"]["X-Forwarded-For"] == "10.0.0.9" and event["headers"]["X-Forwarded-Port"] == "3000"
    assert event["body"] == '{"id": "evt_1"}' and event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["path"] == "/local/webhooks/stripe"  # as requested, stage prefix kept
    assert rc["requestId"] == "req-1" and rc["requestTimeEpoch"] == 1_700_000_000_500
    assert rc["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert rc["resourceId"] == ev.resource_id(ROUTES[0]) and len(rc["resourceId"]) == 6
    assert rc["identity"]["sourceIp"] == "10.0.0.9"


def test_forwarded_for_is_appended_and_existing_forwarded_headers_kept():
    event = event_for("/webhooks/x", headers=[("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")])
    assert event["headers"]["X-Forwarded-For"] == "1.2.3.4, 10.0.0.9"
    assert event["headers"]["X-Forwarded-Proto"] == "https"


@pytest.mark.parametrize("content_type,body,types,expected", [
    ("application/json", b'{"a": 1}', (), ('{"a": 1}', False)),
    ("application/x-www-form-urlencoded", "café".encode("latin-1"), (), ("caf\ufffd", False)),  # AWS mangles
    ("application/x-www-form-urlencoded", "café".encode("latin-1"), BINARY_MEDIA_TYPES,
     (base64.b64encode("café".encode("latin-1")).decode(), True)),
    ("image/png; q=1", b"\x89PNG", ("image/*",), (base64.b64encode(b"\x89PNG").decode(), True)),
    (None, b"abc", ("*/*",), ("abc", False)),  # no Content-Type: nothing to match
    ("application/json", b"", ("*/*",), (None, False)),
])
def test_event_body_follows_binary_media_types(content_type, body, types, expected):
    assert ev.event_body(body, content_type, types) == expected


def test_resolve_says_what_is_missing():
    assert ev.resolve(ROUTES, "local", "/webhooks/stripe", "POST").params == {"provider": "stripe"}
    assert ev.resolve(ROUTES, "local", "/local/webhook", "POST").route == ROUTES[1]
    assert ev.resolve(ROUTES, "local", "/webhooks/stripe", "GET") == ev.Resolution(missing="method")
    assert ev.resolve(ROUTES, "local", "/nope", "POST") == ev.Resolution(missing="resource")
    assert not ev.resolve(ROUTES, "local", "/prod/webhooks/stripe", "POST").found


def test_proxy_response_maps_headers_and_binary_bodies():
    event = {"headers": {"Accept": "application/octet-stream, */*"}}
    status, headers, body = ev.proxy_response(
        {"statusCode": 201, "headers": {"A": "1", "B": "x"}, "multiValueHeaders": {"B": ["2", "3"]},
         "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}, event, ["application/octet-stream"])
    assert status == 201 and headers == [("A", "1"), ("B", "2"), ("B", "3")] and body == b"\x00\x01"
    # the first Accept type decides (AWS): here it is not binary, so the base64 text goes out
    _, _, text = ev.proxy_response({"body": "AAE=", "isBase64Encoded": True},
                                   {"headers": {"accept": "text/html, application/octet-stream"}},
                                   ["application/octet-stream"])
    assert text == b"AAE="


@pytest.mark.parametrize("bad", [None, "ok", {"statusCode": "abc"}, {"statusCode": 700},
                                 {"statusCode": 200, "body": {"a": 1}}, {"statusCode": 200, "bogus": 1}])
def test_malformed_responses_are_refused(bad):
    with pytest.raises(ev.BadProxyResponse):
        ev.proxy_response(bad, {}, ())


def test_a_response_over_lambda_s_limit_is_refused_and_one_at_it_passes():
    overhead = len(json.dumps({"statusCode": 200, "body": ""}))
    at_limit = {"statusCode": 200, "body": "x" * (AWS_LIMITS.lambda_response_bytes - overhead)}
    assert ev.proxy_response(at_limit, {}, ())[0] == 200
    with pytest.raises(ev.BadProxyResponse, match="over Lambda's 6291456-byte limit"):
        ev.proxy_response({**at_limit, "body": at_limit["body"] + "x"}, {}, ())


def test_gateway_responses_render_as_api_gateway_answers():
    status, headers, body = ev.THROTTLED.render()
    assert status == 429 and json.loads(body) == {"message": "Too Many Requests"}
    assert ("Retry-After", "1") in headers and ("x-amzn-ErrorType", "TooManyRequestsException") in headers
    assert ev.INTEGRATION_TIMEOUT.render()[0] == 504
    assert json.loads(ev.INTEGRATION_TIMEOUT.render()[2]) == {"message": "Endpoint request timed out"}
    assert ev.INTEGRATION_FAILURE.render()[:1] == (502,)
