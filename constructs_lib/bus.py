"""EventBridge custom bus, an archive for replay, and the config's routes with their targets.

Every target, whatever its kind, has a retry policy and the bus's dead-letter queue: a standard
SQS queue (EventBridge's DLQs are standard queues) whose policy lets only this bus's rules send.
An event EventBridge could not deliver lands there with the failed rule's ARN
(docs/destinations.md); `webhookctl dlq list/redrive --target NAME` reads it.

Redrive: each route has a second rule, `<bus>-<route>-redrive`, with the same target. It matches
only events whose source is `contract.REDRIVE_SOURCE` and whose `resources` hold the route's own
rule ARN, which is how `dlq redrive --target` puts a failed event back. No route matches those
(every route requires the publisher's source), so only the failed target receives it again. The
archive's replay (StartReplay with FilterArns) was the other way: it replays a time window, so it
would deliver again every event of the window the target already took, not only the failed ones.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_StartReplay.html
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.cloudwatch_event_archive import CloudwatchEventArchive
from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from handlers.contract import REDRIVE_SOURCE, redrive_rule_name, route_rule_name, targets_dlq_name

from .defaults import (
    DLQ_DEFAULTS,
    EVENT_ARCHIVE_RETENTION_DAYS,
    LOG_RETENTION_IN_DAYS,
    QUEUE_DEFAULTS,
    checkov_skip,
    merge,
    raise_if,
    repeated,
)
from .destinations import DestinationsRole, HttpDestination, HttpSpec
from .logs import log_group
from .iam import AwsContext, Grantee, arn_parts, deny_insecure_transport, document, service_principal, sid, statement

# What a log target records of a published event: ids, provider, type and times, never the
# payload (which may hold personal data; it stays in S3 and the event archive). A CloudWatch
# Logs target takes exactly {"timestamp": ..., "message": "<string>"} from a transformer:
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
AUDIT_FIELDS = ("webhook_id", "provider", "event_type", "delivery_id", "received_at", "processed_at", "s3_key")
AUDIT_INPUT_PATHS = {"time": "$.time", **{name: f"$.detail.{name}" for name in AUDIT_FIELDS}}
# The message is a JSON document in a string, so Logs Insights discovers its fields.
AUDIT_INPUT_TEMPLATE = '{"timestamp":<time>,"message":%s}' % json.dumps(
    json.dumps({name: f"<{name}>" for name in AUDIT_FIELDS}, separators=(",", ":")))


# An http target's body when the route names no fields: the published event's whole detail.
DEFAULT_HTTP_INPUT_PATH = "$.detail"


@dataclass(frozen=True)
class RouteSpec:
    name: str
    pattern_json: str
    target: str  # "logs", "sqs", "http" or an ARN
    retry_attempts: int = 185  # EventBridge's defaults: 185 retries within 24 h
    retry_event_age_seconds: int = 86_400
    http: HttpSpec | None = None  # for target "http": the destination in this environment
    message_group_id: str | None = None  # a FIFO queue ARN target's group


def route_specs(routes: Sequence[Any], environment: Any) -> list[RouteSpec]:
    """The config's routes (config.Route) as deployed in one environment (its target URLs)."""
    specs = []
    for r in routes:
        http = None
        if r.http is not None:
            http = HttpSpec(url=environment.target_url(r), method=r.http.method, auth=r.http.auth.settings(),
                            rate_limit_per_second=r.http.rate_limit_per_second, transform=r.http.transform)
        specs.append(RouteSpec(r.name, r.pattern_json, r.target, r.retry.maximum_attempts,
                               r.retry.maximum_event_age_seconds, http, r.message_group_id))
    return specs


@dataclass(frozen=True)
class BusProps:
    name: str
    routes: Sequence[RouteSpec] = ()
    archive_retention_days: int | None = EVENT_ARCHIVE_RETENTION_DAYS  # None: no archive (0: kept forever)
    log_retention_in_days: int = LOG_RETENTION_IN_DAYS


def validate_bus_props(props: BusProps, aws: AwsContext | None = None) -> list[str]:
    problems: list[str] = []
    if not re.match(r"^[A-Za-z0-9._-]{1,256}$", props.name or ""):
        problems.append(f"name '{props.name}' must be letters, digits, '.', '_' or '-'")
    problems += [f"route '{dup}' is defined twice" for dup in repeated(r.name for r in props.routes)]
    for route in props.routes:
        if route.target not in ("logs", "sqs", "http"):
            problems += _arn_target_problems(route, aws)
        if (route.target == "http") != (route.http is not None):
            problems.append(f"route '{route.name}': an http target needs its http settings, and only it")
        if not route.pattern_json.startswith("{"):
            problems.append(f"route '{route.name}': pattern must be a JSON object")
    if props.archive_retention_days is not None and props.archive_retention_days < 0:
        problems.append("archive_retention_days must be 0 (forever) or more")
    return problems


