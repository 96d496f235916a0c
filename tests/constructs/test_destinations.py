"""Route targets after the bus: an http route's connection, API destination and role; a retry policy
and the bus's dead-letter queue on every target; a redrive rule per route that only redriven events match."""
from __future__ import annotations

import json

import pytest

from constructs_lib.bus import Bus, BusProps, RouteSpec
from constructs_lib.destinations import NO_AUTH_HEADER, PLACEHOLDER_SECRET, HttpSpec, auth_parameters
from handlers.contract import REDRIVE_SOURCE, connection_name

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"
BUS = "webhooks-prod-bus"
RULE_ARN = f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{BUS}/{BUS}-orders"


def _targets_of(synth, route: str) -> list[dict]:
    return [t for t in synth.resources("aws_cloudwatch_event_target").values() if t["target_id"] == route]


def test_an_http_route_makes_a_connection_a_destination_and_a_target_with_its_role(prod, config):
    [route] = [r for r in config.routes if r.target == "http"]
    connection = prod.one("aws_cloudwatch_event_connection")
    assert connection["name"] == connection_name(BUS, route.name, route.http.auth.settings())
    assert connection["authorization_type"] == "API_KEY"
    assert connection["auth_parameters"] == {"api_key": {"key": "X-Orders-Key", "value": PLACEHOLDER_SECRET}}
    assert connection["lifecycle"] == {"ignore_changes": ["auth_parameters"], "create_before_destroy": True}
    destination = prod.one("aws_cloudwatch_event_api_destination")
    assert (destination["name"], destination["invocation_endpoint"], destination["http_method"],
            destination["invocation_rate_limit_per_second"]) == (
        f"{BUS}-orders", "https://orders.example.com/webhooks/shopify", "POST", 10)
    assert destination["connection_arn"].startswith("${aws_cloudwatch_event_connection.")
    role = prod.one("aws_iam_role", name=f"{BUS}-api-destinations")
    [trust] = json.loads(role["assume_role_policy"])["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    [policy] = [p for p in prod.resources("aws_iam_role_policy").values() if p["name"] == "InvokeApiDestinations"]
    [grant] = json.loads(policy["policy"])["Statement"]
    assert grant["Action"] == ["events:InvokeApiDestination"]
    assert grant["Resource"] == [f"arn:aws:events:eu-west-1:{ACCOUNT}:api-destination/{BUS}-orders/*"]
    for target in _targets_of(prod, "orders"):
        assert target["arn"].startswith("${aws_cloudwatch_event_api_destination.")
        assert target["role_arn"].startswith("${aws_iam_role.events_destinations-role_")


def test_the_http_body_is_the_transformed_event(prod):
    for target in _targets_of(prod, "orders"):
        transformer = target["input_transformer"]
        assert transformer["input_paths"] == {"webhook_id": "$.detail.webhook_id", "event_type": "$.detail.event_type",
                                              "order": "$.detail.payload"}
        assert transformer["input_template"] == '{"webhook_id":<webhook_id>,"event_type":<event_type>,"order":<order>}'


def test_without_a_transform_the_whole_detail_is_sent(scratch, synthesize, aws):
    spec = HttpSpec(url="https://x.example.com/in", auth={"type": "none"})
    Bus(scratch, "b", aws=aws, props=BusProps(name="bus", routes=[RouteSpec("hook", '{"source":["x"]}', "http", http=spec)]))
    synth = synthesize(scratch)
    for target in synth.resources("aws_cloudwatch_event_target").values():
        assert target["input_path"] == "$.detail" and "input_transformer" not in target
    # EventBridge connections have no "no auth": a route header, not a secret, fills the API key.
    assert synth.one("aws_cloudwatch_event_connection")["auth_parameters"] == {
        "api_key": {"key": NO_AUTH_HEADER, "value": "hook"}}


@pytest.mark.parametrize("env", ["local", "prod"])
def test_every_target_has_a_retry_policy_and_the_buses_dlq(env, config, request):
    synth = request.getfixturevalue(env)
    targets = synth.resources("aws_cloudwatch_event_target").values()
    assert len(targets) == 2 * len(config.routes)  # each route's target and its redrive twin
    region = "eu-west-1" if env == "prod" else "us-east-1"
    for target in targets:
        route = next(r for r in config.routes if r.name == target["target_id"])
        assert target["retry_policy"] == {"maximum_retry_attempts": route.retry.maximum_attempts,
                                          "maximum_event_age_in_seconds": route.retry.maximum_event_age_seconds}
        assert target["dead_letter_config"] == {"arn": f"arn:aws:sqs:{region}:{ACCOUNT}:webhooks-{env}-bus-targets-dlq"}


def test_the_targets_dlq_is_standard_and_takes_only_this_buses_rules(prod):
    dlq = prod.one("aws_sqs_queue", name=f"{BUS}-targets-dlq")
    assert "fifo_queue" not in dlq and dlq["sqs_managed_sse_enabled"] is True
    assert dlq["message_retention_seconds"] == 14 * 86400
    allow, deny = json.loads(dlq["policy"])["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{BUS}/*"}}
    assert deny["Sid"] == "DenyInsecureTransport"


