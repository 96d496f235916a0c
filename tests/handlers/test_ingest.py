"""Ingest: the HTTP contract, secrets cache/refresh, records, logs and metrics."""
from __future__ import annotations

import json

import pytest

from handler_harness import SECRETS, api_event, load_event, signed_event, url_for
from handlers import ingest, secrets as secret_store, signatures

BODY = json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"object": {"customer": "cus_42"}}})


def _rejected_nothing_stored(pipeline):
    assert pipeline.ddb.scan(TableName=pipeline.table)["Count"] == 0
    assert pipeline.objects() == []
    assert pipeline.queue_depth() == 0


def test_accepted_records_match_the_design(pipeline):
    status, reply = pipeline.post(signed_event("stripe", BODY))
    assert status == 202
    item = pipeline.item(reply["webhook_id"])
    assert item["provider"] == "stripe" and item["delivery_id"] == "evt_1" and item["status"] == "queued"
    assert item["size"] == str(len(BODY)) and item["attempts"] == "0" and int(item["expires_at"]) > 0
    assert item["received_at"].endswith("Z") and len(item["received_at"]) == len("2026-01-01T00:00:00.000Z")
    yyyy, mm, dd = item["received_at"][:10].split("-")
    assert item["s3_key"] == f"stripe/{yyyy}/{mm}/{dd}/{reply['webhook_id']}"
    head = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=item["s3_key"])
    assert head["Metadata"]["stripe-signature"].startswith("t=")
    assert head["ContentType"] == "application/json"
    [message] = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, AttributeNames=["All"],
                                             MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == {
        "webhook_id": reply["webhook_id"], "provider": "stripe", "delivery_id": "evt_1",
        "event_type": "invoice.paid", "received_at": item["received_at"], "s3_key": item["s3_key"],
        "size": len(BODY), "expires_at": int(item["expires_at"])}
    # the payload rides along (contract.PAYLOAD_ATTRIBUTE): process need not read S3
    assert message["MessageAttributes"] == {"payload": {"DataType": "Binary", "BinaryValue": BODY.encode()}}
    # ordering_key = payload:data.object.customer in webhookctl.toml
    assert message["Attributes"]["MessageGroupId"] == "stripe:cus_42"
    assert message["Attributes"]["MessageDeduplicationId"] == reply["webhook_id"]


def test_base64_encoded_body_is_decoded(pipeline):
    raw = b'{"id":"evt_b","type":"x"}\xff'  # not even UTF-8
    headers = signatures.sign("stripe", raw, SECRETS["stripe"])
    status, reply = pipeline.post(api_event("stripe", raw, headers, base64_body=True))
    assert status == 202
    key = pipeline.item(reply["webhook_id"])["s3_key"]
    assert pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read() == raw


def test_unknown_provider_is_404_before_reading_secrets(pipeline, faults):
    status, reply = pipeline.post(signed_event("stripe", BODY) | {"pathParameters": {"provider": "nope"}})
    assert status == 404 and reply["error"] == "unknown_provider" and "message" in reply
    assert "GetSecretValue" not in faults.calls
    _rejected_nothing_stored(pipeline)


def test_seed_route_needs_x_provider_id(pipeline):
    event = load_event("seed_webhook.json")
    del event["headers"]["x-provider-id"]
    del event["multiValueHeaders"]["x-provider-id"]
    event["body"] = "{}"
    assert pipeline.post(event)[0] == 400


def test_body_over_the_limit_is_413(pipeline, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "100")
    status, reply = pipeline.post(signed_event("stripe", json.dumps({"id": "e", "pad": "x" * 200})))
    assert (status, reply["error"]) == (413, "body_too_large")
    _rejected_nothing_stored(pipeline)


