"""`secrets set --route`, `dlq list/redrive --target` and `target_stats` against the emulator, with the
local deliverer and a receiver on 127.0.0.1 standing in for EventBridge and the route's endpoint."""
from __future__ import annotations

import itertools
import json
import time

import pytest

from http_target_helpers import clients, deploy_bus, deploy_http_route, detail, publish
from http_target_helpers import receiver  # noqa: F401 (a fixture)
from local_runtime.http_targets import Authorizer, Backoff, HttpTargetDeliverer

pytestmark = pytest.mark.emulator

_projects = itertools.count()
ORDERS_AUTH = {"type": "api_key", "header": "X-Orders-Key"}  # the committed config's orders route


@pytest.fixture
def stack(project, emulator, receiver):
    """The committed config on the emulator under a fresh project name, with its orders route deployed
    (and the payments route's rules, to show a redrive reaches no other target)."""
    name = f"targets-cli-{next(_projects)}"
    path = project / "webhookctl.toml"
    text = path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint).replace(
        'project = "webhooks"', f'project = "{name}"').replace(
        "http://127.0.0.1:3140/orders", f"{receiver.url}/hook")
    path.write_text(text)
    aws = clients(emulator.endpoint)
    bus = f"{name}-local-bus"
    dlq = deploy_bus(aws, bus)
    rule_arn = deploy_http_route(aws, bus, dlq["dlq_arn"], "orders", f"{receiver.url}/hook",
                                 pattern={"detail": {"provider": ["shopify"]}}, auth=ORDERS_AUTH, retries=0)
    payments = _payments_route(aws, bus)
    deliverer = HttpTargetDeliverer(emulator.endpoint, "us-east-1", bus, log=lambda line: None,
                                    backoff=Backoff(0.05, 0.1)).start()
    yield {"aws": aws, "bus": bus, "rule_arn": rule_arn, "payments_queue": payments, "deliverer": deliverer, **dlq}
    deliverer.stop()


def _payments_route(aws, bus: str) -> str:
    """An sqs route with its redrive rule, as the stack makes it: what it receives, we can count."""
    sqs, events = aws("sqs"), aws("events")
    url = sqs.create_queue(QueueName=f"{bus}-payments")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for rule, pattern in ((f"{bus}-payments", {"source": ["webhook.processor"], "detail-type": ["Webhook Processed"]}),
                          (f"{bus}-payments-redrive", {"source": ["webhookctl.redrive"],
                                                       "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{bus}/{bus}-payments"]})):
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "payments", "Arn": arn}])
    return url


def _drain(aws, url: str) -> int:
    got = 0
    while batch := aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        got += len(batch)
        for m in batch:
            aws("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def _wait(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate()


def test_secrets_set_route_puts_the_credential_in_the_connection(run_cli, stack, receiver):
    result = run_cli("secrets", "set", "--route", "orders", input="new-orders-key\n")
    assert result.exit_code == 0, result.output
    assert "new-orders-key" not in result.output
    aws = stack["aws"]
    [connection] = [c["Name"] for c in aws("events").list_connections()["Connections"]
                    if c["Name"].startswith(f"{stack['bus']}-orders-")]
    assert Authorizer(aws("events"), aws("secretsmanager")).headers(connection) == {"X-Orders-Key": "new-orders-key"}
    time.sleep(1.1)  # the deliverer's connection cache
    publish(aws, stack["bus"], detail(1))
    [got] = receiver.wait_for(1)
    assert got.headers["X-Orders-Key"] == "new-orders-key"


def test_secrets_set_route_errors(run_cli, stack):
    assert run_cli("secrets", "set", "--route", "nope", input="x").stderr.splitlines()[-1] == (
        "Error: unknown route 'nope' (configured: audit-log, orders, payments)")
    assert run_cli("secrets", "set", "--route", "payments", input="x").stderr.splitlines()[-1] == (
        "Error: route 'payments' delivers to sqs, not http: it has no credentials to set")
    assert run_cli("secrets", "set", "--route", "orders", input="a\nb").stderr.splitlines()[-1] == (
        "Error: the secret spans several lines: pass exactly the one-line value")
    both = run_cli("secrets", "set", "stripe", "--route", "orders", input="x")
    assert both.exit_code == 2 and "give either PROVIDER or --route NAME" in both.stderr


def test_secrets_set_route_before_deploy_says_deploy_first(run_cli, stack, project):
    path = project / "webhookctl.toml"
    path.write_text(path.read_text().replace('header = "X-Orders-Key"', 'header = "X-Other-Key"'))
    result = run_cli("secrets", "set", "--route", "orders", input="k")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"Error: no connection {stack['bus']}-orders-")
    assert result.stderr.splitlines()[-1].endswith("in environment 'local': deploy it first (`webhookctl deploy --env local`)")


