"""End to end under moto: ingest -> S3 + DynamoDB + SQS FIFO -> process -> EventBridge -> consumer."""
from __future__ import annotations

import json

import pytest

from handlers import signatures

from handler_harness import SECRETS, load_event, signed_event

STRIPE_EVENT = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "object": "event",
    "type": "invoice.paid",
    "data": {"object": {"id": "in_1", "customer": "cus_42"}},
}


def test_ingest_then_process_publishes_one_event_and_a_redelivery_publishes_nothing(pipeline):
    # GIVEN a Stripe delivery signed with the provider's secret
    body = json.dumps(STRIPE_EVENT)
    event = signed_event("stripe", body)

    # WHEN it is posted, then the queue is processed
    status, reply = pipeline.post(event)
    assert status == 202 and reply["status"] == "queued"
    wid = reply["webhook_id"]
    assert wid == signatures.webhook_id("stripe", "evt_1NG8Du2eZvKYlo2CUI79vXWy")
    item = pipeline.item(wid)
    assert item["status"] == "queued" and item["event_type"] == "invoice.paid"
    assert pipeline.s3.get_object(Bucket=pipeline.bucket, Key=item["s3_key"])["Body"].read() == body.encode()
    pipeline.drain()

    # THEN exactly one event reaches the consumer, with the contract's detail
    events = pipeline.published()
    assert len(events) == 1
    assert events[0]["source"] == "webhook.processor"
    assert events[0]["detail-type"] == "Webhook Processed"
    detail = events[0]["detail"]
    assert detail["webhook_id"] == wid and detail["provider"] == "stripe"
    assert detail["delivery_id"] == STRIPE_EVENT["id"] and detail["event_type"] == "invoice.paid"
    assert detail["payload"] == STRIPE_EVENT and detail["s3_key"] == item["s3_key"]
    assert set(detail) == {"webhook_id", "provider", "delivery_id", "event_type", "received_at",
                           "processed_at", "s3_key", "payload"}
    item = pipeline.item(wid)
    assert item["status"] == "processed" and item["processed_at"] == detail["processed_at"]
    assert item["attempts"] == "1"

    # AND Stripe redelivering the same event (re-signed, new timestamp) is a duplicate
    status, reply = pipeline.post(signed_event("stripe", body))
    assert (status, reply) == (200, {"webhook_id": wid, "duplicate": True})
    pipeline.drain()
    assert pipeline.published() == []
    assert pipeline.queue_depth() == 0


def test_seed_route_with_x_provider_id(pipeline):
    # GIVEN the seed's request: POST /webhook, X-Provider-ID: acme, hex HMAC in X-Webhook-Signature
    event = load_event("seed_webhook.json")
    body = json.dumps({"order": 7})
    import hashlib, hmac

    event["body"] = body
    event["headers"]["X-Webhook-Signature"] = hmac.new(SECRETS["acme"].encode(), body.encode(),
                                                       hashlib.sha256).hexdigest()
    status, reply = pipeline.post(event)
    assert status == 202
    pipeline.drain()
    [published] = pipeline.published()
    assert published["detail"]["provider"] == "acme" and published["detail"]["payload"] == {"order": 7}
    # no X-Webhook-Id: the delivery id is the hash of the signed content
    assert published["detail"]["delivery_id"] == signatures.body_delivery_id(body.encode())


@pytest.mark.parametrize("provider", ["stripe", "github", "shopify", "slack", "svix", "twilio",
                                      "paddle", "square", "acme"])
def test_every_provider_of_the_config_flows_end_to_end(pipeline, provider):
    if provider == "twilio":
        body = "MessageSid=SM1&MessageStatus=delivered&To=%2B15005550006"
    elif provider == "slack":
        body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}})
    else:
        body = json.dumps({"id": "evt_9", "event_id": "e-9", "type": "thing.happened", "event_type": "thing.happened"})
    status, reply = pipeline.post(signed_event(provider, body))
    assert status == 202, reply
    pipeline.drain()
    [published] = pipeline.published()
    assert published["detail"]["webhook_id"] == reply["webhook_id"]
    assert published["detail"]["provider"] == provider
    expected = body if provider == "twilio" else json.loads(body)  # form bodies are inlined as a string
    assert published["detail"]["payload"] == expected
