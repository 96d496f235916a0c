"""`webhookctl stats` against the emulator: counts per provider and status from the records index (Query
and BatchGetItem only), the oldest delivery still queued, the queues' depths and the route targets' counts."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from cli.stats import stats
from operate_stack import CallCounter, fresh_now, stack, ws  # noqa: F401 (fixtures)

pytestmark = pytest.mark.emulator

NOW = dt.datetime.now(dt.timezone.utc)  # refreshed before each test (operate_stack.fresh_now)


def _fill(stack):
    for n in range(6):
        stack.put_delivery("stripe", f"s{n}", NOW - dt.timedelta(minutes=n + 1), status="processed")
    stack.put_delivery("stripe", "s-failed", NOW - dt.timedelta(minutes=20), status="failed")
    oldest = stack.put_delivery("github", "g-old", NOW - dt.timedelta(minutes=50), status="queued")
    stack.put_delivery("github", "g-new", NOW - dt.timedelta(minutes=2), status="queued")
    stack.put_delivery("github", "g-outside", NOW - dt.timedelta(hours=30), status="queued")
    sqs = stack.client("sqs")
    for n in range(2):
        sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId=str(n))
    return oldest


def test_counts_per_provider_and_status_and_the_oldest_queued(ws, stack):
    oldest = _fill(stack)
    ddb = CallCounter(stack.client("dynamodb"))
    doc = stats(ws, since="24h", ddb=ddb.client, now=NOW)
    rows = {r["provider"]: r for r in doc["providers"]}
    assert rows["stripe"] == {"provider": "stripe", "total": 7, "processed": 6, "queued": 0, "failed": 1,
                              "received": 0}
    assert rows["github"]["queued"] == 2 and rows["github"]["total"] == 2  # the one 30 h ago is outside
    assert rows["paddle"]["total"] == 0
    assert doc["oldest_queued"]["webhook_id"] == oldest and 50 * 60 - 5 <= doc["oldest_queued"]["age_seconds"] <= 50 * 60 + 5
    assert doc["queues"]["dlq"] == {"waiting": 2, "in_flight": 0} and doc["queues"]["queue"]["waiting"] == 0
    assert doc["queues"]["targets_dlq"] == {"waiting": 0, "in_flight": 0}
    assert {t["route"] for t in doc["targets"]} == {"audit-log", "payments", "orders"} and doc["target_hours"] == 24
    assert ddb.count("Scan") == 0 and set(ddb.calls) <= {"Query", "BatchGetItem"}


def test_route_targets_counts_come_from_eventbridge_metrics(ws, stack):
    from handlers.contract import route_rule_name

    cloudwatch = stack.client("cloudwatch")
    for metric, value in (("SuccessfulInvocationAttempts", 4), ("InvocationsSentToDlq", 1)):
        cloudwatch.put_metric_data(Namespace="AWS/Events", MetricData=[{
            "MetricName": metric, "Value": value, "Unit": "Count",
            "Dimensions": [{"Name": "EventBusName", "Value": stack.bus},
                           {"Name": "RuleName", "Value": route_rule_name(stack.bus, "orders")}]}])
    doc = stats(ws, since="2h")
    orders = next(t for t in doc["targets"] if t["route"] == "orders")
    assert orders["delivered"] == 4 and orders["dead_lettered"] == 1 and doc["target_hours"] == 2


def test_cli_stats(run_cli, stack):
    _fill(stack)
    human = run_cli("stats")
    assert human.exit_code == 0, human.output
    assert "stripe" in human.stdout and "2 waiting, 0 in flight" in human.stdout and "oldest queued" in human.stdout
    payments = next(line for line in human.stdout.splitlines() if line.startswith("payments "))
    assert payments.split()[1:] == ["sqs", "-", "-", "-", "-", "-"]  # unknown on the emulator, never a wrong 0
    assert "(-: not measured here; the emulator delivers these targets" in human.stdout
    doc = json.loads(run_cli("stats", "--json", "--provider", "github").stdout)
    assert [r["provider"] for r in doc["providers"]] == ["github"]
    bad = run_cli("stats", "--since", "whenever")
    assert bad.exit_code == 1 and bad.stderr.splitlines()[-1].startswith("Error: 'whenever' is not a time")
    far = json.loads(run_cli("stats", "--since", "30d", "--json").stdout)
    assert far["target_hours"] == 14 * 24 and sum(r["total"] for r in far["providers"]) == 10
