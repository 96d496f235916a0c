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


def signing_secret(name: str) -> str:
    """A secret `sign()` can use for the scheme: the first vector's, or Discord's test key
    (Discord's vectors verify with the public key, which cannot sign)."""
    return DISCORD_SEED if name == "discord" else VECTORS[name][0].secrets[0]


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

# The published vectors above, for providers whose construction is the same (only the header
# names differ): GitHub's (`sha256=<hex>` of the body) for Bitbucket and Meta, Slack's
# (`v0=<hex>` of `v0:<ts>:<body>`) for Zoom, Stripe's (`t=<ts>,v1=<hex>` of `<ts>.<body>`) for Calendly.
GITHUB_SIGNATURE = GITHUB_DOCS["headers"]["X-Hub-Signature-256"]
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# Computed vectors: where a provider publishes none, the signature below was computed with
# Python's `hmac` from the formula on the provider's page (cited in handlers/schemes/), at
# unix 1700000000 where a timestamp is signed, independently of handlers.schemes.
NOW = 1700000000

# Microsoft's example notification (learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks
# #change-notification-example), clientState "secretClientValue".
GRAPH_BODY = (
    b'{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"{subscription_guid}","subscriptionExpirationDateTime":'
    b'"2016-03-19T22:11:09.952Z","clientState":"secretClientValue","changeType":"created","resource":'
    b'"users/{user_guid}@{tenant_guid}/messages/{long_id_string}","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95",'
    b'"resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":'
    b'"Users/{user_guid}@{tenant_guid}/Messages/{long_id_string}","id":"{long_id_string}"}}]}'
)

HUBSPOT_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1700000000000,"subscriptionType":'
    b'"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