def test_a_redrive_rule_takes_only_its_routes_redriven_events(prod, config):
    rules = {r["name"]: r for r in prod.resources("aws_cloudwatch_event_rule").values()}
    for route in config.routes:
        pattern = json.loads(rules[f"{BUS}-{route.name}-redrive"]["event_pattern"])
        assert pattern == {"source": [REDRIVE_SOURCE],
                           "resources": [f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{BUS}/{BUS}-{route.name}"]}
        # ...and no route's own pattern can match a redriven event.
        assert json.loads(rules[f"{BUS}-{route.name}"]["event_pattern"])["source"] == ["webhook.processor"]
    [first, twin] = _targets_of(prod, "orders")
    assert {k: v for k, v in first.items() if k != "rule"} == {k: v for k, v in twin.items() if k != "rule"}


def test_a_fifo_queue_target_gets_its_message_group(scratch, synthesize, aws):
    arn = "arn:aws:sqs:eu-west-1:111122223333:ledger.fifo"
    Bus(scratch, "b", aws=aws, props=BusProps(name="bus", routes=[
        RouteSpec("ledger", '{"source":["x"]}', arn, message_group_id="ledger")]))
    for target in synthesize(scratch).resources("aws_cloudwatch_event_target").values():
        assert target["sqs_target"] == {"message_group_id": "ledger"}


def test_rule_alarms_and_the_dlq_depth_alarm(prod):
    alarms = {a["alarm_name"]: a for a in prod.resources("aws_cloudwatch_metric_alarm").values()}
    rule = f"{BUS}-orders"
    for kind, metric in (("failed", "FailedInvocations"), ("dead-lettered", "InvocationsSentToDlq"),
                         ("lost", "InvocationsFailedToBeSentToDlq")):
        alarm = alarms[f"webhooks-prod-rule-{kind}-{rule}"]
        assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"], alarm["threshold"]) == (
            "AWS/Events", metric, "Sum", 0)
        assert alarm["dimensions"] == {"EventBusName": BUS, "RuleName": rule}
    depth = alarms["webhooks-prod-targets-dlq-not-empty"]
    assert (depth["metric_name"], depth["dimensions"]) == (
        "ApproximateNumberOfMessagesVisible", {"QueueName": f"{BUS}-targets-dlq"})


@pytest.mark.parametrize(("auth", "kind", "secret_path"), [
    ({"type": "api_key", "header": "X-Key"}, "API_KEY", ("api_key", "value")),
    ({"type": "basic", "username": "svc"}, "BASIC", ("basic", "password")),
    ({"type": "oauth", "authorization_endpoint": "https://idp.example.com/token", "client_id": "c", "scope": "hooks"},
     "OAUTH_CLIENT_CREDENTIALS", ("oauth", "client_parameters", "client_secret")),
])
def test_auth_parameters_carry_the_secret_only_where_it_belongs(auth, kind, secret_path):
    got_kind, parameters = auth_parameters("r", auth, secret="S3CRET")
    assert got_kind == kind
    node = parameters
    for key in secret_path:
        node = node[key]
    assert node == "S3CRET" and json.dumps(parameters).count("S3CRET") == 1