@pytest.mark.parametrize("mutate,status,code", [
    (lambda e: e["headers"].pop("Stripe-Signature"), 400, "missing_signature"),
    (lambda e: e["headers"].update({"Stripe-Signature": "garbage"}), 400, "malformed_signature"),
    (lambda e: e.update(body=e["body"].replace("evt_1", "evt_2")), 401, "invalid_signature"),
])
def test_rejections_store_nothing(pipeline, mutate, status, code):
    event = signed_event("stripe", BODY)
    event["multiValueHeaders"] = {}
    mutate(event)
    got, reply = pipeline.post(event)
    assert (got, reply["error"]) == (status, code)
    _rejected_nothing_stored(pipeline)


def test_stale_and_future_timestamps_are_401(pipeline):
    import time

    for skew in (-400, 400):
        status, reply = pipeline.post(signed_event("stripe", BODY, now=time.time() + skew))
        assert (status, reply["error"]) == (401, "stale_timestamp")
    _rejected_nothing_stored(pipeline)


def test_twilio_public_url_is_reconstructed_with_stage_and_query(pipeline):
    body = "MessageSid=SM1&MessageStatus=sent"
    status, _ = pipeline.post(signed_event("twilio", body, query={"tenant": "a", "n": "1"}))
    assert status == 202


def test_twilio_public_url_option_wins(pipeline, monkeypatch):
    providers = dict(pipeline.providers)
    providers["twilio"] = {**providers["twilio"], "public_url": "https://hooks.example.com/twilio"}
    monkeypatch.setenv("PROVIDERS_FILE", str(pipeline.write_providers(providers)))
    body = "MessageSid=SM2&MessageStatus=sent"
    headers = signatures.sign("twilio", body, SECRETS["twilio"], url="https://hooks.example.com/twilio")
    assert pipeline.post(api_event("twilio", body, headers))[0] == 202
    headers = signatures.sign("twilio", body, SECRETS["twilio"], url=url_for("twilio"))
    assert pipeline.post(api_event("twilio", body, headers))[0] == 401


def test_twilio_json_variant_through_ingest(pipeline):
    body = json.dumps({"type": "com.twilio.messaging.inbound-message.received"})
    url = signatures.twilio_json_url(url_for("twilio"), body)
    headers = signatures.sign("twilio", body, SECRETS["twilio"], url=url)
    sha = url.rpartition("bodySHA256=")[2]
    status, reply = pipeline.post(api_event("twilio", body, headers, query={"bodySHA256": sha}))
    assert status == 202
    assert pipeline.item(reply["webhook_id"])["event_type"] == "com.twilio.messaging.inbound-message.received"


def test_square_notification_url_reconstructed(pipeline):
    body = json.dumps({"event_id": "sq-1", "type": "payment.updated"})
    assert pipeline.post(signed_event("square", body))[0] == 202


def test_message_group_ids_are_valid_and_bounded():
    long_value = json.dumps({"data": {"object": {"customer": "ü" * 300}}}).encode()
    group = ingest.message_group_id("stripe", "payload:data.object.customer", "w" * 32, None, long_value)
    assert len(group) <= 128 and group.startswith("stripe:") and group.isascii()
    assert ingest.message_group_id("p", "payload:missing", "w", None, b"{}") == "p"
    assert ingest.message_group_id("p", "payload:a", "w", None, b"not json") == "p"
    assert ingest.message_group_id("p", "webhook", "w" * 32, None, b"") == "w" * 32
    assert ingest.message_group_id("p", "event_type", "w", "a.b", b"") == "p:a.b"
    assert ingest.message_group_id("p", "event_type", "w", None, b"") == "p"


