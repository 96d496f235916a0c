"""The embedded default, end to end: `webhookctl dev` as a user runs it, no AWS account.

One project folder for the module, one fresh deploy (~75 s; the first one is
interrupted by Ctrl-C mid-apply on purpose), then restarts only. In order:
Ctrl-C during the apply leaves nothing behind and the next `dev` finishes
the deploy; every scheme goes all the way to the bus; tampering, redelivery,
poison messages and replay behave; a load of 500 webhooks plus a burst of 100
connections gets no reset and no 5xx; `kill -9` of dev, then of everything,
in the middle of a load loses no accepted webhook; Ctrl-C while the emulator
starts, while it restores its journal and while Terraform plans leaves
nothing behind; Ctrl-C of a ready dev leaves nothing and the next comes back.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest

from config import load
from dev_harness import (
    LOAD_SECRET, WEBHOOKCTL, Dev, Load, burst, deliver, emulator_pid, project_processes, senders, warm_up,
)
from handlers.signatures import sign, webhook_id
from local_runtime.emulator import free_port, port_open

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


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
def interrupted_apply(project):
    """The first `dev`, stopped with Ctrl-C while Terraform applies: (its exit code, what was left running)."""
    first = Dev(project, free_port())
    first.wait_for_child("terraform apply", timeout=300)
    first.wait_for("Creation complete", timeout=120)  # resources are being created right now
    code = first.interrupt()
    return code, project_processes(project), first.text()


class Running:
    """The module's current `dev`: tests that restart it put the new one here."""

    def __init__(self, dev: Dev):
        self.dev = dev


@pytest.fixture(scope="module")
def running(project, interrupted_apply):
    holder = Running(Dev(project, free_port()))
    holder.dev.ready_seconds = holder.dev.wait_ready()
    yield holder
    if holder.dev.proc.poll() is None:
        holder.dev.interrupt()


@pytest.fixture
def dev(running):
    return running.dev


@pytest.fixture(scope="module")
def outputs(project, running):
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
            try:
                msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            except Exception:  # noqa: BLE001 - the emulator may be down for a moment in the crash tests
                msgs = []
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


def record_statuses(aws, table: str, ids: set[str]) -> dict[str, str]:
    ddb, out, ids = aws("dynamodb"), {}, sorted(ids)
    for start in range(0, len(ids), 100):
        keys = [{"webhook_id": {"S": w}} for w in ids[start:start + 100]]
        request = {table: {"Keys": keys, "ProjectionExpression": "webhook_id, #s",
                           "ExpressionAttributeNames": {"#s": "status"}}}
        while request:
            got = ddb.batch_get_item(RequestItems=request)
            out.update({i["webhook_id"]["S"]: i["status"]["S"] for i in got["Responses"].get(table, [])})
            request = got.get("UnprocessedKeys") or None
    return out