# RFC 8032 section 7.1 TEST 1's key pair; Discord signs <timestamp><body>.
DISCORD_PUBLIC_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
DISCORD_SEED = "ed25519-seed:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
DISCORD_BODY = b'{"id":"1179859281117560832","type":2,"data":{"name":"status"}}'

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
    "zoom": [
        Vector("Slack's published vector (same v0:<ts>:<body> construction as Zoom's x-zm-signature)", SLACK_BODY,
               {"x-zm-request-timestamp": "1531420618", "x-zm-signature": SLACK_SIGNATURE},
               ("8f742231b10e8888abcd99yyyzzz85a5",), BODY_HASH, None, now=1531420618, resign=True),
    ],
    "hubspot": [
        Vector("signed with hubspot-api-client 12.0.0 Signature.get_signature(..., 'v3', uri, 'POST', ts)",
               HUBSPOT_BODY,
               {"X-HubSpot-Signature-v3": "AN6DkcbOLtudMBUD9HrEJq7USvBovTTsfabrA6ISp5s=",
                "X-HubSpot-Request-Timestamp": "1700000000000"},
               ("hubspot-client-secret",), "1", "contact.creation",
               url="https://hooks.example.com/prod/webhooks/hubspot?portal=62515", now=NOW, resign=True),
    ],
    "linear": [
        Vector("computed: hex HMAC-SHA256 of the body (linear.app/developers/webhooks)",
               b'{"action":"create","type":"Issue","webhookTimestamp":1700000000000,"data":{"id":'
               b'"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9"}}',
               {"Linear-Signature": "11f8a2d4cef9f4a75ae160df8708559a2798a4cac25e1b32d96526b842ba1f64",
                "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72", "Linear-Event": "Issue"},
               ("lin_wh_secret",), "234d1a4e-b617-4388-90fe-adc3633d6b72", "Issue.create", now=NOW),
    ],
    "intercom": [
        Vector("computed: sha1=<hex HMAC-SHA1 of the body> (developers.intercom.com, signed notifications)",
               b'{"id":"notif_ccd8a4d2-c5d1-4b4f-9a7d-1e1d2b6b1a01","topic":"conversation.user.created",'
               b'"delivery_attempts":1}',
               {"X-Hub-Signature": "sha1=2efdbee73878f22481e30b3a2eeda66eb5f5df4e"},
               ("intercom-client-secret",), "notif_ccd8a4d2-c5d1-4b4f-9a7d-1e1d2b6b1a01", "conversation.user.created",
               resign=True),
    ],
    "typeform": [
        Vector("computed: sha256=<base64 HMAC-SHA256 of the body> (typeform.com/developers, secure your webhooks)",
               b'{"event_id":"01HGY0ZB3ZQK2M8Q2K1W4Y5XJ7","event_type":"form_response","form_response":'
               b'{"form_id":"lT4Z3j"}}',
               {"Typeform-Signature": "sha256=r8UJjx+ADpzT8m6LZaOhvzi3aE6qdHPEYRIzmujGGG8="},
               ("typeform-secret",), "01HGY0ZB3ZQK2M8Q2K1W4Y5XJ7", "form_response", resign=True),
    ],
    "gitlab": [
        Vector("GitLab docs: the secret token sent as X-Gitlab-Token, with Idempotency-Key", b'{"object_kind":"push"}',
               {"X-Gitlab-Token": "gitlab-secret-token", "X-Gitlab-Event": "Push Hook",
                "X-Gitlab-Event-UUID": "8f2e3e8a-9b73-4e0a-9d3a-3a8a7a0f1c11",
                "Idempotency-Key": "f7b1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
               ("gitlab-secret-token",), "f7b1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "Push Hook"),
    ],
    "bitbucket": [
        Vector("GitHub's published vector (Bitbucket's X-Hub-Signature is the same sha256=<hex>)", GITHUB_DOCS["body"],
               {"X-Hub-Signature": GITHUB_SIGNATURE, "X-Request-UUID": "b4b7c8a2-6a1f-4c1e-9a3c-2f6f4e1d7a55",
                "X-Event-Key": "repo:push"},
               GITHUB_DOCS["secrets"], "b4b7c8a2-6a1f-4c1e-9a3c-2f6f4e1d7a55", "repo:push", resign=True),
    ],
    "calendly": [
        Vector("Stripe's vector (stripe-python; Calendly's t=,v1= is the same construction)", STRIPE_PAYLOAD,
               {"Calendly-Webhook-Signature":
                "t=1700000000,v1=dedcb17f0e6cb0edfa1b8990429c72d68d7bff47404b384af2ffdd0ff8acffd2"},
               ("whsec_test_secret",), BODY_HASH, None, now=NOW, resign=True),
    ],
    "meta": [
        Vector("GitHub's published vector (Meta's X-Hub-Signature-256 is the same sha256=<hex>)", GITHUB_DOCS["body"],
               {"X-Hub-Signature-256": GITHUB_SIGNATURE}, GITHUB_DOCS["secrets"], BODY_HASH, None, resign=True),
    ],
    "twitch": [
        Vector("computed: sha256=<hex HMAC-SHA256 of id + timestamp + body> (dev.twitch.tv, verifying the message)",
               b'{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2"},'
               b'"event":{"user_id":"1234"}}',
               {"Twitch-Eventsub-Message-Id": "befa7b53-d79d-478f-86b9-120f112b044e",
                "Twitch-Eventsub-Message-Timestamp": "2023-11-14T22:13:20.123456789Z",
                "Twitch-Eventsub-Message-Signature":
                    "sha256=7e4f4bb3373000b28333a3ae977fb3af41fb449d87f762ccd5d8d92e238a1465",
                "Twitch-Eventsub-Message-Type": "notification",
                "Twitch-Eventsub-Subscription-Type": "channel.follow"},
               ("twitch-secret-0123456789",), "befa7b53-d79d-478f-86b9-120f112b044e", "channel.follow", now=NOW),
    ],
    "dropbox": [
        Vector("hapi-dropbox-webhooks 1.1.0 test/index.js (NOTIFICATION_SIGNATURE)", b'{"delta": {"users": [12345]}}',
               {"X-Dropbox-Signature": "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529"},
               ("the_secret",), BODY_HASH, None, resign=True),
    ],
    "sentry": [
        Vector("computed: hex HMAC-SHA256 of the body (docs.sentry.io, verifying the signature)",
               b'{"action":"created","data":{"issue":{"id":"1117540176"}}}',
               {"Sentry-Hook-Signature": "296db1ab5b2822679485049ce7b0804572c3f8a129e08d2f2d9c5ad142ed30e4",
                "Sentry-Hook-Resource": "issue", "Request-ID": "d3f8e2a1-2b3c-4d5e-8f9a-0b1c2d3e4f5a"},
               ("sentry-client-secret",), "d3f8e2a1-2b3c-4d5e-8f9a-0b1c2d3e4f5a", "issue.created"),
    ],
    "segment": [
        Vector("computed: hex HMAC-SHA1 of the body (segment.com docs, webhooks shared secret)",
               b'{"messageId":"ajs-5b5e27e63f2d4f1d9b0d5b1a","type":"track","event":"Order Completed"}',
               {"X-Signature": "b208cd6836ca21a5c87e65907c9fb4338a4d23f1"},
               ("segment-shared-secret",), "ajs-5b5e27e63f2d4f1d9b0d5b1a", "track", resign=True),
    ],
    "woocommerce": [
        Vector("computed: base64 HMAC-SHA256 of the body (WooCommerce REST API docs, webhooks)",
               b'{"id":727,"status":"processing","total":"29.35"}',
               {"X-WC-Webhook-Signature": "xgm3Lx1m3P7r1cMXI2tbKFWnhSZ0AstlDcpvmzE9Z1g=",
                "X-WC-Webhook-Delivery-ID": "7d1b7c3e5f2a4e1b", "X-WC-Webhook-Topic": "order.created"},
               ("woocommerce-secret",), "7d1b7c3e5f2a4e1b", "order.created", resign=True),
    ],
    "lemonsqueezy": [
        Vector("computed: hex HMAC-SHA256 of the body (docs.lemonsqueezy.com, signing requests)",
               b'{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":"1"}}',
               {"X-Signature": "9a2b034ffc26dbecf630f01edfada001f340dc77d633d4dd4829d2579f367ab1",
                "X-Event-Name": "order_created"},
               ("lemon-signing-secret",), BODY_HASH, "order_created", resign=True),
    ],
    "vercel": [
        Vector("computed: hex HMAC-SHA1 of the body (vercel.com/docs/webhooks, securing webhooks)",
               b'{"id":"evt_0123456789abcdef01234567","type":"deployment.succeeded","createdAt":1700000000000}',
               {"x-vercel-signature": "c5e972a9c44b0b1ca3ca7de71e079070afb0df31"},
               ("vercel-client-secret",), "evt_0123456789abcdef01234567", "deployment.succeeded", resign=True),
    ],
    "pagerduty": [
        Vector("computed: v1=<hex HMAC-SHA256 of the body>, after a rotated-out one (developer.pagerduty.com)",
               b'{"event":{"id":"01DEN7M4J1OZYNZ3MOP7O6HEUP","event_type":"incident.triggered","resource_type":'
               b'"incident"}}',
               {"X-PagerDuty-Signature": "v1=" + "00" * 32 + ","
                "v1=a6fa6ec6df1be21842b02f54f3532247f86eed1dc6ac69fc04f9cd6dfadaf0f3"},
               ("pagerduty-secret",), "01DEN7M4J1OZYNZ3MOP7O6HEUP", "incident.triggered"),
    ],
    "asana": [
        Vector("computed: hex HMAC-SHA256 of the body keyed by the docs' example X-Hook-Secret "
               "(developers.asana.com/reference/createwebhook)",
               b'{"events":[{"action":"changed","resource":{"gid":"1201","resource_type":"task"}}]}',
               {"X-Hook-Signature": "ddbf1ac025be9285b81c2504ac5e9f1d5c4199e648b294a017f620620aeaeb5d"},
               ("b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81",), BODY_HASH, "task.changed",
               resign=True),
    ],
    "msgraph": [
        Vector("Microsoft Graph docs' example change notification (clientState secretClientValue)", GRAPH_BODY,
               {"Content-Type": "application/json"}, ("secretClientValue",), BODY_HASH, "created"),
    ],
    "xero": [
        Vector("computed: base64 HMAC-SHA256 of the body (developer.xero.com, configuring your server)",
               b'{"events":[{"resourceId":"3a6a2a7c-3c9b-4e36-8f2a-7f0b1f5b8d22","eventCategory":"INVOICE",'
               b'"eventType":"UPDATE"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"S0M3R4ND0MT3XT"}',
               {"x-xero-signature": "3yBzSv1/COAwzni8GKduDEaws0zkdlHhqlZ0wx66xzM="},
               ("xero-webhook-key",), BODY_HASH, "INVOICE.UPDATE", resign=True),
    ],
    "discord": [
        Vector("signed with PyNaCl 1.6.2 (libsodium) by RFC 8032 TEST 1's key; verified by its public key",
               DISCORD_BODY,
               {"X-Signature-Timestamp": "1700000000", "X-Signature-Ed25519":
                "a42a1ddbfce0d5405ecf1d232bf6158a57ec95f8c9c6cc946f5a1e903aa703c5"
                "14aa0c1f7bb9850ef1dfe6fa5ea26e27ef104d7c7d60153e41ea5cb173a1de0c"},
               (DISCORD_PUBLIC_KEY,), "1179859281117560832", "APPLICATION_COMMAND", now=NOW),
        Vector("the same, verified with the test key's seed (what `webhookctl dev` stores); Ed25519 is "
               "deterministic, so signing it again gives the same bytes", DISCORD_BODY,
               {"X-Signature-Timestamp": "1700000000", "X-Signature-Ed25519":
                "a42a1ddbfce0d5405ecf1d232bf6158a57ec95f8c9c6cc946f5a1e903aa703c5"
                "14aa0c1f7bb9850ef1dfe6fa5ea26e27ef104d7c7d60153e41ea5cb173a1de0c"},
               (DISCORD_SEED,), "1179859281117560832", "APPLICATION_COMMAND", now=NOW, resign=True),
    ],
    "hmac-sha256": [
        Vector("GitHub's docs vector, as a generic hex HMAC-SHA256 with a prefix", **GITHUB_DOCS,
               options={"header": "X-Hub-Signature-256", "encoding": "hex", "prefix": "sha256=",
                        "id_header": "X-GitHub-Delivery", "event_type_header": "X-GitHub-Event"}, resign=True),
    ],
}