def test_failed_events_are_listed_per_target_and_redriven_to_that_target_only(run_cli, stack, receiver):
    aws = stack["aws"]
    # Another route's dead-lettered event shares the bus's DLQ: --target orders leaves it alone.
    other = {"RULE_ARN": f"arn:aws:events:us-east-1:123456789012:rule/{stack['bus']}/{stack['bus']}-payments"}
    aws("sqs").send_message(QueueUrl=stack["dlq_url"], MessageBody=json.dumps({"detail": detail(99)}),
                            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in other.items()})
    receiver.status = 500
    publish(aws, stack["bus"], detail(1), detail(2))
    _wait(lambda: stack["deliverer"].stats()["orders"]["dead_lettered"] == 2)
    _drain(aws, stack["payments_queue"])  # what the payments route got at publish time

    listed = run_cli("dlq", "list", "--target", "orders", "--json")
    assert listed.exit_code == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert sorted(e["webhook_id"] for e in events) == [f"{1:032x}", f"{2:032x}"]
    assert {(e["rule"], e["error_code"], e["retry_attempts"]) for e in events} == {("rule", "ERROR_FROM_TARGET", 0)}

    receiver.status = 200
    before = len(receiver.deliveries())
    assert run_cli("dlq", "redrive", "--target", "orders", "--dry-run").exit_code == 0
    redriven = run_cli("dlq", "redrive", "--target", "orders", "--json")
    assert redriven.exit_code == 0, redriven.stderr
    assert all(e["redriven"] for e in json.loads(redriven.stdout))
    got = receiver.wait_for(before + 2)
    time.sleep(0.5)
    assert sorted(r.json()["webhook_id"] for r in got[before:]) == [f"{1:032x}", f"{2:032x}"]  # once each
    assert len(receiver.deliveries()) == before + 2
    assert _drain(aws, stack["payments_queue"]) == 0  # no other target received them again
    assert json.loads(run_cli("dlq", "list", "--target", "orders", "--json").stdout) == []
    assert json.loads(run_cli("dlq", "list", "--target", "payments", "--json").stdout)[0]["webhook_id"] == f"{99:032x}"


def test_target_stats_reads_the_per_rule_metrics(project, stack, receiver):
    from cli.targets import target_stats
    from cli.workspace import Workspace

    receiver.status = 200
    publish(stack["aws"], stack["bus"], detail(1), detail(2))
    _wait(lambda: stack["deliverer"].stats()["orders"]["delivered"] == 2)
    receiver.status = 404
    publish(stack["aws"], stack["bus"], detail(3))
    _wait(lambda: stack["deliverer"].stats()["orders"]["dead_lettered"] == 1)
    rows = {r["route"]: r for r in target_stats(Workspace.open(project / "webhookctl.toml", "local"))}
    assert set(rows) == {"audit-log", "payments", "orders"}
    orders = rows["orders"]
    assert (orders["delivered"], orders["failed"], orders["dead_lettered"], orders["lost"]) == (2, 1, 1, 0)
    assert orders["destination"] == f"{receiver.url}/hook" and orders["target"] == "http"
    # moto delivers sqs and logs targets itself and puts no metrics: unknown, never a wrong 0
    assert {key: rows["payments"][key] for key in ("delivered", "failed", "dead_lettered", "lost")} == dict.fromkeys(
        ("delivered", "failed", "dead_lettered", "lost"))
