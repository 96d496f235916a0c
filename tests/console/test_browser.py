"""The console in a real browser (Debian's chromium, headless, driven by Playwright) against `webhookctl dev`.

In order: the overview draws the pipeline; a triggered delivery appears in the list while the page is
open (live updates); opening it shows its payload and its timeline up to `processed`; Replay (after
the confirm dialog) publishes it to the bus again, as a rule on the bus sees; a poison message in the
DLQ shows in the DLQ view and Redrive empties it; a payload holding `<script>` and an `onerror` image
renders as text and adds no element. The screenshots of the overview and of a delivery are written
to the test's folder (docs/console-*.png are copies of good ones).
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from cli.workspace import Workspace
from dev_harness import committed_config, serve_dev

pytestmark = [pytest.mark.slow, pytest.mark.emulator, pytest.mark.terraform]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_root) -> Path:
    folder = tmp_path_factory.mktemp("console-project")
    (folder / "webhookctl.toml").write_text(committed_config(project_root))
    return folder


@pytest.fixture(scope="module")
def dev(project):
    yield from serve_dev(project)


@pytest.fixture(scope="module")
def console_url(dev) -> str:
    match = re.search(r"Console \(this run's token; 127\.0\.0\.1 only\): (http://127\.0\.0\.1:\d+/\?token=[\w-]{43})",
                      dev.text())
    assert match, dev.story()
    return match[1]


@pytest.fixture(scope="module")
def ws(project, dev) -> Workspace:
    return Workspace.open(project / "webhookctl.toml", "local")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def page(console_url):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 860})
        tab.set_default_timeout(WAIT_MS)
        tab.errors = []
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
        yield tab
        browser.close()


def trigger(ws, provider: str, event_type: str, sets=()) -> str:
    from cli.trigger import trigger as do_trigger

    result = do_trigger(ws, provider, event_type, sets=sets)
    assert result["status"] == 202, result
    return result["webhook_id"]


def wait_status(ws, webhook_id: str, status: str, timeout: float = 60) -> dict:
    from cli.operations import delivery_status
    from cli.stack_ops import known_outputs

    table, deadline, record = known_outputs(ws).table_name, time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        record = delivery_status(ws, webhook_id, table)
        if record.get("status") == status:
            return record
        time.sleep(0.3)
    raise AssertionError(f"{webhook_id} not {status} in {timeout} s: {record}")


def open_view(page, console_url: str, view: str) -> None:
    page.goto(f"{console_url}#{view}")


def confirm(page) -> None:
    page.wait_for_selector("dialog#confirm[open]")
    page.click("#confirm-ok")


def test_the_overview_draws_the_pipeline_and_its_numbers(page, console_url, ws, shots):
    for n in range(6):
        trigger(ws, ("stripe", "github", "shopify")[n % 3], ("payment_intent.succeeded", "push", "orders/create")[n % 3])
    open_view(page, console_url, "overview")
    page.wait_for_selector("#stages li[data-stage=routes]")
    page.wait_for_selector("#chart svg.bars rect")
    labels = page.locator("#stages .stage-label").all_text_contents()
    assert labels == ["API Gateway", "ingest λ", "archive · records · queue", "process λ", "EventBridge bus",
                      "routes → targets"]
    states = page.locator("#alarms tbody td:nth-child(2)").all_text_contents()
    assert len(states) >= 4 and set(states) <= {"OK", "ALARM", "INSUFFICIENT_DATA"}  # the stack's alarms
    time.sleep(0.5)
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)
    assert page.errors == []


def test_a_triggered_delivery_appears_in_the_open_list(page, console_url, ws):
    open_view(page, console_url, "deliveries")
    page.wait_for_selector("#deliveries tbody tr")
    webhook_id = trigger(ws, "stripe", "payment_intent.succeeded", sets=["data.object.description=appears live"])
    row = page.wait_for_selector(f'#deliveries tbody tr[data-webhook-id="{webhook_id}"]')  # no reload: polling
    assert "stripe" in row.text_content() and "payment_intent.succeeded" in row.text_content()
    assert page.locator("#deliveries tbody tr").first.get_attribute("data-webhook-id") == webhook_id  # newest first


def test_opening_a_delivery_shows_its_payload_and_timeline(page, console_url, ws, shots):
    webhook_id = trigger(ws, "stripe", "payment_intent.succeeded", sets=["data.object.description=look inside"])
    wait_status(ws, webhook_id, "processed")
    open_view(page, console_url, "deliveries")
    page.click(f'#deliveries tbody tr[data-webhook-id="{webhook_id}"]')
    page.wait_for_selector("#timeline .step.processed.done")
    assert page.locator("#timeline .step strong").all_text_contents() == ["received", "queued", "processed"]
    assert re.search(r"attempts: [1-9]", page.locator("#timeline .step.processed").text_content())
    payload = page.locator("#payload")
    assert '"look inside"' in payload.text_content() and '"payment_intent.succeeded"' in payload.text_content()
    assert page.locator("#payload details").count() >= 3  # objects fold
    assert "verified" in page.locator("#verification").text_content()
    assert "stripe-signature" in page.locator("#headers").text_content()
    page.click("#payload details.node > summary >> nth=1")  # fold "data": its children hide
    assert not page.locator("#payload details.node >> nth=1").evaluate("node => node.open")
    page.click("#payload details.node > summary >> nth=1")
    page.mouse.move(0, 0)
    page.screenshot(path=str(shots / "console-delivery.png"), full_page=True)
    assert page.errors == []


def bus_watcher(ws, webhook_id: str):
    """A queue that receives the bus's replayed events of this delivery (a rule on the bus, as a consumer)."""
    from cli.operations import env_client
    from cli.stack_ops import known_outputs

    sqs, events = env_client(ws, "sqs"), env_client(ws, "events")
    bus = known_outputs(ws).event_bus_name
    queue = sqs.create_queue(QueueName=f"console-replayed-{webhook_id[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"detail": {"webhook_id": [webhook_id], "replayed": [True]}}
    events.put_rule(Name=f"console-replayed-{webhook_id[:8]}", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"console-replayed-{webhook_id[:8]}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, queue


def test_replay_publishes_the_delivery_again(page, console_url, ws):
    webhook_id = trigger(ws, "stripe", "payment_intent.succeeded", sets=["data.object.description=replay me"])
    wait_status(ws, webhook_id, "processed")
    sqs, queue = bus_watcher(ws, webhook_id)
    open_view(page, console_url, f"delivery/{webhook_id}")
    page.wait_for_selector("#timeline .step.processed.done")
    page.click("#replay")
    confirm(page)
    page.wait_for_selector("#replay-result:not([hidden])")
    assert "1 event published" in page.locator("#replay-result").text_content()
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5).get("Messages", [])
    detail = json.loads(messages[0]["Body"])["detail"]
    assert detail["webhook_id"] == webhook_id and detail["replayed"] is True
    assert detail["payload"]["data"]["object"]["description"] == "replay me"


def test_a_poison_message_shows_in_the_dlq_and_redrive_empties_it(page, console_url, ws):
    from cli.operations import env_client
    from cli.stack_ops import known_outputs
    from handlers.contract import Pointer

    webhook_id = trigger(ws, "github", "push")
    record = wait_status(ws, webhook_id, "processed")
    outputs, sqs, ddb = known_outputs(ws), env_client(ws, "sqs"), env_client(ws, "dynamodb")
    # What the processor leaves after the last receive: the record `failed`, its pointer in the DLQ.
    ddb.update_item(TableName=outputs.table_name, Key={"webhook_id": {"S": webhook_id}}, UpdateExpression="SET #s = :f",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":f": {"S": "failed"}})
    pointer = Pointer(webhook_id=webhook_id, provider="github", s3_key=record["s3_key"],
                      delivery_id=record["delivery_id"], event_type="push", received_at=record["received_at"])
    sqs.send_message(QueueUrl=outputs.dlq_url, MessageBody=pointer.to_json(), MessageGroupId="github",
                     MessageDeduplicationId=webhook_id)
    open_view(page, console_url, "dlq")
    row = page.wait_for_selector(f'#dlq-ingest tbody tr[data-webhook-id="{webhook_id}"]')
    assert "github" in row.text_content() and "push" in row.text_content()
    page.click("#redrive")
    confirm(page)
    page.wait_for_selector("#redrive-result:not([hidden])")
    assert "1 of 1 moved" in page.locator("#redrive-result").text_content()
    page.wait_for_selector("#dlq-ingest-empty:not([hidden])")
    assert page.locator("#dlq-ingest tbody tr").count() == 0
    wait_status(ws, webhook_id, "processed")  # back through the queue and the processor


def test_a_script_in_a_payload_renders_as_text(page, console_url, ws):
    webhook_id = trigger(ws, "stripe", "payment_intent.succeeded", sets=[f"data.object.description={XSS}"])
    open_view(page, console_url, "overview")
    page.wait_for_selector("#stages li")
    before = page.evaluate("() => document.querySelectorAll('script, img, iframe, object, embed').length")
    open_view(page, console_url, f"delivery/{webhook_id}")
    page.wait_for_selector("#payload details")
    shown = page.get_by_text(json.dumps(XSS))
    assert shown.is_visible()
    after = page.evaluate("() => document.querySelectorAll('script, img, iframe, object, embed').length")
    assert after == before == 1  # app.js alone: nothing was added
    assert page.locator("#payload script, #payload img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