# --------------------------------------------------------------------------- secrets


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_new_secret_works_on_next_request_and_refresh_is_rate_limited(pipeline, faults, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(secret_store, "clock", clock)
    # GIVEN a warm container that cached the first secret
    assert pipeline.post(signed_event("github", BODY))[0] == 202
    assert faults.calls.count("GetSecretValue") == 1
    # WHEN the secret is rotated (webhookctl secrets set, old one dropped)
    pipeline.set_secret("github", ["new-secret"])
    # THEN the next request signed with the new secret verifies after one re-read
    assert pipeline.post(signed_event("github", BODY, secret="new-secret", delivery_id="d2"))[0] == 202
    assert faults.calls.count("GetSecretValue") == 2
    # AND a flood of forged requests costs no more Secrets Manager calls inside the window
    for i in range(20):
        assert pipeline.post(signed_event("github", BODY, secret="forged", delivery_id=f"f{i}"))[0] == 401
    assert faults.calls.count("GetSecretValue") == 2
    clock.now += 5  # one more re-read per window, per provider
    for i in range(5):
        assert pipeline.post(signed_event("github", BODY, secret="forged", delivery_id=f"g{i}"))[0] == 401
    assert faults.calls.count("GetSecretValue") == 3
    # AND the old secret is rejected now that it was dropped
    assert pipeline.post(signed_event("github", BODY, delivery_id="d3"))[0] == 401


def test_kept_previous_secret_still_verifies(pipeline):
    pipeline.set_secret("github", ["newest", SECRETS["github"]])
    assert pipeline.post(signed_event("github", BODY))[0] == 202
    assert pipeline.post(signed_event("github", BODY, secret="newest", delivery_id="n"))[0] == 202


def test_cached_secrets_expire_so_a_dropped_secret_stops_verifying(pipeline, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(secret_store, "clock", clock)
    assert pipeline.post(signed_event("github", BODY))[0] == 202
    pipeline.set_secret("github", ["only-new"])
    assert pipeline.post(signed_event("github", BODY, delivery_id="x"))[0] == 202  # still cached
    clock.now += 301
    assert pipeline.post(signed_event("github", BODY, delivery_id="y"))[0] == 401


def test_empty_secret_container_rejects(pipeline):
    pipeline.sm.delete_secret(SecretId=pipeline.providers["github"]["secret_id"], ForceDeleteWithoutRecovery=True)
    pipeline.sm.create_secret(Name=pipeline.providers["github"]["secret_id"])  # no version yet
    assert pipeline.post(signed_event("github", BODY))[0] == 401


def test_secrets_manager_down_is_503(pipeline, faults):
    from handler_harness import connection_error

    faults.fail("GetSecretValue", connection_error())
    status, reply = pipeline.post(signed_event("github", BODY))
    assert (status, reply["error"]) == (503, "storage_unavailable")
    assert pipeline.post(signed_event("github", BODY))[0] == 202


# --------------------------------------------------------------------------- logs and metrics


def test_logs_never_contain_body_signatures_or_secrets(pipeline, capsys):
    secret_marker = "s3cr3t-marker-value"
    body = json.dumps({"id": "evt_log", "type": "t", "card": "4242424242424242"})
    pipeline.set_secret("stripe", [secret_marker])
    accepted = signed_event("stripe", body, secret=secret_marker)
    forged = signed_event("stripe", body.replace("evt_log", "evt_f"), secret="forged-secret-value")
    pipeline.post(accepted)
    pipeline.post(forged)
    pipeline.post(accepted)  # duplicate
    pipeline.drain()
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines, "handlers log JSON lines"
    for needle in ("4242424242424242", secret_marker, "forged-secret-value",
                   accepted["headers"]["Stripe-Signature"], forged["headers"]["Stripe-Signature"],
                   accepted["headers"]["Stripe-Signature"].split("v1=")[1]):
        assert needle not in out
    outcomes = [line.get("outcome") for line in lines if "outcome" in line]
    assert {"accepted", "rejected", "duplicate", "processed"} <= set(outcomes)
    request_logs = [line for line in lines if line.get("outcome") == "accepted"]
    assert request_logs[0]["provider"] == "stripe" and request_logs[0]["webhook_id"]
    assert "total_ms" in request_logs[0]["timings"]


def test_a_requests_log_line_rides_in_its_emf_document(pipeline, capsys):
    # One CloudWatch Logs event per request instead of two (each is billed: docs/cost.md)
    pipeline.post(signed_event("stripe", BODY))
    pipeline.post(signed_event("stripe", BODY.replace("evt_1", "evt_x"), secret="wrong"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    accepted, rejected = lines
    assert accepted["outcome"] == "accepted" and accepted["accepted"] == 1 and "_aws" in accepted
    assert accepted["webhook_id"] and "total_ms" in accepted["timings"]
    assert rejected["outcome"] == "rejected" and rejected["rejected"] == 1 and rejected["reason"] == "invalid_signature"


def test_emf_metrics_per_provider_and_reason(pipeline, capsys):
    pipeline.post(signed_event("stripe", BODY))
    pipeline.post(signed_event("stripe", BODY))
    pipeline.post(signed_event("stripe", BODY.replace("evt_1", "evt_x"), secret="wrong"))
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    totals: dict[tuple, float] = {}
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "Webhookctl/webhooks-test"
        for metric in directive["Metrics"]:
            key = (metric["Name"], doc["provider"], doc.get("reason"))
            totals[key] = totals.get(key, 0) + doc[metric["Name"]]
    # no `received`: nothing reads it (it is accepted + duplicate + rejected + errors), and each
    # metric that gets data is billed per month
    assert ("received", "stripe", None) not in totals
    assert totals[("accepted", "stripe", None)] == 1
    assert totals[("duplicate", "stripe", None)] == 1
    assert totals[("rejected", "stripe", "invalid_signature")] == 1


@pytest.mark.parametrize("raw_query", ["note=a+b&x=%2F", "note=a%20b&x=%2F"])
def test_twilio_query_string_spelled_either_way(pipeline, raw_query):
    # API Gateway hands over decoded parameters; the provider signed its own spelling.
    body = "MessageSid=SM3&MessageStatus=sent"
    headers = signatures.sign("twilio", body, SECRETS["twilio"], url=url_for("twilio", raw_query))
    event = api_event("twilio", body, headers, query={"note": "a b", "x": "/"})
    assert pipeline.post(event)[0] == 202


def test_a_record_left_at_received_by_the_previous_write_order_is_resumed(pipeline):
    # GIVEN a record written by the version that wrote the record first, whose attempt then died
    # (status received; its object may never have been written)
    wid = signatures.webhook_id("stripe", "evt_1")
    old_key = f"stripe/2020/01/31/{wid}"
    pipeline.ddb.put_item(TableName=pipeline.table, Item={
        "webhook_id": {"S": wid}, "provider": {"S": "stripe"}, "delivery_id": {"S": "evt_1"},
        "received_at": {"S": "2020-01-31T23:59:59.999Z"}, "status": {"S": "received"},
        "s3_key": {"S": old_key}, "size": {"N": str(len(BODY))}, "attempts": {"N": "0"}})
    # WHEN the provider retries
    status, reply = pipeline.post(signed_event("stripe", BODY))
    # THEN the delivery is accepted: stored and enqueued by this attempt, under its own key
    assert (status, reply) == (202, {"webhook_id": wid, "status": "queued"})
    [new_key] = pipeline.objects()
    assert new_key != old_key
    # AND processing publishes it once and moves the record on, naming the object the event names
    pipeline.drain()
    [event] = pipeline.published()
    item = pipeline.item(wid)
    assert item["status"] == "processed" and item["s3_key"] == event["detail"]["s3_key"] == new_key
    assert item["received_at"] == "2020-01-31T23:59:59.999Z"  # the record's first receipt stays


def test_unknown_route_is_404(pipeline):
    event = signed_event("stripe", BODY)
    event.update(resource="/other", path="/other", pathParameters=None)
    assert pipeline.post(event)[0] == 404


# --------------------------------------------------------------------------- handshakes and response formats


def _raw(pipeline, event):
    """The proxy response as API Gateway gets it (no JSON assumption)."""
    import copy

    return ingest.handler(copy.deepcopy(event), None)


def test_slack_url_verification_echoes_the_challenge_and_stores_nothing(pipeline, capsys):
    # GIVEN Slack's signed url_verification (https://docs.slack.dev/reference/events/url_verification)
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    # WHEN it reaches ingest
    response = _raw(pipeline, signed_event("slack", body))
    # THEN the answer is 200 with the challenge, as JSON, and nothing is stored or enqueued
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    _rejected_nothing_stored(pipeline)
    assert '"outcome":"handshake"' in capsys.readouterr().out


def test_slack_url_verification_needs_the_signature(pipeline):
    body = json.dumps({"type": "url_verification", "challenge": "c-1"})
    status, reply = pipeline.post(signed_event("slack", body, secret="forged"))
    assert (status, reply["error"]) == (401, "invalid_signature") and "c-1" not in json.dumps(reply)
    event = signed_event("slack", body)
    del event["headers"]["X-Slack-Signature"]
    event["multiValueHeaders"].pop("X-Slack-Signature")
    assert pipeline.post(event)[0] == 400
    _rejected_nothing_stored(pipeline)


def test_slack_url_verification_without_a_challenge_is_400(pipeline):
    status, reply = pipeline.post(signed_event("slack", json.dumps({"type": "url_verification"})))
    assert (status, reply["error"]) == (400, "malformed_body")
    _rejected_nothing_stored(pipeline)


def test_slack_events_are_still_stored(pipeline):
    body = json.dumps({"type": "event_callback", "event_id": "Ev9", "event": {"type": "app_mention"}})
    status, reply = pipeline.post(signed_event("slack", body))
    assert status == 202 and pipeline.item(reply["webhook_id"])["event_type"] == "app_mention"


def test_twilio_gets_empty_twiml_and_errors_stay_json(pipeline):
    from handlers.contract import REPLY_HEADER

    body = "MessageSid=SM7&SmsStatus=received&Body=hi"
    # accepted: 2xx TwiML that does nothing; the JSON document rides in a header
    event = signed_event("twilio", body)
    response = _raw(pipeline, event)
    assert (response["statusCode"], response["headers"]["Content-Type"]) == (202, "text/xml")
    assert response["body"] == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    wid = json.loads(response["headers"][REPLY_HEADER])["webhook_id"]
    assert pipeline.item(wid)["status"] == "queued"
    # a redelivery: 200, TwiML again
    again = _raw(pipeline, event)
    assert (again["statusCode"], again["headers"]["Content-Type"], again["body"]) == (200, "text/xml", response["body"])
    assert json.loads(again["headers"][REPLY_HEADER]) == {"webhook_id": wid, "duplicate": True}
    # a forged one: Twilio reads any 4xx as a failure whatever the body, so the contract's JSON error
    forged = _raw(pipeline, signed_event("twilio", body, secret="forged"))
    assert (forged["statusCode"], forged["headers"]["Content-Type"]) == (401, "application/json")
    assert json.loads(forged["body"])["error"] == "invalid_signature"


def test_other_methods_are_405_with_allow(pipeline, faults):
    for provider in ("stripe", "slack", "twilio"):
        for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
            event = signed_event(provider, BODY if provider != "twilio" else "MessageSid=SM1")
            event["httpMethod"] = event["requestContext"]["httpMethod"] = method
            response = _raw(pipeline, event)
            assert response["statusCode"] == 405 and response["headers"]["Allow"] == "POST"
            assert json.loads(response["body"])["error"] == "method_not_allowed"
    assert "GetSecretValue" not in faults.calls
    _rejected_nothing_stored(pipeline)


def test_a_scheme_that_declares_a_get_handshake_gets_get(pipeline, monkeypatch):
    # GIVEN a scheme whose provider checks the endpoint with GET ?challenge= (as Dropbox does)
    import dataclasses

    from handlers import schemes

    def echo(request):
        if request.method == "GET" and request.query.get("challenge"):
            return schemes.Response(200, request.query["challenge"], {"Content-Type": "text/plain"})
        return None

    github = schemes.REGISTRY["github"]
    monkeypatch.setitem(schemes.REGISTRY, "github", dataclasses.replace(
        github, handshake=schemes.Handshake(methods=("GET",), answer=echo)))
    event = signed_event("github", BODY)
    event["httpMethod"] = "GET"
    # THEN GET is answered by the handshake, POST still stores, and PUT is still 405
    assert _raw(pipeline, event | {"queryStringParameters": {"challenge": "abc"}}) == {
        "statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "abc"}
    assert pipeline.post(event | {"httpMethod": "GET", "queryStringParameters": None})[0] == 400
    _rejected_nothing_stored(pipeline)
    assert _raw(pipeline, event | {"httpMethod": "PUT"})["headers"]["Allow"] == "POST, GET"
    assert pipeline.post(signed_event("github", BODY))[0] == 202


# --------------------------------------------------------------------------- hostile input before storage


MALFORMED_HOSTS = ["[abc", "hooks.example.com:abc", "hooks.example.com:99999", "a b", "x@y", ""]


def test_a_malformed_host_is_400_for_url_signed_schemes_only(pipeline):
    for host in MALFORMED_HOSTS:
        for provider, body in (("twilio", "MessageSid=SM1"), ("square", json.dumps({"event_id": "sq-9"}))):
            event = signed_event(provider, body)
            event["headers"]["Host"] = event["multiValueHeaders"]["Host"] = host
            event["requestContext"]["domainName"] = host
            status, reply = pipeline.post(event)
            assert (status, reply["error"]) == (400, "malformed_host"), host
    _rejected_nothing_stored(pipeline)
    for index, host in enumerate(MALFORMED_HOSTS):  # Stripe does not sign the URL: Host is not its business
        event = signed_event("stripe", BODY.replace("evt_1", f"evt_h{index}"))
        event["headers"]["Host"] = host
        assert pipeline.post(event)[0] == 202


@pytest.mark.parametrize("provider,header,value", [
    ("stripe", "Stripe-Signature", lambda v: "t=²," + v.split(",", 1)[1]),
    ("paddle", "Paddle-Signature", lambda v: "ts=¹²³;" + v.split(";", 1)[1]),
    ("slack", "X-Slack-Request-Timestamp", lambda v: "¹²³"),
    ("svix", "webhook-timestamp", lambda v: "²"),
])
def test_unicode_digit_timestamps_are_400(pipeline, provider, header, value):
    event = signed_event(provider, BODY)
    event["headers"][header] = value(event["headers"][header])
    event["multiValueHeaders"] = {}
    status, reply = pipeline.post(event)
    assert (status, reply["error"]) == (400, "malformed_signature")
    _rejected_nothing_stored(pipeline)


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("provider", ["github", "shopify", "slack", "svix", "paddle", "square", "acme", "stripe"])
def test_signed_deep_json_is_stored_as_opaque_bytes(pipeline, provider):
    status, reply = pipeline.post(signed_event(provider, DEEP))
    assert status == 202, reply
    item = pipeline.item(reply["webhook_id"])
    assert item["status"] == "queued"
    if provider not in ("github", "shopify", "acme"):  # those carry the type in a header
        assert "event_type" not in item


def test_events_api_gateway_never_sends_are_4xx_not_crashes(pipeline):
    event = signed_event("stripe", BODY)
    assert pipeline.post(event | {"body": 12345})[0] == 400  # bytes(12345) would be 12 kB of zeros
    assert pipeline.post(event | {"body": "\ud800"})[0] == 400
    assert pipeline.post(event | {"pathParameters": {"provider": ["stripe"]}})[0] == 404
    _rejected_nothing_stored(pipeline)
