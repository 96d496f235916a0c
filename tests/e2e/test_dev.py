"""The embedded default, end to end: `webhookctl dev` as a user runs it, no AWS account.

One `dev` process for the module (a real deploy to the emulator, ~1 min);
every scheme goes all the way to the bus; tampering, redelivery and poison
messages behave; Ctrl-C leaves nothing behind; a second `dev` comes back clean.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from config import load
from handlers.signatures import sign, webhook_id
from local_runtime.emulator import free_port, port_open

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

WEBHOOKCTL = str(Path(sys.executable).parent / "webhookctl")
READY_TIMEOUT = 300


class Dev:
    """A `webhookctl dev` child process in a project folder."""

    def __init__(self, project: Path, port: int):
        self.project, self.port = project, port
        self.out = open(project / f"dev-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen(
            [WEBHOOKCTL, "dev", "--port", str(port), "--visibility-timeout", "1", "--no-self-test"],
            cwd=project, stdout=self.out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def text(self) -> str:
        self.out.flush()
        return Path(self.out.name).read_text()

    def wait_ready(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < READY_TIMEOUT:
            if "is ready in" in self.text():
                return time.monotonic() - started
            if self.proc.poll() is not None:
                pytest.fail(f"webhookctl dev exited early:\n{self.text()[-4000:]}")
            time.sleep(0.5)
        self.interrupt()
        pytest.fail(f"webhookctl dev not ready in {READY_TIMEOUT} s:\n{self.text()[-4000:]}")

    def interrupt(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_root):
    folder = tmp_path_factory.mktemp("dev-project")
    emulator_port = free_port()
    text = (project_root / "webhookctl.toml").read_text()
    (folder / "webhookctl.toml").write_text(text.replace("127.0.0.1:4566", f"127.0.0.1:{emulator_port}"))
    return folder


@pytest.fixture(scope="module")
def config(project):
    return load(project / "webhookctl.toml")


@pytest.fixture(scope="module")
def dev(project):
    running = Dev(project, free_port())
    running.ready_seconds = running.wait_ready()
    yield running
    if running.proc.poll() is None:
        running.interrupt()


@pytest.fixture(scope="module")
def outputs(project, dev):
    return json.loads((project / ".webhookctl" / "outputs-local.json").read_text())


@pytest.fixture(scope="module")
def aws(config):
    endpoint = config.environments["local"].emulator_endpoint

    def client(service):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return client


@pytest.fixture(scope="module")
def consumer(aws, outputs):
    """A rule with an SQS target on the deployed bus: what a downstream team would add."""
    sqs, events = aws("sqs"), aws("events")
    url = sqs.create_queue(QueueName="e2e-consumer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = outputs["event_bus_name"]
    events.put_rule(Name="e2e-consumer", EventBusName=bus, EventPattern=json.dumps({"source": ["webhook.processor"]}))
    events.put_targets(Rule="e2e-consumer", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    seen: dict[str, list[dict]] = {}

    def drain(wait: float = 0.5) -> dict[str, list[dict]]:
        deadline = time.monotonic() + wait
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            for m in msgs:
                event = json.loads(m["Body"])
                seen.setdefault(event["detail"]["webhook_id"], []).append(event)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if not msgs and time.monotonic() >= deadline:
                return seen
            if not msgs:
                time.sleep(0.1)

    return drain


def cli(project, *args, input=None) -> subprocess.CompletedProcess:
    return subprocess.run([WEBHOOKCTL, *args], cwd=project, input=input, capture_output=True, text=True, timeout=120)


def wait_status(project, wid, wanted, timeout=30) -> dict:
    deadline = time.monotonic() + timeout
    record = {}
    while time.monotonic() < deadline:
        result = cli(project, "status", wid, "--json")
        if result.returncode == 0:
            record = json.loads(result.stdout)
            if record["status"] == wanted:
                return record
        time.sleep(0.3)
    pytest.fail(f"{wid} did not reach {wanted}: {record}")


def post(url, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_dev_prints_every_provider_url(dev, config):
    text = dev.text()
    for provider in config.providers:
        assert f"http://127.0.0.1:{dev.port}/local/webhooks/{provider}" in text


def test_every_scheme_reaches_processed_and_the_bus(project, config, dev, consumer):
    for provider in sorted(config.providers):
        secret = f"whsec_{'c2VjcmV0LWZvci1lMmUtdGVzdHMtMTIzNA=='}" if config.providers[provider].scheme == "standard" \
            else f"e2e-{provider}-secret"
        assert cli(project, "secrets", "set", provider, input=secret).returncode == 0
    sent = {}
    for provider in sorted(config.providers):
        result = cli(project, "send", provider, "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["status"] == 202 and doc["response"]["status"] == "queued", doc
        sent[provider] = doc["response"]["webhook_id"]
    for provider, wid in sent.items():
        record = wait_status(project, wid, "processed")
        assert record["provider"] == provider and record["attempts"] >= 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not set(sent.values()) <= set(consumer()):
        time.sleep(0.2)
    events = consumer()
    for provider, wid in sent.items():
        (event,) = events[wid]
        assert event["source"] == "webhook.processor" and event["detail-type"] == "Webhook Processed"
        assert event["detail"]["provider"] == provider


def test_tampered_webhook_is_401_and_leaves_nothing(project, config, dev, aws, outputs):
    secret = "e2e-github-secret"
    assert cli(project, "secrets", "set", "github", input=secret).returncode == 0
    body = b'{"zen": "tampered"}'
    headers = {"Content-Type": "application/json", **sign("github", body, secret, {}, delivery_id="tamper-1")}
    url = f"http://127.0.0.1:{dev.port}/local/webhooks/github"
    status, doc = post(url, body + b" ", headers)
    assert status == 401 and doc["error"] == "invalid_signature", doc
    wid = webhook_id("github", "tamper-1")
    item = aws("dynamodb").get_item(TableName=outputs["dynamodb_table_name"], Key={"webhook_id": {"S": wid}})
    assert "Item" not in item
    listed = aws("s3").list_objects_v2(Bucket=outputs["s3_bucket_name"], Prefix="github/")
    assert not any(o["Key"].endswith(wid) for o in listed.get("Contents", []))


def test_redelivery_is_a_duplicate_and_publishes_nothing_more(project, dev, consumer):
    secret = "e2e-stripe-redelivery"
    assert cli(project, "secrets", "set", "stripe", input=secret).returncode == 0
    body = json.dumps({"id": "evt_redelivered_1", "type": "invoice.paid", "data": {"object": {}}}).encode()
    headers = {"Content-Type": "application/json", **sign("stripe", body, secret, {})}
    url = f"http://127.0.0.1:{dev.port}/local/webhooks/stripe"
    status, first = post(url, body, headers)
    assert status == 202
    wait_status(project, first["webhook_id"], "processed")
    status, again = post(url, body, headers)
    assert status == 200 and again == {"webhook_id": first["webhook_id"], "duplicate": True}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and first["webhook_id"] not in consumer():
        time.sleep(0.2)
    time.sleep(2)  # give a wrongly re-published event time to arrive
    assert len(consumer()[first["webhook_id"]]) == 1


def test_poison_message_ends_in_the_dlq_with_status_failed(project, dev, aws, outputs):
    """A queued record whose archived payload is gone cannot be processed: 3 receives, then the DLQ."""
    wid = "poison0000000000000000000000000"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    key = f"acme/{now[:4]}/{now[5:7]}/{now[8:10]}/{wid}"
    aws("dynamodb").put_item(TableName=outputs["dynamodb_table_name"], Item={
        "webhook_id": {"S": wid}, "provider": {"S": "acme"}, "delivery_id": {"S": "poison"},
        "event_type": {"S": "order.created"}, "received_at": {"S": now}, "status": {"S": "queued"},
        "s3_key": {"S": key}, "attempts": {"N": "0"}, "size": {"N": "10"}})
    pointer = {"webhook_id": wid, "provider": "acme", "delivery_id": "poison", "event_type": "order.created",
               "received_at": now, "s3_key": key, "size": 10}
    aws("sqs").send_message(QueueUrl=outputs["sqs_queue_url"], MessageBody=json.dumps(pointer),
                            MessageGroupId="acme", MessageDeduplicationId=wid)
    record = wait_status(project, wid, "failed", timeout=60)
    assert record["attempts"] == 3
    deadline = time.monotonic() + 30
    listed = []
    while time.monotonic() < deadline and not listed:
        listed = [m for m in json.loads(cli(project, "dlq", "list", "--json").stdout) if m["webhook_id"] == wid]
        time.sleep(0.5)
    assert listed, "the poison message never reached the DLQ"
    assert listed[0]["provider"] == "acme" and listed[0]["message_group"] == "acme"
    # Listing is read-only: the message is still there for a second look.
    assert [m["webhook_id"] for m in json.loads(cli(project, "dlq", "list", "--json").stdout)] == [wid]

    # The operator fixes the cause (here: the archived payload comes back), then redrives.
    aws("s3").put_object(Bucket=outputs["s3_bucket_name"], Key=key, Body=b'{"ok": 1}')
    dry = json.loads(cli(project, "dlq", "redrive", "--dry-run", "--json").stdout)
    assert [m["webhook_id"] for m in dry] == [wid] and dry[0]["redriven"] is False
    moved = json.loads(cli(project, "dlq", "redrive", "--json").stdout)
    assert [(m["webhook_id"], m["redriven"]) for m in moved] == [(wid, True)]
    wait_status(project, wid, "processed", timeout=30)
    assert json.loads(cli(project, "dlq", "list", "--json").stdout) == []


def test_replay_republishes_archived_deliveries_marked_as_replays(project, dev, consumer):
    secret = "e2e-paddle-replay"
    assert cli(project, "secrets", "set", "paddle", input=secret).returncode == 0
    result = cli(project, "send", "paddle", "--json")
    wid = json.loads(result.stdout)["response"]["webhook_id"]
    wait_status(project, wid, "processed")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and wid not in consumer():
        time.sleep(0.2)
    dry = json.loads(cli(project, "replay", "--provider", "paddle", "--dry-run", "--json").stdout)
    assert wid in dry["webhook_ids"] and dry["published"] == 0
    done = cli(project, "replay", "--provider", "paddle", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["published"] == doc["matched"] >= 1 and doc["failed"] == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(consumer().get(wid, [])) < 2:
        time.sleep(0.2)
    first, again = consumer()[wid]
    assert "replayed" not in first["detail"]
    assert again["detail"]["replayed"] is True and again["detail"]["payload"] == first["detail"]["payload"]
    bad = cli(project, "replay", "--since", "yesterday")
    assert bad.returncode == 1 and bad.stderr.splitlines()[-1].startswith("Error: 'yesterday' is not an ISO-8601")


def test_ctrl_c_leaves_nothing_and_a_second_dev_comes_back_clean(project, config, dev):
    emulator_port = int(config.environments["local"].emulator_endpoint.rsplit(":", 1)[1])
    assert dev.interrupt() == 0
    assert "dev: stopped" in dev.text()
    assert not port_open("127.0.0.1", dev.port) and not port_open("127.0.0.1", emulator_port)
    assert not (project / ".webhookctl" / "dev-local.json").exists()

    again = Dev(project, dev.port)
    try:
        seconds = again.wait_ready()
        assert "restored the last deploy into the emulator" in again.text()
        assert seconds < 120
        result = cli(project, "send", "stripe", "--json")
        assert result.returncode == 0 and json.loads(result.stdout)["status"] == 202, result.stderr
    finally:
        assert again.interrupt() == 0
    assert not port_open("127.0.0.1", dev.port) and not port_open("127.0.0.1", emulator_port)