def wait_all_processed(aws, outputs, ids: set[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        statuses = record_statuses(aws, outputs["dynamodb_table_name"], pending)
        pending = {w for w in pending if statuses.get(w) != "processed"}
        if pending:
            time.sleep(1)
    assert not pending, f"{len(pending)} accepted webhooks never reached processed, e.g. {sorted(pending)[:5]}"


def wait_on_bus(consumer, ids: set[str], timeout: float = 120) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ids <= set(consumer()):
        time.sleep(0.5)
    time.sleep(3)  # give a duplicate time to arrive
    seen = consumer()
    return {w: len(seen.get(w, [])) for w in ids}


def post(url, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --------------------------------------------------------------------------- start-up, interrupted


def test_ctrl_c_during_the_first_apply_leaves_no_process_and_no_lock(project, interrupted_apply):
    code, leftovers, text = interrupted_apply
    assert code == 0 and "dev: interrupted" in text and text.rstrip().endswith("dev: stopped")
    assert leftovers == []
    assert not (project / ".webhookctl" / "state" / ".webhooks-local.tfstate.lock.info").exists()


def test_the_next_dev_starts_at_once_and_finishes_the_deploy(dev):
    text = dev.text()
    assert "is ready in" in text and "state lock" not in text


# --------------------------------------------------------------------------- the pipeline


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


def test_poison_message_ends_in_the_dlq_with_status_failed(project, dev, aws, outputs, config):
    """A queued record whose archived payload is gone cannot be processed: maxReceiveCount receives, then the DLQ."""
    wid = webhook_id("acme", "poison")  # a real id: process refuses a pointer naming anything else
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
    assert record["attempts"] == config.limits.max_receive_count
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


# --------------------------------------------------------------------------- load


def test_500_webhooks_from_8_senders_and_a_burst_of_100_connections(project, dev, aws, outputs, consumer):
    assert cli(project, "secrets", "set", "stripe", input=LOAD_SECRET).returncode == 0
    warm_up(dev.port)
    load = Load()
    threads = senders(dev.port, load, count=500, senders=8, tag="load")
    while len(load.statuses) < 100:  # the burst lands on a server already busy with the senders
        time.sleep(0.05)
    before_burst = len(load.statuses)
    burst(dev.port, load, connections=100, tag="load")
    for t in threads:
        t.join(300)
    # No reset, no refused connection, no 5xx: 202 for each webhook, or 429 when saturated.
    assert load.no_answer == []
    assert len(load.statuses) == 600 and set(load.statuses) <= {202, 429}
    assert load.statuses[:before_burst].count(429) == 0  # 8 senders alone never saturate it
    assert len(load.accepted) == load.statuses.count(202) >= 500
    wait_all_processed(aws, outputs, load.accepted)
    counts = wait_on_bus(consumer, load.accepted)
    assert sorted(set(counts.values())) == [1]  # every accepted webhook on the bus, once


def _load_until_killed(dev, tag: str, kill) -> Load:
    """Senders keep going; once ~150 webhooks are answered, `kill` runs; senders stop at the first silence."""
    load, stop = Load(), threading.Event()
    threads = senders(dev.port, load, count=800, senders=4, tag=tag, stop=stop)
    deadline = time.monotonic() + 120
    while len(load.statuses) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    kill()
    stop.set()  # each provider has one request in flight at most: it gets no answer, and is retried later
    for t in threads:
        t.join(120)
    return load


def _after_restart(project, running, aws, outputs, consumer, config, load: Load, expect: str) -> None:
    again = Dev(project, running.dev.port)
    running.dev = again
    again.wait_ready()
    assert expect in again.text()
    # What was in flight at the kill got no answer: the provider retries it.
    retried = Load()
    for body, headers in load.no_answer:
        deliver(again.port, body, headers, retried)
    assert set(retried.statuses) <= {200, 202}  # 200 duplicate: it had been stored before the kill
    accepted = load.accepted | retried.accepted
    wait_all_processed(aws, outputs, accepted)
    counts = wait_on_bus(consumer, accepted)
    assert [w for w, n in counts.items() if n == 0] == []
    # A batch killed between PutEvents and marking its records processed is published again
    # (the documented limit: consumers deduplicate on detail.webhook_id); nothing else is.
    assert len([w for w, n in counts.items() if n > 1]) <= config.limits.batch_size


def test_kill_9_of_dev_mid_load_then_restart_processes_every_accepted_webhook(
        project, running, aws, outputs, consumer, config):
    load = _load_until_killed(running.dev, "kill-dev", running.dev.kill)
    assert len(load.accepted) >= 100
    assert port_open("127.0.0.1", int(config.environments["local"].emulator_endpoint.rsplit(":", 1)[1]))
    _after_restart(project, running, aws, outputs, consumer, config, load,
                   expect="re-attached to this project's emulator")


def test_kill_9_of_every_process_mid_load_then_restart_processes_every_accepted_webhook(
        project, running, aws, outputs, consumer, config):
    emulator_group = emulator_pid(project)

    def kill_everything() -> None:
        os.killpg(emulator_group, signal.SIGKILL)  # the emulator runs in a session of its own
        running.dev.kill()

    load = _load_until_killed(running.dev, "kill-all", kill_everything)
    assert len(load.accepted) >= 100 and project_processes(project) == []
    _after_restart(project, running, aws, outputs, consumer, config, load,
                   expect="restored from its journal")


# --------------------------------------------------------------------------- Ctrl-C at each stage


def _interrupted(project, at) -> None:
    """Start a dev, let `at(dev)` wait for its stage, Ctrl-C it: it exits 0 and nothing is left running."""
    dev = Dev(project, free_port())
    at(dev)
    assert dev.interrupt() == 0, dev.text()[-2000:]
    assert dev.text().rstrip().endswith("dev: stopped")
    assert project_processes(project) == []


def test_ctrl_c_while_terraform_plans_leaves_nothing(project, running):
    assert running.dev.interrupt() == 0
    _interrupted(project, lambda dev: dev.wait_for_child("terraform plan"))


def test_ctrl_c_while_the_emulator_restores_its_journal_leaves_nothing(project):
    log = project / ".webhookctl" / "emulator.log"
    restores = log.read_text().count("restoring from")

    def restoring(dev: Dev) -> None:
        deadline = time.monotonic() + 60
        while log.read_text().count("restoring from") == restores:
            assert time.monotonic() < deadline, "the emulator never started restoring"
            time.sleep(0.02)

    _interrupted(project, restoring)


def test_ctrl_c_as_the_emulator_starts_leaves_nothing(project):
    _interrupted(project, lambda dev: dev.wait_for_child("local_runtime.emulator_server"))


def test_ctrl_c_leaves_nothing_and_a_second_dev_comes_back_clean(project, config, running):
    emulator_port = int(config.environments["local"].emulator_endpoint.rsplit(":", 1)[1])
    again = Dev(project, running.dev.port)
    running.dev = again
    again.wait_ready()  # its deadline is READY_TIMEOUT; bench/bench_dev.py measures the restart
    assert "restored from its journal" in again.text()
    result = cli(project, "send", "stripe", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == 202, result.stderr
    assert again.interrupt() == 0
    assert "dev: stopped" in again.text()
    assert not port_open("127.0.0.1", again.port) and not port_open("127.0.0.1", emulator_port)
    assert not (project / ".webhookctl" / "dev-local.json").exists()
    assert project_processes(project) == []
