"""Test vectors for every scheme in the registry, keyed by scheme name.

A scheme added to `handlers.schemes.REGISTRY` without an entry here fails
`test_scheme_registry.py::test_every_scheme_has_test_vectors`. Each vector is
a request as the provider sent it, from the provider's docs or its own SDK's
tests (source given), with what verifying it must yield. `resign`: signing the
same body with the same secret, time and ids reproduces these headers exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


BODY_HASH = "<sha256: of the body>"  # the provider sends no delivery id: the body's hash is used


@dataclass(frozen=True)
class Vector:
    source: str
    body: bytes
    headers: dict[str, str]
    secrets: tuple[str, ...]
    delivery_id: str
    event_type: str | None
    options: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    now: float | None = None
    resign: bool = False
    secret_index: int = 0


GITHUB_DOCS = dict(  # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    body=b"Hello, World!",
    headers={"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
             "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event": "push"},
    secrets=("It's a Secret to Everybody",), delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
    event_type="push",
)

SLACK_BODY = (  # slackapi/python-slack-sdk tests/slack_sdk/signature/test_signature_verifier.py
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
).encode()

# twilio/twilio-python tests/unit/test_request_validator.py
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_FORM_BODY = urlencode({"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                              "To": "+18005551212", "Caller": "+14158675309"}).encode()
TWILIO_FORM = {"Content-Type": "application/x-www-form-urlencoded"}

SQUARE_BODY = (  # square/square-python-sdk tests/utilities/test_webhooks_helper.py
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-'
    b'18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-'
    b'407e-b46e-3231809b1129"}}'
)

STRIPE_PAYLOAD = b'{"id": "evt_test_webhook", "object": "event", "type": "charge.succeeded"}'

VECTORS: dict[str, list[Vector]] = {
    "stripe": [
        Vector("computed with stripe-python 16.1.0 WebhookSignature._compute_signature at t=1700000000",
               STRIPE_PAYLOAD,
               {"Stripe-Signature": "t=1700000000,v1=dedcb17f0e6cb0edfa1b8990429c72d68d7bff47404b384af2ffdd0ff8acffd2"},
               ("whsec_test_secret",), "evt_test_webhook", "charge.succeeded", now=1700000000, resign=True),
    ],
    "github": [Vector("GitHub docs: testing the webhook payload validation", **GITHUB_DOCS, resign=True)],
    "shopify": [
        # Shopify/shopify-api-ruby test/webhooks/registry_test.rb: Base64.encode64 (newline kept)
        Vector("Shopify/shopify-api-ruby test/webhooks/registry_test.rb", b"{}",
               {"X-Shopify-Hmac-Sha256": "+ihUB5l+D7QrohDEi/6NcBcJRyKssyWqos13LmnsBbs=\n",
                "X-Shopify-Topic": "some/topic", "X-Shopify-Webhook-Id": "b1234-eefd-4c9e-9520-049845a02082"},
               ("API_SECRET_KEY",), "b1234-eefd-4c9e-9520-049845a02082", "some/topic"),
    ],
    "slack": [
        Vector("Slack docs, as in slackapi/python-slack-sdk test_signature_verifier.py", SLACK_BODY,
               {"X-Slack-Request-Timestamp": "1531420618",
                "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
               ("8f742231b10e8888abcd99yyyzzz85a5",), BODY_HASH, "/webhook-collect", now=1531420618, resign=True),
    ],
    "standard": [
        Vector("standard-webhooks libraries/python/tests/test_webhooks.py::test_sign_function",
               b'{"test": 2432232314}',
               {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
               ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",), "msg_p5jXN8AQM9LWM0D4loKWxJek", None,
               now=1614265330, resign=True),
    ],
    "twilio": [
        Vector("twilio-python test_request_validator.py::test_compute_signature", TWILIO_FORM_BODY,
               {**TWILIO_FORM, "X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, ("12345",),
               BODY_HASH, None, url=TWILIO_URL, resign=True),
        Vector("twilio-python test_validation_adds_port_on_https (signed with :443)", TWILIO_FORM_BODY,
               {**TWILIO_FORM, "X-Twilio-Signature": "kvajT1Ptam85bY51eRf/AJRuM3w="}, ("12345",),
               BODY_HASH, None, url=TWILIO_URL),
        Vector("twilio-python test_validation_of_body_succeeds", b'{"property": "value", "boolean": true}',
               {"Content-Type": "application/json", "X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4="},
               ("12345",), BODY_HASH, None,
               url=TWILIO_URL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"),
    ],
    "paddle": [
        Vector("PaddleHQ/paddle-python-sdk tests/Unit/Notification/test_Verifier.py", b"hello-world",
               {"Paddle-Signature": "ts=1696195954;h1=dummy;"
                                    "h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"},
               ("pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
                "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"),
               BODY_HASH, None, now=1696195954, secret_index=1),
    ],
    "square": [
        Vector("square/square-python-sdk tests/utilities/test_webhooks_helper.py", SQUARE_BODY,
               {"x-square-hmacsha256-signature": "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="},
               ("Ibxx_5AKakO-3qeNVR61Dw",), "ac3ac95b-f97d-458c-a6e6-18981597e05f", "webhooks.test_notification",
               options={"notification_url": "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"},
               url="https://elsewhere.example/ignored", resign=True),
    ],
    "hmac-sha256": [
        Vector("GitHub's docs vector, as a generic hex HMAC-SHA256 with a prefix", **GITHUB_DOCS,
               options={"header": "X-Hub-Signature-256", "encoding": "hex", "prefix": "sha256=",
                        "id_header": "X-GitHub-Delivery", "event_type_header": "X-GitHub-Event"}, resign=True),
    ],
}
