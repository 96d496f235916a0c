"""The trigger catalog: every scheme has realistic events that our own verifier accepts with the
provider's ids and types, fresh on every build; `--set` and its errors; and `trigger` end to end
against a receiver standing in for ingest (redelivery against the emulator's archive)."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from cli.errors import WebhookctlError
from cli.trigger import Filler, build, catalog, find, parse_set, scheme_type_header
from handlers.schemes import REGISTRY, get, prepare_body, sign, verify

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/local/webhooks/p"
OPTIONS = {"hmac-sha256": {"header": "X-Webhook-Signature", "id_header": "X-Webhook-Id",
                           "event_type_header": "X-Webhook-Event"}}
ALL = [(scheme, fixture.event_type) for scheme, fixtures in sorted(catalog().items()) for fixture in fixtures]


def test_every_scheme_is_catalogued_and_the_big_four_have_three_or_more():
    assert set(catalog()) == set(REGISTRY)
    for scheme in ("stripe", "github", "shopify", "slack"):
        assert len(catalog()[scheme]) >= 3, scheme
    for fixtures in catalog().values():
        assert all(f.source.startswith("https://") and f.summary for f in fixtures)
        assert len({f.event_type for f in fixtures}) == len(fixtures)


def _signed(scheme: str, event_type: str):
    fixture = find(scheme, event_type)
    prepared = build(fixture)
    secret = get(scheme).dev_secret()
    options = OPTIONS.get(scheme, {})
    body = prepare_body(scheme, prepared.body, secret)
    url = get(scheme).post_url(URL, body, prepared.content_type)
    headers = {**prepared.headers, "Content-Type": prepared.content_type,
               **sign(scheme, body, secret, options, url=url, event_type=prepared.event_type,
                      delivery_id=prepared.delivery_id)}
    return prepared, body, headers, secret, options, url


@pytest.mark.parametrize("scheme,event_type", ALL)
def test_each_event_verifies_and_is_identified_as_catalogued(scheme, event_type):
    prepared, body, headers, secret, options, url = _signed(scheme, event_type)
    verified = verify(scheme, body, headers, [secret], options, url=url)
    assert verified.event_type == event_type
    if prepared.delivery_id:
        assert verified.delivery_id == prepared.delivery_id
    assert "{{" not in body.decode() and all("{{" not in v for v in headers.values())


@pytest.mark.parametrize("scheme,event_type", ALL)
def test_each_build_has_a_fresh_delivery_id(scheme, event_type):
    ids = set()
    for _ in range(2):
        prepared, body, headers, secret, options, url = _signed(scheme, event_type)
        ids.add(verify(scheme, body, headers, [secret], options, url=url).delivery_id)
    assert len(ids) == 2


def test_placeholders_share_named_values_and_numbers_stay_numbers():
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    doc = Filler(now).doc({"a": "pi_{{alnum:8@pi}}", "b": "{{alnum:8@pi}}", "n": "{{int:5}}", "t": "{{unix}}",
                           "later": "{{iso+1d}}", "ms": "{{iso_ms-5m}}", "u": "{{{uuid}}}"})
    assert doc["a"] == "pi_" + doc["b"] and len(doc["b"]) == 8
    assert isinstance(doc["n"], int) and 10_000 <= doc["n"] < 100_000
    assert doc["t"] == int(now.timestamp()) and doc["later"] == "2026-03-02T12:00:00Z"
    assert doc["ms"] == "2026-03-01T11:55:00.000Z"
    assert doc["u"].startswith("{") and doc["u"].endswith("}") and len(doc["u"]) == 38


def test_set_changes_dotted_paths_with_json_values():
    prepared = build(find("stripe", "payment_intent.succeeded"),
                     ["data.object.amount=500", "data.object.metadata.note=hello", "livemode=true",
                      'data.object.payment_method_types.0="sepa_debit"', 'data.object.shipping={"name": "Jo"}'])
    doc = json.loads(prepared.body)
    assert doc["data"]["object"]["amount"] == 500 and doc["livemode"] is True
    assert doc["data"]["object"]["metadata"]["note"] == "hello"
    assert doc["data"]["object"]["payment_method_types"] == ["sepa_debit"]
    assert doc["data"]["object"]["shipping"] == {"name": "Jo"}


def test_set_on_a_form_event_sets_the_field():
    prepared = build(find("twilio", "received"), ["Body=Where is it?", "NumMedia=1"])
    fields = dict(parse_qsl(prepared.body.decode()))
    assert fields["Body"] == "Where is it?" and fields["NumMedia"] == "1"


@pytest.mark.parametrize("text,message", [
    ("data.nope.amount=1", "--set data.nope.amount=1: 'nope' is not in data (its keys: object)"),
    ("data.object.amount.x=1", "--set data.object.amount.x=1: data.object.amount is a int, not an object or a list"),
    ("data.object.payment_method_types.3=1", "--set data.object.payment_method_types.3=1: "
                                            "data.object.payment_method_types is a list of 1: '3' is not an index in it"),
    ("amount", "--set amount: give path=value, the path dotted (data.object.amount=500)"),
    ("a..b=1", "--set a..b=1: give path=value, the path dotted (data.object.amount=500)"),
])
def test_a_bad_set_path_is_one_clear_error(text, message):
    with pytest.raises(WebhookctlError) as caught:
        build(find("stripe", "payment_intent.succeeded"), [text])
    assert caught.value.message == message


def test_parse_set_keeps_text_that_is_not_json():
    assert parse_set("a.b=hello world") == (["a", "b"], "hello world")
    assert parse_set("a=12") == (["a"], 12)


def test_unknown_event_type_names_the_catalogued_ones():
    with pytest.raises(WebhookctlError) as caught:
        find("slack", "team_join")
    assert caught.value.message == ("no slack event 'team_join' in the catalog (it has: app_mention, message, "
                                    "reaction_added); send your own with --file")


@pytest.mark.parametrize("scheme,header", [("github", "x-github-event"), ("sentry", "sentry-hook-resource"),
                                           ("linear", "linear-event"), ("stripe", None), ("discord", None),
                                           ("twitch", "twitch-eventsub-subscription-type")])
def test_the_type_header_of_a_scheme_is_found_by_signing(scheme, header):
    assert scheme_type_header(scheme, {}) == header


# --------------------------------------------------------------------------- the command


class Ingest(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Ingest.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        doc = json.dumps({"webhook_id": "f" * 32, "status": "queued"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(doc)))
        self.end_headers()
        self.wfile.write(doc)

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    Ingest.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def with_secrets(project, emulator):
    from operate_stack import deploy_storage

    stack = deploy_storage(emulator.endpoint, project)
    for provider, secret in {"github": "gh-secret", "stripe": "whsec_trigger", "twilio": "tw-secret"}.items():
        stack.set_secrets(provider, [secret])
    return stack


@pytest.mark.emulator
def test_trigger_sends_the_catalogued_event_signed_with_the_active_secret(run_cli, with_secrets, ingest):
    result = run_cli("trigger", "github", "pull_request", "--url", ingest, "--set", "action=closed", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == 202 and doc["event_type"] == "pull_request" and doc["webhook_id"] == "f" * 32
    path, headers, body = Ingest.received[-1]
    assert path == "/webhooks/github" and headers["x-github-event"] == "pull_request"
    assert headers["user-agent"].startswith("GitHub-Hookshot/") and json.loads(body)["action"] == "closed"
    verified = verify("github", body, headers, ["gh-secret"], {})
    assert verified.delivery_id == headers["x-github-delivery"]


@pytest.mark.emulator
def test_trigger_list_shows_the_catalog_of_the_configured_providers(run_cli, with_secrets):
    result = run_cli("trigger", "--list", "--json")
    rows = json.loads(result.stdout)
    assert {r["provider"] for r in rows} == {"stripe", "github", "shopify", "slack", "svix", "twilio", "paddle",
                                             "square", "acme"}
    assert [r["event_type"] for r in rows if r["provider"] == "stripe"][:3] == [
        "payment_intent.succeeded", "charge.refunded", "customer.subscription.created"]
    one = run_cli("trigger", "slack", "--list")
    assert one.exit_code == 0 and "reaction_added" in one.stdout and "stripe" not in one.stdout


@pytest.mark.emulator
def test_trigger_file_sends_the_exact_bytes(run_cli, with_secrets, ingest, tmp_path):
    own = tmp_path / "event.json"
    own.write_bytes(b'{"id": "evt_mine", "type": "charge.succeeded"}')
    result = run_cli("trigger", "stripe", "--file", str(own), "--url", ingest, "--json")
    assert result.exit_code == 0, result.output
    path, headers, body = Ingest.received[-1]
    assert body == own.read_bytes() and headers["user-agent"].startswith("Stripe/1.0")


@pytest.mark.emulator
def test_redeliver_sends_the_archived_bytes_with_the_same_delivery_id(run_cli, with_secrets, ingest):
    now = dt.datetime.now(dt.timezone.utc)
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    headers = {"x-github-event": "push", "x-github-delivery": "d-123", "x-hub-signature-256": "sha256=" + "0" * 64}
    wid = with_secrets.put_delivery("github", "d-123", now, body=body, event_type="push", headers=headers)
    for ident in (wid, "d-123"):
        result = run_cli("trigger", "github", "--redeliver", ident, "--url", ingest, "--json")
        assert result.exit_code == 0, result.output
        path, sent, got = Ingest.received[-1]
        assert got == body and sent["x-github-delivery"] == "d-123" and sent["x-github-event"] == "push"
        verify("github", got, sent, ["gh-secret"], {})


@pytest.mark.emulator
@pytest.mark.parametrize("args,error", [
    (["stripe", "--set", "data.nope.x=1"], "Error: --set data.nope.x=1: 'nope' is not in data (its keys: object)"),
    (["stripe", "no.such.type"], "Error: no stripe event 'no.such.type' in the catalog (it has: "
                                 "payment_intent.succeeded, charge.refunded, customer.subscription.created, "
                                 "invoice.paid, checkout.session.completed); send your own with --file"),
    (["nope"], "Error: unknown provider 'nope' (configured: acme, github, paddle, shopify, slack, square, stripe, "
               "svix, twilio)"),
    (["github", "--redeliver", "0" * 32], f"Error: no delivery {'0' * 32} in environment 'local' "
                                          "(`webhookctl events list` shows the webhook ids)"),
    (["github", "push", "--redeliver", "x"], "Error: --redeliver sends the earlier delivery's own bytes: give it "
                                             "without EVENT_TYPE, --set and --file"),
])
def test_trigger_bad_input_is_one_error_line(run_cli, with_secrets, ingest, args, error):
    result = run_cli("trigger", *args, "--url", ingest)
    assert result.exit_code == 1 and result.stderr.splitlines()[-1] == error
    assert not Ingest.received


@pytest.mark.emulator
def test_trigger_without_provider_needs_list(run_cli, with_secrets):
    result = run_cli("trigger")
    assert result.exit_code == 2 and "give PROVIDER (or --list)" in result.stderr


def test_ingest_s_document_comes_from_the_reply_header_where_the_provider_dictates_the_body():
    from cli.send import _document

    assert _document('{"type":5}', '{"webhook_id":"w","status":"queued"}') == {
        "webhook_id": "w", "status": "queued", "raw": '{"type":5}'}  # Discord
    assert _document("<Response/>", '{"webhook_id":"w"}') == {"webhook_id": "w", "raw": "<Response/>"}  # Twilio
    assert _document('{"webhook_id":"w","duplicate":true}', None) == {"webhook_id": "w", "duplicate": True}
    assert _document("oops", None) == {"raw": "oops"}
