"""EventBridge custom bus, an archive for replay, and the config's routes with their targets."""
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

from .defaults import (
    EVENT_ARCHIVE_RETENTION_DAYS,
    LOG_RETENTION_IN_DAYS,
    QUEUE_DEFAULTS,
    checkov_skip,
    merge,
    raise_if,
    repeated,
)
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


@dataclass(frozen=True)
class RouteSpec:
    name: str
    pattern_json: str
    target: str  # "logs", "sqs" or an ARN


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
        if route.target not in ("logs", "sqs"):
            problems += _arn_target_problems(route, aws)
        if not route.pattern_json.startswith("{"):
            problems.append(f"route '{route.name}': pattern must be a JSON object")
    if props.archive_retention_days is not None and props.archive_retention_days < 0:
        problems.append("archive_retention_days must be 0 (forever) or more")
    return problems


def _arn_target_problems(route: RouteSpec, aws: AwsContext | None) -> list[str]:
    parts = arn_parts(route.target)
    if not parts or parts["service"] not in ("sqs", "logs"):
        return [f"route '{route.name}': target must be logs, sqs or an SQS queue / log group ARN"]
    if aws is None:
        return []
    where = (aws.partition, aws.region)
    if (parts["partition"], parts["region"]) != where:
        return [f"route '{route.name}': target {route.target} is not in this stack's partition and region {where}"]
    return []


class Bus(Construct):
    """`bus`, `archive`, `rules[name]`, `targets[name]`, `log_groups[name]`, `queues[name]`."""

    def __init__(self, scope: Construct, id: str, *, props: BusProps, aws: AwsContext):
        raise_if(f"Bus '{id}'", validate_bus_props(props, aws))
        super().__init__(scope, id)
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
        self.targets: dict[str, CloudwatchEventTarget] = {}
        self.log_groups: dict[str, CloudwatchLogGroup] = {}
        self.queues: dict[str, SqsQueue] = {}
        log_prefix = f"/aws/events/{props.name}"
        for route in props.routes:
            rule_name = f"{props.name}-{route.name}"
            rule = CloudwatchEventRule(
                self, f"rule-{route.name}", name=rule_name, event_bus_name=self.bus.name, event_pattern=route.pattern_json
            )
            self.rule_names[route.name] = rule_name
            rule_arn = aws.arn("events", f"rule/{props.name}/{rule_name}")
            if route.target == "logs":
                group = log_group(self, f"logs-{route.name}", f"{log_prefix}/{route.name}", props.log_retention_in_days)
                self.log_groups[route.name] = group
                target_arn = group.arn
            elif route.target == "sqs":
                queue_name = f"{props.name}-{route.name}"
                queue_arn = aws.arn("sqs", queue_name)
                allow_rule = {
                    "Sid": "AllowRuleToSend",
                    "Effect": "Allow",
                    "Principal": service_principal("events"),
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
                queue = SqsQueue(
                    self,
                    f"queue-{route.name}",
                    **merge(QUEUE_DEFAULTS, {}, {
                        "name": queue_name,
                        "policy": document(allow_rule, deny_insecure_transport("sqs:*", [queue_arn])),
                    }),
                )
                checkov_skip(queue, {"CKV_AWS_27": "encrypted with SQS-managed SSE (sqs_managed_sse_enabled)"})
                self.queues[route.name] = queue
                target_arn = queue.arn
            else:
                target_arn = route.target
            self.rules[route.name] = rule
            to_logs = route.target == "logs" or (arn_parts(route.target) or {}).get("service") == "logs"
            self.targets[route.name] = CloudwatchEventTarget(
                self,
                f"target-{route.name}",
                rule=rule.name,
                event_bus_name=self.bus.name,
                target_id=route.name,
                arn=target_arn,
                **({"input_transformer": {"input_paths": AUDIT_INPUT_PATHS, "input_template": AUDIT_INPUT_TEMPLATE}}
                   if to_logs else {}),
            )
        if self.log_groups:
            # EventBridge writes to CloudWatch Logs under an account-level resource policy, and an
            # account holds at most 10 per region (docs/capacity.md): one per stack, only when a
            # route logs, covering this bus's log groups alone.
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
            self.log_resource_policy = CloudwatchLogResourcePolicy(
                self,
                "logs-resource-policy",
                policy_name=f"{props.name}-to-logs",
                policy_document=document(
                    {
                        "Sid": "EventBridgeToLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": aws.arn("logs", f"log-group:{log_prefix}/*:*"),
                    }
                ),
            )

    def grant_put_events_to(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("put-events-on", self.node.id), [statement(["events:PutEvents"], [self.arn])])
