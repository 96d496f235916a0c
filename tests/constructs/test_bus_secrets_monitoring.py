"""Bus routes and targets, provider secrets, alarms and dashboard."""
from __future__ import annotations

import json

import pytest

from constructs_lib.bus import Bus, BusProps, RouteSpec
from constructs_lib.defaults import ValidationError
from constructs_lib.secrets import ProviderSecrets

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"


def test_bus_rules_from_config_routes(local, config):
    assert local.one("aws_cloudwatch_event_bus")["name"] == "webhooks-local-bus"
    rules = {r["name"]: r for r in local.resources("aws_cloudwatch_event_rule").values()}
    assert set(rules) == {f"webhooks-local-bus-{r.name}" for r in config.routes}
    for route in config.routes:
        rule = rules[f"webhooks-local-bus-{route.name}"]
        assert json.loads(rule["event_pattern"]) == route.pattern
        assert json.loads(rule["event_pattern"])["source"] == ["webhook.processor"]
    assert local.one("aws_cloudwatch_event_archive")["event_source_arn"].endswith(".arn}")


def test_logs_target_has_the_resource_policy(local):
    group = local.one("aws_cloudwatch_log_group", name="/aws/events/webhooks-local-bus/audit-log")
    assert group["retention_in_days"] == 7
    [st] = json.loads(local.one("aws_cloudwatch_log_resource_policy")["policy_document"])["Statement"]
    assert "events.amazonaws.com" in st["Principal"]["Service"]
    assert st["Resource"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/webhooks-local-bus/*:*"
    target = local.one("aws_cloudwatch_event_target", target_id="audit-log")
    assert target["arn"].startswith("${aws_cloudwatch_log_group.")


def test_sqs_target_allows_only_its_rule(local):
    queue = local.one("aws_sqs_queue", name="webhooks-local-bus-payments")
    allow = [s for s in json.loads(queue["policy"])["Statement"] if s["Effect"] == "Allow"]
    assert allow == [{
        "Sid": "AllowRuleToSend",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:webhooks-local-bus-payments",
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/webhooks-local-bus/webhooks-local-bus-payments"}},
    }]
    assert queue["sqs_managed_sse_enabled"] is True


def test_arn_target_and_validation(scratch, synthesize, aws):
    arn = "arn:aws:sqs:eu-west-1:111122223333:existing"
    Bus(scratch, "b", props=BusProps(name="bus", routes=[RouteSpec("ext", '{"source":["x"]}', arn)]), aws=aws)
    assert synthesize(scratch).one("aws_cloudwatch_event_target")["arn"] == arn
    with pytest.raises(ValidationError) as err:
        Bus(scratch, "bad", aws=aws, props=BusProps(name="bus two", routes=[
            RouteSpec("a", "{}", "email"), RouteSpec("a", "[]", "logs")]))
    assert err.value.problems == [
        "name 'bus two' must be letters, digits, '.', '_' or '-'",
        "route 'a' is defined twice",
        "route 'a': target must be logs, sqs or an SQS queue / log group ARN",
        "route 'a': pattern must be a JSON object",
    ]


def test_process_may_put_events_on_this_bus_only(local):
    [st] = [s for s in local.policies_of("process") if "events:PutEvents" in s["Action"]]
    assert st["Resource"] == [f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/webhooks-local-bus"]


def test_one_empty_secret_per_provider(local, prod, config):
    secrets = local.resources("aws_secretsmanager_secret").values()
    assert sorted(s["name"] for s in secrets) == sorted(f"webhooks-local/providers/{p}" for p in config.providers)
    assert all(s["recovery_window_in_days"] == 0 for s in secrets)
    assert all(s["recovery_window_in_days"] == 30 for s in prod.resources("aws_secretsmanager_secret").values())
    assert local.resources("aws_secretsmanager_secret_version") == {}
    assert "secret_string" not in local.text


def test_ingest_reads_only_provider_secrets(local):
    [st] = [s for s in local.policies_of("ingest") if "secretsmanager:GetSecretValue" in s["Action"]]
    assert st["Action"] == ["secretsmanager:GetSecretValue"]
    assert len(st["Resource"]) == 9 and all(r.startswith("${aws_secretsmanager_secret.") for r in st["Resource"])
    assert not any("secretsmanager:GetSecretValue" in s["Action"] for s in local.policies_of("process"))


def test_secrets_validation(scratch):
    with pytest.raises(ValidationError, match="provider name 'Bad Name' is invalid"):
        ProviderSecrets(scratch, "s", stack_name="x", providers=["Bad Name"], protect=False)


def test_alarms_and_dashboard(local):
    alarms = {a["alarm_name"]: a for a in local.resources("aws_cloudwatch_metric_alarm").values()}
    dlq = alarms["webhooks-local-dlq-not-empty"]
    assert (dlq["metric_name"], dlq["threshold"], dlq["comparison_operator"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert dlq["dimensions"] == {"QueueName": "webhooks-local-ingest-dlq.fifo"}
    assert alarms["webhooks-local-ingest-errors"]["dimensions"] == {"FunctionName": "webhooks-local-ingest"}
    assert alarms["webhooks-local-process-errors"]["metric_name"] == "Errors"
    assert alarms["webhooks-local-queue-age"]["metric_name"] == "ApproximateAgeOfOldestMessage"
    body = json.loads(local.one("aws_cloudwatch_dashboard")["dashboard_body"])
    assert len(body["widgets"]) == 4
