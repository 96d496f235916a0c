"""Bus routes and targets, provider secrets, alarms and dashboard."""
from __future__ import annotations

import json

import pytest

from pathlib import Path

from constructs_lib.bus import Bus, BusProps, RouteSpec
from constructs_lib.defaults import ValidationError
from constructs_lib.secrets import ProviderSecrets
from handlers.contract import METRIC_DIMENSION_SERVICE, Metric, Settings

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"
ROOT = Path(__file__).resolve().parents[2]


def test_bus_rules_from_config_routes(local, config):
    assert local.one("aws_cloudwatch_event_bus")["name"] == "webhooks-local-bus"
    rules = {r["name"]: r for r in local.resources("aws_cloudwatch_event_rule").values()}
    assert set(rules) == {f"webhooks-local-bus-{r.name}{suffix}" for r in config.routes for suffix in ("", "-redrive")}
    for route in config.routes:
        rule = rules[f"webhooks-local-bus-{route.name}"]
        assert json.loads(rule["event_pattern"]) == route.pattern
        assert json.loads(rule["event_pattern"])["source"] == ["webhook.processor"]
    # No EventBridge archive unless [archive] eventbridge_archive_days asks for one: the S3 archive is the
    # durable copy and `webhookctl replay` republishes from it (a second copy would be billed per GB).
    assert local.resources("aws_cloudwatch_event_archive") == {}


def test_an_eventbridge_archive_when_the_config_asks(scratch, synthesize, aws):
    from constructs_lib.bus import Bus, BusProps

    Bus(scratch, "b", aws=aws, props=BusProps(name="b", archive_retention_days=30))
    archive = synthesize(scratch).one("aws_cloudwatch_event_archive")
    assert archive["retention_days"] == 30 and archive["event_source_arn"].endswith(".arn}")