def _arn_target_problems(route: RouteSpec, aws: AwsContext | None) -> list[str]:
    parts = arn_parts(route.target)
    if not parts or parts["service"] not in ("sqs", "logs"):
        return [f"route '{route.name}': target must be logs, sqs, http or an SQS queue / log group ARN"]
    if aws is None:
        return []
    where = (aws.partition, aws.region)
    if (parts["partition"], parts["region"]) != where:
        return [f"route '{route.name}': target {route.target} is not in this stack's partition and region {where}"]
    return []


def _is_logs(route: RouteSpec) -> bool:
    return route.target == "logs" or (arn_parts(route.target) or {}).get("service") == "logs"


def _http_input(spec: HttpSpec) -> dict[str, Any]:
    """The body an http target gets: the named fields of the event as one JSON object, or the whole detail.

    Unquoted placeholders in a JSON template take the value as JSON (strings quoted, objects whole):
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    """
    if not spec.transform:
        return {"input_path": DEFAULT_HTTP_INPUT_PATH}
    template = "{" + ",".join(f"{json.dumps(key)}:<{key}>" for key in spec.transform) + "}"
    return {"input_transformer": {"input_paths": dict(spec.transform), "input_template": template}}


class Bus(Construct):
    """`bus`, `archive`, `dead_letter_queue`, `rules[name]`, `redrive_rules[name]`, `targets[name]`,
    `log_groups[name]`, `queues[name]`, `destinations[name]`, `destinations_role`."""

    def __init__(self, scope: Construct, id: str, *, props: BusProps, aws: AwsContext):
        raise_if(f"Bus '{id}'", validate_bus_props(props, aws))
        super().__init__(scope, id)
        self.props, self.aws = props, aws
        self.name = props.name
        self.arn = aws.arn("events", f"event-bus/{props.name}")
        self.bus = CloudwatchEventBus(self, "bus", name=props.name)
        self.archive = None if props.archive_retention_days is None else CloudwatchEventArchive(
            self,
            "archive",
            name=f"{props.name}-archive"[:48],
            event_source_arn=self.bus.arn,
            retention_days=props.archive_retention_days,
            description=f"Every event published on {props.name}, for replay",
        )
        self.rules: dict[str, CloudwatchEventRule] = {}
        self.rule_names: dict[str, str] = {}
        self.redrive_rules: dict[str, CloudwatchEventRule] = {}
        self.targets: dict[str, CloudwatchEventTarget] = {}
        self.log_groups: dict[str, CloudwatchLogGroup] = {}
        self.queues: dict[str, SqsQueue] = {}
        self.destinations: dict[str, HttpDestination] = {}
        self._dead_letter_queue()
        self._destinations_role()
        for route in props.routes:
            self._route(route)
        self._log_resource_policy()

    def _dead_letter_queue(self) -> None:
        """One standard queue for every target of this bus; only the bus's rules may send to it.

        EventBridge sends a failed event to a target's DLQ under the queue's resource policy, with
        the rule as aws:SourceArn: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
        Targets name it by its built ARN (nothing waits for the queue's 25 s create); the policy is
        inline (an aws_sqs_queue_policy would cost 25 s more on create and on delete).
        """
        self.dlq_name = targets_dlq_name(self.name)
        self.dlq_arn = self.aws.arn("sqs", self.dlq_name)
        allow_rules = {
            "Sid": "AllowBusRulesToDeadLetter",
            "Effect": "Allow",
            "Principal": service_principal("events"),
            "Action": "sqs:SendMessage",
            "Resource": self.dlq_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": self.aws.arn("events", f"rule/{self.name}/*")}},
        }
        self.dead_letter_queue = SqsQueue(self, "targets-dlq", **merge(DLQ_DEFAULTS, {}, {
            "name": self.dlq_name,
            "policy": document(allow_rules, deny_insecure_transport("sqs:*", [self.dlq_arn])),
        }))
        checkov_skip(self.dead_letter_queue, {"CKV_AWS_27": "encrypted with SQS-managed SSE (sqs_managed_sse_enabled)"})

    def _destinations_role(self) -> None:
        from handlers.contract import api_destination_name

        http = [r for r in self.props.routes if r.target == "http"]
        self.destinations_role = None
        if http:
            arns = [self.aws.arn("events", f"api-destination/{api_destination_name(self.name, r.name)}/*") for r in http]
            self.destinations_role = DestinationsRole(self, "destinations-role", name=f"{self.name}-api-destinations",
                                                      destination_arns=arns, aws=self.aws)

    def _route(self, route: RouteSpec) -> None:
        rule_name = route_rule_name(self.name, route.name)
        rule = CloudwatchEventRule(
            self, f"rule-{route.name}", name=rule_name, event_bus_name=self.bus.name, event_pattern=route.pattern_json
        )
        self.rules[route.name], self.rule_names[route.name] = rule, rule_name
        rule_arn = self.aws.arn("events", f"rule/{self.name}/{rule_name}")
        target = self._target_settings(route, rule_arn)
        self.targets[route.name] = CloudwatchEventTarget(
            self, f"target-{route.name}", rule=rule.name, event_bus_name=self.bus.name, **target)
        redrive_pattern = json.dumps({"source": [REDRIVE_SOURCE], "resources": [rule_arn]}, separators=(",", ":"))
        self.redrive_rules[route.name] = redrive = CloudwatchEventRule(
            self, f"redrive-rule-{route.name}", name=redrive_rule_name(self.name, route.name),
            event_bus_name=self.bus.name, event_pattern=redrive_pattern,
            description=f"Events `webhookctl dlq redrive --target {route.name}` puts back: to {route.name}'s target only",
        )
        CloudwatchEventTarget(self, f"redrive-target-{route.name}", rule=redrive.name, event_bus_name=self.bus.name,
                              **target)

    def _target_settings(self, route: RouteSpec, rule_arn: str) -> dict[str, Any]:
        """What the route's target and its redrive twin share: ARN, input, retry policy, DLQ."""
        settings: dict[str, Any] = {
            "target_id": route.name,
            "retry_policy": {"maximum_retry_attempts": route.retry_attempts,
                             "maximum_event_age_in_seconds": route.retry_event_age_seconds},
            "dead_letter_config": {"arn": self.dlq_arn},
        }
        if route.target == "logs":
            group = log_group(self, f"logs-{route.name}", f"{self._log_prefix}/{route.name}",
                              self.props.log_retention_in_days)
            self.log_groups[route.name] = group
            settings["arn"] = group.arn
        elif route.target == "sqs":
            settings["arn"] = self._route_queue(route, rule_arn).arn
        elif route.target == "http":
            destination = HttpDestination(self, f"http-{route.name}", bus=self.name, route=route.name,
                                          spec=route.http, aws=self.aws)
            self.destinations[route.name] = destination
            settings.update(arn=destination.api_destination.arn, role_arn=self.destinations_role.arn,
                            **_http_input(route.http))
        else:
            settings["arn"] = route.target
            if route.message_group_id:
                settings["sqs_target"] = {"message_group_id": route.message_group_id}
        if _is_logs(route):
            settings["input_transformer"] = {"input_paths": AUDIT_INPUT_PATHS, "input_template": AUDIT_INPUT_TEMPLATE}
        return settings

    @property
    def _log_prefix(self) -> str:
        return f"/aws/events/{self.name}"

    def _route_queue(self, route: RouteSpec, rule_arn: str) -> SqsQueue:
        """A `sqs` route's queue; the route's rule and its redrive rule may send to it."""
        queue_name = f"{self.name}-{route.name}"
        queue_arn = self.aws.arn("sqs", queue_name)
        redrive_arn = self.aws.arn("events", f"rule/{self.name}/{redrive_rule_name(self.name, route.name)}")
        allow_rule = {
            "Sid": "AllowRuleToSend",
            "Effect": "Allow",
            "Principal": service_principal("events"),
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": [rule_arn, redrive_arn]}},
        }
        queue = SqsQueue(self, f"queue-{route.name}", **merge(QUEUE_DEFAULTS, {}, {
            "name": queue_name,
            "policy": document(allow_rule, deny_insecure_transport("sqs:*", [queue_arn])),
        }))
        checkov_skip(queue, {"CKV_AWS_27": "encrypted with SQS-managed SSE (sqs_managed_sse_enabled)"})
        self.queues[route.name] = queue
        return queue

    def _log_resource_policy(self) -> None:
        """EventBridge writes to CloudWatch Logs under an account-level resource policy, and an account
        holds at most 10 per region (docs/capacity.md): one per stack, only when a route logs, covering
        this bus's log groups and the log groups routes name by ARN.
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
        """
        external = [f"{r.target.removesuffix(':*')}:*" for r in self.props.routes
                    if _is_logs(r) and r.target != "logs"]
        if not self.log_groups and not external:
            return
        self.log_resource_policy = CloudwatchLogResourcePolicy(
            self,
            "logs-resource-policy",
            policy_name=f"{self.name}-to-logs",
            policy_document=document({
                "Sid": "EventBridgeToLogs",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [self.aws.arn("logs", f"log-group:{self._log_prefix}/*:*"), *external],
            }),
        )

    def grant_put_events_to(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("put-events-on", self.node.id), [statement(["events:PutEvents"], [self.arn])])