def test_logs_target_has_the_resource_policy(local):
    group = local.one("aws_cloudwatch_log_group", name="/aws/events/webhooks-local-bus/audit-log")
    assert group["retention_in_days"] == 7
    [st] = json.loads(local.one("aws_cloudwatch_log_resource_policy")["policy_document"])["Statement"]
    assert "events.amazonaws.com" in st["Principal"]["Service"]
    assert st["Resource"] == [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/webhooks-local-bus/*:*"]
    target = local.one("aws_cloudwatch_event_target", target_id="audit-log",
                       rule="${aws_cloudwatch_event_rule.events_rule-audit-log_546A767C.name}")
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
        "Condition": {"ArnEquals": {"aws:SourceArn": [
            f"arn:aws:events:us-east-1:{ACCOUNT}:rule/webhooks-local-bus/webhooks-local-bus-payments",
            f"arn:aws:events:us-east-1:{ACCOUNT}:rule/webhooks-local-bus/webhooks-local-bus-payments-redrive"]}},
    }]
    assert queue["sqs_managed_sse_enabled"] is True


def test_arn_target_and_validation(scratch, synthesize, aws):
    arn = "arn:aws:sqs:eu-west-1:111122223333:existing"
    Bus(scratch, "b", props=BusProps(name="bus", routes=[RouteSpec("ext", '{"source":["x"]}', arn)]), aws=aws)
    targets = synthesize(scratch).resources("aws_cloudwatch_event_target").values()
    assert [t["arn"] for t in targets] == [arn, arn]  # the route's target and its redrive twin
    with pytest.raises(ValidationError) as err:
        Bus(scratch, "bad", aws=aws, props=BusProps(name="bus two", routes=[
            RouteSpec("a", "{}", "email"), RouteSpec("a", "[]", "logs")]))
    assert err.value.problems == [
        "name 'bus two' must be letters, digits, '.', '_' or '-'",
        "route 'a' is defined twice",
        "route 'a': target must be logs, sqs, http or an SQS queue / log group ARN",
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


ALARMS = {
    "api-5xx", "storage-error", "internal-error", "publish-failed",
    "mark-processed-failed", "dlq-not-empty", "queue-age", "targets-dlq-not-empty",
}


def test_no_alarm_on_a_metric_no_handler_emits(prod):
    # Ingest writes the record last, with status queued: there is no status update to fail any more.
    assert "webhooks-prod-status-update-failed" not in {
        a["alarm_name"] for a in prod.resources("aws_cloudwatch_metric_alarm").values()}


def test_every_alarm_notifies_the_environments_topic_on_alarm_and_on_ok(prod):
    alarms = prod.resources("aws_cloudwatch_metric_alarm").values()
    [topic] = prod.resources("aws_sns_topic")
    rules = {r["name"] for r in prod.resources("aws_cloudwatch_event_rule").values()}
    rules = {r for r in rules if not r.endswith("-redrive")}  # redriven events failing again: the DLQ alarm
    assert {a["alarm_name"] for a in alarms} == {f"webhooks-prod-{k}" for k in ALARMS} | {
        f"webhooks-prod-rule-{kind}-{r}" for r in rules for kind in ("failed", "dead-lettered", "lost")}
    for alarm in alarms:
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic}.arn}}"], alarm["alarm_name"]
        assert alarm["ok_actions"] == alarm["alarm_actions"]


def test_no_alarm_on_lambda_errors(prod):
    """ingest answers 5xx itself and process reports item failures: Lambda Errors never sees them."""
    assert not [a for a in prod.resources("aws_cloudwatch_metric_alarm").values() if a["namespace"] == "AWS/Lambda"]


def test_handler_failure_alarms_read_the_handlers_emf_metrics(prod):
    alarms = {a["alarm_name"]: a for a in prod.resources("aws_cloudwatch_metric_alarm").values()}
    settings = Settings.from_env(prod.one("aws_lambda_function", function_name="webhooks-prod-ingest")["environment"]["variables"])
    for metric in (Metric.STORAGE_ERROR, Metric.INTERNAL_ERROR, Metric.PUBLISH_FAILED, Metric.MARK_PROCESSED_FAILED):
        alarm = alarms[f"webhooks-prod-{metric.replace('_', '-')}"]
        assert (alarm["namespace"], alarm["metric_name"]) == (settings.metrics_namespace, metric)
        assert alarm["dimensions"] == {METRIC_DIMENSION_SERVICE: settings.service_name}
        assert (alarm["statistic"], alarm["threshold"], alarm["comparison_operator"]) == ("Sum", 0, "GreaterThanThreshold")


def test_api_queue_and_rule_alarms(prod):
    alarms = {a["alarm_name"]: a for a in prod.resources("aws_cloudwatch_metric_alarm").values()}
    api = alarms["webhooks-prod-api-5xx"]
    assert (api["namespace"], api["metric_name"]) == ("AWS/ApiGateway", "5XXError")
    assert api["dimensions"] == {"ApiName": "webhooks-prod-api", "Stage": "prod"}
    dlq = alarms["webhooks-prod-dlq-not-empty"]
    assert (dlq["metric_name"], dlq["threshold"], dlq["comparison_operator"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert dlq["dimensions"] == {"QueueName": "webhooks-prod-ingest-dlq.fifo"}
    assert alarms["webhooks-prod-queue-age"]["metric_name"] == "ApproximateAgeOfOldestMessage"
    rule = alarms["webhooks-prod-rule-failed-webhooks-prod-bus-audit-log"]
    assert (rule["namespace"], rule["metric_name"]) == ("AWS/Events", "FailedInvocations")
    assert rule["dimensions"] == {"EventBusName": "webhooks-prod-bus", "RuleName": "webhooks-prod-bus-audit-log"}
    assert rule["treat_missing_data"] == "notBreaching"  # sent only when not zero


def test_alarm_topic_lets_only_this_stacks_alarms_publish(prod, config):
    topic = prod.one("aws_sns_topic")
    assert topic["name"] == "webhooks-prod-alarms"
    [statement] = json.loads(topic["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:webhooks-prod-*"},
    }
    subscriptions = prod.resources("aws_sns_topic_subscription").values()
    assert [(s["protocol"], s["endpoint"]) for s in subscriptions] == [
        ("email", e) for e in config.environment("prod").alarms.email]


def test_alarm_subscribers_and_existing_topics_come_from_the_config(cdktf_testing, config, synthesize):
    import dataclasses

    from config import AlarmSubscriptions
    from constructs_lib.stack import WebhookStack

    existing = "arn:aws:sns:eu-west-1:111122223333:ops"
    env = dataclasses.replace(config.environment("prod"), alarms=AlarmSubscriptions(
        email=("a@example.com", "b@example.com"), https=("https://hooks.example.com/alarm",), topic_arns=(existing,)))
    stack = synthesize(WebhookStack(cdktf_testing.app(), "webhooks-prod", config=config, environment=env, project_root=ROOT))
    subscribed = sorted((s["protocol"], s["endpoint"]) for s in stack.resources("aws_sns_topic_subscription").values())
    assert subscribed == [("email", "a@example.com"), ("email", "b@example.com"), ("https", "https://hooks.example.com/alarm")]
    [topic] = stack.resources("aws_sns_topic")
    for alarm in stack.resources("aws_cloudwatch_metric_alarm").values():
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic}.arn}}", existing] == alarm["ok_actions"]


def test_dashboard(prod):
    body = json.loads(prod.one("aws_cloudwatch_dashboard")["dashboard_body"])
    assert [w["properties"]["title"] for w in body["widgets"]] == [
        "API requests and errors", "Deliveries", "Failures", "Functions: invocations and throttles",
        "Queue depth", "Oldest queued delivery (s)", "Route targets: delivered, retried, failed, dead-lettered",
    ]


def _log_targets(synth) -> list[dict]:
    return [t for t in synth.resources("aws_cloudwatch_event_target").values()
            if t["arn"].startswith("${aws_cloudwatch_log_group.") or ":logs:" in t["arn"]]


@pytest.mark.parametrize("env", ["local", "prod"])
def test_no_log_target_receives_the_payload(env, request):
    synth = request.getfixturevalue(env)
    targets = _log_targets(synth)
    assert targets, "the committed config routes to logs: this test must see a log target"
    for target in targets:
        transformer = target["input_transformer"]
        paths = set(transformer["input_paths"].values())
        assert not {"$", "$.detail"} & paths and not any(p.startswith("$.detail.payload") for p in paths), paths
        assert "<aws.events.event" not in transformer["input_template"]  # the whole event, payload included
        assert "input" not in target and "input_path" not in target


def test_log_targets_get_ids_provider_type_and_times(local):
    [target, redrive] = _log_targets(local)  # the route's target and its redrive twin
    assert redrive["input_transformer"] == target["input_transformer"]
    transformer = target["input_transformer"]
    assert transformer["input_paths"] == {
        "time": "$.time", "webhook_id": "$.detail.webhook_id", "provider": "$.detail.provider",
        "event_type": "$.detail.event_type", "delivery_id": "$.detail.delivery_id",
        "received_at": "$.detail.received_at", "processed_at": "$.detail.processed_at", "s3_key": "$.detail.s3_key",
    }
    # A CloudWatch Logs target takes {"timestamp", "message"}; the message is a JSON document in a string.
    template = json.loads(transformer["input_template"].replace("<time>", '"T"'))
    assert set(template) == {"timestamp", "message"}
    assert json.loads(template["message"])["webhook_id"] == "<webhook_id>"


def test_an_existing_log_group_target_is_transformed_too(scratch, synthesize, aws):
    arn = "arn:aws:logs:eu-west-1:111122223333:log-group:audit"
    Bus(scratch, "b", props=BusProps(name="bus", routes=[RouteSpec("ext", '{"source":["x"]}', arn)]), aws=aws)
    synth = synthesize(scratch)
    for target in synth.resources("aws_cloudwatch_event_target").values():
        assert target["arn"] == arn and "$.detail.payload" not in json.dumps(target["input_transformer"])
    # The stack's log resource policy lets EventBridge write to the named group too.
    [st] = json.loads(synth.one("aws_cloudwatch_log_resource_policy")["policy_document"])["Statement"]
    assert f"{arn}:*" in st["Resource"]


def test_arn_targets_must_be_in_the_stacks_partition_and_region(scratch, aws):
    with pytest.raises(ValidationError) as err:
        Bus(scratch, "b", aws=aws, props=BusProps(name="bus", routes=[
            RouteSpec("cn", '{"source":["x"]}', "arn:aws-cn:sqs:cn-north-1:111122223333:q"),
            RouteSpec("far", '{"source":["x"]}', "arn:aws:sqs:us-east-1:111122223333:q"),
        ]))
    assert err.value.problems == [
        "route 'cn': target arn:aws-cn:sqs:cn-north-1:111122223333:q is not in this stack's partition and region ('aws', 'eu-west-1')",
        "route 'far': target arn:aws:sqs:us-east-1:111122223333:q is not in this stack's partition and region ('aws', 'eu-west-1')",
    ]
